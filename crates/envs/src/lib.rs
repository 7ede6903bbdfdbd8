//! Multi-agent particle environments as mg-core Markov games, number for number with mpe2 1.1.1.
//!
//! [`ParticleEnv`] runs one scenario (cooperative navigation `simple_spread`, cooperative
//! communication `simple_speaker_listener`, keep-away `simple_push`, predator-prey `simple_tag`,
//! `simple_reference`, `simple_adversary`) from an [`EnvConfig`]: the mpe2 defaults
//! ([`EnvConfig::mpe2`]) or the MAGAIL paper code's variants ([`EnvConfig::paper`]). Physics runs in
//! f64 in the reference's exact order of operations and observations leave as f32, so replays of
//! recorded mpe2 episodes match bit for bit ([`conformance`]); [`NumpyRng`] even reproduces mpe2's
//! seeded resets. [`amagail`] builds AMAGAIL's extensive games, [`tictactoe`] a turn-based game with
//! an exact minimax expert, [`scripted`] the reference policies, [`render`] pictures.
//!
//! ```
//! use envs::{EnvConfig, NumpyRng, ParticleEnv, Scenario};
//! use mg_core::MarkovGame;
//!
//! let mut env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).unwrap();
//! env.reset(&mut NumpyRng::from_seed(10000)); // the same initial state mpe2 draws for seed 10000
//! let step = env.step_joint(&[1.0, 2.0, 0.0]).unwrap(); // left, right, stay
//! assert_eq!(step.obs[0].len(), 18);
//! // Agent 0 pushed left with force 5: velocity 0.1 * (-5) = -0.5 after one step.
//! assert_eq!(step.obs[0][0], -0.5);
//! ```
//!
//! Design decision: environments are plain f64 arithmetic with no tensor library, so they are
//! fast (millions of steps a second on one core), testable bit for bit, and usable from any learner.

#![forbid(unsafe_code)]

pub mod config;
pub mod named;
pub mod numpy_rng;
pub mod particle;
pub mod world;

pub use config::{ConfigError, EnvConfig, Scenario, ScenarioParams, Variant};
pub use named::GameChoice;
pub use numpy_rng::NumpyRng;
pub use particle::{Goals, ParticleEnv};
pub use world::{Entity, World};
pub mod amagail;
pub mod conformance;
pub mod render;
pub mod scripted;
pub mod tictactoe;
