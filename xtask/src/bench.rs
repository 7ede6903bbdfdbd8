//! `cargo xtask bench [envs]`: runs the criterion benchmarks and, with `--peers`, the Python
//! peers under `benches/` in the same run (installed into a virtual environment under `target/`).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::{cargo, project_root, run};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which suite: envs (default: every suite).
    suite: Option<String>,
    /// Also measure the Python tools a user would otherwise pick (needs network access to PyPI
    /// the first time, to build the virtual environment).
    #[arg(long)]
    peers: bool,
}

const SUITES: [(&str, &str, &str); 1] = [("envs", "envs", "envs")];

fn venv_python() -> Result<PathBuf> {
    let root = project_root();
    let venv = root.join("target/peers-venv");
    let py = venv.join("bin/python");
    if !py.is_file() {
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        run(c)?;
        let mut pip = Command::new(&py);
        pip.args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(root.join("benches/requirements.txt"));
        run(pip).context("installing the Python peers (mpe2) into target/peers-venv")?;
    }
    Ok(py)
}

pub fn run_bench(a: &BenchArgs) -> Result<()> {
    let chosen: Vec<_> = match &a.suite {
        None => SUITES.to_vec(),
        Some(s) => {
            let found: Vec<_> = SUITES.iter().copied().filter(|(n, _, _)| n == s).collect();
            if found.is_empty() {
                let names: Vec<_> = SUITES.iter().map(|s| s.0).collect();
                bail!(
                    "unknown bench suite `{s}`: expected one of {}",
                    names.join(", ")
                );
            }
            found
        }
    };
    for (name, package, bench) in chosen {
        let mut c = cargo();
        c.args(["bench", "-p", package, "--bench", bench]);
        // Candle and rayon must not spawn their own pools; parallelism is explicit in the benches.
        c.env("RAYON_NUM_THREADS", "1")
            .env("CANDLE_NUM_THREADS", "1");
        run(c)?;
        if a.peers {
            let py = venv_python()?;
            let script = project_root().join(format!("benches/{name}_peer.py"));
            let mut p = Command::new(py);
            p.arg(script);
            run(p)?;
        }
    }
    Ok(())
}
