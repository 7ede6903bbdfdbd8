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
//!   ([`mg_core::DemoColumns`]), [`demos_team_return`] their mean team return; [`Expert`]: the
//!   policies of an expert checkpoint or an imitation's run folder, acting on numpy
//!   observations.
//! - [`train`] / [`train_game`]: imitation (BC, GAIL, MAGAIL, AMAGAIL) in a run folder the
//!   command line shares, on one of our games or on a user's PettingZoo game ([`UserGame`],
//!   stepped through its Python adapter), with the GIL released while the learners run;
//!   [`evaluate_policy`] scores a run as `magail eval` does.
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

mod demos;
mod expert;
mod game;
mod imitation;
mod settings;
mod user_game;
mod vecenv;

pub use demos::{demos_team_return, read_demos, record_demos, write_demos};
pub use expert::Expert;
pub use game::Game;
pub use imitation::{TrainSettings, evaluate_policy, train, train_game};
pub use settings::{GameArgs, GameSettings, game_config};
pub use user_game::UserGame;
pub use vecenv::VecEnv;

use envs::amagail::AmagailGame;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn value_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
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
    m.add_function(wrap_pyfunction!(demos_team_return, m)?)?;
    m.add_function(wrap_pyfunction!(write_demos, m)?)?;
    m.add_function(wrap_pyfunction!(record_demos, m)?)?;
    // The imitation methods by name, as `magail imitate --method` takes them.
    let methods: Vec<&str> = magail_async::run::Method::ALL
        .iter()
        .map(|m| m.name())
        .collect();
    m.add("METHODS", methods)?;
    m.add_class::<TrainSettings>()?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(train_game, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_policy, m)?)?;
    Ok(())
}
