//! Reward forms and discriminator priors.

use serde::{Deserialize, Serialize};

/// softplus(x) = log(1 + eˣ), computed without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// How the policy reward is derived from the discriminator's logit L (D = σ(L) = P(expert)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RewardForm {
    /// log D = −softplus(−L) (≤ 0: penalises looking like the policy; the MA-AIRL code's choice).
    LogD,
    /// −log(1 − D) = softplus(L) (≥ 0: rewards looking like the expert; GAIL's usual choice).
    NegLog1mD,
    /// log D − log(1 − D) = L (the AIRL-style logit, unbounded both ways).
    Logit,
    /// 2D − 1 ∈ (−1, 1) (the MAGAIL code's `reward_op`).
    PaperLinear,
}

impl RewardForm {
    /// The reward for one logit.
    pub fn from_logit(&self, l: f64) -> f64 {
        match self {
            RewardForm::LogD => -softplus(-l),
            RewardForm::NegLog1mD => softplus(l),
            RewardForm::Logit => l,
            RewardForm::PaperLinear => 2.0 / (1.0 + (-l).exp()) - 1.0,
        }
    }

    /// Parses `logd`, `neglog1md`, `logit`, `linear`.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "logd" => RewardForm::LogD,
            "neglog1md" => RewardForm::NegLog1mD,
            "logit" => RewardForm::Logit,
            "linear" | "paper" => RewardForm::PaperLinear,
            _ => return None,
        })
    }
}

/// How discriminators are laid out across agents (MAGAIL's reward priors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Prior {
    /// One discriminator per agent on its own (o_i, a_i).
    Decentralized,
    /// One discriminator on the joint (o, a) with one output per agent.
    Centralized,
    /// One discriminator on the joint (o, a) with one output, the same reward for every agent.
    Shared,
    /// Two players: one discriminator on expert states with paired labels, r2 = −r1.
    ZeroSum,
}
