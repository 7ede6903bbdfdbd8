//! Scenario names, variants and their parameters: the mpe2 defaults and the papers' presets.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The particle scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scenario {
    /// `simple_spread`: cooperative navigation.
    Spread,
    /// `simple_speaker_listener`: cooperative communication.
    SpeakerListener,
    /// `simple_push`: keep-away.
    Push,
    /// `simple_tag`: predator-prey.
    Tag,
    /// `simple_reference`.
    Reference,
    /// `simple_adversary`.
    Adversary,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::Spread,
        Scenario::SpeakerListener,
        Scenario::Push,
        Scenario::Tag,
        Scenario::Reference,
        Scenario::Adversary,
    ];

    /// The mpe2 module name (`simple_spread`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Spread => "simple_spread",
            Scenario::SpeakerListener => "simple_speaker_listener",
            Scenario::Push => "simple_push",
            Scenario::Tag => "simple_tag",
            Scenario::Reference => "simple_reference",
            Scenario::Adversary => "simple_adversary",
        }
    }

    /// Parses an mpe2 name or a paper name (`cooperative_navigation`, `keep_away`, ...).
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        let n = n
            .strip_suffix("_v3")
            .or(n.strip_suffix("_v4"))
            .unwrap_or(&n);
        Ok(match n {
            "simple_spread" | "spread" | "cooperative_navigation" => Scenario::Spread,
            "simple_speaker_listener" | "speaker_listener" | "cooperative_communication" => {
                Scenario::SpeakerListener
            }
            "simple_push" | "push" | "keep_away" => Scenario::Push,
            "simple_tag" | "tag" | "predator_prey" => Scenario::Tag,
            "simple_reference" | "reference" => Scenario::Reference,
            "simple_adversary" | "adversary" | "physical_deception" => Scenario::Adversary,
            _ => {
                return Err(ConfigError::UnknownScenario {
                    name: name.to_string(),
                });
            }
        })
    }
}

/// Which preset of a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Variant {
    /// mpe2 1.1.1 with default constructor arguments.
    Mpe2,
    /// The MAGAIL paper code's modified scenario (`shared/docs/papers.md` §2.5).
    Paper,
}

impl Variant {
    /// `mpe2` or `paper`.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Mpe2 => "mpe2",
            Variant::Paper => "paper",
        }
    }

    /// Parses `mpe2` or `paper`.
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "mpe2" | "default" => Ok(Variant::Mpe2),
            "paper" | "magail" => Ok(Variant::Paper),
            _ => Err(ConfigError::UnknownVariant {
                name: name.to_string(),
            }),
        }
    }
}

/// A configuration that cannot be built.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    /// Not a scenario name.
    #[error(
        "unknown environment `{name}`: expected one of simple_spread, simple_speaker_listener, simple_push, simple_tag, simple_reference, simple_adversary (or cooperative_navigation, cooperative_communication, keep_away, predator_prey)"
    )]
    UnknownScenario {
        /// The name given.
        name: String,
    },
    /// Neither a scenario nor an AMAGAIL game ([`GameChoice`](crate::GameChoice)).
    #[error(
        "unknown game `{name}`: expected a scenario (simple_spread, simple_speaker_listener, simple_push, simple_tag, simple_reference, simple_adversary, or cooperative_navigation, cooperative_communication, keep_away, predator_prey) or an AMAGAIL game ({games})"
    )]
    UnknownGame {
        /// The name given.
        name: String,
        /// The AMAGAIL games' names.
        games: String,
    },
    /// Not a variant name.
    #[error("unknown variant `{name}`: expected `mpe2` or `paper`")]
    UnknownVariant {
        /// The name given.
        name: String,
    },
    /// A parameter outside its range.
    #[error("invalid parameter `{param}`: {reason}")]
    InvalidParam {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// How cooperative navigation penalises agents that touch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum CollisionPenalty {
    /// mpe2: −1 per other agent overlapping (distance < sum of radii).
    Count,
    /// The paper code: Σ over other agents of min(distance − sum of radii, 0), the penetration depth.
    Penetration,
}

/// How per-agent rewards become the rewards handed out.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum RewardMix {
    /// Each agent gets its own reward.
    Own,
    /// mpe2's `local_ratio`: `G · (1 − ρ) + L_i · ρ`.
    LocalRatio(f64),
    /// The paper code's collaborative worlds: every agent gets the sum of all agents' rewards.
    TeamSum,
}

/// Parameters of cooperative navigation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpreadParams {
    /// Number of agents (mpe2 `N`).
    pub n_agents: usize,
    /// Number of landmarks (equal to `n_agents` in mpe2; 1 in AMAGAIL's cooperative reaching).
    pub n_landmarks: usize,
    /// Whether the observation includes the agent's own position (mpe2: yes; paper: no).
    pub observe_own_pos: bool,
    /// Collision penalty form.
    pub collision: CollisionPenalty,
    /// Reward mixing.
    pub mix: RewardMix,
    /// End the episode (terminated) once every landmark has an agent closer than this.
    pub cover_radius: Option<f64>,
}

/// Parameters of cooperative communication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeakerListenerParams {
    /// mpe2 rewards minus the *squared* distance; the paper code the plain distance.
    pub squared_distance: bool,
    /// Reward mixing (the paper code sums both agents' identical rewards).
    pub mix: RewardMix,
    /// End the episode (terminated) once the listener is this close to the goal.
    pub reach_radius: Option<f64>,
}

/// Parameters of keep-away.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushParams {
    /// Mass of the adversary (mpe2 1.0; paper 5.0).
    pub adversary_mass: f64,
    /// Speed cap of both agents (mpe2 none; paper 2.0).
    pub max_speed: Option<f64>,
    /// Landmarks are drawn in `[-range, range]²` (mpe2 1.0; paper 0.8).
    pub landmark_range: f64,
    /// The adversary observes the goal's relative position (paper: 10-dim observation).
    pub adversary_sees_goal: bool,
    /// The paper's adversary reward `5·d(good, goal) − 0.5·d(adversary, good)` instead of mpe2's
    /// `d(good, goal) − d(goal, adversary)`.
    pub paper_adversary_reward: bool,
}

/// Parameters of predator-prey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagParams {
    /// Number of prey.
    pub n_good: usize,
    /// Number of predators.
    pub n_adversaries: usize,
    /// Number of obstacles.
    pub n_obstacles: usize,
}

/// Per-scenario parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScenarioParams {
    /// Cooperative navigation.
    Spread(SpreadParams),
    /// Cooperative communication.
    SpeakerListener(SpeakerListenerParams),
    /// Keep-away.
    Push(PushParams),
    /// Predator-prey.
    Tag(TagParams),
    /// simple_reference (no parameters).
    Reference,
    /// simple_adversary with `n_good` good agents.
    Adversary {
        /// Number of good agents (mpe2 `N`).
        n_good: usize,
    },
}

/// Everything needed to build a particle environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvConfig {
    /// The scenario.
    pub scenario: Scenario,
    /// The preset the parameters came from (names the game in data files).
    pub variant: Variant,
    /// Continuous (Box) actions instead of discrete.
    pub continuous: bool,
    /// Episode length: the step at which every agent is truncated (mpe2 25; paper 50).
    pub max_steps: usize,
    /// Scenario parameters.
    pub params: ScenarioParams,
}

impl EnvConfig {
    /// A preset by scenario and variant, with discrete actions.
    pub fn new(scenario: Scenario, variant: Variant) -> Self {
        match variant {
            Variant::Mpe2 => Self::mpe2(scenario),
            Variant::Paper => Self::paper(scenario),
        }
    }

    /// Parses names, e.g. `("simple_spread", "paper")`.
    pub fn from_names(env: &str, variant: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(
            Scenario::from_name(env)?,
            Variant::from_name(variant)?,
        ))
    }

    /// mpe2 1.1.1's defaults (25-step episodes).
    pub fn mpe2(scenario: Scenario) -> Self {
        let params = match scenario {
            Scenario::Spread => ScenarioParams::Spread(SpreadParams {
                n_agents: 3,
                n_landmarks: 3,
                observe_own_pos: true,
                collision: CollisionPenalty::Count,
                mix: RewardMix::LocalRatio(0.5),
                cover_radius: None,
            }),
            Scenario::SpeakerListener => ScenarioParams::SpeakerListener(SpeakerListenerParams {
                squared_distance: true,
                mix: RewardMix::Own,
                reach_radius: None,
            }),
            Scenario::Push => ScenarioParams::Push(PushParams {
                adversary_mass: 1.0,
                max_speed: None,
                landmark_range: 1.0,
                adversary_sees_goal: false,
                paper_adversary_reward: false,
            }),
            Scenario::Tag => ScenarioParams::Tag(TagParams {
                n_good: 1,
                n_adversaries: 3,
                n_obstacles: 2,
            }),
            Scenario::Reference => ScenarioParams::Reference,
            Scenario::Adversary => ScenarioParams::Adversary { n_good: 2 },
        };
        Self {
            scenario,
            variant: Variant::Mpe2,
            continuous: false,
            max_steps: 25,
            params,
        }
    }

    /// The MAGAIL paper code's variant (50-step episodes); scenarios the paper did not modify
    /// keep mpe2's rules with the longer episodes. See `docs/envs.md` for every difference.
    pub fn paper(scenario: Scenario) -> Self {
        let mut c = Self::mpe2(scenario);
        c.variant = Variant::Paper;
        c.max_steps = 50;
        match &mut c.params {
            ScenarioParams::Spread(p) => {
                p.observe_own_pos = false;
                p.collision = CollisionPenalty::Penetration;
                p.mix = RewardMix::TeamSum;
                p.cover_radius = Some(0.1);
            }
            ScenarioParams::SpeakerListener(p) => {
                p.squared_distance = false;
                p.mix = RewardMix::TeamSum;
                p.reach_radius = Some(0.035);
            }
            ScenarioParams::Push(p) => {
                p.adversary_mass = 5.0;
                p.max_speed = Some(2.0);
                p.landmark_range = 0.8;
                p.adversary_sees_goal = true;
                p.paper_adversary_reward = true;
            }
            _ => {}
        }
        c
    }

    /// With continuous (Box) actions.
    pub fn continuous(mut self, yes: bool) -> Self {
        self.continuous = yes;
        self
    }

    /// The game's name as recorded in data files: `simple_spread/paper`.
    pub fn game_name(&self) -> String {
        format!("{}/{}", self.scenario.name(), self.variant.name())
    }

    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |param, reason: &str| {
            Err(ConfigError::InvalidParam {
                param,
                reason: reason.to_string(),
            })
        };
        if self.max_steps == 0 {
            return bad("max_steps", "must be at least 1");
        }
        match &self.params {
            ScenarioParams::Spread(p) => {
                if p.n_agents == 0 || p.n_agents > 32 {
                    return bad("n_agents", "must be 1 to 32");
                }
                if p.n_landmarks == 0 || p.n_landmarks > 32 {
                    return bad("n_landmarks", "must be 1 to 32");
                }
            }
            ScenarioParams::Push(p) => {
                if !(p.adversary_mass.is_finite() && p.adversary_mass > 0.0) {
                    return bad("adversary_mass", "must be a positive number");
                }
                if !(p.landmark_range.is_finite() && p.landmark_range > 0.0) {
                    return bad("landmark_range", "must be a positive number");
                }
            }
            ScenarioParams::Tag(p) => {
                if p.n_good == 0 || p.n_adversaries == 0 || p.n_good + p.n_adversaries > 32 {
                    return bad(
                        "n_good/n_adversaries",
                        "need at least one of each, 32 in all",
                    );
                }
            }
            ScenarioParams::Adversary { n_good } => {
                if *n_good == 0 || *n_good > 31 {
                    return bad("n_good", "must be 1 to 31");
                }
            }
            _ => {}
        }
        if self.params_scenario() != self.scenario {
            return bad("params", "parameters belong to another scenario");
        }
        Ok(())
    }

    fn params_scenario(&self) -> Scenario {
        match self.params {
            ScenarioParams::Spread(_) => Scenario::Spread,
            ScenarioParams::SpeakerListener(_) => Scenario::SpeakerListener,
            ScenarioParams::Push(_) => Scenario::Push,
            ScenarioParams::Tag(_) => Scenario::Tag,
            ScenarioParams::Reference => Scenario::Reference,
            ScenarioParams::Adversary { .. } => Scenario::Adversary,
        }
    }
}
