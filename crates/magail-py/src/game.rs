//! One game, seeded like mpe2 and stepped with a flat joint action ([`Game`]); the Python
//! package wraps it as a PettingZoo `ParallelEnv`.

use crate::settings::GameSettings;
use crate::value_err;
use envs::{NumpyRng, ParticleEnv};
use mg_core::{ActionSpace, ExtensiveGame, GameSpec, MarkovGame, PlayerRule};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
/// Agent names, observation sizes and action spaces of a spec, as the Python classes show them.
pub(crate) fn agent_names(spec: &GameSpec) -> Vec<String> {
    spec.agents.iter().map(|a| a.name.clone()).collect()
}

pub(crate) fn obs_dims_of(spec: &GameSpec) -> Vec<usize> {
    spec.agents.iter().map(|a| a.obs_dim).collect()
}

pub(crate) fn spaces_of(spec: &GameSpec) -> Vec<SpaceTuple> {
    spec.agents
        .iter()
        .map(|a| space_tuple(a.action_space))
        .collect()
}

/// An action space as Python sees it: `("discrete", n)` or `("box", dim, low, high)`.
pub(crate) type SpaceTuple = (String, usize, f32, f32);

pub(crate) fn space_tuple(s: ActionSpace) -> SpaceTuple {
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
    pub(crate) spec: GameSpec,
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
