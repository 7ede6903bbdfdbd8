//! `cargo xtask imitate`: one imitation run (BC, independent GAIL, MAGAIL with a centralized or
//! decentralized discriminator, zero-sum MAGAIL, MAGAIL with φ as an action, AMAGAIL) from a demonstration file,
//! with a metrics log (JSONL, one [`MagailStats`] per iteration), atomic periodic checkpoints,
//! `--resume`, and an evaluation at the end. The same run function drives every cell of
//! `cargo xtask reproduce`, so cells resume mid-way too.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use clap::{Args, ValueEnum};
use gail::Prior;
use indicatif::{ProgressBar, ProgressStyle};
use magail_async::{
    ClonedPolicies, MagailConfig, MagailStats, MagailTrainer, PhiMode, Policy, default_config,
};
use mg_core::{GameSpec, MarkovGame, Trajectories, decode_demos};
use serde::{Deserialize, Serialize};

use crate::common::{
    GameChoice, Who, normalized, play, return_stats, save_tensors_and_sidecar, write_atomic,
};
use crate::eval::EVAL_SEED;

/// The imitation methods of the papers' comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum Method {
    /// Behaviour cloning only (cross-entropy on the expert's pairs where it acted).
    #[value(name = "bc")]
    Bc,
    /// The AMAGAIL paper's BC baseline on an asynchronous game: φ is an ordinary action, cloned
    /// at the steps where the expert did not act and playable by the clone.
    #[value(name = "bc-phi")]
    BcPhi,
    /// Independent per-agent GAIL: one discriminator per agent on its own (o, a), each agent's
    /// critic on its own observation (single-agent GAIL run side by side).
    #[value(name = "gail")]
    Gail,
    /// MAGAIL, centralized prior: one discriminator on the joint (o, a) with one output per
    /// agent; centralized critics.
    #[value(name = "magail-c")]
    MagailC,
    /// MAGAIL, decentralized prior: one discriminator per agent; centralized critics.
    #[value(name = "magail-d")]
    MagailD,
    /// MAGAIL, zero-sum prior (two players): one joint discriminator trained on expert states
    /// with the paired labelling, r2 = −r1; centralized critics.
    #[value(name = "magail-zs")]
    MagailZs,
    /// The MAGAIL baseline on an asynchronous game: φ is an ordinary action category.
    #[value(name = "magail-phi")]
    MagailPhi,
    /// AMAGAIL: samples where an agent played φ are filtered out of its updates.
    #[value(name = "amagail")]
    Amagail,
}

impl Method {
    /// The name used in tables and folders.
    pub fn label(self) -> &'static str {
        match self {
            Method::Bc => "BC",
            Method::BcPhi => "BC-phi",
            Method::Gail => "GAIL",
            Method::MagailC => "MAGAIL-C",
            Method::MagailD => "MAGAIL-D",
            Method::MagailZs => "MAGAIL-ZS",
            Method::MagailPhi => "MAGAIL",
            Method::Amagail => "AMAGAIL",
        }
    }

    /// Whether adversarial iterations follow behaviour cloning.
    pub fn adversarial(self) -> bool {
        !matches!(self, Method::Bc | Method::BcPhi)
    }

    /// The trainer configuration of this method (docs/algorithms/magail.md).
    pub fn config(self, spec: &GameSpec, seed: u64) -> MagailConfig {
        let (prior, phi, central_critic) = match self {
            Method::Bc => (Prior::Decentralized, PhiMode::Filter, false),
            Method::BcPhi => (Prior::Decentralized, PhiMode::AsAction, false),
            Method::Gail => (Prior::Decentralized, PhiMode::Filter, false),
            Method::MagailC => (Prior::Centralized, PhiMode::Filter, true),
            Method::MagailD => (Prior::Decentralized, PhiMode::Filter, true),
            Method::MagailZs => (Prior::ZeroSum, PhiMode::Filter, true),
            Method::MagailPhi => (Prior::Decentralized, PhiMode::AsAction, true),
            Method::Amagail => (Prior::Decentralized, PhiMode::Filter, true),
        };
        let mut cfg = default_config(spec, prior, phi, seed);
        cfg.learner.centralized_value = central_critic;
        cfg
    }
}

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct RunOpts {
    pub method: Method,
    pub iterations: usize,
    pub bc_epochs: usize,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub gradient_penalty: f64,
    /// Continue from the checkpoint in the run folder (refuse to overwrite one otherwise).
    pub resume: bool,
    /// With `resume`: a run folder holding a run with other settings is started afresh instead
    /// of refused (the reproduction's own folders, whose cells are redone when settings change).
    pub replace_stale: bool,
    /// Overrides of the method's defaults (None: keep the default).
    pub tune: Tuning,
}

/// Optional overrides of `magail_async::default_config`, for experiments.
#[derive(Clone, Debug, Default, Args)]
pub struct Tuning {
    /// Discriminator Adam steps per iteration.
    #[arg(long)]
    pub disc_steps: Option<usize>,
    /// Discriminator learning rate.
    #[arg(long)]
    pub disc_lr: Option<f64>,
    /// Minibatches the discriminator steps cycle through (1: every step on the whole batch).
    #[arg(long)]
    pub disc_minibatches: Option<usize>,
    /// Policy reward form: logd, neglog1md, logit or linear (2D − 1).
    #[arg(long)]
    pub reward: Option<String>,
    /// Environment copies per iteration.
    #[arg(long)]
    pub envs: Option<usize>,
    /// Steps per copy per iteration.
    #[arg(long)]
    pub steps_per_iter: Option<usize>,
    /// TRPO trust-region radius.
    #[arg(long)]
    pub max_kl: Option<f64>,
    /// Weight of the behaviour-cloning term kept in every policy step (0: the papers' MAGAIL).
    #[arg(long)]
    pub bc_weight: Option<f64>,
    /// Fisher-vector products on every k-th sample of the batch (1: all).
    #[arg(long)]
    pub fisher_subsample: Option<usize>,
    /// Critic (value-function) epochs per iteration.
    #[arg(long)]
    pub vf_epochs: Option<usize>,
    /// Critic minibatches per epoch.
    #[arg(long)]
    pub vf_minibatches: Option<usize>,
}

impl Tuning {
    fn apply(&self, cfg: &mut MagailConfig) -> Result<()> {
        if let Some(v) = self.disc_steps {
            cfg.disc.steps = v;
        }
        if let Some(v) = self.disc_lr {
            cfg.disc.lr = v;
        }
        if let Some(v) = self.disc_minibatches {
            cfg.disc.minibatches = v;
        }
        if let Some(r) = &self.reward {
            cfg.reward = gail::RewardForm::from_name(r).with_context(|| {
                format!("unknown reward form `{r}`: expected logd, neglog1md, logit or linear")
            })?;
        }
        if let Some(v) = self.envs {
            cfg.rollout.envs = v;
        }
        if let Some(v) = self.steps_per_iter {
            cfg.steps_per_iter = v;
        }
        if let Some(v) = self.max_kl {
            cfg.learner.trpo.max_kl = v;
        }
        if let Some(v) = self.bc_weight {
            cfg.bc_weight = v;
        }
        if let Some(v) = self.fisher_subsample {
            cfg.learner.trpo.fisher_subsample = v;
        }
        if let Some(v) = self.vf_epochs {
            cfg.learner.trpo.vf_epochs = v;
        }
        if let Some(v) = self.vf_minibatches {
            cfg.learner.trpo.vf_minibatches = v;
        }
        Ok(())
    }
}

/// The sidecar of an imitation checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImitatorMeta {
    pub format: u32,
    pub game: GameChoice,
    pub method: Method,
    pub config: MagailConfig,
    /// Adversarial iterations done (0: behaviour cloning done, nothing more).
    pub iteration: usize,
    pub demo_episodes: usize,
    /// SHA-256 (hex, first 16 bytes) of the demonstrations, so a run folder is never continued
    /// on other demonstrations with as many episodes (empty in sidecars written before).
    #[serde(default)]
    pub demo_digest: String,
    pub command: String,
}

/// The digest of a demonstration set: SHA-256 of its encoding without header names, which is
/// a function of the game, the sizes and every recorded number.
pub fn demo_digest(demos: &Trajectories) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = mg_core::encode_demos(demos, &[], "").context("encoding the demonstrations")?;
    let hash = Sha256::digest(&bytes);
    Ok(hash[..16].iter().map(|b| format!("{b:02x}")).collect())
}

fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("imitator.safetensors"),
        dir.join("imitator.json"),
        dir.join("metrics.jsonl"),
    )
}

fn save<G, P>(dir: &Path, t: &MagailTrainer<G, P>, meta: &ImitatorMeta) -> Result<()>
where
    G: MarkovGame + Clone + Send,
    P: mg_core::PlayerFunction + Clone + Send,
{
    let (st, js, _) = paths(dir);
    let mut m = t.tensors()?;
    // The parameters carry their own iteration: the two files are renamed one after the
    // other, and a run stopped between the renames must not resume these parameters as the
    // sidecar's older iteration.
    m.insert(
        ITERATION_KEY.into(),
        Tensor::new(&[u32::try_from(meta.iteration)?], &Device::Cpu)?,
    );
    save_tensors_and_sidecar(&m, &st, meta, &js)
}

/// The name of the iteration stored beside the parameters.
const ITERATION_KEY: &str = "xtask.iteration";

/// Keeps the metrics lines of iterations up to `upto` (a resumed run rewrites what follows).
fn truncate_metrics(path: &Path, upto: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| serde_json::from_str::<MagailStats>(l).is_ok_and(|s| s.iteration <= upto))
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, |w| Ok(w.write_all(kept.as_bytes())?))
}

/// Trains one imitator in `dir` (resuming from its checkpoint when `opts.resume`) and returns
/// the trainer. A failing iteration (a NaN loss, say) stops the run with an error naming the
/// iteration; the last checkpoint, written before it, stays as it was.
pub fn run_imitation(
    game: &GameChoice,
    demos: &Trajectories,
    opts: &RunOpts,
    dir: &Path,
    bar: &ProgressBar,
) -> Result<MagailTrainer<envs::ParticleEnv, mg_core::PlayerRule>> {
    run_imitation_with(game, demos, opts, dir, bar, None)
}

/// Behaviour clonings shared between the runs of one process: a run whose cloning would be
/// another's ([`MagailTrainer::bc_key`]) adopts it instead of cloning again, waiting for it if it
/// is under way. Results are bit-identical to cloning in every run.
#[derive(Default)]
pub struct BcCache {
    done: Mutex<HashMap<u64, Arc<CloningSlot>>>,
}

/// One cloning, done once by the first run that needs it (or its error, for every run).
type CloningSlot = OnceLock<Result<ClonedPolicies, String>>;

impl BcCache {
    /// Clones `t`'s policies, or adopts the cloning of an earlier run with the same inputs.
    /// Returns the final loss and whether it was adopted.
    fn clone_or_adopt(
        &self,
        t: &mut MagailTrainer<envs::ParticleEnv, mg_core::PlayerRule>,
    ) -> Result<(f64, bool)> {
        let key = t.bc_key()?;
        let slot = {
            let mut m = self
                .done
                .lock()
                .map_err(|_| anyhow::anyhow!("a run sharing behaviour clonings panicked"))?;
            m.entry(key).or_default().clone()
        };
        let mut cloned_here = false;
        let res = slot.get_or_init(|| {
            cloned_here = true;
            t.behaviour_clone_shared().map_err(|e| format!("{e:#}"))
        });
        match res {
            Err(e) => bail!("behaviour cloning: {e}"),
            Ok(c) if cloned_here => Ok((c.loss(), false)),
            Ok(c) => Ok((t.adopt_clone(c)?, true)),
        }
    }
}

/// [`run_imitation`], sharing behaviour clonings through `cache` when given.
pub fn run_imitation_with(
    game: &GameChoice,
    demos: &Trajectories,
    opts: &RunOpts,
    dir: &Path,
    bar: &ProgressBar,
    cache: Option<&BcCache>,
) -> Result<MagailTrainer<envs::ParticleEnv, mg_core::PlayerRule>> {
    let (env, player) = game.build()?;
    let mut cfg = opts.method.config(env.spec(), opts.seed);
    cfg.bc_epochs = opts.bc_epochs;
    cfg.disc.gradient_penalty = opts.gradient_penalty;
    opts.tune.apply(&mut cfg)?;
    let mut t = MagailTrainer::new(env, player, demos, cfg.clone())
        .context("the demonstrations do not fit the game")?;
    let (st, js, metrics) = paths(dir);
    let mut meta = ImitatorMeta {
        format: 1,
        game: game.clone(),
        method: opts.method,
        config: cfg.clone(),
        iteration: 0,
        demo_episodes: demos.episodes.len(),
        demo_digest: demo_digest(demos)?,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let iterations = if opts.method.adversarial() {
        opts.iterations
    } else {
        0
    };
    bar.set_length(iterations as u64);
    // The checkpoint to continue from, if the folder holds one of this very run.
    let mut previous: Option<(ImitatorMeta, HashMap<String, Tensor>, usize)> = None;
    if js.is_file() {
        if !opts.resume {
            bail!(
                "{} already holds a run: pass --resume to continue it, or choose another --out",
                dir.display()
            );
        }
        let text = std::fs::read_to_string(&js)
            .with_context(|| format!("cannot read {}", js.display()))?;
        let old: ImitatorMeta = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an imitation checkpoint", js.display()))?;
        let m: Option<HashMap<String, Tensor>> =
            match candle_core::safetensors::load(&st, &Device::Cpu) {
                Ok(m) => Some(m),
                // The reproduction's own folder: a run whose parameters cannot be read is redone.
                Err(_) if opts.replace_stale => None,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot read the parameters in {}", st.display())
                    });
                }
            };
        // The parameters' own iteration (the sidecar's may be older, if the run stopped between
        // the two renames); files written before they carried it trust the sidecar.
        let done = match m.as_ref().and_then(|m| m.get(ITERATION_KEY)) {
            Some(v) => v
                .to_vec1::<u32>()
                .ok()
                .and_then(|v| v.first().copied())
                .map(|i| i as usize)
                .with_context(|| format!("{ITERATION_KEY} in {} is not one u32", st.display()))?,
            None => old.iteration,
        };
        // Sidecars written before the digest was recorded are matched on the episode count.
        let same_demos = old.demo_episodes == meta.demo_episodes
            && (old.demo_digest.is_empty() || old.demo_digest == meta.demo_digest);
        // Why this run cannot be continued, if it cannot.
        let stale = if old.game != meta.game || old.method != meta.method || old.config != cfg {
            Some(format!(
                "{} holds a run of {} on {:?} with other settings; choose another --out",
                dir.display(),
                old.method.label(),
                old.game
            ))
        } else if !same_demos {
            Some(format!(
                "{} was trained on other demonstrations ({} episodes, digest {}; these: {} \
                 episodes, digest {}); choose another --out",
                dir.display(),
                old.demo_episodes,
                old.demo_digest,
                meta.demo_episodes,
                meta.demo_digest
            ))
        } else if done > iterations {
            Some(format!(
                "{} holds a run of {done} iterations, more than the {iterations} asked for; \
                 choose another --out (or more --iterations to continue it)",
                dir.display()
            ))
        } else {
            None
        };
        match (m, stale) {
            (Some(m), None) => previous = Some((old, m, done)),
            (_, Some(why)) if !opts.replace_stale => bail!(why),
            // A folder the caller may replace (the reproduction's) starts afresh, also when its
            // parameters cannot be read (without replace_stale that was an error above).
            _ => {}
        }
    }
    if let Some((old, m, iteration)) = previous {
        t.resume(&m, iteration)
            .with_context(|| format!("{} does not fit its sidecar", st.display()))?;
        truncate_metrics(&metrics, iteration)?;
        meta.iteration = iteration;
        meta.command = old.command;
    } else {
        let (loss, adopted) = match cache {
            Some(c) => c.clone_or_adopt(&mut t)?,
            None => (t.behaviour_clone().context("behaviour cloning")?, false),
        };
        let how = if adopted {
            " (the same cloning as an earlier run's, adopted)"
        } else {
            ""
        };
        bar.suspend(|| {
            eprintln!(
                "behaviour cloning: {} epochs, final minibatch loss {loss:.4}{how}",
                cfg.bc_epochs
            )
        });
        save(dir, &t, &meta)?;
        if metrics.exists() {
            std::fs::remove_file(&metrics)
                .with_context(|| format!("cannot remove the stale {}", metrics.display()))?;
        }
    }
    bar.set_position(t.iteration().min(iterations) as u64);
    if t.iteration() >= iterations {
        return Ok(t);
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics)
        .with_context(|| format!("cannot append to {}", metrics.display()))?;
    while t.iteration() < iterations {
        let s = t.iterate().with_context(|| {
            format!(
                "the run stopped; its last good checkpoint (iteration {}) is kept in {}",
                meta.iteration,
                dir.display()
            )
        })?;
        writeln!(log, "{}", serde_json::to_string(&s)?)?;
        bar.set_position(s.iteration as u64);
        if let Some(r) = s.true_return.first() {
            bar.set_message(format!("{} return {r:.1}", opts.method.label()));
        }
        if s.iteration % opts.checkpoint_every.max(1) == 0 || s.iteration == iterations {
            meta.iteration = s.iteration;
            save(dir, &t, &meta)?;
        }
    }
    Ok(t)
}

#[derive(Args, Debug)]
pub struct ImitateArgs {
    /// Game (cooperative_navigation, stoch_navigation, …).
    #[arg(long)]
    pub env: String,
    /// Preset: paper or mpe2.
    #[arg(long, default_value = "paper")]
    pub variant: String,
    /// Demonstrations in the binary format (`cargo xtask demos`).
    #[arg(long)]
    pub demos: PathBuf,
    /// Method.
    #[arg(long, value_enum, default_value_t = Method::MagailD)]
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
    #[command(flatten)]
    pub tune: Tuning,
}

pub fn run_imitate(a: &ImitateArgs) -> Result<()> {
    if a.episodes == 0 {
        bail!("--episodes must be at least 1: the run is scored over that many episodes");
    }
    let game = GameChoice {
        env: a.env.clone(),
        variant: a.variant.clone(),
    };
    let bytes =
        std::fs::read(&a.demos).with_context(|| format!("cannot read {}", a.demos.display()))?;
    let (_, demos) = decode_demos(&bytes)
        .with_context(|| format!("{} is not a demonstration file", a.demos.display()))?;
    let dir = a.out.clone().unwrap_or_else(|| {
        crate::project_root().join(format!(
            "target/imitate/{}-{}-s{}",
            game.slug().unwrap_or_default(),
            a.method.label(),
            a.seed
        ))
    });
    let opts = RunOpts {
        method: a.method,
        iterations: a.iterations,
        bc_epochs: a.bc_epochs,
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        gradient_penalty: a.gradient_penalty,
        resume: a.resume,
        replace_stale: false,
        tune: a.tune.clone(),
    };
    let bar = ProgressBar::new(a.iterations as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} iterations {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t = run_imitation(&game, &demos, &opts, &dir, &bar)?;
    bar.finish();
    let pols = t.learners().policies(false);
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let (_, score) = return_stats(&play(&game, Who::Learned(&refs), a.episodes, EVAL_SEED)?);
    let (_, random) = return_stats(&play(&game, Who::Random, a.episodes, EVAL_SEED)?);
    let demo_team = {
        let rets: Vec<f64> = demos
            .episodes
            .iter()
            .map(|e| {
                let r = e.returns();
                r.iter().sum::<f64>() / r.len().max(1) as f64
            })
            .collect();
        rets.iter().sum::<f64>() / rets.len().max(1) as f64
    };
    println!(
        "{} on {}: team return {score:.2} over {} episodes (random {random:.2}, demonstrations {demo_team:.2}); normalized {:.3} (demonstrations = 1, random = 0)",
        a.method.label(),
        game.slug().unwrap_or_default(),
        a.episodes,
        normalized(score, random, demo_team)
    );
    println!(
        "run folder: {} (metrics.jsonl, imitator.safetensors, imitator.json)",
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of a few iterations, checkpointing every second one.
    fn small_run(method: Method, iterations: usize, bc_epochs: usize) -> RunOpts {
        RunOpts {
            method,
            iterations,
            bc_epochs,
            seed: 0,
            checkpoint_every: 2,
            gradient_penalty: 0.0,
            resume: false,
            replace_stale: false,
            tune: Tuning::default(),
        }
    }

    fn iterations_logged(dir: &Path) -> Vec<usize> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<MagailStats>(l).ok())
            .map(|s| s.iteration)
            .collect()
    }

    /// A run checkpoints, refuses to overwrite itself, resumes where its checkpoint stands
    /// (dropping metrics logged after it) and continues to the new iteration count.
    #[test]
    fn an_imitation_run_checkpoints_and_resumes() {
        let game = GameChoice {
            env: "cooperative_navigation".into(),
            variant: "paper".into(),
        };
        let demos = play(&game, Who::Scripted, 4, 7).expect("demos");
        let dir = std::env::temp_dir().join(format!("magail-imitate-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut opts = small_run(Method::MagailD, 3, 1);
        let bar = ProgressBar::hidden();
        run_imitation(&game, &demos, &opts, &dir, &bar).expect("first run");
        assert_eq!(iterations_logged(&dir), vec![1, 2, 3]);
        let err = run_imitation(&game, &demos, &opts, &dir, &bar)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("--resume"), "{err}");
        let js = dir.join("imitator.json");
        let st = dir.join("imitator.safetensors");
        let line = |k: usize| {
            std::fs::read_to_string(dir.join("metrics.jsonl"))
                .unwrap_or_default()
                .lines()
                .nth(k - 1)
                .map(str::to_string)
        };
        let rewind_sidecar = || {
            let mut meta: ImitatorMeta =
                serde_json::from_str(&std::fs::read_to_string(&js).expect("sidecar"))
                    .expect("json");
            meta.iteration = 2;
            std::fs::write(&js, serde_json::to_string(&meta).expect("json")).expect("write");
        };
        // Pretend the run stopped between the renames of its checkpoint at 3: parameters of
        // iteration 3, the sidecar still at 2. The parameters carry their iteration, so the run
        // continues from 3 (its third line stays) instead of redoing 3 on top of them.
        let third = line(3);
        rewind_sidecar();
        opts.resume = true;
        opts.iterations = 4;
        let t = run_imitation(&game, &demos, &opts, &dir, &bar).expect("resumed run");
        assert_eq!(t.iteration(), 4);
        assert_eq!(iterations_logged(&dir), vec![1, 2, 3, 4]);
        assert_eq!(line(3), third);
        // A checkpoint from before the parameters carried their iteration trusts its sidecar:
        // rewound to 2, the resumed run drops the lines logged after 2 and redoes them.
        let mut m = candle_core::safetensors::load(&st, &Device::Cpu).expect("load");
        assert!(m.remove(ITERATION_KEY).is_some());
        candle_core::safetensors::save(&m, &st).expect("save");
        rewind_sidecar();
        let t = run_imitation(&game, &demos, &opts, &dir, &bar).expect("resumed run");
        assert_eq!(t.iteration(), 4);
        assert_eq!(iterations_logged(&dir), vec![1, 2, 3, 4]);
        assert_ne!(
            line(3),
            third,
            "iteration 3 was redone from the checkpoint at 2"
        );
        // Fewer iterations than the run already has are refused rather than answered with the
        // longer run, also when the sidecar is behind the parameters (4 saved, sidecar at 2).
        rewind_sidecar();
        opts.iterations = 3;
        let err = run_imitation(&game, &demos, &opts, &dir, &bar)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("run of 4 iterations, more than the 3"),
            "{err}"
        );
        // Other demonstrations with as many episodes are refused too.
        let other = play(&game, Who::Scripted, 4, 8).expect("demos");
        opts.iterations = 4;
        let err = run_imitation(&game, &other, &opts, &dir, &bar)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("other demonstrations"), "{err}");
        // A sidecar from before the digest was recorded is matched on the episode count.
        let mut meta: ImitatorMeta =
            serde_json::from_str(&std::fs::read_to_string(&js).expect("sidecar")).expect("json");
        meta.demo_digest.clear();
        std::fs::write(&js, serde_json::to_string(&meta).expect("json")).expect("write");
        opts.iterations = 4;
        let t = run_imitation(&game, &demos, &opts, &dir, &bar).expect("old sidecar resumes");
        assert_eq!(t.iteration(), 4);
        // Other settings in the same folder are refused.
        opts.method = Method::MagailC;
        let err = run_imitation(&game, &demos, &opts, &dir, &bar)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("other settings"), "{err}");
        // Unless the folder is the caller's to replace (the reproduction's): then the run
        // starts afresh, its stale metrics gone.
        opts.replace_stale = true;
        opts.iterations = 2;
        let t = run_imitation(&game, &demos, &opts, &dir, &bar).expect("fresh run");
        assert_eq!(t.iteration(), 2);
        assert_eq!(iterations_logged(&dir), vec![1, 2]);
        let meta: ImitatorMeta =
            serde_json::from_str(&std::fs::read_to_string(&js).expect("sidecar")).expect("json");
        assert_eq!((meta.method, meta.iteration), (Method::MagailC, 2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Runs of one demonstration set share a cloning through the cache: the second run adopts
    /// the first's and ends exactly where it would have cloning for itself.
    #[test]
    fn runs_sharing_a_cloning_end_as_runs_that_clone() {
        let game = GameChoice {
            env: "cooperative_navigation".into(),
            variant: "paper".into(),
        };
        let demos = play(&game, Who::Scripted, 4, 7).expect("demos");
        let root =
            std::env::temp_dir().join(format!("magail-bc-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // Past the discriminator warm-up, so that the first run's policies move after sharing.
        let opts = |method| small_run(method, 12, 2);
        let bar = ProgressBar::hidden();
        let cache = BcCache::default();
        let run = |method, name: &str, cache| {
            run_imitation_with(&game, &demos, &opts(method), &root.join(name), &bar, cache)
                .expect("run")
                .tensors()
                .expect("tensors")
        };
        // One cloning for all runs: the first run's, which trains on after sharing it; the
        // later runs adopt it (a snapshot, not the first run's trained policies).
        let flat = |m: &HashMap<String, Tensor>, k: &str| {
            m[k].flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .expect("tensor")
        };
        for method in [Method::MagailD, Method::Gail, Method::MagailC, Method::Bc] {
            let label = method.label();
            let shared = run(method, &format!("{label}-shared"), Some(&cache));
            let own = run(method, &format!("{label}-own"), None);
            for k in own.keys() {
                assert_eq!(flat(&shared, k), flat(&own, k), "{label}: {k}");
            }
        }
        assert_eq!(cache.done.lock().map(|m| m.len()).unwrap_or(0), 1);
        let _ = std::fs::remove_dir_all(&root);
    }
}
