//! Imitation from Python on our games: [`train`] runs (or continues) one run in a run folder,
//! the same folder, settings and bytes as `magail imitate`; [`evaluate_policy`] scores a run
//! folder or an expert checkpoint as `magail eval` does.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use envs::{GameChoice, Variant};
use experiments::{Demonstrator, Overrides, Who};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use magail_async::run::{Existing, Method, Progress, RunFolder, RunSettings, train_imitator};
use magail_async::{ComputeDevice, MagailConfig, MagailTrainer, Policy};
use mg_core::{DemoHeader, Demonstrations, GameTurns, MarkovGame, PlayerFunction, Synchronous};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::user_game::UserGame;
use crate::value_err;

/// The settings a Python caller may give in place of the method's own (`None` keeps it), by
/// their names in `magail imitate`'s flags.
#[derive(Clone, Debug, Default)]
#[pyclass(module = "magail_rs._native", frozen, from_py_object)]
pub struct TrainSettings {
    overrides: Overrides,
}

#[pymethods]
impl TrainSettings {
    /// Every setting by name; a reward form or device that is not one is refused by name.
    #[new]
    #[pyo3(signature = (bc_epochs = None, gradient_penalty = None, envs = None, max_kl = None,
        fisher_subsample = None, disc_steps = None, vf_epochs = None, vf_minibatches = None,
        disc_lr = None, disc_minibatches = None, reward = None, steps_per_iter = None,
        bc_weight = None, device = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        bc_epochs: Option<usize>,
        gradient_penalty: Option<f64>,
        envs: Option<usize>,
        max_kl: Option<f64>,
        fisher_subsample: Option<usize>,
        disc_steps: Option<usize>,
        vf_epochs: Option<usize>,
        vf_minibatches: Option<usize>,
        disc_lr: Option<f64>,
        disc_minibatches: Option<usize>,
        reward: Option<&str>,
        steps_per_iter: Option<usize>,
        bc_weight: Option<f64>,
        device: Option<&str>,
    ) -> PyResult<Self> {
        let reward = reward
            .map(|r| {
                gail::RewardForm::from_name(r).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "reward `{r}`: expected logd, neglog1md, logit or linear"
                    ))
                })
            })
            .transpose()?;
        let device = device
            .map(|d| d.parse::<ComputeDevice>().map_err(value_err))
            .transpose()?;
        Ok(Self {
            overrides: Overrides {
                envs,
                max_kl,
                fisher_subsample,
                disc_steps,
                vf_epochs,
                vf_minibatches,
                bc_epochs,
                gradient_penalty,
                disc_lr,
                disc_minibatches,
                reward,
                steps_per_iter,
                bc_weight,
                device,
            },
        })
    }
}

/// Runs (or, with `resume`, continues) one imitation of the demonstrations in the file `demos`
/// on the game `game` (`variant`) into the run folder `out`, exactly as `magail imitate` does with
/// the same settings: behaviour cloning, then `iterations` adversarial iterations with a line of
/// metrics each in `metrics.jsonl` and a checkpoint every `checkpoint_every`. The networks train
/// with the GIL released. Ctrl-C stops the run after the iteration under way, with a checkpoint
/// of it, and raises `KeyboardInterrupt`: the folder resumes exactly. Returns the iteration
/// reached.
#[pyfunction]
#[pyo3(signature = (game, demos, out, method = "magail-d", iterations = 500, seed = 0,
    variant = "paper", resume = false, checkpoint_every = 25, progress = true, settings = None,
    stop = None))]
#[allow(clippy::too_many_arguments)]
pub fn train(
    py: Python<'_>,
    game: &str,
    demos: PathBuf,
    out: PathBuf,
    method: &str,
    iterations: usize,
    seed: u64,
    variant: &str,
    resume: bool,
    checkpoint_every: usize,
    progress: bool,
    settings: Option<TrainSettings>,
    stop: Option<Py<PyAny>>,
) -> PyResult<usize> {
    let method: Method = method.parse().map_err(value_err)?;
    let choice = GameChoice::new(game, Variant::from_name(variant).map_err(value_err)?);
    let (env, player) = choice.build().map_err(value_err)?;
    let set = read_demonstrations(&demos)?;
    let cfg = settings
        .map(|s| s.overrides)
        .unwrap_or_default()
        .config(method, env.spec(), seed);
    let trainer = trainer_for(env, player, &set, cfg, game)?;
    let run = RunSettings {
        method,
        iterations,
        checkpoint_every,
    };
    run_in_folder(
        py,
        &out,
        &choice,
        &set,
        trainer,
        &run,
        (resume, progress),
        stop,
    )
}

/// [`train`] on a user's game: `adapter` is a `magail_rs.user_game.ParallelGame` or `AecGame`
/// (a PettingZoo env factory read once), stepped from Rust one call per step with the GIL taken
/// for it. A `ParallelEnv` is a Markov game (every agent acts; one that left plays φ); an
/// `AECEnv` an extensive one whose player function is its agent selector. The run folder
/// describes the game by its name (`pettingzoo:<name>`).
#[pyfunction]
#[pyo3(signature = (adapter, demos, out, method = "magail-d", iterations = 500, seed = 0,
    resume = false, checkpoint_every = 25, progress = true, settings = None, stop = None,
    teams = None))]
#[allow(clippy::too_many_arguments)]
pub fn train_game(
    py: Python<'_>,
    adapter: &Bound<'_, PyAny>,
    demos: PathBuf,
    out: PathBuf,
    method: &str,
    iterations: usize,
    seed: u64,
    resume: bool,
    checkpoint_every: usize,
    progress: bool,
    settings: Option<TrainSettings>,
    stop: Option<Py<PyAny>>,
    teams: Option<Vec<bool>>,
) -> PyResult<usize> {
    let method: Method = method.parse().map_err(value_err)?;
    let game = UserGame::new(adapter)?;
    let name = game.spec().name.clone();
    let n = game.spec().n_agents();
    let set = read_demonstrations(&demos)?;
    let mut cfg =
        settings
            .map(|s| s.overrides)
            .unwrap_or_default()
            .config(method, game.spec(), seed);
    // The zero-sum prior's teams: a user's game does not say who is an adversary.
    if let Some(t) = teams {
        if t.len() != n {
            return Err(value_err(format!("{} team flags for {n} agents", t.len())));
        }
        cfg.teams = t;
    }
    let run = RunSettings {
        method,
        iterations,
        checkpoint_every,
    };
    let rest = (set, cfg, run, (resume, progress), stop);
    if game.turn_based() {
        // An AEC game: its agent selector says who acts; the others play φ.
        let player = GameTurns::new(n).map_err(value_err)?;
        train_user_game(py, game, player, &out, &name, rest)
    } else {
        let player = Synchronous::new(n).map_err(value_err)?;
        train_user_game(py, game, player, &out, &name, rest)
    }
}

/// A user's game's run with the player function its kind of game takes.
type UserRun = (
    Demonstrations,
    MagailConfig,
    RunSettings,
    (bool, bool),
    Option<Py<PyAny>>,
);

fn train_user_game<P: PlayerFunction + Clone + Send>(
    py: Python<'_>,
    game: UserGame,
    player: P,
    out: &Path,
    name: &String,
    (set, cfg, run, flags, stop): UserRun,
) -> PyResult<usize> {
    let trainer = trainer_for(game, player, &set, cfg, name)?;
    run_in_folder(py, out, name, &set, trainer, &run, flags, stop)
}

pub(crate) fn read_demonstrations(demos: &Path) -> PyResult<Demonstrations> {
    read_demonstrations_with_header(demos).map(|(_, set)| set)
}

/// A demonstration file's header (agent names, source) and episodes; every reader of a file
/// goes through here, so a missing or foreign file is refused in the same words everywhere.
pub(crate) fn read_demonstrations_with_header(
    demos: &Path,
) -> PyResult<(DemoHeader, Demonstrations)> {
    let bytes = std::fs::read(demos)
        .map_err(|e| PyOSError::new_err(format!("cannot read {}: {e}", demos.display())))?;
    Demonstrations::decode(&bytes).map_err(|e| {
        PyValueError::new_err(format!(
            "{} is not a demonstration file (expected one written by `magail demos` or \
             `save_demos`): {e}",
            demos.display()
        ))
    })
}

fn trainer_for<G, P>(
    game: G,
    player: P,
    set: &Demonstrations,
    cfg: MagailConfig,
    name: &str,
) -> PyResult<MagailTrainer<G, P>>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    MagailTrainer::new(game, player, set, cfg).map_err(|e| match e {
        e @ magail_async::MagailError::Config(_) => {
            PyValueError::new_err(format!("invalid settings: {e}"))
        }
        e => PyValueError::new_err(format!("the demonstrations do not fit {name}: {e}")),
    })
}

/// Runs `trainer` in the folder `out` with a progress bar (when asked and in a terminal) and the
/// GIL released, stopping cleanly on Ctrl-C or when `stop()` answers true (the
/// `KeyboardInterrupt` is raised after the checkpoint); returns the iteration reached.
#[allow(clippy::too_many_arguments)]
fn run_in_folder<G, P, D>(
    py: Python<'_>,
    out: &Path,
    game: &D,
    set: &Demonstrations,
    trainer: MagailTrainer<G, P>,
    run: &RunSettings,
    (resume, progress): (bool, bool),
    stop: Option<Py<PyAny>>,
) -> PyResult<usize>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
    D: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Clone + Sync,
{
    let folder = RunFolder::open(out).map_err(|e| PyOSError::new_err(e.to_string()))?;
    let existing = if resume {
        Existing::Resume
    } else {
        Existing::Refuse
    };
    let bar = ProgressBar::with_draw_target(
        Some(run.adversarial_iterations() as u64),
        if progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} iterations {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut interrupted: Option<PyErr> = None;
    let label = run.method.label();
    let result = py.detach(|| {
        train_imitator(&folder, game, set, trainer, run, existing, None, &mut |p| {
            match p {
                Progress::Resumed(i) => bar.set_position(i as u64),
                Progress::Cloned { .. } => {}
                Progress::Iteration(s) => {
                    bar.set_position(s.iteration as u64);
                    if let Some(r) = s.true_return.first() {
                        bar.set_message(format!("{label} return {r:.1}"));
                    }
                }
            }
            // Python's Ctrl-C handler runs only when asked, with the GIL; `stop` (the Python
            // side's record of a Ctrl-C caught while its environments stepped) asks for the
            // same clean stop.
            let asked = Python::attach(|py| -> PyResult<bool> {
                py.check_signals()?;
                match &stop {
                    Some(f) => f.call0(py)?.extract(py),
                    None => Ok(false),
                }
            });
            match asked {
                Ok(false) => ControlFlow::Continue(()),
                Ok(true) => {
                    interrupted = Some(pyo3::exceptions::PyKeyboardInterrupt::new_err("Ctrl-C"));
                    ControlFlow::Break(())
                }
                Err(e) => {
                    interrupted = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .map(|t| t.iteration())
    });
    bar.finish_and_clear();
    let reached = result.map_err(|e| PyValueError::new_err(e.to_string()))?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    Ok(reached)
}

/// Scores the policies of a checkpoint (an expert, or an imitation's run folder) on `episodes`
/// episodes of their game's fixed evaluation seed, as `magail eval` and `magail imitate` do:
/// the team's mean return, a random policy's and the reference's (the scripted one, or the
/// checkpoint `demonstrator`), and the normalized score (reference = 1, random = 0; `None` when
/// the reference scores as random does).
#[pyfunction]
#[pyo3(signature = (path, episodes = 100, demonstrator = None))]
pub fn evaluate_policy<'py>(
    py: Python<'py>,
    path: PathBuf,
    episodes: usize,
    demonstrator: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    if episodes == 0 {
        return Err(PyValueError::new_err(
            "episodes is 0: expected at least 1 episode",
        ));
    }
    let (meta, learners) = experiments::load_checkpoint(&path).map_err(value_err)?;
    let reference = match demonstrator.map(Demonstrator::parse) {
        Some(Demonstrator::Expert(p)) => {
            Some(experiments::load_checkpoint(&p).map_err(value_err)?.1)
        }
        _ => None,
    };
    let e = py.detach(|| -> Result<_, String> {
        let pols = learners.policies(false).map_err(|e| e.to_string())?;
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let ref_pols = reference
            .as_ref()
            .map(|l| l.policies(false))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let ref_refs: Vec<&dyn Policy> = ref_pols.iter().map(|p| p as &dyn Policy).collect();
        let who = if ref_refs.is_empty() {
            Who::Scripted
        } else {
            Who::Learned(&ref_refs)
        };
        experiments::evaluate(&meta.game, &refs, who, episodes).map_err(|e| e.to_string())
    });
    let e = e.map_err(PyValueError::new_err)?;
    let d = PyDict::new(py);
    d.set_item("score", e.score)?;
    d.set_item("random", e.random)?;
    d.set_item("reference", e.reference)?;
    d.set_item("normalized", e.normalized())?;
    d.set_item("episodes", episodes)?;
    Ok(d)
}
