//! Reward forms and discriminator priors.

use mg_core::{ActionSpace, PhiMode};
use serde::{Deserialize, Serialize};

use crate::disc::GailError;
use crate::input::{encode_pairs, input_width};

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

/// One agent at one time step, as a discriminator sees it: its observation, its flat action and
/// whether it acted (φ otherwise).
#[derive(Clone, Copy, Debug)]
pub struct AgentStep<'a> {
    /// The observation.
    pub obs: &'a [f32],
    /// The flat action (a discrete index as one value).
    pub action: &'a [f32],
    /// Whether the agent acted.
    pub acted: bool,
}

impl Prior {
    /// Whether the discriminators read the joint (o, a) of every agent.
    pub fn joint(self) -> bool {
        self != Prior::Decentralized
    }

    /// The discriminators for agents of these observation sizes and action spaces: each one's
    /// input width, and the outputs of each (one per agent for the centralized prior, else one).
    /// A joint input always has the φ category; a decentralized one where φ [is an
    /// action](PhiMode::is_action).
    pub fn layout(
        self,
        dims: &[usize],
        spaces: &[ActionSpace],
        phi: PhiMode,
    ) -> (Vec<usize>, usize) {
        let n = dims.len();
        let phi_slot = phi.is_action();
        match self {
            Prior::Decentralized => (
                (0..n)
                    .map(|i| input_width(dims[i], spaces[i], phi_slot))
                    .collect(),
                1,
            ),
            Prior::Centralized => (
                vec![(0..n).map(|i| input_width(dims[i], spaces[i], true)).sum()],
                n,
            ),
            Prior::Shared | Prior::ZeroSum => (
                vec![(0..n).map(|i| input_width(dims[i], spaces[i], true)).sum()],
                1,
            ),
        }
    }

    /// Appends discriminator `k`'s input for one joint time step (`agent(i)` is agent `i`'s
    /// step, `spaces` the action spaces) to `out`, and returns whether it appended one.
    ///
    /// Decentralized: agent `k`'s own (o, a) where the step [counts](PhiMode::counts) for it or
    /// `every_step` (with φ as an action it is then a category). Joint: every agent's (o, a)
    /// with φ as its category, at every step; under AMAGAIL's filtering the weights of the
    /// logits go to `mask` ([`mask_weights`](Self::mask_weights)).
    #[allow(clippy::too_many_arguments)]
    pub fn encode_step<'a>(
        self,
        k: usize,
        agent: impl Fn(usize) -> AgentStep<'a>,
        spaces: &[ActionSpace],
        phi: PhiMode,
        every_step: bool,
        out: &mut Vec<f32>,
        mask: Option<&mut Vec<f32>>,
    ) -> Result<bool, GailError> {
        if !self.joint() {
            let s = agent(k);
            if !(every_step || phi.counts(s.acted)) {
                return Ok(false);
            }
            encode_pairs(
                s.obs,
                s.obs.len(),
                s.action,
                spaces[k],
                phi.is_action(),
                out,
            )?;
            return Ok(true);
        }
        let start = out.len();
        for (i, &space) in spaces.iter().enumerate() {
            let s = agent(i);
            if let Err(e) = encode_pairs(s.obs, s.obs.len(), s.action, space, true, out) {
                out.truncate(start);
                return Err(e);
            }
        }
        if let (false, Some(mask)) = (phi.is_action(), mask) {
            self.mask_weights(|i| agent(i).acted, spaces.len(), mask);
        }
        Ok(true)
    }

    /// Appends the weights of one joint input's logits under AMAGAIL's filtering: with one
    /// output per agent (centralized), output `i` counts where agent `i` acted; with one shared
    /// output, the step counts where anyone acted.
    pub fn mask_weights(self, acted: impl Fn(usize) -> bool, n: usize, mask: &mut Vec<f32>) {
        match self {
            Prior::Centralized => mask.extend((0..n).map(|i| f32::from(u8::from(acted(i))))),
            _ => mask.push(f32::from(u8::from((0..n).any(&acted)))),
        }
    }

    /// Every agent's reward at step `at` from one input's logits `row` of discriminator `k`:
    /// decentralized, agent `k`'s own; centralized, output `i` for agent `i`; shared, the one
    /// output for everyone; zero-sum, r1 from the output and r2 = −r1.
    pub fn assign_rewards(
        self,
        form: RewardForm,
        k: usize,
        row: &[f32],
        at: usize,
        rewards: &mut [Vec<f64>],
    ) {
        let r = |j: usize| form.from_logit(f64::from(row[j]));
        match self {
            Prior::Decentralized => rewards[k][at] = r(0),
            Prior::Centralized => {
                for (i, rw) in rewards.iter_mut().enumerate() {
                    rw[at] = r(i);
                }
            }
            Prior::ZeroSum => {
                let r1 = r(0);
                rewards[0][at] = r1;
                rewards[1][at] = -r1;
            }
            Prior::Shared => {
                for rw in rewards.iter_mut() {
                    rw[at] = r(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACES: [ActionSpace; 2] = [
        ActionSpace::Discrete { n: 2 },
        ActionSpace::Discrete { n: 3 },
    ];

    fn steps<'a>(
        obs: &'a [[f32; 1]; 2],
        act: &'a [[f32; 1]; 2],
        acted: [bool; 2],
    ) -> impl Fn(usize) -> AgentStep<'a> + Copy {
        move |i| AgentStep {
            obs: &obs[i],
            action: &act[i],
            acted: acted[i],
        }
    }

    /// Widths and outputs per prior: own (o, a) per agent, or the joint one with φ categories.
    #[test]
    fn layouts_follow_the_prior() {
        let dims = [1, 1];
        assert_eq!(
            Prior::Decentralized.layout(&dims, &SPACES, PhiMode::Filter),
            (vec![3, 4], 1)
        );
        assert_eq!(
            Prior::Decentralized.layout(&dims, &SPACES, PhiMode::AsAction),
            (vec![4, 5], 1)
        );
        assert_eq!(
            Prior::Centralized.layout(&dims, &SPACES, PhiMode::Filter),
            (vec![9], 2)
        );
        assert_eq!(
            Prior::ZeroSum.layout(&dims, &SPACES, PhiMode::Filter),
            (vec![9], 1)
        );
    }

    /// A decentralized discriminator skips its agent's φ steps; a joint one keeps the step, encodes
    /// φ as its category and masks the idle agent's output.
    #[test]
    fn encoding_filters_or_masks_phi() -> Result<(), GailError> {
        let (obs, act) = ([[0.5], [0.25]], [[1.0], [3.0]]);
        let agent = steps(&obs, &act, [true, false]);
        let (mut out, mut mask) = (Vec::new(), Vec::new());
        let p = Prior::Decentralized;
        assert!(!p.encode_step(
            1,
            agent,
            &SPACES,
            PhiMode::Filter,
            false,
            &mut out,
            Some(&mut mask)
        )?);
        assert!(out.is_empty() && mask.is_empty());
        assert!(p.encode_step(1, agent, &SPACES, PhiMode::Filter, true, &mut out, None)?);
        assert_eq!(out, [0.25, 0.0, 0.0, 0.0]);
        out.clear();
        let c = Prior::Centralized;
        assert!(c.encode_step(
            0,
            agent,
            &SPACES,
            PhiMode::Filter,
            false,
            &mut out,
            Some(&mut mask)
        )?);
        assert_eq!(out, [0.5, 0.0, 1.0, 0.0, 0.25, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(mask, [1.0, 0.0]);
        mask.clear();
        Prior::Shared.encode_step(
            0,
            agent,
            &SPACES,
            PhiMode::Filter,
            false,
            &mut out,
            Some(&mut mask),
        )?;
        assert_eq!(mask, [1.0]);
        Ok(())
    }

    /// Logits become rewards per prior; zero-sum gives opposite rewards.
    #[test]
    fn rewards_per_prior() {
        let f = RewardForm::Logit;
        let mut r = vec![vec![0.0; 2]; 2];
        Prior::Centralized.assign_rewards(f, 0, &[0.5, -1.0], 1, &mut r);
        assert_eq!(r, [[0.0, 0.5], [0.0, -1.0]]);
        Prior::ZeroSum.assign_rewards(f, 0, &[2.0], 0, &mut r);
        assert_eq!(r, [[2.0, 0.5], [-2.0, -1.0]]);
        Prior::Decentralized.assign_rewards(f, 1, &[3.0], 0, &mut r);
        assert_eq!(r[1][0], 3.0);
        Prior::Shared.assign_rewards(f, 0, &[4.0], 1, &mut r);
        assert_eq!((r[0][1], r[1][1]), (4.0, 4.0));
    }
}
