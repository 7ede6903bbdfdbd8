//! magail-rs's developer automation, after the cargo-xtask convention
//! (<https://github.com/matklad/cargo-xtask>): `cargo xtask <task>` runs plain Rust, one module per
//! task, so contributors need nothing but cargo.
//!
//! Tasks: `test`, `tidy`, `bench`, `check --cuda`, `gpu-check`, `gpu-compare`, `python`, and the
//! user's commands of the `magail` crate (`reproduce`, `imitate`, `expert`, `eval`, `demos`,
//! `render`, `crossplay`, `conformance`), so a clone runs them without installing anything.

mod bench;
mod check;
mod gpu;
mod python;
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
    /// The user's commands (`conformance`, `render`, `expert`, `eval`, `demos`, `imitate`,
    /// `reproduce`, `crossplay`): the `magail` crate's, so `cargo xtask X` and `magail X` are one.
    #[command(flatten)]
    User(Box<magail::Command>),
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

fn main() {
    if let Err(e) = magail::ensure_process_env() {
        eprintln!("error: cannot restart xtask with its thread settings: {e}");
        std::process::exit(1);
    }
    // One clear line per error (with its causes), never a backtrace wall.
    if let Err(e) = real_main() {
        eprintln!("error: {}", magail::describe_error(&e));
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
        Task::User(command) => magail::run(&command, &project_root()),
        Task::Python(args) => python::run_python(&args),
    }
}
