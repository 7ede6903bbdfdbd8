//! Discriminator inputs: an observation followed by its action (one-hot for discrete spaces).

use mg_core::ActionSpace;

use crate::GailError;

/// Width of one (observation, action) input; with `phi_slot` a discrete action gets one more
/// category for φ (the MAGAIL baseline on asynchronous games treats φ as an ordinary action).
pub fn input_width(obs_dim: usize, space: ActionSpace, phi_slot: bool) -> usize {
    obs_dim
        + match space {
            ActionSpace::Discrete { n } => n + usize::from(phi_slot),
            ActionSpace::Box { dim, .. } => dim,
        }
}

/// Appends one input per row built from flat observations (`rows × obs_dim`) and flat actions
/// (`rows × width`). A discrete action index becomes a one-hot vector; φ (index `n`, see
/// `ActionSpace::phi_fill`) is the extra category when `phi_slot` is set and all zeros
/// otherwise. Sizes that do not agree, and discrete actions that are not an integer in `0..=n`,
/// are errors (nothing is appended then).
pub fn encode_pairs(
    obs: &[f32],
    obs_dim: usize,
    actions: &[f32],
    space: ActionSpace,
    phi_slot: bool,
    out: &mut Vec<f32>,
) -> Result<(), GailError> {
    let w = space.width();
    let rows = match obs.len().checked_div(obs_dim) {
        Some(r) if r * obs_dim == obs.len() => r,
        Some(_) => {
            return Err(GailError::Size {
                what: "observations",
                expected: obs_dim,
                got: obs.len(),
            });
        }
        None => actions.len() / w.max(1),
    };
    if actions.len() != rows * w {
        return Err(GailError::Config {
            field: "actions",
            reason: format!(
                "{} values for {rows} observations of {obs_dim}, expected {} ({w} per row)",
                actions.len(),
                rows * w
            ),
        });
    }
    if let ActionSpace::Discrete { n } = space {
        // φ, index n, is allowed: it encodes as its own category or as zeros.
        if let Some((r, &a)) = actions
            .iter()
            .enumerate()
            .find(|&(_, &a)| !(a as usize as f32 == a && (a as usize) <= n))
        {
            return Err(GailError::Config {
                field: "actions",
                reason: format!(
                    "row {r}: discrete action {a} is not an integer in 0..={n} (n = φ)"
                ),
            });
        }
    }
    out.reserve(rows * input_width(obs_dim, space, phi_slot));
    for r in 0..rows {
        out.extend_from_slice(&obs[r * obs_dim..(r + 1) * obs_dim]);
        match space {
            ActionSpace::Discrete { n } => {
                let k = actions[r] as usize;
                let width = n + usize::from(phi_slot);
                let start = out.len();
                out.resize(start + width, 0.0);
                if k < width {
                    out[start + k] = 1.0;
                }
            }
            ActionSpace::Box { .. } => out.extend_from_slice(&actions[r * w..(r + 1) * w]),
        }
    }
    Ok(())
}
