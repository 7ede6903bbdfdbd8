//! A shipped expert checkpoint acting on numpy observations ([`Expert`]).

use crate::game::agent_names;
use crate::value_err;
use magail_async::{CandlePolicy, Policy};
use mg_core::{GameSpec, MarkovGame, StreamRng, stream_rng};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;
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

#[pymethods]
impl Expert {
    /// Loads the checkpoint at `path`; `greedy` acts with the most likely action, otherwise
    /// actions are sampled from row `r`'s own stream of `seed`.
    #[new]
    #[pyo3(signature = (path, greedy = false, seed = 0))]
    fn new(path: PathBuf, greedy: bool, seed: u64) -> PyResult<Self> {
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

    /// The game the expert was trained in: `(env, variant)`.
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
