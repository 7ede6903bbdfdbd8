//! How a learner treats the placeholder action φ: the one decision that says which of an
//! agent's steps count for its updates, whether φ is one of its actions, and what is recorded
//! where the player function forced φ.

use serde::{Deserialize, Serialize};

/// How samples where an agent played φ (did not act) are treated, by the policy, its value, its
/// behaviour cloning and its discriminator alike.
///
/// ```
/// use mg_core::PhiMode;
///
/// // AMAGAIL: only the steps the agent acted count, and φ is no action of its policy.
/// assert!(PhiMode::Filter.counts(true) && !PhiMode::Filter.counts(false));
/// assert!(!PhiMode::Filter.is_action());
/// // The MAGAIL baseline: φ is an ordinary action, so every step is the agent's own.
/// assert!(PhiMode::AsAction.counts(false) && PhiMode::AsAction.is_action());
/// assert!(!PhiMode::AsAction.samples_when_forced());
/// assert!(PhiMode::AsActionKept.samples_when_forced());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PhiMode {
    /// AMAGAIL: samples where the agent did not act are filtered out of its discriminator,
    /// value and policy updates and its behaviour cloning.
    #[default]
    Filter,
    /// The MAGAIL baseline of the AMAGAIL paper: φ is an ordinary action category of the policy
    /// and of the discriminator (discrete action spaces only), which the policy may also choose
    /// when allowed to act. Where the player function forces φ, the sample holds φ and the
    /// policy is updated on it as if it had chosen it (the paper's recorded placeholder, read
    /// as the baseline's action).
    AsAction,
    /// The other reading of that baseline: where the player function forces φ, the policy still
    /// samples an action (φ among them), the environment ignores it, and the sample keeps what
    /// the policy drew, with its log-probability.
    AsActionKept,
}

impl PhiMode {
    /// Whether φ is one of the policy's actions (one category more) and a category of the
    /// discriminator's input.
    pub fn is_action(self) -> bool {
        self != PhiMode::Filter
    }

    /// Whether a step counts for the agent's updates (policy, value, behaviour cloning, its own
    /// discriminator) given whether it acted: filtered, only where it acted; with φ as an
    /// action, every step, φ being its action there.
    pub fn counts(self, acted: bool) -> bool {
        acted || self.is_action()
    }

    /// Whether, where the player function forces φ, the policy still samples and the sample
    /// keeps its own draw (rather than φ).
    pub fn samples_when_forced(self) -> bool {
        self == PhiMode::AsActionKept
    }
}
