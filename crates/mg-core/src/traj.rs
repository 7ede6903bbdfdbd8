//! Trajectory data shared by every crate: per-agent observations, actions, rewards and
//! participation masks, one [`Episode`] per episode so that boundaries are explicit.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ActionSpace, GameSpec};

/// A trajectory that does not fit its declared sizes.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TrajectoryError {
    /// An array of the wrong length.
    #[error("episode {episode}, agent {agent}: `{field}` has {got} values, expected {expected}")]
    Length {
        /// Episode index.
        episode: usize,
        /// Agent index.
        agent: usize,
        /// Which array.
        field: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A NaN or infinity where a number is required.
    #[error(
        "episode {episode}, agent {agent}: `{field}` holds a non-finite value at index {index}"
    )]
    NonFinite {
        /// Episode index.
        episode: usize,
        /// Agent index.
        agent: usize,
        /// Which array.
        field: &'static str,
        /// Position in the array.
        index: usize,
    },
    /// A size that does not fit in memory (`len × width` overflows): a corrupt file.
    #[error("episode {episode}, agent {agent}: `{field}` would need more than usize::MAX values")]
    Overflow {
        /// Episode index.
        episode: usize,
        /// Agent index.
        agent: usize,
        /// Which array.
        field: &'static str,
    },
    /// An action that the agent's space does not hold: at a step where it acted, not an action
    /// of its space nor φ; at a step where it did not act, not φ (discrete spaces).
    #[error("episode {episode}, agent {agent}, step {step}: {reason}")]
    Action {
        /// Episode index.
        episode: usize,
        /// Agent index.
        agent: usize,
        /// Step in the episode.
        step: usize,
        /// What is wrong.
        reason: String,
    },
    /// An episode with another number of agents than the data set.
    #[error("episode {episode} has {got} agents, expected {expected}")]
    AgentCount {
        /// Episode index.
        episode: usize,
        /// Expected count.
        expected: usize,
        /// Actual count.
        got: usize,
    },
}

/// One agent's part of an episode of `len` steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTrajectory {
    /// `len × obs_dim`: the observation on which each step's action was chosen.
    pub obs: Vec<f32>,
    /// `obs_dim`: the observation after the last step (for bootstrapping a truncated episode).
    pub final_obs: Vec<f32>,
    /// `len × action width`: the flat actions; φ where `acted` is false
    /// (see [`ActionSpace::phi_fill`]).
    pub actions: Vec<f32>,
    /// `len`: the true reward of each step; 0 where `acted` is false (no reward: masked).
    pub rewards: Vec<f64>,
    /// `len`: the participation mask, whether the agent acted at each step.
    pub acted: Vec<bool>,
}

/// One episode of a game.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Number of steps.
    pub len: usize,
    /// One entry per agent.
    pub agents: Vec<AgentTrajectory>,
    /// The episode ended in a terminal state.
    pub terminated: bool,
    /// The episode was cut by a time limit.
    pub truncated: bool,
}

impl Episode {
    /// An empty episode for a game with this spec, with room for `capacity` steps.
    pub fn new(spec: &GameSpec, capacity: usize) -> Self {
        Self {
            len: 0,
            agents: spec
                .agents
                .iter()
                .map(|a| AgentTrajectory {
                    obs: Vec::with_capacity(capacity * a.obs_dim),
                    final_obs: Vec::new(),
                    actions: Vec::with_capacity(capacity * a.action_space.width()),
                    rewards: Vec::with_capacity(capacity),
                    acted: Vec::with_capacity(capacity),
                })
                .collect(),
            terminated: false,
            truncated: false,
        }
    }

    /// Each agent's return: the sum of its rewards over the steps it acted.
    pub fn returns(&self) -> Vec<f64> {
        self.agents
            .iter()
            .map(|a| {
                a.rewards
                    .iter()
                    .zip(&a.acted)
                    .filter(|(_, acted)| **acted)
                    .map(|(r, _)| r)
                    .sum()
            })
            .collect()
    }

    /// Checks every array against the sizes of `obs_dims` and `spaces`, that numbers are finite,
    /// and that every action is one its space holds: at a step where the agent acted, an action
    /// of its space or φ (a policy may choose φ); where it did not, φ (discrete spaces; a box
    /// space has no value reserved for φ, so any finite fill is accepted there).
    pub fn validate(
        &self,
        index: usize,
        obs_dims: &[usize],
        spaces: &[ActionSpace],
    ) -> Result<(), TrajectoryError> {
        if self.agents.len() != obs_dims.len() {
            return Err(TrajectoryError::AgentCount {
                episode: index,
                expected: obs_dims.len(),
                got: self.agents.len(),
            });
        }
        for (agent, a) in self.agents.iter().enumerate() {
            let view = AgentView {
                obs: &a.obs,
                final_obs: &a.final_obs,
                actions: &a.actions,
                rewards: &a.rewards,
                acted: &a.acted,
            };
            check_agent(index, agent, self.len, view, obs_dims[agent], spaces[agent])?;
        }
        Ok(())
    }
}

/// One agent's part of one episode, borrowed: what [`Episode::validate`] and the check of a
/// columnar set ([`Demonstrations`](crate::Demonstrations)) read.
#[derive(Clone, Copy)]
pub(crate) struct AgentView<'a> {
    pub obs: &'a [f32],
    pub final_obs: &'a [f32],
    pub actions: &'a [f32],
    pub rewards: &'a [f64],
    pub acted: &'a [bool],
}

/// The checks of [`Episode::validate`] for agent `agent` of episode `index` (`len` steps).
pub(crate) fn check_agent(
    index: usize,
    agent: usize,
    len: usize,
    a: AgentView<'_>,
    obs_dim: usize,
    space: ActionSpace,
) -> Result<(), TrajectoryError> {
    let w = space.width();
    // Both factors come from the file: a corrupt length must not overflow.
    let times = |field: &'static str, k: usize| {
        len.checked_mul(k).ok_or(TrajectoryError::Overflow {
            episode: index,
            agent,
            field,
        })
    };
    let checks: [(&'static str, usize, usize); 5] = [
        ("obs", times("obs", obs_dim)?, a.obs.len()),
        ("final_obs", obs_dim, a.final_obs.len()),
        ("actions", times("actions", w)?, a.actions.len()),
        ("rewards", len, a.rewards.len()),
        ("acted", len, a.acted.len()),
    ];
    for (field, expected, got) in checks {
        if expected != got {
            return Err(TrajectoryError::Length {
                episode: index,
                agent,
                field,
                expected,
                got,
            });
        }
    }
    let finite_checks: [(&'static str, Option<usize>); 4] = [
        ("obs", a.obs.iter().position(|v| !v.is_finite())),
        ("final_obs", a.final_obs.iter().position(|v| !v.is_finite())),
        ("actions", a.actions.iter().position(|v| !v.is_finite())),
        ("rewards", a.rewards.iter().position(|v| !v.is_finite())),
    ];
    if let Some((field, Some(pos))) = finite_checks.into_iter().find(|(_, p)| p.is_some()) {
        return Err(TrajectoryError::NonFinite {
            episode: index,
            agent,
            field,
            index: pos,
        });
    }
    for (step, (act, &acted)) in a.actions.chunks(w.max(1)).zip(a.acted).enumerate() {
        let bad = |reason: String| TrajectoryError::Action {
            episode: index,
            agent,
            step,
            reason,
        };
        if acted {
            if !space.is_phi(act) {
                space
                    .check(agent, act)
                    .map_err(|e| bad(format!("{e} (nor φ)")))?;
            }
        } else if let ActionSpace::Discrete { n } = space
            && !space.is_phi(act)
        {
            return Err(bad(format!(
                "the agent did not act, so its action must be φ (index {n} of \
                     {space:?}), got {}",
                act[0]
            )));
        }
    }
    Ok(())
}

/// A set of episodes of one game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectories {
    /// The game's name (and variant), as in its [`GameSpec`].
    pub game: String,
    /// Observation length per agent.
    pub obs_dims: Vec<usize>,
    /// Action space per agent.
    pub action_spaces: Vec<ActionSpace>,
    /// The episodes.
    pub episodes: Vec<Episode>,
}

impl Trajectories {
    /// An empty set for a game with this spec.
    pub fn new(spec: &GameSpec) -> Self {
        Self {
            game: spec.name.clone(),
            obs_dims: spec.agents.iter().map(|a| a.obs_dim).collect(),
            action_spaces: spec.agents.iter().map(|a| a.action_space).collect(),
            episodes: Vec::new(),
        }
    }

    /// Total number of steps over all episodes.
    pub fn n_steps(&self) -> usize {
        self.episodes.iter().map(|e| e.len).sum()
    }

    /// Checks every episode (sizes and finite numbers).
    pub fn validate(&self) -> Result<(), TrajectoryError> {
        if self.action_spaces.len() != self.obs_dims.len() {
            return Err(TrajectoryError::Length {
                episode: 0,
                agent: 0,
                field: "action_spaces (one per agent, as obs_dims)",
                expected: self.obs_dims.len(),
                got: self.action_spaces.len(),
            });
        }
        for (i, e) in self.episodes.iter().enumerate() {
            e.validate(i, &self.obs_dims, &self.action_spaces)?;
        }
        Ok(())
    }
}
