//! `magail`: the user's commands of magail-rs (see `magail --help`), the same ones
//! `cargo xtask` offers in a clone of the repository.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "magail",
    about = "Multi-agent generative adversarial imitation learning",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: magail::Command,
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = magail::ensure_process_env() {
        eprintln!("error: cannot restart magail with its thread settings: {e}");
        std::process::exit(1);
    }
    let cli = Cli::parse();
    let root = match std::env::current_dir() {
        Ok(d) => magail::find_root(&d),
        Err(e) => {
            eprintln!("error: cannot read the current folder: {e}");
            std::process::exit(1);
        }
    };
    // One clear line per error (with its causes), never a backtrace wall.
    if let Err(e) = magail::run(&cli.command, &root) {
        eprintln!("error: {}", magail::describe_error(&e));
        std::process::exit(1);
    }
}
