//! Pieces every experiment task shares: games by name (`envs::GameChoice`), atomic file writes,
//! checkpoints, evaluation, and plots.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use candle_core::Tensor;
use envs::ParticleEnv;
use envs::scripted::ScriptedPolicy;
use indicatif::{ProgressBar, ProgressStyle};
use magail_async::run;
use magail_async::{
    Collector, FnPolicy, LearnerConfig, Learners, MagailConfig, MagailError, MagailTrainer, Policy,
    RandomPolicy, RolloutConfig,
};
use mg_core::{MarkovGame, PlayerRule, Trajectories};
use serde::{Deserialize, Serialize};

pub use envs::GameChoice;

/// Writes a file atomically ([`magail_async::run::write_atomic`]): `write` fills a buffer,
/// which then goes to disk through a temporary sibling and a rename.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::Cursor<Vec<u8>>) -> Result<()>,
) -> Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    write(&mut buf)?;
    Ok(magail_async::run::write_atomic(path, |w| {
        w.write_all(buf.get_ref())
    })?)
}

/// The game a checkpoint is played in: its own, or `env` (with `variant`, default `paper`) when
/// given, e.g. a synchronous expert acting in an AMAGAIL game whenever the player function lets
/// it. Refused unless every agent's observation size and action space are the checkpoint's.
pub fn game_for(
    meta: &CheckpointMeta,
    env: Option<&str>,
    variant: Option<&str>,
) -> Result<GameChoice> {
    let Some(env) = env else {
        return Ok(meta.game.clone());
    };
    let want = GameChoice {
        env: env.to_string(),
        variant: variant.unwrap_or("paper").to_string(),
    };
    let (theirs, _) = meta.game.build()?;
    let (ours, _) = want.build()?;
    let sizes = |g: &ParticleEnv| -> Vec<(usize, mg_core::ActionSpace)> {
        g.spec()
            .agents
            .iter()
            .map(|a| (a.obs_dim, a.action_space))
            .collect()
    };
    if sizes(&theirs) != sizes(&ours) {
        bail!(
            "--env {}: its agents' (observation size, action space) are {:?}, but the checkpoint was trained in {} with {:?}",
            want.env,
            sizes(&ours),
            meta.game_name,
            sizes(&theirs)
        );
    }
    Ok(want)
}

/// Everything needed to rebuild a checkpoint's learners, beside the safetensors file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Sidecar format version.
    pub format: u32,
    /// The game.
    pub game: GameChoice,
    /// The game's full name (`simple_spread/paper`).
    pub game_name: String,
    /// Learner configuration (networks, sharing, TRPO).
    pub learner: LearnerConfig,
    /// Rollout configuration.
    pub rollout: RolloutConfig,
    /// Steps per copy per iteration.
    pub steps_per_iter: usize,
    /// Iterations done.
    pub iteration: usize,
    /// Environment steps done.
    pub env_steps: u64,
    /// Mean team return of the last iteration (training-time score).
    pub score: Option<f64>,
    /// The command that produced it.
    pub command: String,
}

/// `DIR/expert.safetensors` and `DIR/expert.json`.
pub fn checkpoint_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("expert.safetensors"), dir.join("expert.json"))
}

/// Saves a checkpoint's tensors and their sidecar atomically (tensors first, so the sidecar
/// never points at a file that is not there yet).
pub fn save_checkpoint(
    dir: &Path,
    tensors: &HashMap<String, Tensor>,
    meta: &CheckpointMeta,
) -> Result<()> {
    let (st, js) = checkpoint_paths(dir);
    Ok(run::save_checkpoint_files(&st, tensors, &js, meta)?)
}

/// Reads a checkpoint folder's (or its `.json` / `.safetensors` file's) sidecar; returns it and
/// the path of its parameters.
pub fn read_sidecar(path: &Path) -> Result<(CheckpointMeta, PathBuf)> {
    // A path that is not there must not fall back to its parent folder's checkpoint.
    if !path.exists() {
        bail!(
            "{} does not exist: expected a checkpoint folder (made by `cargo xtask expert`) or its .json / .safetensors file",
            path.display()
        );
    }
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let (st, js) = checkpoint_paths(&dir);
    if !js.is_file() {
        bail!(
            "no checkpoint at {}: expected {} (made by `cargo xtask expert`)",
            path.display(),
            js.display()
        );
    }
    let text =
        std::fs::read_to_string(&js).with_context(|| format!("cannot read {}", js.display()))?;
    let meta: CheckpointMeta = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid checkpoint sidecar", js.display()))?;
    Ok((meta, st))
}

/// Loads a checkpoint folder (or its `.json` / `.safetensors` file): the sidecar, and learners
/// rebuilt from it with the saved parameters.
pub fn load_checkpoint(path: &Path) -> Result<(CheckpointMeta, Learners)> {
    let (meta, st) = read_sidecar(path)?;
    let (game, player) = meta.game.build()?;
    let probe = Collector::new(
        game,
        player,
        RolloutConfig {
            envs: 1,
            ..meta.rollout.clone()
        },
    )?;
    let dims: Vec<usize> = (0..probe.spec().n_agents())
        .map(|i| probe.obs_dim(i))
        .collect();
    let mut learners = Learners::new(probe.spec(), &dims, meta.learner.clone())?;
    let tensors = run::load_tensors(&st)?;
    learners
        .load_tensors(&tensors, false)
        .with_context(|| format!("{} does not fit its sidecar", st.display()))?;
    Ok((meta, learners))
}

/// Which policy to evaluate.
pub enum Who<'a> {
    /// Uniformly random actions.
    Random,
    /// The scripted reference.
    Scripted,
    /// Learned policies (one per agent).
    Learned(&'a [&'a dyn Policy]),
}

/// The scripted reference of every agent of `env`, as rollout policies.
pub fn scripted_policies(env: &ParticleEnv) -> Vec<Box<dyn Policy>> {
    let scripted = ScriptedPolicy::new(env);
    let spec = env.spec();
    (0..spec.n_agents())
        .map(|i| {
            let s = scripted.clone();
            let (d, w) = (spec.obs_dim(i), spec.action_space(i).width());
            Box::new(FnPolicy::new(d, w, move |o: &[f32], a: &mut [f32]| {
                s.act(i, o, a)
            })) as Box<dyn Policy>
        })
        .collect()
}

/// Plays `episodes` episodes on fixed seeds (stream `seed`) and returns them.
pub fn play(game: &GameChoice, who: Who<'_>, episodes: usize, seed: u64) -> Result<Trajectories> {
    let (env, player) = game.build()?;
    let spec = env.spec().clone();
    let fns = scripted_policies(&env);
    let randoms = RandomPolicy::for_game(&spec);
    let pols: Vec<&dyn Policy> = match who {
        Who::Random => randoms.iter().map(|p| p as &dyn Policy).collect(),
        Who::Scripted => fns.iter().map(|p| p.as_ref()).collect(),
        Who::Learned(p) => p.to_vec(),
    };
    Ok(run::play(env, player, &pols, episodes, seed)?)
}

/// The evaluation every command reports ([`run::Evaluation`]): `policies`, random actions and
/// `reference`, each on the same `episodes` episodes of [`run::EVAL_SEED`].
pub fn evaluate(
    game: &GameChoice,
    policies: &[&dyn Policy],
    reference: Who<'_>,
    episodes: usize,
) -> Result<run::Evaluation> {
    let team =
        |who| -> Result<f64> { Ok(return_stats(&play(game, who, episodes, run::EVAL_SEED)?).1) };
    Ok(run::Evaluation {
        episodes,
        seed: run::EVAL_SEED,
        score: team(Who::Learned(policies))?,
        random: team(Who::Random)?,
        reference: team(reference)?,
    })
}

/// Optional overrides of a method's configuration, for experiments.
#[derive(Clone, Debug, Default, clap::Args)]
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
    #[arg(long, value_parser = parse_reward)]
    pub reward: Option<gail::RewardForm>,
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
    /// Where the networks compute: `cpu`, `cuda` or `cuda:N` (a GPU needs the `cuda` build:
    /// `cargo xtask gpu-check`).
    #[arg(long, value_parser = |s: &str| s.parse::<magail_async::ComputeDevice>().map_err(|e| e.to_string()))]
    pub device: Option<magail_async::ComputeDevice>,
}

fn parse_reward(s: &str) -> Result<gail::RewardForm, String> {
    gail::RewardForm::from_name(s).ok_or_else(|| {
        format!("unknown reward form `{s}`: expected logd, neglog1md, logit or linear")
    })
}

impl Tuning {
    /// Sets every given override (the trainer checks the values: `MagailConfig::validate`).
    pub fn apply(&self, cfg: &mut MagailConfig) {
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut cfg.disc.steps, self.disc_steps);
        set(&mut cfg.disc.minibatches, self.disc_minibatches);
        set(&mut cfg.rollout.envs, self.envs);
        set(&mut cfg.steps_per_iter, self.steps_per_iter);
        set(
            &mut cfg.learner.trpo.fisher_subsample,
            self.fisher_subsample,
        );
        set(&mut cfg.learner.trpo.vf_epochs, self.vf_epochs);
        set(&mut cfg.learner.trpo.vf_minibatches, self.vf_minibatches);
        if let Some(v) = self.disc_lr {
            cfg.disc.lr = v;
        }
        if let Some(v) = self.reward {
            cfg.reward = v;
        }
        if let Some(v) = self.max_kl {
            cfg.learner.trpo.max_kl = v;
        }
        if let Some(v) = self.bc_weight {
            cfg.bc_weight = v;
        }
        if let Some(v) = self.device {
            cfg.learner.device = v;
        }
    }
}

/// Trains (or continues) one imitator of `demos` in `folder` with the library's run
/// ([`run::train_imitator`]), showing progress on `bar` (a bar of its own when `None`).
#[allow(clippy::too_many_arguments)]
pub fn train_cell(
    game: &GameChoice,
    demos: &Trajectories,
    cfg: MagailConfig,
    folder: &run::RunFolder,
    settings: &run::RunSettings,
    existing: run::Existing,
    cache: Option<&run::BcCache>,
    bar: Option<&ProgressBar>,
) -> Result<MagailTrainer<ParticleEnv, PlayerRule>> {
    let (env, player) = game.build()?;
    let bc_epochs = cfg.bc_epochs;
    let trainer = MagailTrainer::new(env, player, demos, cfg).map_err(|e| match e {
        e @ MagailError::Config(_) => anyhow::anyhow!("invalid settings: {e}"),
        e => anyhow::anyhow!("the demonstrations do not fit {}: {e}", game.env),
    })?;
    let own;
    let bar = match bar {
        Some(b) => b,
        None => {
            own = ProgressBar::new(settings.adversarial_iterations() as u64);
            own.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} iterations {elapsed_precise} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            &own
        }
    };
    bar.set_length(settings.adversarial_iterations() as u64);
    let label = settings.method.label();
    let t = run::train_imitator(
        folder,
        game,
        demos,
        trainer,
        settings,
        existing,
        cache,
        &mut |p| match p {
            run::Progress::Cloned { loss, adopted } => bar.suspend(|| {
                let how = if adopted {
                    " (the same cloning as an earlier run's, adopted)"
                } else {
                    ""
                };
                eprintln!(
                    "behaviour cloning: {bc_epochs} epochs, final minibatch loss {loss:.4}{how}"
                )
            }),
            run::Progress::Resumed(i) => bar.set_position(i as u64),
            run::Progress::Iteration(s) => {
                bar.set_position(s.iteration as u64);
                if let Some(r) = s.true_return.first() {
                    bar.set_message(format!("{label} return {r:.1}"));
                }
            }
        },
    )?;
    bar.set_position(bar.length().unwrap_or(0));
    Ok(t)
}

pub use magail_async::run::return_stats;

/// Registers the bundled DejaVu Sans font for plots (once).
pub fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// One labelled series of (x, y) points.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// A line plot with markers to PNG and SVG (`base.png`, `base.svg`), written atomically.
pub fn line_plot(
    base: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    use plotters::prelude::*;
    fonts();
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        bail!("nothing to plot for {title}");
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    // Points on the frame are half hidden: keep them inside.
    let pad = (x1 - x0) * 0.08;
    let (x0, x1) = (x0 - pad, x1 + pad);
    let colors = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        CYAN,
        BLACK,
        RGBColor(255, 140, 0),
    ];
    // Demonstration counts and iterations are whole numbers: no "100.0" under the axis.
    let tick = |x: f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    macro_rules! draw {
        ($root:expr) => {{
            let root = $root;
            root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_label_formatter(&|x: &f64| tick(*x))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for (k, s) in series.iter().enumerate() {
                let c = colors[k % colors.len()];
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                // Markers help read a few points (demonstration counts), not a long curve.
                if s.points.len() <= 60 {
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                }
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }};
    }
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    let tmp_png = base.with_extension("png.tmp.png");
    let tmp_svg = base.with_extension("svg.tmp.svg");
    draw!(BitMapBackend::new(&tmp_png, (800, 500)).into_drawing_area());
    draw!(SVGBackend::new(&tmp_svg, (800, 500)).into_drawing_area());
    std::fs::rename(&tmp_png, &png)?;
    std::fs::rename(&tmp_svg, &svg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped expert loads, and plays clearly better than random on a few episodes.
    #[test]
    fn shipped_experts_load_and_beat_random() {
        let dir = crate::project_root().join("assets/experts");
        let mut checked = 0;
        for e in std::fs::read_dir(&dir)
            .expect("assets/experts exists")
            .flatten()
        {
            let (meta, learners) = load_checkpoint(&e.path()).expect("shipped checkpoint loads");
            // Sampled actions, as `cargo xtask eval` and `crossplay` evaluate.
            let pols = learners.policies(false).expect("policies");
            let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
            // The good (non-adversary) agents, played by the expert against random adversaries,
            // must beat random good agents against the same random adversaries. (A team mean
            // says nothing in competitive games; docs/experts.md has the adversaries' side in
            // its cross-play tables.)
            let (env, _) = meta.game.build().expect("game");
            let n = env.spec().n_agents();
            let good: Vec<usize> = (0..n).filter(|&i| !env.is_adversary(i)).collect();
            let randoms = RandomPolicy::for_game(env.spec());
            let mixed: Vec<&dyn Policy> = (0..n)
                .map(|i| {
                    if good.contains(&i) {
                        refs[i]
                    } else {
                        &randoms[i] as &dyn Policy
                    }
                })
                .collect();
            let mean_good = |set: &Trajectories| {
                let (per, _) = return_stats(set);
                good.iter().map(|&i| per[i].0).sum::<f64>() / good.len() as f64
            };
            let mine = mean_good(&play(&meta.game, Who::Learned(&mixed), 32, 5).expect("plays"));
            let rand = mean_good(&play(&meta.game, Who::Random, 32, 5).expect("plays"));
            assert!(
                mine > rand + 0.3 * rand.abs(),
                "{}: {mine} vs random {rand}",
                e.path().display()
            );
            checked += 1;
        }
        assert!(checked >= 2);
    }

    /// `eval --env` and `crossplay --env` play a checkpoint in another game only when every
    /// agent's sizes are the same.
    #[test]
    fn a_checkpoint_plays_only_games_of_its_sizes() {
        let dir = crate::project_root().join("assets/experts/simple_spread-paper-s0");
        let (meta, _) = load_checkpoint(&dir).expect("shipped checkpoint loads");
        assert_eq!(game_for(&meta, None, None).expect("own game"), meta.game);
        let stoch = game_for(&meta, Some("stoch_navigation"), None).expect("same sizes");
        assert_eq!(stoch.env, "stoch_navigation");
        let err = game_for(&meta, Some("det_reaching"), None)
            .expect_err("one landmark: 12 observations, not 16")
            .to_string();
        assert!(err.contains("det_reaching") && err.contains("16"), "{err}");
        let err = game_for(&meta, Some("simple_nowhere"), None)
            .expect_err("unknown game")
            .to_string();
        assert!(err.contains("simple_nowhere"), "{err}");
    }

    #[test]
    fn a_missing_checkpoint_is_a_clear_error() {
        let err = load_checkpoint(Path::new("/nonexistent/expert"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not exist") && err.contains("cargo xtask expert"),
            "{err}"
        );
        // A misspelt folder inside a checkpoint folder is not taken for its parent.
        let shipped = crate::project_root().join("assets/experts/simple_spread-paper-s0");
        let err = load_checkpoint(&shipped.join("typo"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("typo") && err.contains("does not exist"),
            "{err}"
        );
        // A folder without a checkpoint says what it expected.
        let err = load_checkpoint(&crate::project_root().join("docs"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("expert.json"), "{err}");
    }
}
