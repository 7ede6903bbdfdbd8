//! Discriminator inputs: an observation followed by its action (one-hot for discrete spaces).

use mg_core::ActionSpace;

/// Width of one (observation, action) input; with `phi_slot` a discrete action gets one more
/// category for φ (the MAGAIL baseline on asynchronous games treats φ as an ordinary action).
pub fn input_width(obs_dim: usize, space: ActionSpace, phi_slot: bool) -> usize {
    obs_dim
        + match space {
            ActionSpace::Discrete { n } => n + usize::from(phi_slot),
            ActionSpace::Box { dim, .. } => dim,
        }
}

/// Appends `rows` inputs built from flat observations and flat actions. A discrete action index
/// becomes a one-hot vector; φ (index `n`, see `ActionSpace::phi_fill`) is the extra category
/// when `phi_slot` is set and all zeros otherwise.
pub fn encode_pairs(
    obs: &[f32],
    obs_dim: usize,
    actions: &[f32],
    space: ActionSpace,
    phi_slot: bool,
    out: &mut Vec<f32>,
) {
    let w = space.width();
    let rows = match obs.len().checked_div(obs_dim) {
        Some(r) => r,
        None => actions.len() / w.max(1),
    };
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
}
