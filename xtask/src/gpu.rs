//! `cargo xtask gpu-check`: builds the GPU binary (candle's CUDA backend, a CUDA compiler from
//! PyPI when the machine has none) and, where an NVIDIA GPU is present, runs `gpu-compare`: one
//! short imitation on the CPU and on the GPU from the same seed, checking that the first
//! iterations agree within float tolerance and printing both iteration times.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use magail_async::run::Method;
use magail_async::{ComputeDevice, MagailStats, MagailTrainer};
use serde::Serialize;

use crate::check::{cuda_env, ensure_link_libs, ensure_toolkit};
use crate::{cargo, project_root, run};
use magail::common::{GameChoice, Who, play, write_atomic};

#[derive(Args, Debug)]
pub struct GpuCheckArgs {
    /// Only build the GPU binary (`target/gpu/xtask-cuda`), even where a GPU is present.
    #[arg(long)]
    pub build_only: bool,
    /// Compute capability the CUDA kernels are compiled for when no GPU is present to ask
    /// (90: H100/H200).
    #[arg(long, default_value = "90")]
    pub compute_cap: String,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Adversarial iterations on each device (the first `disc_warmup` train only the
    /// discriminators and critics, so their rollouts must agree exactly).
    #[arg(long, default_value_t = 16)]
    pub iterations: usize,
    /// The GPU to compare against the CPU.
    #[arg(long, default_value = "cuda:0", value_parser = |s: &str| s.parse::<ComputeDevice>().map_err(|e| e.to_string()))]
    pub device: ComputeDevice,
    /// Write the comparison as JSON here too.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Where `gpu-check` leaves the GPU binary.
fn binary_path() -> PathBuf {
    project_root().join("target/gpu/xtask-cuda")
}

pub fn run_gpu_check(a: &GpuCheckArgs) -> Result<()> {
    let root = ensure_toolkit()?;
    let link = ensure_link_libs(&root)?;
    let gpu_here = which("nvidia-smi");
    let mut c = cargo();
    c.args([
        "build",
        "--release",
        "-p",
        "xtask",
        "--features",
        "cuda",
        "--target-dir",
        "target/cuda",
    ]);
    cuda_env(&mut c, &root);
    c.env("LIBRARY_PATH", &link);
    if !gpu_here && std::env::var_os("CUDA_COMPUTE_CAP").is_none() {
        c.env("CUDA_COMPUTE_CAP", &a.compute_cap);
    }
    run(c)?;
    let built = project_root().join("target/cuda/release/xtask");
    let dst = binary_path();
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Without its debug information the binary is a quarter of the size (17 MB), small enough
    // to carry to a GPU machine; a copy where `strip` is missing.
    let mut strip = std::process::Command::new("strip");
    strip.arg("-o").arg(&dst).arg(&built);
    if run(strip).is_err() {
        std::fs::copy(&built, &dst)
            .with_context(|| format!("cannot copy {} to {}", built.display(), dst.display()))?;
    }
    println!("GPU binary: {}", dst.display());
    if a.build_only || !gpu_here {
        println!(
            "no GPU run here ({}): on a machine with an NVIDIA GPU and its driver, run `{} gpu-compare` from a copy of this repository",
            if a.build_only {
                "--build-only"
            } else {
                "nvidia-smi not found"
            },
            dst.display()
        );
        return Ok(());
    }
    let mut c = std::process::Command::new(&dst);
    c.arg("gpu-compare").current_dir(project_root());
    run(c)
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// One device's run: what every iteration reported and how long it took.
#[derive(Serialize)]
struct DeviceRun {
    device: String,
    stats: Vec<MagailStats>,
    iteration_ms: Vec<f64>,
    /// Median of the warm-up iterations (discriminator and critic only) but the first.
    warmup_ms: f64,
    /// Median of the iterations with a policy step but the first.
    policy_ms: f64,
}

#[derive(Serialize)]
struct Comparison {
    game: String,
    method: String,
    envs: usize,
    steps_per_iter: usize,
    warmup: usize,
    max_disc_loss_rel: f64,
    first_kl_rel: Option<f64>,
    max_param_abs_diff: f64,
    cpu: DeviceRun,
    gpu: DeviceRun,
    agree: bool,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

pub fn run_compare(a: &CompareArgs) -> Result<()> {
    if a.iterations == 0 {
        bail!("--iterations 0: expected at least 1 iteration to compare");
    }
    if a.device == ComputeDevice::Cpu {
        bail!("--device cpu: expected a GPU (`cuda` or `cuda:N`) to compare with the CPU");
    }
    let game = GameChoice {
        env: "cooperative_navigation".into(),
        variant: envs::Variant::Paper,
    };
    let demos = mg_core::Demonstrations::new(&play(&game, Who::Scripted, 100, 7)?)?;
    let method = Method::MagailC;
    let (env, _) = game.build()?;
    // The paper-shape generator's learner shapes (docs/results.md): 41 copies × 50 steps, ten
    // full-batch discriminator steps, Fisher products on every 4th sample, critic 3 × 4.
    let mut cfg = method.config(mg_core::MarkovGame::spec(&env), 1);
    cfg.bc_epochs = 0;
    // The library's trust region stays: the comparison is of devices, not of step sizes.
    experiments::Generator {
        max_kl: cfg.learner.trpo.max_kl,
        ..experiments::Generator::QUICK
    }
    .apply(&mut cfg);
    cfg.steps_per_iter = 50;
    let warmup = cfg.disc_warmup;
    let mut runs = Vec::new();
    let mut params = Vec::new();
    for dev in [ComputeDevice::Cpu, a.device] {
        let mut c = cfg.clone();
        c.learner.device = dev;
        let (env, player) = game.build()?;
        let mut t = MagailTrainer::new(env, player, &demos, c)
            .with_context(|| format!("cannot set the trainer up on {dev}"))?;
        let (mut stats, mut ms) = (Vec::new(), Vec::new());
        for _ in 0..a.iterations {
            let t0 = Instant::now();
            let s = t.iterate().with_context(|| format!("training on {dev}"))?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            stats.push(s);
        }
        let mut tensors: Vec<(String, Vec<f32>)> = t
            .learners()
            .tensors()?
            .into_iter()
            .map(|(k, v)| Ok((k, v.flatten_all()?.to_vec1::<f32>()?)))
            .collect::<Result<_>>()?;
        tensors.sort_by(|x, y| x.0.cmp(&y.0));
        params.push(tensors);
        // The first iteration of each kind carries one-time costs (the CUDA context, the first
        // use of each kernel): left out of the medians.
        let w = warmup.min(ms.len());
        let warmup_ms = median(ms.get(1..w).unwrap_or_default());
        let policy_ms = median(ms.get(w + 1..).unwrap_or_default());
        eprintln!(
            "{dev}: median iteration {warmup_ms:.1} ms in the warm-up, {policy_ms:.1} ms with a policy step"
        );
        runs.push(DeviceRun {
            device: dev.to_string(),
            stats,
            iteration_ms: ms,
            warmup_ms,
            policy_ms,
        });
    }
    let (Some(gpu), Some(cpu)) = (runs.pop(), runs.pop()) else {
        bail!("two runs expected");
    };
    let mut agree = true;
    let mut max_disc_loss_rel: f64 = 0.0;
    println!("iteration | true return cpu / gpu | disc loss cpu / gpu | policy KL cpu / gpu");
    for (c, g) in cpu.stats.iter().zip(&gpu.stats) {
        let dl = c
            .disc
            .iter()
            .zip(&g.disc)
            .map(|(x, y)| rel(x.loss, y.loss))
            .fold(0.0, f64::max);
        let warm = c.iteration <= warmup;
        if warm {
            max_disc_loss_rel = max_disc_loss_rel.max(dl);
            // Policies do not change in the warm-up, and rollouts act on the CPU: the same
            // episodes, to the bit.
            agree &= c.true_return == g.true_return;
        }
        let r = |s: &MagailStats| s.true_return.first().copied().unwrap_or(f64::NAN);
        let l = |s: &MagailStats| s.disc.first().map_or(f64::NAN, |d| d.loss);
        let k = |s: &MagailStats| s.kl.first().copied().flatten().unwrap_or(f64::NAN);
        println!(
            "{:>9} | {:>9.3} / {:>9.3} | {:.6} / {:.6} | {:.2e} / {:.2e}{}",
            c.iteration,
            r(c),
            r(g),
            l(c),
            l(g),
            k(c),
            k(g),
            if warm { "  (warm-up)" } else { "" }
        );
    }
    agree &= max_disc_loss_rel < 1e-3;
    let first_kl_rel = cpu
        .stats
        .iter()
        .zip(&gpu.stats)
        .find(|(c, _)| c.policy_updated)
        .and_then(|(c, g)| Some(rel(c.kl.first().copied()??, g.kl.first().copied()??)));
    if let Some(k) = first_kl_rel {
        agree &= k < 5e-2;
    }
    let max_param_abs_diff = params[0]
        .iter()
        .zip(&params[1])
        .flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(p, q)| f64::from((p - q).abs())))
        .fold(0.0, f64::max);
    println!(
        "warm-up iterations 1..={warmup}: rollouts identical: {}; discriminator loss within {:.1e} relative (tolerance 1e-3)",
        cpu.stats
            .iter()
            .zip(&gpu.stats)
            .filter(|(c, _)| c.iteration <= warmup)
            .all(|(c, g)| c.true_return == g.true_return),
        max_disc_loss_rel
    );
    if let Some(k) = first_kl_rel {
        println!("first policy step: KL within {k:.1e} relative (tolerance 5e-2)");
    }
    println!(
        "after {} iterations the parameters differ by at most {max_param_abs_diff:.2e} (the rollouts diverge once a sampled action flips)",
        a.iterations
    );
    println!(
        "gpu-check: an iteration with a policy step takes {:.1} ms on the cpu, {:.1} ms on {} ({:.2}×); a warm-up iteration {:.1} and {:.1} ms; {}",
        cpu.policy_ms,
        gpu.policy_ms,
        gpu.device,
        cpu.policy_ms / gpu.policy_ms,
        cpu.warmup_ms,
        gpu.warmup_ms,
        if agree { "agree" } else { "DISAGREE" }
    );
    let cmp = Comparison {
        game: game.slug().unwrap_or_default(),
        method: method.label().into(),
        envs: cfg.rollout.envs,
        steps_per_iter: cfg.steps_per_iter,
        warmup,
        max_disc_loss_rel,
        first_kl_rel,
        max_param_abs_diff,
        cpu,
        gpu,
        agree,
    };
    if let Some(path) = &a.out {
        let json = serde_json::to_vec_pretty(&cmp)?;
        write_atomic(path, |w| Ok(w.write_all(&json)?))?;
    }
    if !agree {
        bail!("the CPU and GPU runs disagree beyond float tolerance (table above)");
    }
    Ok(())
}
