//! The [`MarkovGame`] trait: n agents acting on a shared state.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{GameError, GameSpec, Participation};

/// How a step ended the episode, if it did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepStatus {
    /// The game reached a terminal state (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut by a time limit (bootstrapping is still valid).
    pub truncated: bool,
}

impl StepStatus {
    /// Whether the episode is over for either reason.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// The result of one step in owned form, for convenience and tests. Learners use the
/// allocation-free methods of [`MarkovGame`] or a [`crate::BatchedGame`] instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointStep {
    /// Each agent's observation after the step.
    pub obs: Vec<Vec<f32>>,
    /// Each agent's reward for the step.
    pub rewards: Vec<f64>,
    /// Per agent: the game reached a terminal state.
    pub terminated: Vec<bool>,
    /// Per agent: the episode was cut by a time limit.
    pub truncated: Vec<bool>,
}

/// A Markov game: n agents, a shared state, a joint action per step.
///
/// The required methods write into caller-owned buffers so that stepping never allocates;
/// observations are read separately ([`observe`](Self::observe)) so that batched callers can write
/// each agent's observation straight into its own contiguous buffer.
/// Joint actions are flat `f32` slices laid out as [`GameSpec::action_offsets`] says.
pub trait MarkovGame: Send {
    /// The game's agents, observation sizes and action spaces.
    fn spec(&self) -> &GameSpec;

    /// Starts a new episode, drawing the initial state from `rng`.
    fn reset(&mut self, rng: &mut dyn RngCore);

    /// Writes agent `agent`'s observation of the current state into `out`
    /// (of length `spec().obs_dim(agent)`).
    fn observe(&self, agent: usize, out: &mut [f32]);

    /// Applies a joint action of every agent and writes each agent's reward into `rewards`.
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError>;

    /// Applies a joint action in which only the agents in `active` act; the others play the
    /// placeholder φ, whose effect on the state the game defines. Their entries of `actions`
    /// are ignored. Games that cannot apply φ keep this default, which accepts only full
    /// participation.
    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        if active.is_all() && active.n_agents() == self.spec().n_agents() {
            self.step(actions, rewards)
        } else {
            Err(GameError::PhiUnsupported {
                game: self.spec().name.clone(),
            })
        }
    }

    /// Steps with a joint action that the caller has already checked against the spec
    /// ([`GameSpec::check_joint_action`]) for the agents in `active` (all when `None`).
    /// Batched steppers check a whole batch before any copy moves and then call this, so a game
    /// may skip its own checks here. The default simply calls `step` or `step_partial`.
    fn step_prechecked(
        &mut self,
        actions: &[f32],
        active: Option<Participation>,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        match active {
            Some(p) if !p.is_all() => self.step_partial(actions, p, rewards),
            _ => self.step(actions, rewards),
        }
    }

    /// Who acts at the coming step, when the game itself decides it: a turn-based game names
    /// the agent whose turn it is (a PettingZoo AEC game's `agent_selection`), a game whose
    /// agents leave mid-episode names those still playing. `None` (the default): the player
    /// function decides. [`ExtensiveGame`](crate::ExtensiveGame) asks after every reset and
    /// step, and when the game answers, the player function draws nothing.
    fn turn(&self) -> Option<Participation> {
        None
    }

    /// The state of the episode in progress, as bytes that [`load_state`](Self::load_state)
    /// takes back (for example [`crate::encode_state`] of the fields that change while
    /// playing), so that a run checkpointed mid-episode resumes exactly. `None` (the default):
    /// this game cannot save its state, and a resumed run starts new episodes instead.
    fn save_state(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes a state saved by [`save_state`](Self::save_state) of a game built the same way.
    /// The default refuses: a game that saves no state loads none.
    fn load_state(&mut self, state: &[u8]) -> Result<(), GameError> {
        let _ = state;
        Err(GameError::State(format!(
            "game `{}` does not save its state",
            self.spec().name
        )))
    }

    /// Resets and returns every agent's observation (allocates).
    fn reset_joint(&mut self, rng: &mut dyn RngCore) -> Vec<Vec<f32>> {
        self.reset(rng);
        self.observe_all()
    }

    /// Every agent's observation of the current state (allocates).
    fn observe_all(&self) -> Vec<Vec<f32>> {
        let spec = self.spec();
        (0..spec.n_agents())
            .map(|i| {
                let mut o = vec![0.0; spec.obs_dim(i)];
                self.observe(i, &mut o);
                o
            })
            .collect()
    }

    /// Steps with a joint action and returns the result in owned form (allocates).
    fn step_joint(&mut self, actions: &[f32]) -> Result<JointStep, GameError> {
        let n = self.spec().n_agents();
        let mut rewards = vec![0.0; n];
        let status = self.step(actions, &mut rewards)?;
        Ok(JointStep {
            obs: self.observe_all(),
            rewards,
            terminated: vec![status.terminated; n],
            truncated: vec![status.truncated; n],
        })
    }
}

impl<G: MarkovGame + ?Sized> MarkovGame for Box<G> {
    fn spec(&self) -> &GameSpec {
        (**self).spec()
    }
    fn reset(&mut self, rng: &mut dyn RngCore) {
        (**self).reset(rng)
    }
    fn observe(&self, agent: usize, out: &mut [f32]) {
        (**self).observe(agent, out)
    }
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        (**self).step(actions, rewards)
    }
    fn save_state(&self) -> Option<Vec<u8>> {
        (**self).save_state()
    }
    fn turn(&self) -> Option<Participation> {
        (**self).turn()
    }
    fn load_state(&mut self, state: &[u8]) -> Result<(), GameError> {
        (**self).load_state(state)
    }
    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        (**self).step_partial(actions, active, rewards)
    }
    fn step_prechecked(
        &mut self,
        actions: &[f32],
        active: Option<Participation>,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        (**self).step_prechecked(actions, active, rewards)
    }
}
