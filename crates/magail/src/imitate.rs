//! `cargo xtask imitate`: one imitation run (BC, independent GAIL, MAGAIL with a centralized,
//! decentralized or zero-sum discriminator, MAGAIL with φ as an action, AMAGAIL) from a
//! demonstration file, through `magail_async::run`: a locked run folder, a metrics log,
//! checkpoints, exact `--resume`, and the evaluation every command reports.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use magail_async::Policy;
use magail_async::run::{EVAL_SEED, Evaluation, Existing, Method, RunFolder, RunSettings};
use mg_core::Demonstrations;

use crate::common::{GameChoice, Tuning, Who, evaluate, load_checkpoint, train_cell};

/// `imitate`'s arguments.
#[derive(Args, Debug)]
pub struct ImitateArgs {
    /// Game (cooperative_navigation, stoch_navigation, …).
    #[arg(long)]
    pub env: String,
    /// Preset: paper or mpe2.
    #[arg(long, default_value = "paper", value_parser = crate::common::parse_variant)]
    pub variant: envs::Variant,
    /// Demonstrations in the binary format (`cargo xtask demos`).
    #[arg(long)]
    pub demos: PathBuf,
    /// Method: bc, bc-phi, gail, magail-c, magail-d, magail-zs, magail-phi, magail-phi-kept or
    /// amagail.
    #[arg(long, default_value = "magail-d", value_parser = |s: &str| s.parse::<Method>().map_err(|e| e.to_string()))]
    pub method: Method,
    /// Adversarial iterations (after behaviour cloning).
    #[arg(long, default_value_t = 500)]
    pub iterations: usize,
    /// Behaviour-cloning epochs (minibatches of 256).
    #[arg(long, default_value_t = 1000)]
    pub bc_epochs: usize,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Discriminator gradient-penalty weight (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub gradient_penalty: f64,
    /// Checkpoint every this many iterations.
    #[arg(long, default_value_t = 25)]
    pub checkpoint_every: usize,
    /// Run folder (default target/imitate/<game>-<method>-s<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in the output folder.
    #[arg(long)]
    pub resume: bool,
    /// Evaluation episodes at the end.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// The policy the demonstrations came from (an expert checkpoint folder, or `scripted`):
    /// the reference of the normalized score. Without it only returns are reported.
    #[arg(long)]
    pub demonstrator: Option<String>,
    /// The settings given in place of the method's defaults.
    #[command(flatten)]
    pub tune: Tuning,
}

pub fn run_imitate(a: &ImitateArgs, root: &Path) -> Result<()> {
    if a.episodes == 0 {
        bail!("--episodes 0: the run is scored over that many episodes, expected at least 1");
    }
    let game = GameChoice {
        env: a.env.clone(),
        variant: a.variant,
    };
    let (env, _) = game.build()?;
    let bytes =
        std::fs::read(&a.demos).with_context(|| format!("cannot read {}", a.demos.display()))?;
    let (_, demos) = Demonstrations::decode(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a demonstration file (expected one written by `cargo xtask demos`): {e}",
            a.demos.display()
        )
    })?;
    let overrides = experiments::Overrides {
        bc_epochs: Some(a.bc_epochs),
        gradient_penalty: Some(a.gradient_penalty),
        ..a.tune.overrides()
    };
    let cfg = overrides.config(a.method, mg_core::MarkovGame::spec(&env), a.seed);
    let dir = a.out.clone().unwrap_or_else(|| {
        root.join(format!(
            "target/imitate/{}-{}-s{}",
            game.slug().unwrap_or_default(),
            a.method.label(),
            a.seed
        ))
    });
    let run = RunSettings {
        method: a.method,
        iterations: a.iterations,
        checkpoint_every: a.checkpoint_every,
    };
    let existing = if a.resume {
        Existing::Resume
    } else {
        Existing::Refuse
    };
    let folder = RunFolder::open(&dir)?;
    let t = train_cell(&game, &demos, cfg, &folder, &run, existing, None, None)?;
    let pols = t.learners().policies(false)?;
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let reference = match a
        .demonstrator
        .as_deref()
        .map(experiments::Demonstrator::parse)
    {
        None => None,
        Some(experiments::Demonstrator::Scripted) => Some(("scripted".to_string(), None)),
        Some(experiments::Demonstrator::Expert(path)) => {
            Some((path.display().to_string(), Some(load_checkpoint(&path)?.1)))
        }
    };
    let ref_pols = reference
        .as_ref()
        .and_then(|(_, l)| l.as_ref())
        .map(|l| l.policies(false))
        .transpose()?
        .unwrap_or_default();
    let ref_refs: Vec<&dyn Policy> = ref_pols.iter().map(|p| p as &dyn Policy).collect();
    let who = match &reference {
        Some((_, Some(_))) => Who::Learned(&ref_refs),
        _ => Who::Scripted,
    };
    let e: Evaluation = evaluate(&game, &refs, who, a.episodes)?;
    let label = format!(
        "{} on {}: team return {:.2} over {} episodes (seed {EVAL_SEED}; random {:.2}",
        a.method.label(),
        game.slug().unwrap_or_default(),
        e.score,
        a.episodes,
        e.random
    );
    match (&reference, e.normalized()) {
        (Some((name, _)), Some(n)) => println!(
            "{label}, demonstrator {name} {:.2}); normalized {n:.3} (demonstrator = 1, random = 0)",
            e.reference
        ),
        (Some((name, _)), None) => println!(
            "{label}, demonstrator {name} {:.2}); no normalized score: the demonstrator scores as random does",
            e.reference
        ),
        (None, _) => println!(
            "{label}); pass --demonstrator (its checkpoint, or `scripted`) for the normalized score"
        ),
    }
    println!(
        "run folder: {} (metrics.jsonl, imitator.safetensors, imitator.json)",
        dir.display()
    );
    Ok(())
}
