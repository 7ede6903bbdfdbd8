//! `cargo xtask check [--cuda]`: build-checks the crates that use candle, optionally with its
//! CUDA backend. A machine without a CUDA toolkit gets CUDA 13.0's compiler from PyPI's NVIDIA
//! wheels in `target/cuda-toolkit` (no GPU is needed to build).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, project_root, run};

/// Crates that depend on candle and forward a `cuda` feature.
const CANDLE_CRATES: [&str; 3] = ["trpo", "gail", "magail-async"];

/// The CUDA wheels `ensure_toolkit` installs: the compiler, its NVVM back end, the runtime
/// headers and the C++ core libraries, all of CUDA 13.0 (the driver of the GPU machines this
/// project runs on is CUDA 13.0: PTX of a newer ISA does not load there). Every part is pinned:
/// an unpinned `nvidia-nvvm` arrives newer than the compiler and emits PTX its `ptxas` refuses.
const CUDA_WHEELS: [&str; 5] = [
    "nvidia-cuda-nvcc==13.0.*",
    "nvidia-nvvm==13.0.*",
    "nvidia-cuda-runtime==13.0.*",
    "nvidia-cuda-crt==13.0.*",
    "nvidia-cuda-cccl==13.0.*",
];

/// Where `ensure_toolkit` installs the wheels, and the CUDA root inside.
fn local_toolkit() -> (PathBuf, PathBuf) {
    let dir = project_root().join("target/cuda-toolkit");
    let root = dir.join("nvidia/cu13");
    (dir, root)
}

/// The root of a CUDA toolkit already on this machine (the folder holding `bin/nvcc`).
fn cuda_toolkit() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    for var in ["CUDA_PATH", "CUDA_HOME", "CUDA_ROOT"] {
        if let Ok(p) = std::env::var(var) {
            candidates.push(PathBuf::from(p));
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        candidates
            .extend(std::env::split_paths(&path).filter_map(|p| p.parent().map(PathBuf::from)));
    }
    candidates.push(PathBuf::from("/usr/local/cuda"));
    candidates.push(local_toolkit().1);
    candidates
        .into_iter()
        .find(|p| p.join("bin/nvcc").is_file() && p.join("include/cuda_runtime.h").is_file())
}

/// Installs pinned wheels into `dir` with the `python3` on PATH (its pip, from PyPI).
fn pip_install(dir: &std::path::Path, wheels: &[&str]) -> Result<()> {
    let mut c = Command::new("python3");
    c.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .arg("--target")
    .arg(dir)
    .args(wheels);
    run(c).context("pip failed (needs python3 with pip and access to PyPI)")
}

/// A CUDA toolkit's root: the machine's own, or CUDA 13.0 from PyPI's NVIDIA wheels installed
/// into `target/cuda-toolkit` (with the `python3` on PATH and its pip) when there is none.
pub fn ensure_toolkit() -> Result<PathBuf> {
    if let Some(root) = cuda_toolkit() {
        return Ok(root);
    }
    let (dir, root) = local_toolkit();
    eprintln!(
        "no CUDA toolkit found: installing CUDA 13.0's compiler from PyPI into {}",
        dir.display()
    );
    pip_install(&dir, &CUDA_WHEELS).context("cannot install the CUDA compiler from PyPI")?;
    if !root.join("bin/nvcc").is_file() {
        bail!(
            "the CUDA wheels installed, but {} has no bin/nvcc",
            root.display()
        );
    }
    Ok(root)
}

/// The CUDA libraries candle links against (it links them, rather than loading them at run time),
/// from PyPI: linking a GPU binary needs them, building or checking the crates does not.
const CUDA_LINK_WHEELS: [&str; 4] = [
    "nvidia-cublas==13.0.*",
    "nvidia-cuda-nvrtc==13.0.*",
    "nvidia-curand==10.4.*",
    "nvidia-cuda-runtime==13.0.*",
];

/// A folder to put on the linker's search path (`LIBRARY_PATH`) so that a GPU binary links: the
/// toolkit's own libraries and driver stub where it has them, else the libraries from PyPI under
/// unversioned names (links) and a stub `libcuda.so.1` (the driver library, which no wheel ships,
/// exporting every driver function cudarc declares; the machine that runs the binary has the
/// real one).
pub fn ensure_link_libs(toolkit: &std::path::Path) -> Result<String> {
    let own = [toolkit.join("lib64"), toolkit.join("lib64/stubs")];
    if own[0].join("libcublas.so").is_file() && own[1].join("libcuda.so").is_file() {
        return Ok(std::env::join_paths(own)?.to_string_lossy().into_owned());
    }
    let dir = project_root().join("target/cuda-libs");
    let lib = dir.join("nvidia/cu13/lib");
    if !lib.join("libcublas.so.13").is_file() {
        eprintln!(
            "installing CUDA 13.0's libraries from PyPI into {}",
            dir.display()
        );
        pip_install(&dir, &CUDA_LINK_WHEELS)
            .context("cannot install the CUDA libraries from PyPI")?;
    }
    let link = dir.join("link");
    std::fs::create_dir_all(&link).with_context(|| format!("cannot create {}", link.display()))?;
    for (name, file) in [
        ("cudart", "libcudart.so.13"),
        ("nvrtc", "libnvrtc.so.13"),
        ("curand", "libcurand.so.10"),
        ("cublas", "libcublas.so.13"),
        ("cublasLt", "libcublasLt.so.13"),
    ] {
        let (src, dst) = (lib.join(file), link.join(format!("lib{name}.so")));
        if !src.is_file() {
            bail!(
                "the CUDA wheels installed, but {} is missing",
                src.display()
            );
        }
        let _ = std::fs::remove_file(&dst);
        #[cfg(unix)]
        let linked = std::os::unix::fs::symlink(&src, &dst);
        #[cfg(not(unix))]
        let linked = std::fs::copy(&src, &dst).map(|_| ());
        linked.with_context(|| format!("cannot link {} to {}", dst.display(), src.display()))?;
    }
    let stub = link.join("libcuda.so");
    if !stub.is_file() {
        let c_file = link.join("cuda_stub.c");
        let body: String = driver_functions()?
            .iter()
            .map(|f| format!("int {f}(void) {{ return 999; }}\n"))
            .collect();
        std::fs::write(&c_file, body)
            .with_context(|| format!("cannot write {}", c_file.display()))?;
        let mut c = Command::new("cc");
        c.args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
            .arg(&stub)
            .arg(&c_file);
        run(c).context("cannot compile the driver stub (needs a C compiler, `cc`)")?;
    }
    Ok(link.to_string_lossy().into_owned())
}

/// The names of the driver functions cudarc's bindings declare (read from its source, which
/// cargo has already fetched for the `cuda` build).
fn driver_functions() -> Result<Vec<String>> {
    let out = crate::cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--features",
            "xtask/cuda",
        ])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let manifest = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "cudarc"))
        .and_then(|p| p["manifest_path"].as_str())
        .context("cudarc is not among the dependencies of the `cuda` build")?;
    let sys = PathBuf::from(manifest)
        .with_file_name("src")
        .join("driver/sys/mod.rs");
    let text =
        std::fs::read_to_string(&sys).with_context(|| format!("cannot read {}", sys.display()))?;
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("fn cu"))
        .filter_map(|rest| rest.split_once('(').map(|(n, _)| format!("cu{n}")))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        bail!("found no driver functions in {}", sys.display());
    }
    Ok(names)
}

/// Points a cargo build at the CUDA toolkit in `root`: its compiler first on PATH, and the
/// variables candle's and cudarc's build scripts read.
pub fn cuda_env(c: &mut Command, root: &std::path::Path) {
    let mut paths = vec![root.join("bin")];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    if let Ok(p) = std::env::join_paths(paths) {
        c.env("PATH", p);
    }
    c.env("CUDA_HOME", root)
        .env("CUDA_PATH", root)
        .env("CUDA_ROOT", root);
}

pub fn run_check(with_cuda: bool) -> Result<()> {
    let root = project_root();
    let present: Vec<&str> = CANDLE_CRATES
        .iter()
        .copied()
        .filter(|c| root.join("crates").join(c).join("Cargo.toml").is_file())
        .collect();
    let toolkit = if with_cuda {
        Some(ensure_toolkit()?)
    } else {
        None
    };
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
    if let Some(root) = &toolkit {
        let feats: Vec<String> = present.iter().map(|p| format!("{p}/cuda")).collect();
        c.args(["--features", &feats.join(",")]);
        cuda_env(&mut c, root);
        // Without a GPU to ask, candle's kernels compile for a Hopper GPU (H100/H200).
        if std::env::var_os("CUDA_COMPUTE_CAP").is_none() {
            c.env("CUDA_COMPUTE_CAP", "90");
        }
    }
    run(c)
}
