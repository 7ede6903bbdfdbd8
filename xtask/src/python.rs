//! `cargo xtask python`: builds the Python wheel (`crates/magail-py`, maturin, abi3) and installs
//! it into a virtual environment; `--test` runs the package's checks there (PettingZoo's own test
//! suite on every scenario, mpe2 side by side); `--bench` measures env-steps/s from Python beside
//! mpe2 and VMAS (`benches/python_envs.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::{project_root, run};

#[derive(Args, Debug)]
pub struct PythonArgs {
    /// The virtual environment to make (or reuse) and install the package into.
    #[arg(long, default_value = ".venv")]
    pub venv: PathBuf,
    /// The interpreter that makes the virtual environment (3.9 or later).
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Then run the package's tests (installs the pinned test requirements).
    #[arg(long)]
    pub test: bool,
    /// Then run the Python benchmark beside mpe2 and VMAS (installs `benches/requirements.txt`,
    /// PyTorch included).
    #[arg(long)]
    pub bench: bool,
}

fn pip_install(py: &Path, args: &[&str]) -> Result<()> {
    let mut c = Command::new(py);
    c.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(args);
    run(c)
}

pub fn run_python(a: &PythonArgs) -> Result<()> {
    let root = project_root();
    let venv = if a.venv.is_absolute() {
        a.venv.clone()
    } else {
        root.join(&a.venv)
    };
    let py = venv.join("bin/python");
    if !py.is_file() {
        let mut c = Command::new(&a.python);
        c.args(["-m", "venv"]).arg(&venv);
        run(c).with_context(|| {
            format!(
                "making the virtual environment {} with `{}` (Python 3.9 or later with the venv module)",
                venv.display(),
                a.python
            )
        })?;
    }
    let crate_dir = root.join("crates/magail-py");
    let reqs = crate_dir.join("requirements-test.txt");
    let reqs = reqs.to_string_lossy();
    // maturin at the pinned version (the first line group of the test requirements).
    let maturin_pin = std::fs::read_to_string(crate_dir.join("requirements-test.txt"))
        .context("reading crates/magail-py/requirements-test.txt")?
        .lines()
        .find(|l| l.starts_with("maturin=="))
        .map(str::to_string)
        .unwrap_or_else(|| "maturin".into());
    pip_install(&py, &[&maturin_pin]).context("installing maturin")?;
    // A fresh folder per build, so the wheel to install is the one just built.
    let wheels = root.join("target/wheels/magail-rs");
    if wheels.exists() {
        std::fs::remove_dir_all(&wheels)
            .with_context(|| format!("clearing {}", wheels.display()))?;
    }
    let mut build = Command::new(venv.join("bin/maturin"));
    build
        .arg("build")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--interpreter")
        .arg(&py)
        .arg("--out")
        .arg(&wheels);
    run(build).context("building the wheel")?;
    let wheel = std::fs::read_dir(&wheels)
        .with_context(|| format!("reading {}", wheels.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"));
    let Some(wheel) = wheel else {
        bail!("maturin built no wheel into {}", wheels.display());
    };
    let w = wheel.to_string_lossy();
    // Dependencies first, then this build over whatever version was there.
    pip_install(&py, &[&w]).context("installing the wheel's dependencies")?;
    pip_install(&py, &["--force-reinstall", "--no-deps", &w]).context("installing the wheel")?;
    println!(
        "installed {} into {} (activate: source {}/bin/activate)",
        wheel
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default(),
        venv.display(),
        venv.display()
    );
    if a.test {
        pip_install(&py, &["-r", &reqs]).context("installing the test requirements")?;
        let mut t = Command::new(&py);
        t.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(crate_dir.join("tests"))
            .current_dir(&root);
        // The command line itself (this program: `imitate`, `eval`), for the checks that a run
        // trained from Python and one trained by the command line are the same bytes.
        if let Ok(me) = std::env::current_exe() {
            t.env("MAGAIL_CLI", me);
        }
        run(t)?;
    }
    if a.bench {
        let peers = root.join("benches/requirements.txt");
        pip_install(&py, &["-r", &peers.to_string_lossy()]).context("installing the peers")?;
        for script in ["benches/python_envs.py", "benches/python_imitation.py"] {
            let mut b = Command::new(&py);
            b.arg(root.join(script)).current_dir(&root);
            run(b)?;
        }
    }
    Ok(())
}
