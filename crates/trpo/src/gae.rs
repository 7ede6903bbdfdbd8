//! Generalized advantage estimation, GAE(γ, λ) (Schulman et al. 2016).

use crate::error::{Result, TrpoError};

/// Advantages and value targets for one time-ordered sequence.
///
/// For step t: `next_values[t]` is V(s_{t+1}) (the value of the observation after the step: the
/// final observation when the episode was truncated there), `terminated[t]` says the step ended in
/// a terminal state (no bootstrap), `episode_end[t]` that the episode ended there for any reason
/// (the recursion does not cross it). Then δ_t = r_t + γ (1 − term_t) V(s_{t+1}) − V(s_t) and
/// A_t = δ_t + γ λ (1 − end_t) A_{t+1}; returns are A_t + V(s_t).
pub fn gae(
    rewards: &[f64],
    values: &[f64],
    next_values: &[f64],
    terminated: &[bool],
    episode_end: &[bool],
    gamma: f64,
    lambda: f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let t = rewards.len();
    for (what, len) in [
        ("values", values.len()),
        ("next_values", next_values.len()),
        ("terminated", terminated.len()),
        ("episode_end", episode_end.len()),
    ] {
        if len != t {
            return Err(TrpoError::Size {
                what,
                expected: t,
                got: len,
            });
        }
    }
    let mut adv = vec![0.0; t];
    let mut next_adv = 0.0;
    for i in (0..t).rev() {
        let boot = if terminated[i] { 0.0 } else { next_values[i] };
        let delta = rewards[i] + gamma * boot - values[i];
        let carry = if episode_end[i] { 0.0 } else { next_adv };
        adv[i] = delta + gamma * lambda * carry;
        next_adv = adv[i];
    }
    let ret = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    Ok((adv, ret))
}
