//! Python bindings of magail-rs (the `magail_rs._native` extension module, built by maturin as
//! an abi3 wheel): a thin layer over [`envs`], [`mg_core`] and [`experiments`] with no rules of
//! its own.
//!
//! - [`GameSettings`]: a game by name with mpe2's constructor arguments (an mpe2 scenario, a
//!   MAGAIL paper variant, or an AMAGAIL game with its player function), checked once.
//! - [`Game`]: one such game, seeded like mpe2, stepped with a flat joint action. The Python package wraps it as a PettingZoo `ParallelEnv`.
//! - [`VecEnv`]: B copies stepped in Rust ([`mg_core::VecGame`]), numpy arrays in and out shaped
//!   `[B, agents, ...]`, finished copies reset at once.
//! - [`read_demos`] / [`write_demos`]: demonstration files as numpy columns
//!   ([`mg_core::DemoColumns`]); [`Expert`]: a shipped expert checkpoint that acts on numpy
//!   observations.
//!
//! The settings a Python caller passes are checked here by the same code the Rust commands use
//! ([`game_config`]), so the bindings can be tested without Python:
//!
//! ```
//! use magail_py::{GameArgs, game_config};
//!
//! let mut args = GameArgs::new("simple_spread", "mpe2");
//! args.n = Some(4);
//! let (cfg, _player) = game_config(&args).unwrap();
//! assert_eq!(cfg.max_steps, 25);
//! let env = envs::ParticleEnv::new(cfg).unwrap();
//! assert_eq!(mg_core::MarkovGame::spec(&env).n_agents(), 4);
//! // A parameter the scenario does not have is refused by name.
//! args.num_obstacles = Some(1);
//! let err = game_config(&args).unwrap_err();
//! assert!(err.contains("num_obstacles"), "{err}");
//! ```

use std::path::{Path, PathBuf};

use envs::amagail::AmagailGame;
use envs::config::{RewardMix, ScenarioParams};
use envs::{EnvConfig, NumpyRng, ParticleEnv};
use magail_async::{CandlePolicy, Policy};
use mg_core::{
    ActionSpace, AgentColumns, BatchBuffers, BatchedGame, DemoColumns, ExtensiveGame, GameSpec,
    MarkovGame, PlayerRule, StreamRng, Synchronous, Trajectories, VecGame, decode_demos,
    encode_demos, stream_rng,
};
use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The settings of a game as Python passes them (mpe2's constructor arguments by their mpe2
/// names, `None` where the caller kept the default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GameArgs {
    /// An mpe2 scenario (`simple_spread`, …), a paper name (`cooperative_navigation`, …) or an
    /// AMAGAIL game (`stoch_navigation`, …).
    pub env: String,
    /// `mpe2` or `paper`.
    pub variant: String,
    /// Continuous (Box) actions.
    pub continuous: bool,
    /// mpe2 `max_cycles`: the episode length.
    pub max_cycles: Option<usize>,
    /// mpe2 `N`: agents of `simple_spread` (and as many landmarks), good agents of
    /// `simple_adversary`.
    pub n: Option<usize>,
    /// mpe2 `local_ratio` of `simple_spread` and `simple_reference`.
    pub local_ratio: Option<f64>,
    /// `simple_tag`'s prey.
    pub num_good: Option<usize>,
    /// `simple_tag`'s predators.
    pub num_adversaries: Option<usize>,
    /// `simple_tag`'s obstacles.
    pub num_obstacles: Option<usize>,
}

impl GameArgs {
    /// `env` in `variant` with every default.
    pub fn new(env: &str, variant: &str) -> Self {
        Self {
            env: env.to_string(),
            variant: variant.to_string(),
            ..Self::default()
        }
    }
}

/// Builds the configuration and player function that `args` describe, or says which argument
/// is wrong and what was expected.
pub fn game_config(args: &GameArgs) -> Result<(EnvConfig, PlayerRule), String> {
    let (mut cfg, player) = match AmagailGame::from_name(&args.env) {
        Ok(g) => {
            if args.variant != "paper" {
                return Err(format!(
                    "variant `{}`: the AMAGAIL game {} exists only in the paper variant",
                    args.variant, args.env
                ));
            }
            (g.env_config(), Some(g.player()))
        }
        Err(_) => (
            EnvConfig::from_names(&args.env, &args.variant).map_err(|e| e.to_string())?,
            None,
        ),
    };
    let scenario = cfg.scenario.name();
    let refuse = |arg: &str| {
        Err(format!(
            "`{arg}` is not a parameter of {scenario} ({} variant)",
            cfg.variant.name()
        ))
    };
    cfg.continuous = args.continuous;
    if let Some(m) = args.max_cycles {
        if m == 0 {
            return Err("`max_cycles` is 0: expected at least 1".into());
        }
        cfg.max_steps = m;
    }
    for (arg, value) in [
        ("N", args.n),
        ("num_good", args.num_good),
        ("num_adversaries", args.num_adversaries),
    ] {
        if value == Some(0) {
            return Err(format!("`{arg}` is 0: expected at least 1"));
        }
    }
    let counts = [args.n, args.num_good, args.num_adversaries];
    if player.is_some() && counts.iter().any(Option::is_some) {
        return Err(format!(
            "the AMAGAIL game {} has a fixed number of agents (its player function names them)",
            args.env
        ));
    }
    if let Some(n) = args.n {
        match &mut cfg.params {
            ScenarioParams::Spread(p) => {
                p.n_agents = n;
                p.n_landmarks = n;
            }
            ScenarioParams::Adversary { n_good } => *n_good = n,
            _ => return refuse("N"),
        }
    }
    if let Some(r) = args.local_ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(format!("`local_ratio` is {r}: expected a number in [0, 1]"));
        }
        match &mut cfg.params {
            ScenarioParams::Spread(p) if matches!(p.mix, RewardMix::LocalRatio(_)) => {
                p.mix = RewardMix::LocalRatio(r);
            }
            ScenarioParams::Reference if r == 0.5 => {}
            ScenarioParams::Reference => {
                return Err(format!(
                    "`local_ratio` is {r}: simple_reference is built with mpe2's default 0.5 only"
                ));
            }
            _ => return refuse("local_ratio"),
        }
    }
    for (arg, value) in [
        ("num_good", args.num_good),
        ("num_adversaries", args.num_adversaries),
        ("num_obstacles", args.num_obstacles),
    ] {
        let Some(v) = value else { continue };
        let ScenarioParams::Tag(p) = &mut cfg.params else {
            return refuse(arg);
        };
        match arg {
            "num_good" => p.n_good = v,
            "num_adversaries" => p.n_adversaries = v,
            _ => p.n_obstacles = v,
        }
    }
    cfg.validate().map_err(|e| e.to_string())?;
    let player = match player {
        Some(p) => p,
        None => {
            let env = ParticleEnv::new(cfg.clone()).map_err(|e| e.to_string())?;
            let n = env.spec().n_agents();
            PlayerRule::Synchronous(Synchronous::new(n).map_err(|e| e.to_string())?)
        }
    };
    Ok((cfg, player))
}

fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A game's settings as Python passes them, checked once ([`game_config`]) and handed to
/// [`Game`] or [`VecEnv`].
#[pyclass(module = "magail_rs._native", frozen)]
pub struct GameSettings {
    args: GameArgs,
    cfg: EnvConfig,
    player: PlayerRule,
}

#[pymethods]
impl GameSettings {
    /// mpe2's constructor arguments by their mpe2 names (`N` is `n`); `None` keeps the game's
    /// default. Refused with the argument's name when out of range or not the scenario's.
    #[new]
    #[pyo3(signature = (env, variant = "mpe2", continuous = false, max_cycles = None, n = None,
        local_ratio = None, num_good = None, num_adversaries = None, num_obstacles = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        env: &str,
        variant: &str,
        continuous: bool,
        max_cycles: Option<usize>,
        n: Option<usize>,
        local_ratio: Option<f64>,
        num_good: Option<usize>,
        num_adversaries: Option<usize>,
        num_obstacles: Option<usize>,
    ) -> PyResult<Self> {
        let args = GameArgs {
            env: env.to_string(),
            variant: variant.to_string(),
            continuous,
            max_cycles,
            n,
            local_ratio,
            num_good,
            num_adversaries,
            num_obstacles,
        };
        let (cfg, player) = game_config(&args).map_err(value_err)?;
        Ok(Self { args, cfg, player })
    }

    /// The name the game was asked by.
    #[getter]
    fn env(&self) -> String {
        self.args.env.clone()
    }
}

/// Agent names, observation sizes and action spaces of a spec, as the Python classes show them.
fn agent_names(spec: &GameSpec) -> Vec<String> {
    spec.agents.iter().map(|a| a.name.clone()).collect()
}

fn obs_dims_of(spec: &GameSpec) -> Vec<usize> {
    spec.agents.iter().map(|a| a.obs_dim).collect()
}

fn spaces_of(spec: &GameSpec) -> Vec<SpaceTuple> {
    spec.agents
        .iter()
        .map(|a| space_tuple(a.action_space))
        .collect()
}

/// An action space as Python sees it: `("discrete", n)` or `("box", dim, low, high)`.
type SpaceTuple = (String, usize, f32, f32);

fn space_tuple(s: ActionSpace) -> SpaceTuple {
    match s {
        ActionSpace::Discrete { n } => ("discrete".into(), n, 0.0, 0.0),
        ActionSpace::Box { dim, low, high } => ("box".into(), dim, low, high),
    }
}

/// One particle game, stepped with a flat joint action (each agent's action after the other's:
/// a discrete action is its index, a box action its values).
#[pyclass(module = "magail_rs._native")]
pub struct Game {
    game: ExtensiveGame<ParticleEnv, PlayerRule>,
    rng: NumpyRng,
    spec: GameSpec,
    rewards: Vec<f64>,
}

impl Game {
    fn obs_arrays<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyArray1<f32>>> {
        self.game
            .game()
            .observe_all()
            .into_iter()
            .map(|o| PyArray1::from_vec(py, o))
            .collect()
    }
}

#[pymethods]
impl Game {
    /// Builds a game; `seed` seeds the first reset (as mpe2's constructor does), `None` draws
    /// it from the operating system.
    #[new]
    #[pyo3(signature = (settings, seed = None))]
    fn new(settings: PyRef<'_, GameSettings>, seed: Option<u64>) -> PyResult<Self> {
        let (cfg, player) = (settings.cfg.clone(), settings.player.clone());
        let env = ParticleEnv::new(cfg).map_err(value_err)?;
        let spec = env.spec().clone();
        let mut game = ExtensiveGame::new(env, player).map_err(value_err)?;
        let seed = match seed {
            Some(s) => u128::from(s),
            None => {
                let mut b = [0u8; 16];
                rand::fill(&mut b);
                u128::from_le_bytes(b)
            }
        };
        let mut rng = NumpyRng::from_seed(seed);
        game.reset(&mut rng);
        Ok(Self {
            rewards: vec![0.0; spec.n_agents()],
            game,
            rng,
            spec,
        })
    }

    /// Agent names in order (`agent_0`, `adversary_0`, …).
    #[getter]
    fn agents(&self) -> Vec<String> {
        agent_names(&self.spec)
    }

    /// Observation size of each agent.
    #[getter]
    fn obs_dims(&self) -> Vec<usize> {
        obs_dims_of(&self.spec)
    }

    /// Each agent's action space: `("discrete", n, 0, 0)` or `("box", dim, low, high)`.
    #[getter]
    fn action_spaces(&self) -> Vec<SpaceTuple> {
        spaces_of(&self.spec)
    }

    /// The game's name and variant as data files record it (`simple_spread/mpe2`).
    #[getter]
    fn name(&self) -> String {
        self.spec.name.clone()
    }

    /// The episode length.
    #[getter]
    fn max_steps(&self) -> usize {
        self.game.game().config().max_steps
    }

    /// Whether only some agents act at some steps (an AMAGAIL game).
    #[getter]
    fn asynchronous(&self) -> bool {
        !matches!(self.game.player(), PlayerRule::Synchronous(_))
    }

    /// Steps taken in this episode.
    #[getter]
    fn steps(&self) -> usize {
        self.game.game().t()
    }

    /// Which agents act at the coming step (I_t, already drawn).
    fn participation(&self) -> Vec<bool> {
        self.game.participation().to_flags()
    }

    /// Starts an episode; with a seed, from a new stream seeded as mpe2 seeds its own
    /// (`reset(seed=s)` gives mpe2's initial state for `s`), else from where the stream is.
    /// Returns every agent's observation.
    #[pyo3(signature = (seed = None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> Vec<Bound<'py, PyArray1<f32>>> {
        if let Some(s) = seed {
            self.rng = NumpyRng::from_seed(u128::from(s));
        }
        self.game.reset(&mut self.rng);
        self.obs_arrays(py)
    }

    /// Every agent's observation of the current state.
    fn observe<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyArray1<f32>>> {
        self.obs_arrays(py)
    }

    /// Applies a flat joint action (entries of agents that do not act are ignored). Returns
    /// `(observations, rewards, acted, terminated, truncated)`; an agent that did not act has
    /// reward 0 and `acted` false.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<(
        Vec<Bound<'py, PyArray1<f32>>>,
        Vec<f64>,
        Vec<bool>,
        bool,
        bool,
    )> {
        // The game checks the joint action (its length, each agent's action) before moving.
        let actions = actions.as_slice().map_err(value_err)?;
        let (status, acted) = self
            .game
            .step(actions, &mut self.rng, &mut self.rewards)
            .map_err(value_err)?;
        Ok((
            self.obs_arrays(py),
            self.rewards.clone(),
            acted.to_flags(),
            status.terminated,
            status.truncated,
        ))
    }

    /// The agents' observations one after another (mpe2's `state()`).
    fn state<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_vec(py, self.game.game().observe_all().concat())
    }

    /// A `size × size` RGB picture of the world (`[size, size, 3]` bytes); agents that do not
    /// act at the coming step are drawn faded.
    fn render<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyAny>> {
        if size == 0 || size > 8192 {
            return Err(PyValueError::new_err(format!(
                "render size {size}: expected 1 to 8192 pixels"
            )));
        }
        let active = self.participation();
        let frame = envs::render::draw(self.game.game().world(), size, Some(&active));
        let arr = PyArray1::from_vec(py, frame.rgb);
        Ok(arr.reshape([frame.height, frame.width, 3])?.into_any())
    }
}

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

fn read_bytes(path: &Path) -> PyResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| PyOSError::new_err(format!("cannot read {}: {e}", path.display())))
}

/// A demonstration set as a dict of numpy arrays: `episode_len`, `terminated`, `truncated`, and
/// per agent `obs_<i>` `[steps, obs_dim]`, `final_obs_<i>` `[episodes, obs_dim]`, `actions_<i>`
/// `[steps, width]`, `rewards_<i>` `[steps]`, `acted_<i>` `[steps]`, plus the header: `game`,
/// `agents`, `obs_dims`, `action_spaces`, `source`.
fn demos_dict<'py>(
    py: Python<'py>,
    set: &Trajectories,
    agents: &[String],
    source: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let cols = DemoColumns::of(set);
    let d = PyDict::new(py);
    d.set_item("game", &set.game)?;
    d.set_item("agents", agents)?;
    d.set_item("obs_dims", &set.obs_dims)?;
    d.set_item(
        "action_spaces",
        set.action_spaces
            .iter()
            .map(|&s| space_tuple(s))
            .collect::<Vec<_>>(),
    )?;
    d.set_item("source", source)?;
    let lens: Vec<i64> = cols.episode_len.iter().map(|&l| l as i64).collect();
    d.set_item("episode_len", PyArray1::from_vec(py, lens))?;
    d.set_item("terminated", PyArray1::from_slice(py, &cols.terminated))?;
    d.set_item("truncated", PyArray1::from_slice(py, &cols.truncated))?;
    let steps = set.n_steps();
    let episodes = cols.episode_len.len();
    for (i, col) in cols.agents.into_iter().enumerate() {
        let (dim, w) = (set.obs_dims[i], set.action_spaces[i].width());
        let arr2 =
            |v: Vec<f32>, rows: usize, cols: usize| PyArray1::from_vec(py, v).reshape([rows, cols]);
        d.set_item(format!("obs_{i}"), arr2(col.obs, steps, dim)?)?;
        d.set_item(
            format!("final_obs_{i}"),
            arr2(col.final_obs, episodes, dim)?,
        )?;
        d.set_item(format!("actions_{i}"), arr2(col.actions, steps, w)?)?;
        d.set_item(format!("rewards_{i}"), PyArray1::from_vec(py, col.rewards))?;
        d.set_item(format!("acted_{i}"), PyArray1::from_vec(py, col.acted))?;
    }
    Ok(d)
}

/// Reads a demonstration file (written by `cargo xtask demos` or [`write_demos`]) into a dict
/// of numpy arrays (see [`demos_dict`]).
#[pyfunction]
fn read_demos(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let bytes = read_bytes(&path)?;
    let (header, set) = decode_demos(&bytes)
        .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))?;
    demos_dict(py, &set, &header.agents, &header.source)
}

/// Records `episodes` episodes of the expert checkpoint at `expert` (or of the scripted
/// reference, `expert="scripted"`, which needs `env`) exactly as `cargo xtask demos` does with
/// the same arguments, and returns them as [`read_demos`] does. With a checkpoint, `env`
/// plays its policies in another game with the same agents.
#[pyfunction]
#[pyo3(signature = (expert, episodes, seed = 7, env = None, variant = None, greedy = false))]
fn record_demos<'py>(
    py: Python<'py>,
    expert: &str,
    episodes: usize,
    seed: u64,
    env: Option<&str>,
    variant: Option<&str>,
    greedy: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let (set, names) = experiments::record_demos(expert, env, variant, episodes, seed, greedy)
        .map_err(value_err)?;
    let source = format!(
        "magail_rs.record_demos(expert={expert:?}, episodes={episodes}, seed={seed}, env={env:?}, variant={variant:?}, greedy={greedy})"
    );
    demos_dict(py, &set, &names, &source)
}

/// Writes demonstrations of `game` (whose agents and sizes the file records) from numpy
/// columns laid out as [`read_demos`] returns them; the file appears whole or not at all.
#[pyfunction]
#[pyo3(signature = (path, game, episode_len, terminated, truncated, obs, final_obs, actions,
    rewards, acted, source = ""))]
#[allow(clippy::too_many_arguments)]
fn write_demos(
    path: PathBuf,
    game: PyRef<'_, Game>,
    episode_len: Vec<i64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    obs: Vec<PyReadonlyArray2<'_, f32>>,
    final_obs: Vec<PyReadonlyArray2<'_, f32>>,
    actions: Vec<PyReadonlyArray2<'_, f32>>,
    rewards: Vec<PyReadonlyArray1<'_, f64>>,
    acted: Vec<PyReadonlyArray1<'_, bool>>,
    source: &str,
) -> PyResult<()> {
    let spec = &game.spec;
    let n = spec.n_agents();
    for (what, len) in [
        ("obs", obs.len()),
        ("final_obs", final_obs.len()),
        ("actions", actions.len()),
        ("rewards", rewards.len()),
        ("acted", acted.len()),
    ] {
        if len != n {
            return Err(PyValueError::new_err(format!(
                "`{what}` has arrays for {len} agents: {} has {n}",
                spec.name
            )));
        }
    }
    let mut lens = Vec::with_capacity(episode_len.len());
    for &l in &episode_len {
        if l < 1 {
            return Err(PyValueError::new_err(format!(
                "an episode length is {l}: expected at least 1 step"
            )));
        }
        lens.push(l as usize);
    }
    let flat2 = |a: &PyReadonlyArray2<'_, f32>| a.as_array().iter().copied().collect::<Vec<_>>();
    let agents = (0..n)
        .map(|i| AgentColumns {
            obs: flat2(&obs[i]),
            final_obs: flat2(&final_obs[i]),
            actions: flat2(&actions[i]),
            rewards: rewards[i].as_array().to_vec(),
            acted: acted[i].as_array().to_vec(),
        })
        .collect();
    let cols = DemoColumns {
        episode_len: lens,
        terminated,
        truncated,
        agents,
    };
    let obs_dims: Vec<usize> = spec.agents.iter().map(|a| a.obs_dim).collect();
    let spaces: Vec<ActionSpace> = spec.agents.iter().map(|a| a.action_space).collect();
    let set = cols
        .into_trajectories(&spec.name, &obs_dims, &spaces)
        .map_err(value_err)?;
    let names: Vec<String> = spec.agents.iter().map(|a| a.name.clone()).collect();
    let bytes = encode_demos(&set, &names, source).map_err(value_err)?;
    magail_async::run::write_atomic(&path, |w| std::io::Write::write_all(w, &bytes))
        .map_err(|e| PyOSError::new_err(e.to_string()))
}

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
            variant: meta.game.variant.clone(),
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

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The AMAGAIL games by name (they exist in the paper variant only).
    let games: Vec<&str> = AmagailGame::ALL.iter().map(|g| g.name()).collect();
    m.add("AMAGAIL_GAMES", games)?;
    m.add_class::<GameSettings>()?;
    m.add_class::<Game>()?;
    m.add_class::<VecEnv>()?;
    m.add_class::<Expert>()?;
    m.add_function(wrap_pyfunction!(read_demos, m)?)?;
    m.add_function(wrap_pyfunction!(write_demos, m)?)?;
    m.add_function(wrap_pyfunction!(record_demos, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use envs::config::SpreadParams;

    fn with(
        env: &str,
        variant: &str,
        edit: impl FnOnce(&mut GameArgs),
    ) -> Result<EnvConfig, String> {
        let mut a = GameArgs::new(env, variant);
        edit(&mut a);
        game_config(&a).map(|(cfg, _)| cfg)
    }

    /// Every refusal names the argument; accepted arguments reach the configuration.
    #[test]
    fn arguments_are_checked_by_name() {
        let tag = with("simple_tag", "mpe2", |a| {
            a.num_good = Some(2);
            a.num_obstacles = Some(0);
        });
        let Ok(EnvConfig {
            params: ScenarioParams::Tag(p),
            ..
        }) = tag
        else {
            panic!("simple_tag with two prey: {tag:?}");
        };
        assert_eq!((p.n_good, p.n_adversaries, p.n_obstacles), (2, 3, 0));
        let refused = [
            with("stoch_navigation", "mpe2", |_| {}),
            with("stoch_predator_prey", "paper", |a| {
                a.num_adversaries = Some(2)
            }),
            with("simple_spread", "mpe2", |a| a.local_ratio = Some(f64::NAN)),
            with("simple_spread", "paper", |a| a.local_ratio = Some(0.3)),
            with("simple_reference", "mpe2", |a| a.local_ratio = Some(0.3)),
            with("simple_push", "mpe2", |a| a.n = Some(3)),
            with("simple_spread", "mpe2", |a| a.max_cycles = Some(0)),
            with("nowhere", "mpe2", |_| {}),
        ];
        let names = [
            "paper variant",
            "fixed number of agents",
            "local_ratio",
            "local_ratio",
            "0.5",
            "`N`",
            "max_cycles",
            "nowhere",
        ];
        for (r, name) in refused.iter().zip(names) {
            let err = r.as_ref().err().cloned().unwrap_or_default();
            assert!(err.contains(name), "expected `{name}` in {err:?}");
        }
        let ok = with("simple_spread", "mpe2", |a| {
            a.local_ratio = Some(0.25);
            a.max_cycles = Some(40);
            a.continuous = true;
        });
        let Ok(cfg) = ok else {
            panic!("{ok:?}");
        };
        assert!(cfg.continuous && cfg.max_steps == 40);
        assert!(matches!(
            cfg.params,
            ScenarioParams::Spread(SpreadParams {
                mix: RewardMix::LocalRatio(r),
                ..
            }) if r == 0.25
        ));
    }
}
