//! magail-rs's command surface, after the cargo-xtask convention
//! (<https://github.com/matklad/cargo-xtask>): `cargo xtask <task>` runs plain Rust, one module per
//! task, so contributors and users need nothing but cargo.
//!
//! Tasks: `test`, `tidy`, `bench`, `check --cuda`, `gpu-check`, `gpu-compare`, `conformance DIR`,
//! `render`, `expert`, `eval`, `demos`, `imitate`, `crossplay`, `reproduce`, `python`.

mod bench;
mod check;
mod common;
mod crossplay;
mod demos;
mod eval;
mod expert;
mod gpu;
mod imitate;
mod progress;
mod python;
mod render;
mod reproduce;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "magail-rs tasks", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the whole test suite (every crate, doctests included).
    Test,
    /// Formatting check, clippy with warnings denied, and a `//!` doc atop every source file.
    Tidy,
    /// Run criterion benchmarks: `envs`, `rollouts` or `trpo` (default: all); `--peers` also
    /// measures the Python tools.
    Bench(bench::BenchArgs),
    /// Build-check the candle crates; `--cuda` builds them with candle's `cuda` feature.
    Check {
        /// Enable the CUDA backend (installs CUDA 13.0's compiler from PyPI when none is found).
        #[arg(long)]
        cuda: bool,
    },
    /// Build the GPU binary (`target/gpu/xtask-cuda`) and, where an NVIDIA GPU is present, run
    /// `gpu-compare` with it.
    GpuCheck(gpu::GpuCheckArgs),
    /// One short imitation on the CPU and on a GPU from the same seed: the first iterations must
    /// agree within float tolerance; prints both iteration times (needs the `cuda` build).
    GpuCompare(gpu::CompareArgs),
    /// Replay mpe2 recordings in DIR and compare states, observations and rewards.
    Conformance {
        /// Folder of `*.json` fixtures (format: crates/envs/tests/fixtures/conformance/FORMAT.md).
        dir: PathBuf,
    },
    /// Render an episode to an animated GIF (and optionally PNG frames).
    Render(render::RenderArgs),
    /// Train experts on the true reward (TRPO per agent, shared among identical agents).
    Expert(expert::ExpertArgs),
    /// Evaluate a checkpoint: returns and the normalized score (random = 0, scripted = 1).
    Eval(eval::EvalArgs),
    /// Record demonstrations from an expert checkpoint or the scripted reference.
    Demos(demos::DemosArgs),
    /// Imitate demonstrations: BC, GAIL, MAGAIL (centralized / decentralized / φ as an action)
    /// or AMAGAIL, with metrics, checkpoints and `--resume`.
    Imitate(imitate::ImitateArgs),
    /// Re-run the papers' experiments end to end (`--quick`: the paper-shape generator, under 20
    /// minutes; `--full`: twice the adversarial iterations, about 45 minutes with the release build).
    Reproduce(reproduce::ReproduceArgs),
    /// Cross-play table of a competitive expert against scripted and random opponents.
    Crossplay(crossplay::CrossplayArgs),
    /// Build the Python package (PettingZoo environments, a batched numpy environment,
    /// demonstrations, experts) and install it into a virtual environment (default `.venv`);
    /// `--test` runs its checks, `--bench` its benchmark beside mpe2 and VMAS.
    Python(python::PythonArgs),
}

/// The workspace root (the parent of this crate's folder).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo` as invoked by the user (honours `$CARGO`).
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(project_root());
    c
}

/// Runs a command, failing with its name if it fails.
pub fn run(mut cmd: Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("command failed ({status}): {shown}");
    }
    Ok(())
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Environment every task runs under: candle 0.11 re-reads the CPU description on every matmul
/// unless `RAYON_NUM_THREADS` is set, and its spinning pool slows small machines; parallelism
/// comes from our own workers instead. mimalloc, by default, hands freed memory back to the OS
/// after 10 ms, so every training iteration page-faults its tensor buffers back in and the kernel
/// zeroes them again (15% of a MAGAIL iteration in `perf`); keeping it (`-1`) makes an iteration
/// about 25% faster for a resident set that stays at its peak (docs/benchmarks.md). A value the
/// user set is kept.
const PROCESS_ENV: [(&str, &str); 3] = [
    ("RAYON_NUM_THREADS", "1"),
    ("CANDLE_NUM_THREADS", "1"),
    ("MIMALLOC_PURGE_DELAY", "-1"),
];

/// Runs `cmd` in place of this process; returns only if that failed.
#[cfg(unix)]
fn replace_process(cmd: &mut Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

/// Without `exec`: runs `cmd` as a child and exits with its status.
#[cfg(not(unix))]
fn replace_process(cmd: &mut Command) -> std::io::Error {
    match cmd.status() {
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => e,
    }
}

fn main() {
    // Setting the environment of a running process needs `unsafe` (edition 2024); replacing this
    // process by itself with the settings added does not, and leaves no child behind: the process
    // the user started (and may kill) is the one that does the work.
    if PROCESS_ENV
        .iter()
        .any(|(k, _)| std::env::var_os(k).is_none())
    {
        let err = match std::env::current_exe() {
            Ok(exe) => replace_process(
                Command::new(exe).args(std::env::args_os().skip(1)).envs(
                    PROCESS_ENV
                        .iter()
                        .filter(|(k, _)| std::env::var_os(k).is_none())
                        .copied(),
                ),
            ),
            Err(e) => e,
        };
        eprintln!("error: cannot restart xtask with its thread settings: {err}");
        std::process::exit(1);
    }
    // One clear line per error (with its causes), never a backtrace wall.
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Test => {
            let mut c = cargo();
            c.args(["test", "--workspace"]);
            run(c)
        }
        Task::Tidy => tidy::run_tidy(),
        Task::Bench(args) => bench::run_bench(&args),
        Task::Check { cuda } => check::run_check(cuda),
        Task::GpuCheck(args) => gpu::run_gpu_check(&args),
        Task::GpuCompare(args) => gpu::run_compare(&args),
        Task::Conformance { dir } => {
            // The error names the folder and its cause already; no chain to repeat them.
            let sum = envs::conformance::replay_dir(&dir)
                .map_err(|e| anyhow::anyhow!("cannot read the fixture folder: {e}"))?;
            for l in &sum.lines {
                println!("{l}");
            }
            println!("{} passed, {} failed", sum.passed, sum.failed);
            if sum.failed > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Task::Render(args) => render::run_render(&args),
        Task::Expert(args) => expert::run(&args).map(|_| ()),
        Task::Eval(args) => eval::run_eval(&args),
        Task::Demos(args) => demos::run_demos(&args),
        Task::Imitate(args) => imitate::run_imitate(&args),
        Task::Reproduce(args) => reproduce::run_reproduce(&args),
        Task::Crossplay(args) => crossplay::run_crossplay(&args),
        Task::Python(args) => python::run_python(&args),
    }
}
