//! What makes a cell ([`CellSpec`]): its game, method, demonstrations, seed, demonstrator,
//! generator settings ([`Generator`]) and evaluation protocol ([`PROTOCOL`]), with its stable
//! id, its checks and its estimated cost.

use std::path::{Path, PathBuf};

use envs::GameChoice;
use magail_async::MagailConfig;
use magail_async::run::Method;
use mg_core::MarkovGame;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ExperimentError, Result};
use crate::papers::Experiment;

/// How each adversarial cell's generator trains: iterations, rollout copies (× 50 steps), trust
/// region, Fisher stride, discriminator steps and the critic's epochs × minibatches.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// Adversarial iterations (none for behaviour cloning).
    pub iterations: usize,
    /// Environment copies per rollout, each running 50 steps.
    pub envs: usize,
    /// TRPO trust-region radius.
    pub max_kl: f64,
    /// Fisher-vector products on every k-th sample (`TrpoConfig::fisher_subsample`; stored as
    /// `fisher`, the name cell ids were first derived with).
    #[serde(rename = "fisher")]
    pub fisher_subsample: usize,
    /// Discriminator Adam steps per iteration.
    pub disc_steps: usize,
    /// Critic epochs per iteration.
    pub vf_epochs: usize,
    /// Critic minibatches per epoch.
    pub vf_minibatches: usize,
}

impl Generator {
    /// The quick preset: the paper-shape generator (docs/results.md, point 8), the cheapest
    /// setting found under which the adversarial methods end above their BC start at 100
    /// demonstrations.
    pub const QUICK: Generator = Generator {
        iterations: 1000,
        envs: 41,
        max_kl: 0.002,
        fisher_subsample: 4,
        disc_steps: 10,
        vf_epochs: 3,
        vf_minibatches: 4,
    };

    /// The full preset: twice the iterations, the library's discriminator and critic steps
    /// (docs/results.md, point 7).
    pub const FULL: Generator = Generator {
        iterations: 2000,
        envs: 41,
        max_kl: 0.002,
        fisher_subsample: 4,
        disc_steps: 5,
        vf_epochs: 10,
        vf_minibatches: 16,
    };

    /// The smoke preset: a few iterations of a few copies, to try the machinery (tests, a first
    /// run on a cluster). Its numbers mean nothing.
    pub const SMOKE: Generator = Generator {
        iterations: 12,
        envs: 4,
        max_kl: 0.01,
        fisher_subsample: 1,
        disc_steps: 2,
        vf_epochs: 2,
        vf_minibatches: 2,
    };

    /// The settings a configuration holds (no adversarial iterations: a configuration does
    /// not say how long to train).
    pub fn of(cfg: &MagailConfig) -> Self {
        Generator {
            iterations: 0,
            envs: cfg.rollout.envs,
            max_kl: cfg.learner.trpo.max_kl,
            fisher_subsample: cfg.learner.trpo.fisher_subsample,
            disc_steps: cfg.disc.steps,
            vf_epochs: cfg.learner.trpo.vf_epochs,
            vf_minibatches: cfg.learner.trpo.vf_minibatches,
        }
    }

    /// Writes these settings into a method's configuration.
    pub fn apply(&self, cfg: &mut MagailConfig) {
        cfg.rollout.envs = self.envs;
        cfg.learner.trpo.max_kl = self.max_kl;
        cfg.learner.trpo.fisher_subsample = self.fisher_subsample;
        cfg.disc.steps = self.disc_steps;
        cfg.learner.trpo.vf_epochs = self.vf_epochs;
        cfg.learner.trpo.vf_minibatches = self.vf_minibatches;
    }

    /// The settings in words, for table headers.
    pub fn describe(&self) -> String {
        format!(
            "{} iterations of {} copies x 50 steps, max KL {}, Fisher on every {} samples, {} \
             discriminator steps, critic {} epochs x {} minibatches",
            self.iterations,
            self.envs,
            self.max_kl,
            self.fisher_subsample,
            self.disc_steps,
            self.vf_epochs,
            self.vf_minibatches
        )
    }
}

/// Who records a cell's demonstrations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Demonstrator {
    /// The scripted reference policy of the game (docs/envs.md).
    Scripted,
    /// An expert checkpoint folder, as given (a relative path is read from the project root the
    /// cell is run with, so the same cell has the same id on every machine).
    Expert(PathBuf),
}

impl Demonstrator {
    /// Reads a demonstrator as the commands and the Python package name it: `scripted`, or
    /// the path of an expert checkpoint folder.
    pub fn parse(text: &str) -> Self {
        match text {
            "scripted" => Demonstrator::Scripted,
            path => Demonstrator::Expert(PathBuf::from(path)),
        }
    }

    /// The checkpoint's path on this machine, or `None` for the scripted reference.
    pub fn path(&self, root: &Path) -> Option<PathBuf> {
        match self {
            Demonstrator::Scripted => None,
            Demonstrator::Expert(p) if p.is_relative() => Some(root.join(p)),
            Demonstrator::Expert(p) => Some(p.clone()),
        }
    }

    /// A name for tables: `scripted` or the checkpoint's path as given.
    pub fn describe(&self) -> String {
        match self {
            Demonstrator::Scripted => "scripted".into(),
            Demonstrator::Expert(p) => format!("expert {}", p.display()),
        }
    }
}

/// Everything that makes a cell: a re-run with other settings is another cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellSpec {
    /// The experiment (table) it belongs to (stored by its name: `navigation`, …).
    pub experiment: Experiment,
    /// The game.
    pub game: GameChoice,
    /// The method.
    pub method: Method,
    /// Demonstration episodes.
    pub demos: usize,
    /// The replicate: its own demonstration draw and its own training seed.
    pub seed: u64,
    /// Who demonstrates.
    pub demonstrator: Demonstrator,
    /// How the generator trains.
    pub generator: Generator,
    /// Behaviour-cloning epochs (BC cells, and the start of every adversarial cell).
    pub bc_epochs: usize,
    /// Evaluation episodes (of each set: validation and test).
    pub episodes: usize,
    /// Competitive games: the cloning method (`bc`, or `bc-phi` where φ is an action) whose
    /// agents and adversaries, cloned from the same demonstrations and seed, the trained
    /// adversaries and agents also play ([`MatchScore`](crate::MatchScore)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opponents: Option<Method>,
    /// The evaluation protocol the cell is scored under ([`PROTOCOL`]); cells of two protocols
    /// never share a table. Protocol 1 (the first papers' cells, 100 episodes, intervals over
    /// seeds only) is left out of the file, so those cells keep their ids.
    #[serde(default = "protocol_one", skip_serializing_if = "is_protocol_one")]
    pub protocol: u32,
}

/// The evaluation protocol of `claims.md`'s amendment: at least [`PROTOCOL_EPISODES`] test and
/// validation episodes per cell and per match pairing, each episode's return kept, both sides'
/// returns of every match, intervals over seeds and episodes.
pub const PROTOCOL: u32 = 2;

/// The fewest evaluation episodes of [`PROTOCOL`].
pub const PROTOCOL_EPISODES: usize = 1000;

fn protocol_one() -> u32 {
    1
}

fn is_protocol_one(p: &u32) -> bool {
    *p == 1
}

impl CellSpec {
    /// Whether `other` trains the same policies (every setting but how they are scored: the
    /// evaluation episodes and the protocol), so that its run folder can be scored as this
    /// cell.
    pub fn same_training(&self, other: &CellSpec) -> bool {
        let strip = |c: &CellSpec| CellSpec {
            episodes: 0,
            protocol: 0,
            ..c.clone()
        };
        strip(self) == strip(other)
    }

    /// The stable id: readable parts and a digest of every setting, e.g.
    /// `navigation-magail-c-100-s0-3f2a9c01d4`.
    pub fn id(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        let hex: String = digest[..5].iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-s{}-{hex}",
            self.experiment.name(),
            self.method.name(),
            self.demos,
            self.seed
        )
    }

    /// Refuses settings no cell can run with, naming the setting and the accepted range.
    pub fn validate(&self) -> Result<()> {
        let positive = crate::error::at_least_one;
        positive("demos", self.demos)?;
        positive("episodes", self.episodes)?;
        positive("envs", self.generator.envs)?;
        positive("fisher-subsample", self.generator.fisher_subsample)?;
        positive("vf-minibatches", self.generator.vf_minibatches)?;
        if self.method.adversarial() {
            positive("iterations", self.generator.iterations)?;
            positive("disc-steps", self.generator.disc_steps)?;
            positive("vf-epochs", self.generator.vf_epochs)?;
        }
        crate::error::positive_number("max-kl", self.generator.max_kl)?;
        if self.protocol >= PROTOCOL && self.episodes < PROTOCOL_EPISODES {
            return Err(ExperimentError::Settings {
                field: "episodes",
                reason: format!(
                    "is {} under evaluation protocol {}: expected at least {PROTOCOL_EPISODES}",
                    self.episodes, self.protocol
                ),
            });
        }
        if self.protocol == 0 || self.protocol > PROTOCOL {
            return Err(ExperimentError::Settings {
                field: "protocol",
                reason: format!("is {}: expected 1 to {PROTOCOL}", self.protocol),
            });
        }
        self.game.build()?;
        Ok(())
    }

    /// A rough cost in seconds of one core, from cells measured on a 2-core Xeon (AVX-512)
    /// running two cells at once (docs/cluster.md, "What a cell costs"): a fixed start, the
    /// behaviour cloning (per demonstration episode, by game: navigation's episodes end once
    /// every landmark is covered and are short; predator-prey clones four agents over whole
    /// episodes) for its own start and, in a competitive cell, its cloned opponents (once where
    /// they are the same method: see [`clonings`](Self::clonings)), the
    /// adversarial iterations (per agent, twice as dear with one discriminator per agent as
    /// with one joint discriminator, scaled by copies and discriminator steps) and the
    /// evaluation (validation and test for the imitator, random actions and the demonstrator,
    /// and each match pairing).
    pub fn estimated_seconds(&self) -> f64 {
        self.estimated_seconds_from(None)
    }

    /// [`estimated_seconds`](Self::estimated_seconds) for a cell resumed from its checkpoint
    /// of iteration `done`: the iterations left, the evaluation, and only the cloning its
    /// matches still need (its own start is in the checkpoint).
    pub fn estimated_seconds_after(&self, done: usize) -> f64 {
        self.estimated_seconds_from(Some(done))
    }

    /// The whole cell (`resumed` `None`) or what is left after its checkpoint.
    pub(crate) fn estimated_seconds_from(&self, resumed: Option<usize>) -> f64 {
        self.clonings(resumed).iter().map(|(_, s)| s).sum::<f64>()
            + self.own_seconds_after(resumed.unwrap_or(0))
    }

    /// The behaviour clonings this cell needs, each with its estimated seconds: its own start
    /// (unless `resumed` from a checkpoint) and, in a competitive cell other than the cloning
    /// cell itself, its cloned opponents (one cloning where they start alike: GAIL's and
    /// BC's). Cells of a plan run in one process share each cloning (the local executor's
    /// `BcCache`), so a plan counts each [`CloningKey`] once.
    pub fn clonings(&self, resumed: Option<usize>) -> Vec<(CloningKey, f64)> {
        let seconds = self.cloning_seconds();
        let mut out: Vec<(CloningKey, f64)> = Vec::new();
        if resumed.is_none() {
            out.push((self.cloning_key(self.method), seconds));
        }
        if let Some(o) = self.opponents.filter(|&o| o != self.method) {
            let k = self.cloning_key(o);
            if out.iter().all(|(x, _)| *x != k) {
                out.push((k, seconds));
            }
        }
        out
    }

    /// One cloning's estimated seconds: per demonstration episode and 1,000 epochs, by game.
    fn cloning_seconds(&self) -> f64 {
        let per_demo = match self.game.env.as_str() {
            "cooperative_communication" | "simple_speaker_listener" => 0.023,
            "keep_away" | "simple_push" => 0.19,
            "predator_prey"
            | "simple_tag"
            | "stoch_predator_prey"
            | "stoch_predator_prey_turns" => 0.58,
            _ => 0.058,
        };
        per_demo * self.bc_epochs as f64 / 1000.0 * self.demos as f64
    }

    /// Which cloning method `m` starts from in this cell's game, demonstrations and seed.
    pub fn cloning_key(&self, m: Method) -> CloningKey {
        // Where agents fall in more than one sharing group, the later groups' starting policies
        // are drawn after the first group's critic, whose size follows the centralized critic.
        let critic_first = self.game.build().is_ok_and(|(env, _)| {
            let mut cfg = m.config(env.spec(), self.seed);
            self.generator.apply(&mut cfg);
            cfg.learner.centralized_value && cfg.learner.groups.iter().any(|&g| g > 0)
        });
        CloningKey {
            experiment: self.experiment.name(),
            game: format!("{}/{:?}", self.game.env, self.game.variant),
            demonstrator: self.demonstrator.describe(),
            demos: self.demos,
            seed: self.seed,
            bc_epochs: self.bc_epochs,
            phi_as_action: matches!(m, Method::BcPhi | Method::MagailPhi | Method::MagailPhiKept),
            centralized_critic: critic_first,
        }
    }

    /// The cell's own work, its clonings apart: a fixed start, the adversarial iterations not
    /// yet run (after `done`) and the evaluation.
    pub fn own_seconds_after(&self, done: usize) -> f64 {
        let g = &self.generator;
        let agents = self
            .game
            .build()
            .map_or(3, |(env, _)| env.spec().n_agents()) as f64;
        let competitive = self.opponents.is_some();
        let per_agent_iter = match self.method {
            Method::Bc | Method::BcPhi => 0.0,
            Method::MagailC | Method::MagailShared | Method::MagailZs => 0.04,
            Method::Gail
            | Method::MagailD
            | Method::MagailPhi
            | Method::MagailPhiKept
            | Method::Amagail => 0.08,
        } * (g.envs as f64 / 41.0)
            * (1.0 / 3.0 + (2.0 / 3.0) * g.disc_steps as f64 / 10.0);
        let iterations = if self.method.adversarial() {
            g.iterations.saturating_sub(done) as f64
        } else {
            0.0
        };
        let plays = 6.0
            + match (competitive, self.opponents == Some(self.method)) {
                (false, _) => 0.0,
                (true, true) => 2.0,
                (true, false) => 4.0,
            };
        let eval = 0.06 * agents * plays * self.episodes as f64 / 1000.0;
        6.0 + per_agent_iter * agents * iterations + eval
    }
}

/// One behaviour cloning, as the plan's estimates tell clonings apart: cells with equal keys
/// adopt one cloning when one process runs them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloningKey {
    /// The experiment's name.
    pub experiment: &'static str,
    /// The game and its variant.
    pub game: String,
    /// Who demonstrates.
    pub demonstrator: String,
    /// Demonstration episodes.
    pub demos: usize,
    /// The replicate.
    pub seed: u64,
    /// Cloning epochs.
    pub bc_epochs: usize,
    /// Whether the policies have a φ category (the AMAGAIL paper's baselines).
    pub phi_as_action: bool,
    /// Whether a centralized critic's initialization came before the later sharing groups'
    /// policies (games of more than one group, methods with a centralized critic): their
    /// starting weights, and so their cloning, differ from the other methods'.
    pub centralized_critic: bool,
}
