//! A user's PettingZoo game (a `ParallelEnv` or an `AECEnv`) as an [`mg_core::MarkovGame`]:
//! [`UserGame`] steps one copy through its Python adapter (`magail_rs.user_game.ParallelGame` or
//! `AecGame`), taking the GIL for each call, so the learners and the rollout bookkeeping stay in
//! Rust with the GIL released; a turn-based game answers [`MarkovGame::turn`]. A copy saves its
//! episode as the reset seed and the actions played since, so a checkpointed run resumes
//! exactly on any env that repeats itself from a seeded reset.

use mg_core::{ActionSpace, AgentSpec, GameError, GameSpec, MarkovGame, Participation, StepStatus};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// One copy of a user's game. Python errors while stepping come back as
/// [`GameError::Other`] with the exception's text; one raised by a reset (which cannot fail in
/// the trait) is kept and returned by the next step.
pub struct UserGame {
    adapter: Option<Py<PyAny>>,
    spec: GameSpec,
    offsets: Vec<usize>,
    obs: Vec<f32>,
    /// Who acts next, when the game says (a turn-based game; agents that left).
    turn: Option<Participation>,
    /// Whether the game is turn-based (an AEC game: its agent selector is its player function).
    turn_based: bool,
    error: Option<String>,
    /// The episode in progress as its reset seed and the actions played since, which is what
    /// [`MarkovGame::save_state`] saves: a Python env's state cannot be read, but a seeded reset
    /// followed by the same actions puts it back where it was.
    episode: Episode,
}

/// A user's episode so far: the seed it was reset with, then every step's actions (one row
/// after another) and who acted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Episode {
    seed: Option<u32>,
    actions: Vec<f32>,
    acting: Vec<Participation>,
    /// The observations when the state was saved (as bits), which the replay must reach.
    last_obs: Vec<u32>,
}

impl UserGame {
    /// The game an adapter describes (its agents, observation sizes, action spaces and episode
    /// limit, read once).
    pub fn new(adapter: &Bound<'_, PyAny>) -> PyResult<Self> {
        let agents: Vec<String> = adapter.getattr("agents")?.extract()?;
        let obs_dims: Vec<usize> = adapter.getattr("obs_dims")?.extract()?;
        let spaces: Vec<Bound<'_, PyTuple>> = adapter.getattr("action_spaces")?.extract()?;
        let max_steps: Option<usize> = adapter.getattr("max_steps")?.extract()?;
        let name: String = adapter.getattr("name")?.extract()?;
        let turn_based: bool = adapter.getattr("turn_based")?.extract()?;
        let masks: Vec<bool> = adapter.getattr("action_masks")?.extract()?;
        let mut specs = Vec::with_capacity(agents.len());
        for (((agent, &obs_dim), s), &action_mask) in
            agents.iter().zip(&obs_dims).zip(&spaces).zip(&masks)
        {
            let kind: String = s.get_item(0)?.extract()?;
            let action_space = if kind == "discrete" {
                ActionSpace::Discrete {
                    n: s.get_item(1)?.extract()?,
                }
            } else {
                ActionSpace::Box {
                    dim: s.get_item(1)?.extract()?,
                    low: s.get_item(2)?.extract()?,
                    high: s.get_item(3)?.extract()?,
                }
            };
            specs.push(AgentSpec {
                name: agent.clone(),
                obs_dim,
                action_space,
                action_mask,
            });
        }
        let mut offsets = vec![0];
        for d in &obs_dims {
            offsets.push(offsets[offsets.len() - 1] + d);
        }
        Ok(Self {
            adapter: Some(adapter.clone().unbind()),
            spec: GameSpec {
                name: format!("pettingzoo:{name}"),
                agents: specs,
                max_steps,
            },
            obs: vec![0.0; offsets[offsets.len() - 1]],
            offsets,
            turn: None,
            turn_based,
            error: None,
            episode: Episode::default(),
        })
    }

    /// Resets the env with `seed` and starts a new saved episode.
    fn reset_with(&mut self, seed: u32) -> PyResult<()> {
        self.episode = Episode {
            seed: Some(seed),
            ..Episode::default()
        };
        // Taken out for the call (one GIL acquisition a call), put back after.
        let Some(a) = self.adapter.take() else {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "the game has no environment",
            ));
        };
        let res = Python::attach(|py| -> PyResult<()> {
            let out = a.call_method1(py, "reset", (seed,))?;
            let out = out.bind(py);
            self.take_obs(&out.get_item(0)?)?;
            self.take_turn(&out.get_item(1)?)
        });
        self.adapter = Some(a);
        res
    }

    /// Whether the game decides whose turn it is at every step (an AEC game).
    pub fn turn_based(&self) -> bool {
        self.turn_based
    }

    /// Takes the adapter's answer to who acts next: `None` (every agent), or one flag per agent.
    fn take_turn(&mut self, turn: &Bound<'_, PyAny>) -> PyResult<()> {
        if turn.is_none() {
            self.turn = None;
            return Ok(());
        }
        let flags: Vec<bool> = turn.extract()?;
        let n = self.spec.n_agents();
        if flags.len() != n || !flags.iter().any(|&f| f) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the adapter says {flags:?} act next: expected one flag for each of {n} agents, \
                 at least one set"
            )));
        }
        self.turn = Some(Participation::from_flags(&flags).map_err(crate::value_err)?);
        Ok(())
    }

    fn take_obs(&mut self, flat: &Bound<'_, PyAny>) -> PyResult<()> {
        let arr: PyReadonlyArray1<'_, f32> = flat.extract()?;
        let v = arr.as_slice()?;
        if v.len() != self.obs.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the adapter returned {} observation values, expected {}",
                v.len(),
                self.obs.len()
            )));
        }
        self.obs.copy_from_slice(v);
        Ok(())
    }
}

impl Clone for UserGame {
    /// Another copy from the user's factory (the adapter's `copy()`); a failure is kept and
    /// returned by the copy's first step.
    fn clone(&self) -> Self {
        let (adapter, error) = match &self.adapter {
            None => (None, self.error.clone()),
            Some(a) => Python::attach(|py| match a.call_method0(py, "copy") {
                Ok(c) => (Some(c), None),
                Err(e) => (None, Some(format!("the factory: {e}"))),
            }),
        };
        Self {
            adapter,
            spec: self.spec.clone(),
            offsets: self.offsets.clone(),
            obs: vec![0.0; self.obs.len()],
            turn: None,
            turn_based: self.turn_based,
            error,
            episode: Episode::default(),
        }
    }
}

impl MarkovGame for UserGame {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }

    fn reset(&mut self, rng: &mut dyn RngCore) {
        // PettingZoo seeds take any non-negative integer; 31 bits suit every numpy seeding.
        let seed = rng.next_u32() >> 1;
        if let Err(e) = self.reset_with(seed) {
            // A copy the factory could not make keeps that reason.
            self.error.get_or_insert_with(|| format!("reset: {e}"));
        }
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        self.episode.seed?;
        let saved = Episode {
            last_obs: self.obs.iter().map(|o| o.to_bits()).collect(),
            ..self.episode.clone()
        };
        mg_core::encode_state(&saved).ok()
    }

    /// Resets with the saved seed and replays the saved actions. A replay that fails, ends
    /// the episode early or does not reach the saved observations is refused (the env does
    /// not repeat itself), and the copy starts afresh.
    fn load_state(&mut self, state: &[u8]) -> Result<(), GameError> {
        let saved: Episode = mg_core::decode_state(state)?;
        let n = self.spec.n_agents();
        let steps = saved.acting.len();
        let name = self.spec.name.clone();
        let bad = move |why: String| GameError::State(format!("a saved episode of {name}: {why}"));
        let Some(seed) = saved.seed else {
            return Err(bad("no reset seed".into()));
        };
        if saved.acting.iter().any(|p| p.n_agents() != n)
            || !saved.actions.len().is_multiple_of(steps)
        {
            return Err(bad(format!(
                "{steps} steps of participation and {} action values do not make whole steps \
                 of {n} agents",
                saved.actions.len()
            )));
        }
        self.reset_with(seed)
            .map_err(|e| bad(format!("its reset failed: {e}")))?;
        let width = saved.actions.len().checked_div(steps).unwrap_or(0);
        let mut rewards = vec![0.0; n];
        for (t, &active) in saved.acting.iter().enumerate() {
            let actions = &saved.actions[t * width..(t + 1) * width];
            let status = self
                .step_partial(actions, active, &mut rewards)
                .map_err(|e| bad(format!("replaying step {t}: {e}")))?;
            if (status.terminated || status.truncated) && t + 1 < steps {
                self.episode = Episode::default();
                return Err(bad(format!(
                    "the environment ended the episode at step {t} of {steps} on replay: it \
                     does not repeat itself from a seeded reset"
                )));
            }
        }
        let now: Vec<u32> = self.obs.iter().map(|o| o.to_bits()).collect();
        if now != saved.last_obs {
            self.episode = Episode::default();
            return Err(bad(format!(
                "after replaying its {steps} steps the observations differ from the saved ones: \
                 the environment does not repeat itself from a seeded reset"
            )));
        }
        Ok(())
    }

    fn observe(&self, agent: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.obs[self.offsets[agent]..self.offsets[agent + 1]]);
    }

    fn turn(&self) -> Option<Participation> {
        self.turn
    }

    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        let all = Participation::all(self.spec.n_agents());
        self.step_partial(actions, all, rewards)
    }

    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        if let Some(e) = self.error.take() {
            return Err(GameError::Other(e));
        }
        let Some(a) = self.adapter.take() else {
            return Err(GameError::Other("the game has no environment".into()));
        };
        let res = Python::attach(|py| -> PyResult<StepStatus> {
            let arr = PyArray1::from_slice(py, actions);
            let acting: Vec<bool> = (0..active.n_agents())
                .map(|i| active.is_active(i))
                .collect();
            let out = a.call_method1(py, "step", (arr, acting))?;
            let out = out.bind(py);
            let flat = out.get_item(0)?;
            if !flat.is_none() {
                self.take_obs(&flat)?;
            }
            let r: Vec<f64> = out.get_item(1)?.extract()?;
            if r.len() != rewards.len() {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "the adapter returned {} rewards for {} agents",
                    r.len(),
                    rewards.len()
                )));
            }
            rewards.copy_from_slice(&r);
            self.take_turn(&out.get_item(4)?)?;
            Ok(StepStatus {
                terminated: out.get_item(2)?.extract()?,
                truncated: out.get_item(3)?.extract()?,
            })
        });
        self.adapter = Some(a);
        let status = res.map_err(|e| GameError::Other(format!("the environment's step: {e}")))?;
        self.episode.actions.extend_from_slice(actions);
        self.episode.acting.push(active);
        Ok(status)
    }
}
