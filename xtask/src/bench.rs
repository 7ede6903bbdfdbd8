//! `cargo xtask bench [envs]`: runs the criterion benchmarks and, with `--peers`, the Python
//! peers under `benches/` in the same run (installed into a virtual environment under `target/`).

use std::collections::BTreeMap;
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
        let ours = criterion_rates(name)?;
        let peers = if a.peers {
            peer_rates(name)?
        } else {
            BTreeMap::new()
        };
        print_summary(name, &ours, &peers);
    }
    Ok(())
}

/// Per benchmark id (`simple_spread/b1024/t2`): elements per second from criterion's median.
fn criterion_rates(group: &str) -> Result<BTreeMap<String, f64>> {
    let dir = project_root().join("target/criterion").join(group);
    let mut rates = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(rates);
    };
    for e in rd.flatten() {
        let est = e.path().join("new/estimates.json");
        let bench = e.path().join("new/benchmark.json");
        let (Ok(est), Ok(bench)) = (
            std::fs::read_to_string(&est),
            std::fs::read_to_string(&bench),
        ) else {
            continue;
        };
        let est: serde_json::Value = serde_json::from_str(&est)?;
        let bench: serde_json::Value = serde_json::from_str(&bench)?;
        let ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        let elems = bench["throughput"]["Elements"].as_f64().unwrap_or(1.0);
        let id = bench["function_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        rates.insert(id, elems / ns * 1e9);
    }
    Ok(rates)
}

/// Runs `benches/<suite>_peer.py`; lines `peer <tool> <name> <rate> ...` give rates per name.
fn peer_rates(suite: &str) -> Result<BTreeMap<String, (String, f64)>> {
    let py = venv_python()?;
    let script = project_root().join(format!("benches/{suite}_peer.py"));
    let out = Command::new(py)
        .arg(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let mut rates = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let ["peer", tool, name, rate, ..] = f.as_slice()
            && let Ok(r) = rate.parse::<f64>()
        {
            rates.insert(name.to_string(), (tool.to_string(), r));
        }
    }
    Ok(rates)
}

fn print_summary(
    suite: &str,
    ours: &BTreeMap<String, f64>,
    peers: &BTreeMap<String, (String, f64)>,
) {
    println!("\n{suite}: median throughput (elements = env-steps)");
    println!("| benchmark | ours /s | peer | peer /s | ratio |");
    println!("|---|---|---|---|---|");
    for (id, rate) in ours {
        let name = id.split('/').next().unwrap_or_default();
        match peers.get(name) {
            Some((tool, p)) => {
                println!("| {id} | {rate:.3e} | {tool} | {p:.0} | {:.0}x |", rate / p)
            }
            None => println!("| {id} | {rate:.3e} | | | |"),
        }
    }
}
