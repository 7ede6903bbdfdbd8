//! Demonstration files as numpy columns: read, written and recorded.

use crate::game::{Game, space_tuple};
use crate::user_game::UserGame;
use crate::value_err;
use mg_core::{ActionSpace, AgentColumns, DemoColumns, Demonstrations};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A demonstration set as a dict of numpy arrays: `episode_len`, `terminated`, `truncated`, and
/// per agent `obs_<i>` `[steps, obs_dim]`, `final_obs_<i>` `[episodes, obs_dim]`, `actions_<i>`
/// `[steps, width]`, `rewards_<i>` `[steps]`, `acted_<i>` `[steps]`, plus the header: `game`,
/// `agents`, `obs_dims`, `action_spaces`, `source`.
fn demos_dict<'py>(
    py: Python<'py>,
    set: &Demonstrations,
    agents: &[String],
    source: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let cols = set.columns();
    let d = PyDict::new(py);
    d.set_item("game", set.game())?;
    d.set_item("agents", agents)?;
    d.set_item("obs_dims", set.obs_dims())?;
    d.set_item(
        "action_spaces",
        set.action_spaces()
            .iter()
            .map(|&s| space_tuple(s))
            .collect::<Vec<_>>(),
    )?;
    d.set_item("source", source)?;
    let lens: Vec<i64> = cols.episode_len.iter().map(|&l| l as i64).collect();
    d.set_item("episode_len", PyArray1::from_vec(py, lens))?;
    d.set_item("terminated", PyArray1::from_slice(py, &cols.terminated))?;
    d.set_item("truncated", PyArray1::from_slice(py, &cols.truncated))?;
    let (steps, episodes) = (set.steps(), set.episodes());
    for (i, col) in cols.agents.iter().enumerate() {
        let (dim, w) = (set.obs_dims()[i], set.action_spaces()[i].width());
        let arr2 =
            |v: &[f32], rows: usize, cols: usize| PyArray1::from_slice(py, v).reshape([rows, cols]);
        d.set_item(format!("obs_{i}"), arr2(&col.obs, steps, dim)?)?;
        d.set_item(
            format!("final_obs_{i}"),
            arr2(&col.final_obs, episodes, dim)?,
        )?;
        d.set_item(format!("actions_{i}"), arr2(&col.actions, steps, w)?)?;
        d.set_item(
            format!("rewards_{i}"),
            PyArray1::from_slice(py, &col.rewards),
        )?;
        d.set_item(format!("acted_{i}"), PyArray1::from_slice(py, &col.acted))?;
    }
    Ok(d)
}

/// The mean team return of a demonstration file's episodes: each episode's returns
/// ([`Demonstrations::episode_return`], over the steps each agent acted) averaged over agents,
/// then over episodes. The reference a user's game is scored against.
#[pyfunction]
pub fn demos_team_return(path: PathBuf) -> PyResult<f64> {
    let set = crate::imitation::read_demonstrations(&path)?;
    let (episodes, n) = (set.episodes(), set.obs_dims().len());
    if episodes == 0 || n == 0 {
        return Err(PyValueError::new_err(format!(
            "{}: {episodes} episodes of {n} agents: expected at least one of each",
            path.display()
        )));
    }
    let team = |e: usize| (0..n).map(|i| set.episode_return(e, i)).sum::<f64>() / n as f64;
    Ok((0..episodes).map(team).sum::<f64>() / episodes as f64)
}

/// Reads a demonstration file (written by `cargo xtask demos` or [`write_demos`]) into a dict
/// of numpy arrays (laid out by `demos_dict`).
#[pyfunction]
pub fn read_demos(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let (header, set) = crate::imitation::read_demonstrations_with_header(&path)?;
    demos_dict(py, &set, &header.agents, &header.source)
}

/// Records `episodes` episodes of the expert checkpoint at `expert` (or of the scripted
/// reference, `expert="scripted"`, which needs `env`) exactly as `cargo xtask demos` does with
/// the same arguments, and returns them as [`read_demos`] does. With a checkpoint, `env`
/// plays its policies in another game with the same agents.
#[pyfunction]
#[pyo3(signature = (expert, episodes, seed = 7, env = None, variant = None, greedy = false))]
pub fn record_demos<'py>(
    py: Python<'py>,
    expert: &str,
    episodes: usize,
    seed: u64,
    env: Option<&str>,
    variant: Option<&str>,
    greedy: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let who = experiments::Demonstrator::parse(expert);
    let parsed = variant
        .map(envs::Variant::from_name)
        .transpose()
        .map_err(value_err)?;
    let (set, names) =
        experiments::record_demos(&who, env, parsed, episodes, seed, greedy).map_err(value_err)?;
    let set = Demonstrations::new(&set).map_err(value_err)?;
    let source = format!(
        "magail_rs.record_demos(expert={expert:?}, episodes={episodes}, seed={seed}, env={env:?}, variant={variant:?}, greedy={greedy})"
    );
    demos_dict(py, &set, &names, &source)
}

/// Writes demonstrations of `game` (whose agents and sizes the file records) from numpy
/// columns laid out as [`read_demos`] returns them; the file appears whole or not at all.
/// `name` keeps the full name a recording gave (`simple_spread/paper+stochastic[…]`: the game
/// with the player function it was recorded under); it must be `game`'s name or refine it.
#[pyfunction]
#[pyo3(signature = (path, game, episode_len, terminated, truncated, obs, final_obs, actions,
    rewards, acted, source = "", name = None))]
#[allow(clippy::too_many_arguments)]
pub fn write_demos(
    path: PathBuf,
    game: &Bound<'_, PyAny>,
    episode_len: Vec<i64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    obs: Vec<PyReadonlyArray2<'_, f32>>,
    final_obs: Vec<PyReadonlyArray2<'_, f32>>,
    actions: Vec<PyReadonlyArray2<'_, f32>>,
    rewards: Vec<PyReadonlyArray1<'_, f64>>,
    acted: Vec<PyReadonlyArray1<'_, bool>>,
    source: &str,
    name: Option<&str>,
) -> PyResult<()> {
    // One of our games, or a user's (its adapter, `magail_rs.user_game.ParallelGame`).
    let spec = match game.cast::<Game>() {
        Ok(g) => g.borrow().spec.clone(),
        Err(_) => mg_core::MarkovGame::spec(&UserGame::new(game)?).clone(),
    };
    let spec = &spec;
    let name = name.unwrap_or(&spec.name);
    if name != spec.name && !name.starts_with(&format!("{}+", spec.name)) {
        return Err(PyValueError::new_err(format!(
            "demonstrations of `{name}` cannot be saved as the game `{}`",
            spec.name
        )));
    }
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
    let set = Demonstrations::from_columns(name, &obs_dims, &spaces, cols).map_err(value_err)?;
    let names: Vec<String> = spec.agents.iter().map(|a| a.name.clone()).collect();
    let bytes = set.encode(&names, source).map_err(value_err)?;
    magail_async::run::write_atomic(&path, |w| std::io::Write::write_all(w, &bytes))
        .map_err(|e| PyOSError::new_err(e.to_string()))
}
