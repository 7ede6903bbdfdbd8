//! Game settings from Python: a game by name with mpe2's constructor arguments, checked once
//! ([`game_config`], [`GameSettings`]).

use crate::value_err;
use envs::config::{RewardMix, ScenarioParams};
use envs::{EnvConfig, GameChoice, ParticleEnv, Variant};
use mg_core::{MarkovGame, PlayerRule, Synchronous};
use pyo3::prelude::*;
/// The settings of a game as Python passes them (mpe2's constructor arguments by their mpe2
/// names, `None` where the caller kept the default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GameArgs {
    /// An mpe2 scenario (`simple_spread`, …), a paper name (`cooperative_navigation`, …) or an
    /// AMAGAIL game (`stoch_navigation`, …).
    pub env: String,
    /// `mpe2` or `paper`.
    pub variant: String,
    /// Continuous (Box) actions.
    pub continuous: bool,
    /// mpe2 `max_cycles`: the episode length.
    pub max_cycles: Option<usize>,
    /// mpe2 `N`: agents of `simple_spread` (and as many landmarks), good agents of
    /// `simple_adversary`.
    pub n: Option<usize>,
    /// mpe2 `local_ratio` of `simple_spread` and `simple_reference`.
    pub local_ratio: Option<f64>,
    /// `simple_tag`'s prey.
    pub num_good: Option<usize>,
    /// `simple_tag`'s predators.
    pub num_adversaries: Option<usize>,
    /// `simple_tag`'s obstacles.
    pub num_obstacles: Option<usize>,
}

impl GameArgs {
    /// `env` in `variant` with every default.
    pub fn new(env: &str, variant: &str) -> Self {
        Self {
            env: env.to_string(),
            variant: variant.to_string(),
            ..Self::default()
        }
    }
}

/// Builds the configuration and player function that `args` describe, or says which argument
/// is wrong and what was expected.
pub fn game_config(args: &GameArgs) -> Result<(EnvConfig, PlayerRule), String> {
    let variant = Variant::from_name(&args.variant).map_err(|e| e.to_string())?;
    let (mut cfg, player) = GameChoice::new(&args.env, variant)
        .config()
        .map_err(|e| e.to_string())?;
    let scenario = cfg.scenario.name();
    let refuse = |arg: &str| {
        Err(format!(
            "`{arg}` is not a parameter of {scenario} ({} variant)",
            cfg.variant.name()
        ))
    };
    cfg.continuous = args.continuous;
    if let Some(m) = args.max_cycles {
        if m == 0 {
            return Err("`max_cycles` is 0: expected at least 1".into());
        }
        cfg.max_steps = m;
    }
    for (arg, value) in [
        ("N", args.n),
        ("num_good", args.num_good),
        ("num_adversaries", args.num_adversaries),
    ] {
        if value == Some(0) {
            return Err(format!("`{arg}` is 0: expected at least 1"));
        }
    }
    let counts = [args.n, args.num_good, args.num_adversaries];
    if player.is_some() && counts.iter().any(Option::is_some) {
        return Err(format!(
            "the AMAGAIL game {} has a fixed number of agents (its player function names them)",
            args.env
        ));
    }
    if let Some(n) = args.n {
        match &mut cfg.params {
            ScenarioParams::Spread(p) => {
                p.n_agents = n;
                p.n_landmarks = n;
            }
            ScenarioParams::Adversary { n_good } => *n_good = n,
            _ => return refuse("N"),
        }
    }
    if let Some(r) = args.local_ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(format!("`local_ratio` is {r}: expected a number in [0, 1]"));
        }
        match &mut cfg.params {
            ScenarioParams::Spread(p) if matches!(p.mix, RewardMix::LocalRatio(_)) => {
                p.mix = RewardMix::LocalRatio(r);
            }
            ScenarioParams::Reference if r == 0.5 => {}
            ScenarioParams::Reference => {
                return Err(format!(
                    "`local_ratio` is {r}: simple_reference is built with mpe2's default 0.5 only"
                ));
            }
            _ => return refuse("local_ratio"),
        }
    }
    for (arg, value) in [
        ("num_good", args.num_good),
        ("num_adversaries", args.num_adversaries),
        ("num_obstacles", args.num_obstacles),
    ] {
        let Some(v) = value else { continue };
        let ScenarioParams::Tag(p) = &mut cfg.params else {
            return refuse(arg);
        };
        match arg {
            "num_good" => p.n_good = v,
            "num_adversaries" => p.n_adversaries = v,
            _ => p.n_obstacles = v,
        }
    }
    cfg.validate().map_err(|e| e.to_string())?;
    let player = match player {
        Some(p) => p,
        None => {
            let env = ParticleEnv::new(cfg.clone()).map_err(|e| e.to_string())?;
            let n = env.spec().n_agents();
            PlayerRule::Synchronous(Synchronous::new(n).map_err(|e| e.to_string())?)
        }
    };
    Ok((cfg, player))
}

/// A game's settings as Python passes them, checked once ([`game_config`]) and handed to
/// [`Game`](crate::Game) or [`VecEnv`](crate::VecEnv).
#[pyclass(module = "magail_rs._native", frozen)]
pub struct GameSettings {
    pub(crate) args: GameArgs,
    pub(crate) cfg: EnvConfig,
    pub(crate) player: PlayerRule,
}

#[pymethods]
impl GameSettings {
    /// mpe2's constructor arguments by their mpe2 names (`N` is `n`); `None` keeps the game's
    /// default. Refused with the argument's name when out of range or not the scenario's.
    #[new]
    #[pyo3(signature = (env, variant = "mpe2", continuous = false, max_cycles = None, n = None,
        local_ratio = None, num_good = None, num_adversaries = None, num_obstacles = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        env: &str,
        variant: &str,
        continuous: bool,
        max_cycles: Option<usize>,
        n: Option<usize>,
        local_ratio: Option<f64>,
        num_good: Option<usize>,
        num_adversaries: Option<usize>,
        num_obstacles: Option<usize>,
    ) -> PyResult<Self> {
        let args = GameArgs {
            env: env.to_string(),
            variant: variant.to_string(),
            continuous,
            max_cycles,
            n,
            local_ratio,
            num_good,
            num_adversaries,
            num_obstacles,
        };
        let (cfg, player) = game_config(&args).map_err(value_err)?;
        Ok(Self { args, cfg, player })
    }

    /// The name the game was asked by.
    #[getter]
    fn env(&self) -> String {
        self.args.env.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::config::SpreadParams;

    fn with(
        env: &str,
        variant: &str,
        edit: impl FnOnce(&mut GameArgs),
    ) -> Result<EnvConfig, String> {
        let mut a = GameArgs::new(env, variant);
        edit(&mut a);
        game_config(&a).map(|(cfg, _)| cfg)
    }

    /// Every refusal names the argument; accepted arguments reach the configuration.
    #[test]
    fn arguments_are_checked_by_name() {
        let tag = with("simple_tag", "mpe2", |a| {
            a.num_good = Some(2);
            a.num_obstacles = Some(0);
        });
        let Ok(EnvConfig {
            params: ScenarioParams::Tag(p),
            ..
        }) = tag
        else {
            panic!("simple_tag with two prey: {tag:?}");
        };
        assert_eq!((p.n_good, p.n_adversaries, p.n_obstacles), (2, 3, 0));
        let refused = [
            with("stoch_navigation", "mpe2", |_| {}),
            with("stoch_predator_prey", "paper", |a| {
                a.num_adversaries = Some(2)
            }),
            with("simple_spread", "mpe2", |a| a.local_ratio = Some(f64::NAN)),
            with("simple_spread", "paper", |a| a.local_ratio = Some(0.3)),
            with("simple_reference", "mpe2", |a| a.local_ratio = Some(0.3)),
            with("simple_push", "mpe2", |a| a.n = Some(3)),
            with("simple_spread", "mpe2", |a| a.max_cycles = Some(0)),
            with("nowhere", "mpe2", |_| {}),
        ];
        let names = [
            "paper variant",
            "fixed number of agents",
            "local_ratio",
            "local_ratio",
            "0.5",
            "`N`",
            "max_cycles",
            "nowhere",
        ];
        for (r, name) in refused.iter().zip(names) {
            let err = r.as_ref().err().cloned().unwrap_or_default();
            assert!(err.contains(name), "expected `{name}` in {err:?}");
        }
        let ok = with("simple_spread", "mpe2", |a| {
            a.local_ratio = Some(0.25);
            a.max_cycles = Some(40);
            a.continuous = true;
        });
        let Ok(cfg) = ok else {
            panic!("{ok:?}");
        };
        assert!(cfg.continuous && cfg.max_steps == 40);
        assert!(matches!(
            cfg.params,
            ScenarioParams::Spread(SpreadParams {
                mix: RewardMix::LocalRatio(r),
                ..
            }) if r == 0.25
        ));
    }
}
