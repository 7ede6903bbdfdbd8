//! AMAGAIL's four extensive games on the particle world (`shared/docs/papers.md` §3.3): the
//! paper's cooperative navigation, cooperative reaching and predator-prey played through a
//! deterministic or stochastic player function. Inactive agents play φ (no force, no message,
//! no reward) as `docs/envs.md` describes.

use mg_core::{ExtensiveGame, PlayerRule, Rounds, Schedule, Stochastic};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, EnvConfig, Scenario, ScenarioParams};
use crate::particle::ParticleEnv;

/// One of AMAGAIL's games.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AmagailGame {
    /// Cooperative navigation (3 agents, 3 landmarks) with the cycle {1,2,3} → {1,2} → {1}.
    DeterministicNavigation,
    /// Cooperative navigation where each agent acts with probability 0.5 at every step.
    StochasticNavigation,
    /// Cooperative reaching: 3 agents, 1 landmark, the deterministic cycle.
    DeterministicReaching,
    /// Predator-prey: the prey always acts, each predator with probability 0.5 (the paper's
    /// "the prey acts first" read as "the prey always acts": within a step every acting agent
    /// moves at once). The reproduction's stochastic predator-prey.
    StochasticPredatorPrey,
    /// Predator-prey in turns: the prey acts alone, then each predator with probability 0.5
    /// while the prey waits, and again (the other reading of "the prey acts first, then each
    /// adversary acts with probability 0.5": first in time).
    StochasticPredatorPreyTurns,
}

impl AmagailGame {
    /// Every game.
    pub const ALL: [AmagailGame; 5] = [
        AmagailGame::DeterministicNavigation,
        AmagailGame::StochasticNavigation,
        AmagailGame::DeterministicReaching,
        AmagailGame::StochasticPredatorPrey,
        AmagailGame::StochasticPredatorPreyTurns,
    ];

    /// Command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            AmagailGame::DeterministicNavigation => "det_navigation",
            AmagailGame::StochasticNavigation => "stoch_navigation",
            AmagailGame::DeterministicReaching => "det_reaching",
            AmagailGame::StochasticPredatorPrey => "stoch_predator_prey",
            AmagailGame::StochasticPredatorPreyTurns => "stoch_predator_prey_turns",
        }
    }

    /// Parses [`name`](Self::name).
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|g| g.name() == name.trim())
            .ok_or_else(|| ConfigError::UnknownScenario {
                name: format!(
                    "{name} (AMAGAIL games: det_navigation, stoch_navigation, det_reaching, stoch_predator_prey, stoch_predator_prey_turns)"
                ),
            })
    }

    /// The underlying Markov game's configuration (the MAGAIL paper variants, 50 steps).
    pub fn env_config(&self) -> EnvConfig {
        match self {
            AmagailGame::DeterministicNavigation | AmagailGame::StochasticNavigation => {
                EnvConfig::paper(Scenario::Spread)
            }
            AmagailGame::DeterministicReaching => {
                let mut c = EnvConfig::paper(Scenario::Spread);
                if let ScenarioParams::Spread(p) = &mut c.params {
                    // One landmark: the team is scored by the closest agent's distance and
                    // penalised for overlaps, so only one agent should go and the others keep
                    // clear. It never "covers every landmark" early: with one landmark that
                    // would end most episodes at once, so the early end is off.
                    p.n_landmarks = 1;
                    p.cover_radius = None;
                }
                c
            }
            AmagailGame::StochasticPredatorPrey | AmagailGame::StochasticPredatorPreyTurns => {
                EnvConfig::paper(Scenario::Tag)
            }
        }
    }

    /// The player function.
    pub fn player(&self) -> PlayerRule {
        match self {
            AmagailGame::DeterministicNavigation | AmagailGame::DeterministicReaching => {
                PlayerRule::Schedule(Schedule::amagail_cycle())
            }
            AmagailGame::StochasticNavigation => PlayerRule::Stochastic(
                Stochastic::new(vec![0.5, 0.5, 0.5]).expect("valid probabilities"),
            ),
            // Agent order in predator-prey: the three predators, then the prey.
            AmagailGame::StochasticPredatorPrey => PlayerRule::Stochastic(
                Stochastic::new(vec![0.5, 0.5, 0.5, 1.0]).expect("valid probabilities"),
            ),
            AmagailGame::StochasticPredatorPreyTurns => PlayerRule::Rounds(
                Rounds::new(vec![vec![0.0, 0.0, 0.0, 1.0], vec![0.5, 0.5, 0.5, 0.0]])
                    .expect("valid probabilities"),
            ),
        }
    }

    /// The extensive game, ready to reset.
    pub fn build(&self) -> ExtensiveGame<ParticleEnv, PlayerRule> {
        let env = ParticleEnv::new(self.env_config()).expect("AMAGAIL presets are valid");
        ExtensiveGame::new(env, self.player()).expect("player function matches the agents")
    }
}
