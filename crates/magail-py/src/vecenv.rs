//! B copies stepped in Rust with numpy arrays in and out ([`VecEnv`]).

use crate::game::{SpaceTuple, agent_names, obs_dims_of, spaces_of};
use crate::settings::GameSettings;
use crate::value_err;
use envs::ParticleEnv;
use mg_core::{ActionSpace, BatchBuffers, BatchedGame, GameSpec, MarkovGame, PlayerRule, VecGame};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
/// What a batched step returns: observations `[B, agents, max_obs_dim]`, rewards
/// `[B, agents]`, terminated and truncated `[B]`.
type StepArrays<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
);

/// B copies of a synchronous particle game stepped together in Rust.
///
/// Observations leave as `[B, agents, max_obs_dim]` float32 (agents with shorter observations
/// are padded with zeros; `obs_dims` gives each agent's size), rewards as `[B, agents]` float64,
/// flags as `[B]` booleans. A copy that finishes is reset at once; its last observation is in
/// `final_obs()` until the next step. Copy `b` draws its resets from its own stream of `seed`,
/// so the results do not depend on the number of threads.
#[pyclass(module = "magail_rs._native")]
pub struct VecEnv {
    vec: VecGame<ParticleEnv>,
    /// A fresh copy of the game and the thread count, to rebuild the batch on a new seed.
    game: ParticleEnv,
    threads: usize,
    /// Whether `reset` has been called (the copies have no episode before it).
    ready: bool,
    buf: BatchBuffers,
    spec: GameSpec,
    actions: Vec<Vec<f32>>,
    dmax: usize,
    /// The widest action (box actions arrive as `[B, agents, wmax]`).
    wmax: usize,
}

impl VecEnv {
    fn gather(&self, per_agent: &[Vec<f32>]) -> Vec<f32> {
        let (b_n, n, dmax) = (self.vec.batch_size(), self.spec.n_agents(), self.dmax);
        let mut out = vec![0.0f32; b_n * n * dmax];
        for (i, src) in per_agent.iter().enumerate() {
            let d = self.spec.obs_dim(i);
            for b in 0..b_n {
                let at = (b * n + i) * dmax;
                out[at..at + d].copy_from_slice(&src[b * d..(b + 1) * d]);
            }
        }
        out
    }

    fn obs_array<'py>(
        &self,
        py: Python<'py>,
        per_agent: &[Vec<f32>],
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = [self.vec.batch_size(), self.spec.n_agents(), self.dmax];
        Ok(PyArray1::from_vec(py, self.gather(per_agent))
            .reshape(shape)?
            .into_any())
    }

    fn finish_step<'py>(&mut self, py: Python<'py>) -> PyResult<StepArrays<'py>> {
        if !self.ready {
            return Err(PyValueError::new_err(
                "the batch has not been reset: call reset() before the first step",
            ));
        }
        let (vec, buf, actions) = (&mut self.vec, &mut self.buf, &self.actions);
        py.detach(|| vec.step_batch(actions, None, buf))
            .map_err(value_err)?;
        let (b_n, n) = (self.vec.batch_size(), self.spec.n_agents());
        let mut rew = vec![0.0f64; b_n * n];
        for (i, r) in self.buf.rewards.iter().enumerate() {
            for b in 0..b_n {
                rew[b * n + i] = r[b];
            }
        }
        Ok((
            self.obs_array(py, &self.buf.obs)?,
            PyArray1::from_vec(py, rew).reshape([b_n, n])?.into_any(),
            PyArray1::from_slice(py, &self.buf.terminated),
            PyArray1::from_slice(py, &self.buf.truncated),
        ))
    }
}

#[pymethods]
impl VecEnv {
    /// `batch` copies of a game, stepped by `threads` threads; copy `b` draws its starts from
    /// stream `b` of `seed`.
    #[new]
    #[pyo3(signature = (settings, batch, seed = 0, threads = 1))]
    fn new(
        settings: PyRef<'_, GameSettings>,
        batch: usize,
        seed: u64,
        threads: usize,
    ) -> PyResult<Self> {
        let (cfg, player, env) = (&settings.cfg, &settings.player, &settings.args.env);
        if !matches!(player, PlayerRule::Synchronous(_)) {
            return Err(PyValueError::new_err(format!(
                "`{env}` is an asynchronous game (a player function decides who acts): the \
                 batched environment steps synchronous games; use magail_rs.parallel_env for it"
            )));
        }
        if batch == 0 {
            return Err(PyValueError::new_err(
                "`batch` is 0: expected at least 1 copy",
            ));
        }
        if threads == 0 {
            return Err(PyValueError::new_err("`threads` is 0: expected at least 1"));
        }
        let game = ParticleEnv::new(cfg.clone()).map_err(value_err)?;
        let spec = game.spec().clone();
        let vec = VecGame::new(game.clone(), batch, seed)
            .map_err(value_err)?
            .with_threads(threads);
        let buf = BatchBuffers::new(&spec, batch);
        let actions = spec
            .agents
            .iter()
            .map(|a| vec![0.0; batch * a.action_space.width()])
            .collect();
        let dmax = spec.agents.iter().map(|a| a.obs_dim).max().unwrap_or(0);
        let wmax = spec
            .agents
            .iter()
            .map(|a| a.action_space.width())
            .max()
            .unwrap_or(0);
        Ok(Self {
            vec,
            game,
            threads,
            ready: false,
            buf,
            spec,
            actions,
            dmax,
            wmax,
        })
    }

    /// Number of copies.
    #[getter]
    fn batch(&self) -> usize {
        self.vec.batch_size()
    }

    /// Agent names in order.
    #[getter]
    fn agents(&self) -> Vec<String> {
        agent_names(&self.spec)
    }

    /// Observation size of each agent (the arrays are padded to the largest).
    #[getter]
    fn obs_dims(&self) -> Vec<usize> {
        obs_dims_of(&self.spec)
    }

    /// Each agent's action space, as [`Game::action_spaces`].
    #[getter]
    fn action_spaces(&self) -> Vec<SpaceTuple> {
        spaces_of(&self.spec)
    }

    /// Resets every copy; returns the observations `[B, agents, max_obs_dim]`. With a seed,
    /// copy `b` starts over on stream `b` of that seed (the same starts as a batch built with
    /// it and reset); without, each copy continues its stream.
    #[pyo3(signature = (seed = None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(seed) = seed {
            self.vec = VecGame::new(self.game.clone(), self.vec.batch_size(), seed)
                .map_err(value_err)?
                .with_threads(self.threads);
        }
        self.vec.reset_all(&mut self.buf).map_err(value_err)?;
        self.ready = true;
        self.obs_array(py, &self.buf.obs)
    }

    /// Steps every copy with discrete actions `[B, agents]` (int64). Returns
    /// `(obs, rewards, terminated, truncated)`.
    fn step_discrete<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, i64>,
    ) -> PyResult<StepArrays<'py>> {
        let (b_n, n) = (self.vec.batch_size(), self.spec.n_agents());
        if actions.shape() != [b_n, n] {
            return Err(PyValueError::new_err(format!(
                "actions of shape {:?}: expected [{b_n}, {n}] (copies, agents)",
                actions.shape()
            )));
        }
        let a = actions.as_array();
        for i in 0..n {
            let ActionSpace::Discrete { n: k } = self.spec.action_space(i) else {
                return Err(PyValueError::new_err(format!(
                    "agent {} has box actions: use step_box",
                    self.spec.agents[i].name
                )));
            };
            for b in 0..b_n {
                let v = a[[b, i]];
                if v < 0 || v as u64 >= k as u64 {
                    return Err(PyValueError::new_err(format!(
                        "action {v} of agent {} in copy {b}: expected 0 to {}",
                        self.spec.agents[i].name,
                        k - 1
                    )));
                }
                self.actions[i][b] = v as f32;
            }
        }
        self.finish_step(py)
    }

    /// Steps every copy with box actions `[B, agents, max_action_dim]` (float32; an agent's
    /// first `dim` values are used). Returns `(obs, rewards, terminated, truncated)`.
    fn step_box<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray3<'py, f32>,
    ) -> PyResult<StepArrays<'py>> {
        let (b_n, n) = (self.vec.batch_size(), self.spec.n_agents());
        let wmax = self.wmax;
        if actions.shape() != [b_n, n, wmax] {
            return Err(PyValueError::new_err(format!(
                "actions of shape {:?}: expected [{b_n}, {n}, {wmax}] (copies, agents, values)",
                actions.shape()
            )));
        }
        let a = actions.as_array();
        for i in 0..n {
            let space = self.spec.action_space(i);
            let ActionSpace::Box { dim, .. } = space else {
                return Err(PyValueError::new_err(format!(
                    "agent {} has discrete actions: use step_discrete",
                    self.spec.agents[i].name
                )));
            };
            for b in 0..b_n {
                for k in 0..dim {
                    self.actions[i][b * dim + k] = a[[b, i, k]];
                }
            }
        }
        self.finish_step(py)
    }

    /// The last observations of the episodes that ended at the last step (rows of copies that
    /// did not finish hold stale values).
    fn final_obs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.obs_array(py, &self.buf.final_obs)
    }
}
