//! The eight experiments of the two papers, each as a game, a demonstrator, methods and a grid
//! of demonstration counts (docs/papers.md says where each choice comes from).

use std::path::PathBuf;

use envs::GameChoice;
use magail_async::run::Method;
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// Which paper an experiment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Paper {
    /// Song et al., Multi-agent generative adversarial imitation learning (NeurIPS 2018).
    Magail,
    /// Zhang et al., Asynchronous multi-agent generative adversarial imitation learning (ICLR
    /// 2020 submission).
    Amagail,
}

impl Paper {
    /// `magail` or `amagail`.
    pub fn name(self) -> &'static str {
        match self {
            Paper::Magail => "magail",
            Paper::Amagail => "amagail",
        }
    }
}

/// One experiment (a figure's panel or a table) of one paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Experiment {
    /// MAGAIL: cooperative navigation (simple_spread, paper variant).
    Navigation,
    /// MAGAIL: cooperative communication (simple_speaker_listener, paper variant).
    Communication,
    /// MAGAIL: keep-away (simple_push, paper variant), Table 1.
    KeepAway,
    /// MAGAIL: predator-prey (simple_tag, paper variant), Table 1.
    PredatorPrey,
    /// AMAGAIL: deterministic cooperative navigation (Fig. 2).
    DetNavigation,
    /// AMAGAIL: stochastic cooperative navigation (Fig. 2).
    StochNavigation,
    /// AMAGAIL: deterministic cooperative reaching (Fig. 2).
    DetReaching,
    /// AMAGAIL: stochastic predator-prey, Table 1.
    StochPredatorPrey,
}

/// The MAGAIL paper's demonstration counts (papers.md §1.3: 100 to 400 episodes).
const MAGAIL_DEMOS: [usize; 4] = [100, 200, 300, 400];
/// The AMAGAIL grid: its text names 200, 300, "below 400" and "more than 400" demonstrations
/// (papers.md §3.3), so 100 to 500 in steps of 100.
const AMAGAIL_DEMOS: [usize; 5] = [100, 200, 300, 400, 500];
/// The competitive tables state no count; 200 is the official code's default
/// (`traj_limitation`, papers.md §2.3).
const COMPETITIVE_DEMOS: [usize; 1] = [200];

impl std::fmt::Display for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Experiment {
    /// The eight, in the papers' order.
    pub const ALL: [Experiment; 8] = [
        Experiment::Navigation,
        Experiment::Communication,
        Experiment::KeepAway,
        Experiment::PredatorPrey,
        Experiment::DetNavigation,
        Experiment::StochNavigation,
        Experiment::DetReaching,
        Experiment::StochPredatorPrey,
    ];

    /// The name in cell ids, folders and `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Navigation => "navigation",
            Experiment::Communication => "communication",
            Experiment::KeepAway => "keep_away",
            Experiment::PredatorPrey => "predator_prey",
            Experiment::DetNavigation => "det_navigation",
            Experiment::StochNavigation => "stoch_navigation",
            Experiment::DetReaching => "det_reaching",
            Experiment::StochPredatorPrey => "stoch_predator_prey",
        }
    }

    /// The experiment of a name; an unknown one lists the known ones.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| ExperimentError::Settings {
                field: "only",
                reason: format!(
                    "unknown experiment `{name}`, expected one of: {}",
                    Self::ALL.map(Experiment::name).join(", ")
                ),
            })
    }

    /// The paper.
    pub fn paper(self) -> Paper {
        match self {
            Experiment::Navigation
            | Experiment::Communication
            | Experiment::KeepAway
            | Experiment::PredatorPrey => Paper::Magail,
            _ => Paper::Amagail,
        }
    }

    /// The heading of its table.
    pub fn title(self) -> &'static str {
        match self {
            Experiment::Navigation => "Cooperative navigation (MAGAIL paper variant)",
            Experiment::Communication => "Cooperative communication (MAGAIL paper variant)",
            Experiment::KeepAway => "Keep-away (MAGAIL Table 1)",
            Experiment::PredatorPrey => "Predator-prey (MAGAIL Table 1)",
            Experiment::DetNavigation => "Deterministic cooperative navigation (AMAGAIL)",
            Experiment::StochNavigation => "Stochastic cooperative navigation (AMAGAIL)",
            Experiment::DetReaching => "Deterministic cooperative reaching (AMAGAIL)",
            Experiment::StochPredatorPrey => {
                "Stochastic predator-prey (AMAGAIL Table 1; the prey always acts)"
            }
        }
    }

    /// The game.
    pub fn game(self) -> GameChoice {
        let env = match self {
            Experiment::Navigation => "cooperative_navigation",
            Experiment::Communication => "cooperative_communication",
            Experiment::KeepAway => "keep_away",
            Experiment::PredatorPrey => "predator_prey",
            other => other.name(),
        };
        GameChoice::new(env, envs::Variant::Paper)
    }

    /// The shipped expert that demonstrates, relative to the project root.
    pub fn expert(self) -> PathBuf {
        PathBuf::from("assets/experts").join(match self {
            Experiment::Navigation => "simple_spread-paper-s0",
            Experiment::Communication => "simple_speaker_listener-paper-s1",
            Experiment::KeepAway => "simple_push-paper-s0",
            Experiment::PredatorPrey => "simple_tag-paper-s0",
            Experiment::DetNavigation => "det_navigation-s0",
            Experiment::StochNavigation => "stoch_navigation-s0",
            Experiment::DetReaching => "det_reaching-s0",
            // Trained in the stochastic game, as the paper's were (docs/experts.md compares it
            // with the synchronous expert playing there).
            Experiment::StochPredatorPrey => "stoch_predator_prey-s0",
        })
    }

    /// Whether the table pairs agents and adversaries trained by different methods.
    pub fn competitive(self) -> bool {
        matches!(
            self,
            Experiment::KeepAway | Experiment::PredatorPrey | Experiment::StochPredatorPrey
        )
    }

    /// Competitive experiments: the cloning method whose agents and adversaries every method's
    /// adversaries and agents play (the paper's BC: plain in MAGAIL, φ as an action in AMAGAIL).
    pub fn opponents(self) -> Option<Method> {
        match self {
            Experiment::KeepAway | Experiment::PredatorPrey => Some(Method::Bc),
            Experiment::StochPredatorPrey => Some(Method::BcPhi),
            _ => None,
        }
    }

    /// The methods compared. The AMAGAIL paper's baselines treat φ as an action (`BC-φ`, and
    /// MAGAIL in both readings: `magail-phi` trains forced φ as if chosen, `magail-phi-kept`
    /// keeps its own draw there); plain BC, which clones only where the expert acted, is kept
    /// beside them. Zero-sum in predator-prey is between two teams, the three predators and
    /// the prey. "Centralized" has two readings (`claims.md`): one discriminator output per
    /// agent as in the official code (`magail-c`), and one shared reward (`magail-c-shared`).
    pub fn methods(self) -> &'static [Method] {
        match self {
            Experiment::Navigation | Experiment::Communication => &[
                Method::Bc,
                Method::Gail,
                Method::MagailC,
                Method::MagailShared,
                Method::MagailD,
            ],
            Experiment::KeepAway | Experiment::PredatorPrey => &[
                Method::Bc,
                Method::Gail,
                Method::MagailC,
                Method::MagailShared,
                Method::MagailD,
                Method::MagailZs,
            ],
            Experiment::DetNavigation
            | Experiment::StochNavigation
            | Experiment::DetReaching
            | Experiment::StochPredatorPrey => &[
                Method::BcPhi,
                Method::Bc,
                Method::MagailPhi,
                Method::MagailPhiKept,
                Method::Amagail,
            ],
        }
    }

    /// The demonstration counts.
    pub fn demos(self) -> &'static [usize] {
        match self {
            Experiment::Navigation | Experiment::Communication => &MAGAIL_DEMOS,
            Experiment::KeepAway | Experiment::PredatorPrey | Experiment::StochPredatorPrey => {
                &COMPETITIVE_DEMOS
            }
            _ => &AMAGAIL_DEMOS,
        }
    }

    /// The experiments of `paper` (both papers for `None`), or only `only` when given; an
    /// experiment of `only` that is not of `paper` is refused by name.
    pub fn select(paper: Option<Paper>, only: &[Experiment]) -> Result<Vec<Experiment>> {
        let of_paper: Vec<Experiment> = Self::ALL
            .into_iter()
            .filter(|e| paper.is_none_or(|p| e.paper() == p))
            .collect();
        if only.is_empty() {
            return Ok(of_paper);
        }
        let mut out = Vec::new();
        for &e in only {
            if !of_paper.contains(&e) {
                return Err(ExperimentError::Settings {
                    field: "only",
                    reason: format!(
                        "`{e}` is not an experiment of --paper {}",
                        paper.map_or("all", Paper::name)
                    ),
                });
            }
            if !out.contains(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// One line for `--list`: name, paper, game, methods, demonstrations and demonstrator.
    pub fn describe(self) -> String {
        format!(
            "{:<20} {:<8} {} [{}] methods {} demonstrations {} demonstrator {}",
            self.name(),
            self.paper().name(),
            self.title(),
            self.game().env,
            self.methods()
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(","),
            self.demos()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(","),
            self.expert().display()
        )
    }
}
