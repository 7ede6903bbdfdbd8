//! Settings given in place of a method's defaults, by name: what `magail imitate`'s flags and
//! Python's `magail_rs.train` keywords set, applied by one function so the two give the same
//! configuration, and so the same bytes.

use gail::RewardForm;
use magail_async::run::Method;
use magail_async::{ComputeDevice, MagailConfig};
use mg_core::GameSpec;

use crate::cell::Generator;

/// Each `Some` replaces the method's value; the trainer checks every value
/// (`MagailConfig::validate`), naming the setting.
///
/// ```
/// use experiments::Overrides;
/// use magail_async::run::Method;
///
/// let env = envs::ParticleEnv::new(envs::EnvConfig::paper(envs::Scenario::Spread)).unwrap();
/// let spec = mg_core::MarkovGame::spec(&env);
/// let o = Overrides { envs: Some(4), bc_epochs: Some(3), ..Overrides::default() };
/// let cfg = o.config(Method::MagailC, spec, 7);
/// assert_eq!((cfg.rollout.envs, cfg.bc_epochs, cfg.learner.seed), (4, 3, 7));
/// // Nothing given: the method's own configuration.
/// assert_eq!(Overrides::default().config(Method::MagailC, spec, 7), Method::MagailC.config(spec, 7));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Environment copies per iteration.
    pub envs: Option<usize>,
    /// TRPO trust-region radius.
    pub max_kl: Option<f64>,
    /// Fisher-vector products on every k-th sample (1: all).
    pub fisher_subsample: Option<usize>,
    /// Discriminator Adam steps per iteration.
    pub disc_steps: Option<usize>,
    /// Critic epochs per iteration.
    pub vf_epochs: Option<usize>,
    /// Critic minibatches per epoch.
    pub vf_minibatches: Option<usize>,
    /// Behaviour-cloning epochs before adversarial training.
    pub bc_epochs: Option<usize>,
    /// Discriminator gradient-penalty weight (0: off).
    pub gradient_penalty: Option<f64>,
    /// Discriminator learning rate.
    pub disc_lr: Option<f64>,
    /// Minibatches the discriminator steps cycle through.
    pub disc_minibatches: Option<usize>,
    /// The policies' reward form.
    pub reward: Option<RewardForm>,
    /// Steps per copy per iteration.
    pub steps_per_iter: Option<usize>,
    /// Weight of a behaviour-cloning term kept in every policy step.
    pub bc_weight: Option<f64>,
    /// Where the networks compute.
    pub device: Option<ComputeDevice>,
}

impl Overrides {
    /// Replaces the generator's settings that were given.
    pub fn overlay(&self, g: &mut Generator) {
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut g.envs, self.envs);
        set(&mut g.fisher_subsample, self.fisher_subsample);
        set(&mut g.disc_steps, self.disc_steps);
        set(&mut g.vf_epochs, self.vf_epochs);
        set(&mut g.vf_minibatches, self.vf_minibatches);
        if let Some(v) = self.max_kl {
            g.max_kl = v;
        }
    }

    /// Replaces every setting of `cfg` that was given.
    pub fn apply(&self, cfg: &mut MagailConfig) {
        let mut g = Generator::of(cfg);
        self.overlay(&mut g);
        g.apply(cfg);
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut cfg.bc_epochs, self.bc_epochs);
        set(&mut cfg.disc.minibatches, self.disc_minibatches);
        set(&mut cfg.steps_per_iter, self.steps_per_iter);
        if let Some(v) = self.gradient_penalty {
            cfg.disc.gradient_penalty = v;
        }
        if let Some(v) = self.disc_lr {
            cfg.disc.lr = v;
        }
        if let Some(v) = self.reward {
            cfg.reward = v;
        }
        if let Some(v) = self.bc_weight {
            cfg.bc_weight = v;
        }
        if let Some(v) = self.device {
            cfg.learner.device = v;
        }
    }

    /// `method`'s configuration for a game with this spec and seed, with these settings in
    /// place of its own.
    pub fn config(&self, method: Method, spec: &GameSpec, seed: u64) -> MagailConfig {
        let mut cfg = method.config(spec, seed);
        self.apply(&mut cfg);
        cfg
    }
}
