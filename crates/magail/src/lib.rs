//! The `magail` command's library: the user's commands of magail-rs (train experts, record
//! demonstrations, imitate them with BC, GAIL, MAGAIL or AMAGAIL, evaluate, render, replay the
//! mpe2 recordings, and re-run the papers' experiments), each a clap subcommand of [`Command`],
//! run by [`run`]. The `magail` binary (`cargo install --path crates/magail`) and
//! `cargo xtask` both parse these same commands, so the two ways give the same bytes.
//!
//! Relative paths that a plan records (the shipped experts under `assets/experts`) are read
//! from a project root: [`find_root`] picks it for the installed binary.
//!
//! ```
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     command: magail::Command,
//! }
//!
//! let cli = Cli::try_parse_from(["magail", "reproduce", "--smoke", "--plan"]).unwrap();
//! assert!(matches!(cli.command, magail::Command::Reproduce(_)));
//! assert!(Cli::try_parse_from(["magail", "no-such-command"]).is_err());
//!
//! // An error's causes are shown once each.
//! let e = anyhow::anyhow!("optimizer: bad number").context("iteration 3");
//! assert_eq!(magail::describe_error(&e), "iteration 3: optimizer: bad number");
//!
//! // A folder with no `assets/experts` above it is its own root.
//! let dir = std::env::temp_dir();
//! assert!(magail::find_root(&dir).ends_with(dir.file_name().unwrap()));
//! ```

pub mod common;
mod crossplay;
mod demos;
mod eval;
mod expert;
mod imitate;
mod progress;
mod render;
mod reproduce;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::Result;
use clap::Subcommand;

pub use crossplay::CrossplayArgs;
pub use demos::DemosArgs;
pub use eval::EvalArgs;
pub use expert::ExpertArgs;
pub use imitate::ImitateArgs;
pub use render::RenderArgs;
pub use reproduce::ReproduceArgs;

/// The user's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay mpe2 recordings in DIR and compare states, observations and rewards.
    Conformance {
        /// Folder of `*.json` fixtures (format: crates/envs/tests/fixtures/conformance/FORMAT.md).
        dir: PathBuf,
    },
    /// Render an episode to an animated GIF (and optionally PNG frames).
    Render(RenderArgs),
    /// Train experts on the true reward (TRPO per agent, shared among identical agents).
    Expert(ExpertArgs),
    /// Evaluate a checkpoint: returns and the normalized score (random = 0, scripted = 1).
    Eval(EvalArgs),
    /// Record demonstrations from an expert checkpoint or the scripted reference.
    Demos(DemosArgs),
    /// Imitate demonstrations: BC, GAIL, MAGAIL (centralized / decentralized / φ as an action)
    /// or AMAGAIL, with metrics, checkpoints and `--resume`.
    Imitate(ImitateArgs),
    /// Re-run the papers' experiments end to end (`--quick`: the paper-shape generator, under 30
    /// minutes on 2 cores; `--paper all`: every experiment of both papers over five seeds).
    Reproduce(ReproduceArgs),
    /// Cross-play table of a competitive expert against scripted and random opponents.
    Crossplay(CrossplayArgs),
}

/// Runs one command; relative paths recorded in plans are read from `root`, and default output
/// folders lie under it.
pub fn run(command: &Command, root: &Path) -> Result<()> {
    match command {
        Command::Conformance { dir } => {
            // The error names the folder and its cause already; no chain to repeat them.
            let sum = envs::conformance::replay_dir(dir)
                .map_err(|e| anyhow::anyhow!("cannot read the fixture folder: {e}"))?;
            for l in &sum.lines {
                println!("{l}");
            }
            println!("{} passed, {} failed", sum.passed, sum.failed);
            if sum.failed > 0 {
                anyhow::bail!(
                    "{} of {} recordings differ",
                    sum.failed,
                    sum.passed + sum.failed
                );
            }
            Ok(())
        }
        Command::Render(a) => render::run_render(a),
        Command::Expert(a) => expert::run(a, root).map(|_| ()),
        Command::Eval(a) => eval::run_eval(a),
        Command::Demos(a) => demos::run_demos(a),
        Command::Imitate(a) => imitate::run_imitate(a, root),
        Command::Reproduce(a) => reproduce::run_reproduce(a, root),
        Command::Crossplay(a) => crossplay::run_crossplay(a),
    }
}

/// An error and its causes on one line, each cause once: a cause whose text the message already
/// holds (a library error that shows its source, `optimizer: X`, above that source `X`) is not
/// repeated.
pub fn describe_error(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

/// The project root for a command started in `start`: `MAGAIL_ROOT` when set, else the nearest
/// folder at or above `start` that holds `assets/experts` (a clone of magail-rs, whose shipped
/// experts the papers' plans name), else `start` itself.
pub fn find_root(start: &Path) -> PathBuf {
    if let Some(r) = std::env::var_os("MAGAIL_ROOT") {
        return PathBuf::from(r);
    }
    start
        .ancestors()
        .find(|d| d.join("assets/experts").is_dir())
        .unwrap_or(start)
        .to_path_buf()
}

/// Environment every command runs under: candle 0.11 re-reads the CPU description on every
/// matmul unless `RAYON_NUM_THREADS` is set, and its spinning pool slows small machines;
/// parallelism comes from our own workers instead. mimalloc, by default, hands freed memory back
/// to the OS after 10 ms, so every training iteration page-faults its tensor buffers back in and
/// the kernel zeroes them again (15% of a MAGAIL iteration in `perf`); keeping it (`-1`) makes
/// an iteration about 25% faster for a resident set that stays at its peak
/// (docs/benchmarks.md). A value the user set is kept.
pub const PROCESS_ENV: [(&str, &str); 3] = [
    ("RAYON_NUM_THREADS", "1"),
    ("CANDLE_NUM_THREADS", "1"),
    ("MIMALLOC_PURGE_DELAY", "-1"),
];

/// Makes sure this process runs under [`PROCESS_ENV`]: when a setting is missing, replaces the
/// process by itself with the settings added (returning only on failure, with the error).
///
/// Setting the environment of a running process needs `unsafe` (edition 2024); replacing this
/// process by itself does not, and leaves no child behind: the process the user started (and
/// may kill) is the one that does the work.
pub fn ensure_process_env() -> std::io::Result<()> {
    let missing: Vec<(&str, &str)> = PROCESS_ENV
        .iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    Err(replace_process(
        Process::new(exe)
            .args(std::env::args_os().skip(1))
            .envs(missing),
    ))
}

/// Runs `cmd` in place of this process; returns only if that failed.
#[cfg(unix)]
fn replace_process(cmd: &mut Process) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

/// Without `exec`: runs `cmd` as a child and exits with its status.
#[cfg(not(unix))]
fn replace_process(cmd: &mut Process) -> std::io::Error {
    match cmd.status() {
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::describe_error;

    /// A library error that shows its source in its own message, as `thiserror`'s
    /// `#[error("optimizer: {0}")]` beside `#[from]` does.
    #[derive(Debug)]
    struct Outer(std::fmt::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "optimizer: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_the_message_already_shows_is_not_repeated() {
        let e = anyhow::Error::new(Outer(std::fmt::Error)).context("iteration 7");
        assert_eq!(
            describe_error(&e),
            "iteration 7: optimizer: an error occurred when formatting an argument"
        );
    }
}
