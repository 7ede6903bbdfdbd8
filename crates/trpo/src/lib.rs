//! Trust-region policy optimisation (TRPO) on candle, knowing nothing about agents or games.
//!
//! [`StochasticPolicy`] is an MLP with a categorical or diagonal-Gaussian [`Head`]; [`trpo_step`]
//! takes the surrogate gradient, solves for the natural direction with matrix-free
//! [`conjugate_gradient`] on **exact** Fisher-vector products ([`StochasticPolicy::fvp`]: one
//! hand-written forward-mode JVP through the network, the output distribution's Fisher, one
//! backward — candle has no second-order autograd by default), scales the step to the KL radius
//! and backtracks until the step keeps KL ≤ `max_kl` and really improves the surrogate.
//! [`gae`] computes GAE(γ, λ) advantages and [`ValueFunction`] fits the baseline with Adam, its
//! gradient from [`Mlp::backward`] (a hand-written backward pass, cheaper than candle's autograd
//! for networks this small).
//! Every hyperparameter sits in [`TrpoConfig`] with its documented default.
//!
//! ```
//! use trpo::{CgConfig, conjugate_gradient};
//!
//! // Solve [[4, 1], [1, 3]] x = [1, 2] matrix-free: x = [1/11, 7/11].
//! let a = [[4.0, 1.0], [1.0, 3.0]];
//! let matvec = |v: &[f64]| Ok(vec![a[0][0] * v[0] + a[0][1] * v[1], a[1][0] * v[0] + a[1][1] * v[1]]);
//! let sol = conjugate_gradient(matvec, &[1.0, 2.0], &CgConfig::default()).unwrap();
//! assert!((sol.x[0] - 1.0 / 11.0).abs() < 1e-12 && (sol.x[1] - 7.0 / 11.0).abs() < 1e-12);
//! assert_eq!(sol.iters, 2); // CG is exact in n steps on an n×n system
//! ```
//!
//! Design decision: flat parameter vectors are `f64` and CG runs on plain vectors, so the
//! optimizer's linear algebra is exact and testable independent of the network's dtype; the
//! networks themselves run in f32 (or f64 for tests) with `RAYON_NUM_THREADS=1` and
//! `CANDLE_NUM_THREADS=1`, parallelism coming from rollout workers.

#![forbid(unsafe_code)]

mod adam;
mod cg;
mod error;
mod gae;
mod mlp;
mod policy;
mod update;
mod value;

pub use adam::Adam;
pub use cg::{CgConfig, CgSolution, conjugate_gradient};
pub use error::{Result, TrpoError};
pub use gae::gae;
pub use mlp::{Activation, Mlp, flatten, set_flat, unflatten};
pub use policy::{DistParams, Head, StochasticPolicy};
pub use update::{Anchor, LineSearch, PolicyBatch, StepReport, TrpoConfig, trpo_step};
pub use value::ValueFunction;
