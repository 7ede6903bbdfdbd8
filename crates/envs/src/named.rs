//! Particle games by name, as commands and experiment files name them: an mpe2 scenario in a
//! variant (`simple_spread` / `cooperative_navigation`, `mpe2` / `paper`), synchronous, or one
//! of the AMAGAIL games (`stoch_navigation`, …) with its player function.

use mg_core::{MarkovGame, PlayerRule, Synchronous};
use serde::{Deserialize, Serialize};

use crate::amagail::AmagailGame;
use crate::config::{ConfigError, EnvConfig};
use crate::particle::ParticleEnv;

/// A particle game by name: an mpe2 scenario with a variant (synchronous), or an AMAGAIL game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameChoice {
    /// The name given (`simple_spread`, `cooperative_navigation`, `stoch_navigation`, …).
    pub env: String,
    /// `mpe2` or `paper` (AMAGAIL games exist in the paper variant only).
    pub variant: String,
}

impl GameChoice {
    /// The game `env` in `variant`.
    pub fn new(env: &str, variant: &str) -> Self {
        Self {
            env: env.to_string(),
            variant: variant.to_string(),
        }
    }

    /// The AMAGAIL game, if the name is one.
    pub fn amagail(&self) -> Option<AmagailGame> {
        AmagailGame::from_name(&self.env).ok()
    }

    /// The Markov game and its player function. An unknown name is refused with every name
    /// accepted, scenarios and AMAGAIL games alike.
    pub fn build(&self) -> Result<(ParticleEnv, PlayerRule), ConfigError> {
        if let Some(g) = self.amagail() {
            if self.variant != "paper" {
                return Err(ConfigError::InvalidParam {
                    param: "variant",
                    reason: format!(
                        "`{}`: the AMAGAIL game {} exists only in the paper variant",
                        self.variant, self.env
                    ),
                });
            }
            return Ok((ParticleEnv::new(g.env_config())?, g.player()));
        }
        let cfg = EnvConfig::from_names(&self.env, &self.variant).map_err(|e| match e {
            ConfigError::UnknownScenario { .. } => ConfigError::UnknownGame {
                name: self.env.clone(),
                games: AmagailGame::ALL
                    .iter()
                    .map(|g| g.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            other => other,
        })?;
        let env = ParticleEnv::new(cfg)?;
        let n = env.spec().n_agents();
        let player = Synchronous::new(n).map_err(|e| ConfigError::InvalidParam {
            param: "agents",
            reason: e.to_string(),
        })?;
        Ok((env, PlayerRule::Synchronous(player)))
    }

    /// A short name for folders: `simple_spread-paper`, `stoch_navigation`.
    pub fn slug(&self) -> Result<String, ConfigError> {
        if let Some(g) = self.amagail() {
            return Ok(g.name().to_string());
        }
        let cfg = EnvConfig::from_names(&self.env, &self.variant)?;
        Ok(format!("{}-{}", cfg.scenario.name(), cfg.variant.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AMAGAIL games exist in the paper variant only, and an unknown name lists both families.
    #[test]
    fn game_names_and_variants_are_checked() {
        let g = GameChoice::new;
        assert!(g("det_navigation", "paper").build().is_ok());
        assert_eq!(
            g("cooperative_navigation", "paper").slug().ok().as_deref(),
            Some("simple_spread-paper")
        );
        let err = g("det_navigation", "bogus")
            .build()
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("bogus")));
        let err = g("det_navgation", "paper")
            .build()
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("simple_spread") && err.contains("det_navigation"),
            "{err}"
        );
        // A known game with an unknown variant is about the variant only.
        let err = g("simple_spread", "weird")
            .build()
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("weird") && !err.contains("environment"),
            "{err}"
        );
    }
}
