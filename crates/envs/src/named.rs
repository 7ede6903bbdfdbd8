//! Particle games by name, as commands and experiment files name them: an mpe2 scenario in a
//! variant (`simple_spread` / `cooperative_navigation`, `mpe2` / `paper`), synchronous, or one
//! of the AMAGAIL games (`stoch_navigation`, …) with its player function.

use mg_core::{MarkovGame, PlayerRule, Synchronous};
use serde::{Deserialize, Serialize};

use crate::amagail::AmagailGame;
use crate::config::{ConfigError, EnvConfig, Variant};
use crate::particle::ParticleEnv;

/// A particle game by name: an mpe2 scenario with a variant (synchronous), or an AMAGAIL game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameChoice {
    /// The name given (`simple_spread`, `cooperative_navigation`, `stoch_navigation`, …).
    pub env: String,
    /// `mpe2` or `paper` (AMAGAIL games exist in the paper variant only); stored by its name.
    #[serde(with = "variant_name")]
    pub variant: Variant,
}

/// A variant (de)serialized by its name (`paper`, `mpe2`), as game choices have always been
/// written; an unknown name is refused with the accepted ones.
mod variant_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::config::Variant;

    pub fn serialize<S: Serializer>(v: &Variant, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Variant, D::Error> {
        let name = String::deserialize(d)?;
        Variant::from_name(&name).map_err(serde::de::Error::custom)
    }
}

impl GameChoice {
    /// The game `env` in `variant`.
    pub fn new(env: &str, variant: Variant) -> Self {
        Self {
            env: env.to_string(),
            variant,
        }
    }

    /// The AMAGAIL game, if the name is one.
    pub fn amagail(&self) -> Option<AmagailGame> {
        AmagailGame::from_name(&self.env).ok()
    }

    /// The game's configuration and, for an AMAGAIL game, its player function (`None` for a
    /// scenario, which is synchronous over as many agents as its configuration makes, so a
    /// caller may still change their number). An unknown name is refused with every name
    /// accepted, scenarios and AMAGAIL games alike; an AMAGAIL game outside the paper variant
    /// is refused too.
    pub fn config(&self) -> Result<(EnvConfig, Option<PlayerRule>), ConfigError> {
        if let Some(g) = self.amagail() {
            if self.variant != Variant::Paper {
                return Err(ConfigError::InvalidParam {
                    param: "variant",
                    reason: format!(
                        "`{}`: the AMAGAIL game {} exists only in the paper variant",
                        self.variant.name(),
                        self.env
                    ),
                });
            }
            return Ok((g.env_config(), Some(g.player())));
        }
        let cfg = EnvConfig::from_names(&self.env, self.variant.name()).map_err(|e| match e {
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
        Ok((cfg, None))
    }

    /// The Markov game and its player function ([`config`](Self::config), built).
    pub fn build(&self) -> Result<(ParticleEnv, PlayerRule), ConfigError> {
        let (cfg, player) = self.config()?;
        let env = ParticleEnv::new(cfg)?;
        if let Some(p) = player {
            return Ok((env, p));
        }
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
        let cfg = EnvConfig::from_names(&self.env, self.variant.name())?;
        Ok(format!("{}-{}", cfg.scenario.name(), cfg.variant.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AMAGAIL games exist in the paper variant only, an unknown name lists both families, and
    /// a variant is read by its name wherever a game choice is loaded.
    #[test]
    fn game_names_and_variants_are_checked() {
        let g = GameChoice::new;
        assert!(g("det_navigation", Variant::Paper).build().is_ok());
        assert_eq!(
            g("cooperative_navigation", Variant::Paper)
                .slug()
                .ok()
                .as_deref(),
            Some("simple_spread-paper")
        );
        let err = g("det_navigation", Variant::Mpe2)
            .build()
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("mpe2") && e.contains("paper variant")));
        let err = g("det_navgation", Variant::Paper)
            .build()
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("simple_spread") && err.contains("det_navigation"),
            "{err}"
        );
        // Stored as before: the variant's name.
        let text = serde_json::to_string(&g("simple_spread", Variant::Mpe2)).unwrap_or_default();
        assert_eq!(text, r#"{"env":"simple_spread","variant":"mpe2"}"#);
        let back: GameChoice =
            serde_json::from_str(r#"{"env":"simple_tag","variant":"paper"}"#).expect("parses");
        assert_eq!(back, g("simple_tag", Variant::Paper));
        let err = serde_json::from_str::<GameChoice>(r#"{"env":"simple_tag","variant":"weird"}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("weird"), "{err}");
    }
}
