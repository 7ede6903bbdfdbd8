//! A shipped expert checkpoint acting on numpy observations ([`Expert`]).

use crate::game::agent_names;
use crate::value_err;
use magail_async::{CandlePolicy, Learners, Policy, run};
use mg_core::{GameSpec, MarkovGame, StreamRng, stream_rng};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

use crate::user_game::UserGame;
/// A shipped expert checkpoint (`assets/experts/…` or a folder made by `cargo xtask expert`):
/// each agent's policy, acting on numpy observations.
#[pyclass(module = "magail_rs._native")]
pub struct Expert {
    policies: Vec<CandlePolicy>,
    spec: GameSpec,
    env: String,
    variant: String,
    seed: u64,
    /// One stream per observation row of each agent, made as rows first appear.
    rngs: Vec<Vec<StreamRng>>,
}

impl Expert {
    /// The policies of a run folder trained on a user's game (`train_game`).
    fn of_user_game(
        path: &Path,
        adapter: &Bound<'_, PyAny>,
        greedy: bool,
        seed: u64,
    ) -> PyResult<Self> {
        let game = UserGame::new(adapter)?;
        let spec = game.spec().clone();
        let record_path = path.join("imitator.json");
        let text = std::fs::read_to_string(&record_path).map_err(|e| {
            PyOSError::new_err(format!("cannot read {}: {e}", record_path.display()))
        })?;
        let record: run::RunRecord<String> = serde_json::from_str(&text).map_err(|e| {
            PyValueError::new_err(format!(
                "{} is not the record of a run on a user's game: {e}",
                record_path.display()
            ))
        })?;
        if record.game != spec.name {
            return Err(PyValueError::new_err(format!(
                "{} holds a run on `{}`, not on `{}`",
                path.display(),
                record.game,
                spec.name
            )));
        }
        if record.config.rollout.history_k != 0 {
            return Err(PyValueError::new_err(
                "the run's policies observe history features, which acting from Python does \
                 not supply",
            ));
        }
        let dims: Vec<usize> = spec.agents.iter().map(|a| a.obs_dim).collect();
        let mut learners = Learners::new(&spec, &dims, record.config.learner, record.config.phi)
            .map_err(value_err)?;
        let tensors = run::load_tensors(&path.join("imitator.safetensors")).map_err(value_err)?;
        learners.load_tensors(&tensors, false).map_err(value_err)?;
        Ok(Self {
            rngs: vec![Vec::new(); spec.n_agents()],
            policies: learners.policies(greedy).map_err(value_err)?,
            env: spec.name.clone(),
            variant: String::new(),
            spec,
            seed,
        })
    }
}

#[pymethods]
impl Expert {
    /// Loads the checkpoint at `path`; `greedy` acts with the most likely action, otherwise
    /// actions are sampled from row `r`'s own stream of `seed`. With `game` (the adapter of a
    /// user's game, `magail_rs.user_game.ParallelGame`), `path` is a run folder `train_game`
    /// trained on it.
    #[new]
    #[pyo3(signature = (path, greedy = false, seed = 0, game = None))]
    fn new(
        path: PathBuf,
        greedy: bool,
        seed: u64,
        game: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if let Some(adapter) = game {
            return Self::of_user_game(&path, adapter, greedy, seed);
        }
        let (meta, learners) = experiments::load_checkpoint(&path).map_err(value_err)?;
        let (game, _) = meta.game.build().map_err(value_err)?;
        let policies = learners.policies(greedy).map_err(value_err)?;
        let spec = game.spec().clone();
        Ok(Self {
            rngs: vec![Vec::new(); spec.n_agents()],
            policies,
            spec,
            env: meta.game.env.clone(),
            variant: meta.game.variant.name().to_string(),
            seed,
        })
    }

    /// The game the policies were trained in: `(env, variant)` (a user's game: its name and
    /// an empty variant).
    #[getter]
    fn game(&self) -> (String, String) {
        (self.env.clone(), self.variant.clone())
    }

    /// Agent names in order.
    #[getter]
    fn agents(&self) -> Vec<String> {
        agent_names(&self.spec)
    }

    /// Agent `agent`'s actions for observation rows `obs` `[rows, obs_dim]`: `[rows, width]`
    /// float32 (a discrete action is its index).
    fn act<'py>(
        &mut self,
        py: Python<'py>,
        agent: usize,
        obs: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = self.spec.n_agents();
        if agent >= n {
            return Err(PyValueError::new_err(format!(
                "agent {agent}: the expert has agents 0 to {}",
                n - 1
            )));
        }
        let d = self.spec.obs_dim(agent);
        let [rows, cols] = [obs.shape()[0], obs.shape()[1]];
        if cols != d {
            return Err(PyValueError::new_err(format!(
                "observations of shape [{rows}, {cols}]: agent {} observes {d} values",
                self.spec.agents[agent].name
            )));
        }
        let flat: Vec<f32> = obs.as_array().iter().copied().collect();
        let streams = &mut self.rngs[agent];
        while streams.len() < rows {
            let r = streams.len() as u64;
            streams.push(stream_rng(self.seed, (agent as u64) << 32 | r));
        }
        let mut refs: Vec<&mut StreamRng> = streams.iter_mut().take(rows).collect();
        let out = self.policies[agent]
            .act(&flat, &mut refs)
            .map_err(value_err)?;
        let w = self.spec.action_space(agent).width();
        Ok(PyArray1::from_vec(py, out.actions)
            .reshape([rows, w])?
            .into_any())
    }
}
