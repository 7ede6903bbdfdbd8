//! Agents, action spaces and the static description of a game ([`GameSpec`]).
//!
//! Joint actions travel as flat `f32` slices laid out agent after agent: a discrete agent takes
//! one slot holding its action index (exact in `f32` up to 2^24), a box agent takes `dim` slots.
//! One flat layout lets learners hand tensors' memory straight to games without conversions.

use serde::{Deserialize, Serialize};

use crate::GameError;

/// Index of an agent in a game's agent order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AgentId(pub usize);

/// What one agent may do at a step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ActionSpace {
    /// One of `n` actions, `0..n`.
    Discrete {
        /// Number of actions.
        n: usize,
    },
    /// A vector of `dim` floats, each expected in `[low, high]`.
    Box {
        /// Length of the vector.
        dim: usize,
        /// Lower bound of every entry.
        low: f32,
        /// Upper bound of every entry.
        high: f32,
    },
}

impl ActionSpace {
    /// Number of `f32` slots the action takes in a flat joint action.
    #[inline]
    pub fn width(&self) -> usize {
        match *self {
            ActionSpace::Discrete { .. } => 1,
            ActionSpace::Box { dim, .. } => dim,
        }
    }

    /// The flat encoding of the placeholder action φ ("did not act").
    ///
    /// For a discrete space it is the index `n`, one past every real action, so that a
    /// learner that treats φ as an ordinary action (the MAGAIL baseline on asynchronous games)
    /// can one-hot it as an extra category. Box spaces have no spare value inside their bounds,
    /// so φ is stored as zeros there; the participation mask, not the value, is authoritative.
    pub fn phi_fill(&self, out: &mut [f32]) {
        match *self {
            ActionSpace::Discrete { n } => out[0] = n as f32,
            ActionSpace::Box { .. } => out.fill(0.0),
        }
    }

    /// Whether `action` (one agent's flat action) is φ's encoding: for a discrete space the
    /// spare index `n`. A box space has no value reserved for φ (its fill, zeros, is an ordinary
    /// action), so nothing there reads as φ.
    pub fn is_phi(&self, action: &[f32]) -> bool {
        match *self {
            ActionSpace::Discrete { n } => action.len() == 1 && action[0] == n as f32,
            ActionSpace::Box { .. } => false,
        }
    }

    /// Checks a buffer of consecutive actions (a multiple of [`width`](Self::width) values) in one
    /// tight loop; on failure reports the first bad action as [`check`](Self::check) would.
    pub fn check_many(&self, agent: usize, actions: &[f32]) -> Result<(), GameError> {
        let w = self.width();
        if w == 0 || !actions.len().is_multiple_of(w) {
            if actions.is_empty() {
                return Ok(());
            }
            return Err(GameError::ActionLength {
                agent,
                expected: w,
                got: actions.len() % w.max(1),
            });
        }
        let ok = match *self {
            ActionSpace::Discrete { n } => actions.iter().all(|&a| {
                let k = a as usize;
                k as f32 == a && k < n
            }),
            ActionSpace::Box { .. } => actions.iter().all(|a| a.is_finite()),
        };
        if ok {
            return Ok(());
        }
        actions.chunks(w).try_for_each(|a| self.check(agent, a))
    }

    /// Checks that `action` (of length [`width`](Self::width)) is a member of the space.
    ///
    /// Box actions only need to be finite: environments clip them as their reference does.
    #[inline]
    pub fn check(&self, agent: usize, action: &[f32]) -> Result<(), GameError> {
        if action.len() != self.width() {
            return Err(GameError::ActionLength {
                agent,
                expected: self.width(),
                got: action.len(),
            });
        }
        match *self {
            ActionSpace::Discrete { n } => {
                let a = action[0];
                // `as` saturates (NaN gives 0), so the round trip holds only for integers in
                // 0..2^24 that the cast kept; -0.0 counts as 0. Cheaper than `fract()`.
                let k = a as usize;
                if !(k as f32 == a && k < n) {
                    return Err(GameError::InvalidAction {
                        agent,
                        reason: format!("discrete action {a} is not an integer in 0..{n}"),
                    });
                }
            }
            ActionSpace::Box { .. } => {
                if let Some(k) = action.iter().position(|v| !v.is_finite()) {
                    return Err(GameError::InvalidAction {
                        agent,
                        reason: format!("entry {k} of the box action is {}", action[k]),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Static description of one agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// Name as the reference environment spells it (`agent_0`, `speaker_0`, ...).
    pub name: String,
    /// Length of the agent's observation vector.
    pub obs_dim: usize,
    /// The agent's action space.
    pub action_space: ActionSpace,
    /// Whether the observation's last `n` entries are the legal-action mask of a discrete
    /// space of `n` actions (1 legal, 0 not; PettingZoo's classic `action_mask`): policies then
    /// never choose an illegal action. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub action_mask: bool,
}

/// Static description of a game: its agents, their observation and action sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameSpec {
    /// Name of the game (and variant), used to check that data belongs to it.
    pub name: String,
    /// Agents in order.
    pub agents: Vec<AgentSpec>,
    /// Episode length after which the game truncates, if it has one.
    pub max_steps: Option<usize>,
}

impl GameSpec {
    /// Number of agents.
    pub fn n_agents(&self) -> usize {
        self.agents.len()
    }

    /// Observation length of agent `i`.
    pub fn obs_dim(&self, i: usize) -> usize {
        self.agents[i].obs_dim
    }

    /// Action space of agent `i`.
    pub fn action_space(&self, i: usize) -> ActionSpace {
        self.agents[i].action_space
    }

    /// Length of a flat joint action.
    pub fn joint_action_width(&self) -> usize {
        self.agents.iter().map(|a| a.action_space.width()).sum()
    }

    /// Start offset of each agent's action in a flat joint action (length `n_agents + 1`).
    pub fn action_offsets(&self) -> Vec<usize> {
        let mut off = Vec::with_capacity(self.agents.len() + 1);
        let mut acc = 0;
        off.push(0);
        for a in &self.agents {
            acc += a.action_space.width();
            off.push(acc);
        }
        off
    }

    /// Checks a flat joint action for the agents in `active` (all agents when `None`).
    #[inline]
    pub fn check_joint_action(
        &self,
        actions: &[f32],
        active: Option<crate::Participation>,
    ) -> Result<(), GameError> {
        let width = self.joint_action_width();
        if actions.len() != width {
            return Err(GameError::JointActionLength {
                expected: width,
                got: actions.len(),
            });
        }
        let mut off = 0;
        for (i, a) in self.agents.iter().enumerate() {
            let w = a.action_space.width();
            if active.is_none_or(|p| p.is_active(i)) {
                a.action_space.check(i, &actions[off..off + w])?;
            }
            off += w;
        }
        Ok(())
    }
}
