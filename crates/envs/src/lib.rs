//! Multi-agent particle environments as mg-core Markov games.
//!
//! (crate doc filled in below)

#![forbid(unsafe_code)]

pub mod config;
pub mod numpy_rng;
pub mod particle;
pub mod world;

pub use config::{ConfigError, EnvConfig, Scenario, ScenarioParams, Variant};
pub use numpy_rng::NumpyRng;
pub use particle::{Goals, ParticleEnv};
pub use world::{Entity, World};
pub mod conformance;
pub mod render;
pub mod scripted;
