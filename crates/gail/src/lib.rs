//! Adversarial imitation on candle: discriminators D(o, a) = σ(logit), their loss, the policy
//! rewards derived from them, and the MAGAIL discriminator priors.
//!
//! Sign convention, in the names: [`discriminator_loss`] labels **expert samples 1** and policy
//! samples 0 (`labels_expert_is_one`), so a high logit means "looks like the expert". Rewards are
//! a [`RewardForm`] of the logit L, each increasing in D: log D = −softplus(−L), −log(1 − D) =
//! softplus(L), the logit log D − log(1 − D) = L itself, and the MAGAIL code's 2D − 1.
//! [`Prior`] names how discriminators are laid out across agents: decentralized (one D per agent
//! on its own (o_i, a_i)), centralized (joint input, one output per agent), shared (joint input,
//! one reward for all) and zero-sum (two players, paired labels, r2 = −r1).
//!
//! ```
//! use gail::RewardForm;
//!
//! // At D = 0.5 (logit 0) the forms give log 0.5, log 2, 0 and 0.
//! let r: Vec<f64> = [RewardForm::LogD, RewardForm::NegLog1mD, RewardForm::Logit, RewardForm::PaperLinear]
//!     .iter().map(|f| f.from_logit(0.0)).collect();
//! assert!((r[0] + std::f64::consts::LN_2).abs() < 1e-12 && (r[1] - std::f64::consts::LN_2).abs() < 1e-12);
//! assert_eq!((r[2], r[3]), (0.0, 0.0));
//! ```
//!
//! Design decision: this crate depends on mg-core's types and candle only; it knows how to turn
//! (observation, action) pairs into discriminator inputs but not how rollouts are collected.

#![forbid(unsafe_code)]

mod disc;
mod input;
mod reward;

pub use disc::{
    DiscConfig, DiscState, DiscStats, Discriminator, GailError, LabelledSet, StagedTensors,
    checkpoint_tensor, discriminator_loss, zero_sum_labels,
};
pub use input::{encode_pairs, input_width};
pub use reward::{AgentStep, Prior, RewardForm};
