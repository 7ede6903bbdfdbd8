//! `cargo xtask check [--cuda]`: build-checks the crates that use candle, optionally with its
//! CUDA backend. Without a CUDA toolkit the CUDA build cannot work, so we say so in one line
//! instead of letting cudarc's build script print pages of errors.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::{cargo, project_root, run};

/// Crates that depend on candle and forward a `cuda` feature.
const CANDLE_CRATES: [&str; 3] = ["trpo", "gail", "magail-async"];

fn cuda_toolkit() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    for var in ["CUDA_PATH", "CUDA_HOME", "CUDA_ROOT"] {
        if let Ok(p) = std::env::var(var) {
            candidates.push(PathBuf::from(p).join("bin/nvcc"));
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join("nvcc")));
    }
    candidates.push(PathBuf::from("/usr/local/cuda/bin/nvcc"));
    candidates.into_iter().find(|p| p.is_file())
}

pub fn run_check(with_cuda: bool) -> Result<()> {
    let root = project_root();
    let present: Vec<&str> = CANDLE_CRATES
        .iter()
        .copied()
        .filter(|c| root.join("crates").join(c).join("Cargo.toml").is_file())
        .collect();
    if with_cuda && cuda_toolkit().is_none() {
        bail!(
            "no CUDA toolkit found (nvcc not on PATH, CUDA_PATH/CUDA_HOME unset): the `cuda` feature of candle cannot be built on this machine"
        );
    }
    if present.is_empty() {
        eprintln!("check: no crate uses candle yet; checking the workspace instead");
        let mut c = cargo();
        c.args(["check", "--workspace", "--all-targets"]);
        return run(c);
    }
    let mut c = cargo();
    c.arg("check");
    for p in &present {
        c.args(["-p", p]);
    }
    if with_cuda {
        let feats: Vec<String> = present.iter().map(|p| format!("{p}/cuda")).collect();
        c.args(["--features", &feats.join(",")]);
    }
    run(c)
}
