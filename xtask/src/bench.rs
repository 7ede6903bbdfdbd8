//! `cargo xtask bench [envs|rollouts|trpo]`: runs the criterion benchmarks and, with `--peers`, the Python
//! peers under `benches/` in the same run (installed into a virtual environment under `target/`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::{cargo, project_root, run};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which suite: envs, rollouts, trpo or iteration (default: every suite).
    suite: Option<String>,
    /// Also measure the Python tools a user would otherwise pick (needs network access to PyPI
    /// the first time, to build the virtual environment).
    #[arg(long)]
    peers: bool,
}

/// (suite, package, bench target).
const SUITES: [(&str, &str, &str); 4] = [
    ("envs", "envs", "envs"),
    ("rollouts", "magail-async", "rollouts"),
    ("trpo", "trpo", "trpo"),
    ("iteration", "magail-async", "iteration"),
];

fn venv_python() -> Result<PathBuf> {
    let root = project_root();
    let venv = root.join("target/peers-venv");
    let py = venv.join("bin/python");
    let reqs = root.join("benches/requirements.txt");
    let wanted =
        std::fs::read_to_string(&reqs).with_context(|| format!("reading {}", reqs.display()))?;
    // The venv remembers the requirements it was built from: a changed list installs again.
    let stamp = venv.join("requirements.installed");
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    if !py.is_file() || installed != wanted {
        if !py.is_file() {
            let mut c = Command::new("python3");
            c.args(["-m", "venv"]).arg(&venv);
            run(c)?;
        }
        let mut pip = Command::new(&py);
        pip.args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&reqs);
        run(pip).context("installing the Python peers into target/peers-venv")?;
        std::fs::write(&stamp, wanted).with_context(|| format!("writing {}", stamp.display()))?;
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
        let started = std::time::SystemTime::now();
        run(c)?;
        let ours = criterion_rates(name, started)?;
        let peers = if a.peers {
            peer_rates(name)?
        } else {
            BTreeMap::new()
        };
        print_summary(name, &ours, &peers);
        if name == "iteration" {
            print_iteration(&ours, &peers);
        }
    }
    Ok(())
}

/// The MAGAIL iteration's verdict: the discriminator's GFLOP/s against one core's FMA peak, each
/// thread count beside the peer's, and last the one-line comparison (one thread).
fn print_iteration(ours: &BTreeMap<String, (f64, f64)>, peers: &BTreeMap<String, Vec<Peer>>) {
    let gflops = |id: &str| ours.get(id).map(|&(ns, flop)| flop / ns);
    if let (Some(d), Some(p)) = (gflops("disc10"), gflops("fma_peak")) {
        println!(
            "discriminator steps: {d:.1} GFLOP/s, {:.0}% of one core's f32 FMA peak ({p:.1} GFLOP/s)",
            100.0 * d / p
        );
    }
    let peer = |id: &str| {
        peers
            .get(id)
            .and_then(|v| v.iter().find(|p| !p.per_second))
            .map(|p| p.value)
    };
    let mut last = None;
    for t in [2, 1] {
        let id = format!("magail_c/w{t}");
        let Some(&(ns, _)) = ours.get(&id) else {
            continue;
        };
        let ms = ns / 1e6;
        let line = match peer(&id) {
            Some(p) => format!(
                "magail iteration: ours {ms:.1} ms, peer {p:.1} ms, ratio {:.1}×",
                p / ms
            ),
            None => format!("magail iteration: ours {ms:.1} ms (no peer measured: --peers)"),
        };
        println!("{t} thread{}: {line}", if t == 1 { "" } else { "s" });
        last = Some(line);
    }
    if let Some(line) = last {
        println!("{line}");
    }
}

/// Per benchmark id (`simple_spread/b1024/t2`): (median ns per iteration, elements per iteration),
/// of the benchmarks this run measured (written since `since`): results an earlier run left in
/// `target/criterion` must not be set beside this run's peers.
fn criterion_rates(
    group: &str,
    since: std::time::SystemTime,
) -> Result<BTreeMap<String, (f64, f64)>> {
    let dir = project_root().join("target/criterion").join(group);
    let mut rates = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(rates);
    };
    for e in rd.flatten() {
        let est = e.path().join("new/estimates.json");
        let bench = e.path().join("new/benchmark.json");
        let fresh = std::fs::metadata(&est)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !fresh {
            continue;
        }
        let (Ok(est), Ok(bench)) = (
            std::fs::read_to_string(&est),
            std::fs::read_to_string(&bench),
        ) else {
            continue;
        };
        let est: serde_json::Value = serde_json::from_str(&est)?;
        let bench: serde_json::Value = serde_json::from_str(&bench)?;
        let ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        let elems = bench["throughput"]["Elements"].as_f64().unwrap_or(0.0);
        let id = bench["function_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        rates.insert(id, (ns, elems));
    }
    Ok(rates)
}

/// A peer's figure: a rate (per second, higher is better) or a time in ms (lower is better).
#[derive(Clone, Debug)]
struct Peer {
    tool: String,
    value: f64,
    per_second: bool,
}

/// Runs `benches/<suite>_peer.py`; lines `peer <tool> <name> <value> <unit> ...` where unit is
/// `ms` for times and anything else (`env-steps/s`, `agent-steps/s`) for rates.
/// A line's name is a benchmark id (`simple_spread/b1024/t2`) or a prefix of ids
/// (`simple_spread`); one benchmark may have several peers.
fn peer_rates(suite: &str) -> Result<BTreeMap<String, Vec<Peer>>> {
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
    let mut rates: BTreeMap<String, Vec<Peer>> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let ["peer", tool, name, value, unit, ..] = f.as_slice()
            && let Ok(v) = value.parse::<f64>()
        {
            rates.entry(name.to_string()).or_default().push(Peer {
                tool: tool.to_string(),
                value: v,
                per_second: *unit != "ms",
            });
        }
    }
    Ok(rates)
}

fn print_summary(
    suite: &str,
    ours: &BTreeMap<String, (f64, f64)>,
    peers: &BTreeMap<String, Vec<Peer>>,
) {
    println!("\n{suite}: medians (throughput counts env-steps for envs, agent-steps for rollouts)");
    println!("| benchmark | median time | ours /s | peer | peer figure | ratio |");
    println!("|---|---|---|---|---|---|");
    for (id, &(ns, elems)) in ours {
        let rate = if elems > 0.0 {
            elems / ns * 1e9
        } else {
            f64::NAN
        };
        // Every peer whose name is the id or a `/`-separated prefix of it.
        let parts: Vec<&str> = id.split('/').collect();
        let matching: Vec<&Peer> = (1..=parts.len())
            .filter_map(|k| peers.get(&parts[..k].join("/")))
            .flatten()
            .collect();
        let time = if ns > 1e6 {
            format!("{:.2} ms", ns / 1e6)
        } else {
            format!("{:.1} µs", ns / 1e3)
        };
        let rate_s = if rate.is_finite() {
            format!("{rate:.3e}")
        } else {
            String::new()
        };
        if matching.is_empty() {
            println!("| {id} | {time} | {rate_s} | | | |");
        }
        for p in matching {
            if p.per_second && rate.is_finite() {
                println!(
                    "| {id} | {time} | {rate_s} | {} | {:.0}/s | {:.0}x |",
                    p.tool,
                    p.value,
                    rate / p.value
                );
            } else if !p.per_second {
                println!(
                    "| {id} | {time} | {rate_s} | {} | {:.1} ms | {:.1}x |",
                    p.tool,
                    p.value,
                    p.value / (ns / 1e6)
                );
            } else {
                println!("| {id} | {time} | {rate_s} | {} | | |", p.tool);
            }
        }
    }
}
