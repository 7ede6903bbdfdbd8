//! The papers' imitation methods as typed presets: what each one is, in one place.

use gail::Prior;
use mg_core::GameSpec;
use serde::{Deserialize, Serialize};

use super::RunError;
use crate::magail::{MagailConfig, default_config};
use mg_core::PhiMode;

/// The imitation methods of the papers' comparisons: what each one is, in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Behaviour cloning only (cross-entropy on the expert's pairs where it acted).
    Bc,
    /// The AMAGAIL paper's BC baseline on an asynchronous game: φ is an ordinary action, cloned
    /// at the steps where the expert did not act and playable by the clone.
    BcPhi,
    /// Independent per-agent GAIL: one discriminator per agent on its own (o, a), each agent's
    /// critic on its own observation (single-agent GAIL run side by side).
    Gail,
    /// MAGAIL, centralized prior: one discriminator on the joint (o, a) with one output per
    /// agent; centralized critics.
    MagailC,
    /// MAGAIL, centralized prior in its other reading (R1 = … = Rn): one discriminator on the
    /// joint (o, a) with one output, the same reward for every agent; centralized critics.
    MagailShared,
    /// MAGAIL, decentralized prior: one discriminator per agent; centralized critics.
    MagailD,
    /// MAGAIL, zero-sum prior (two players): one joint discriminator trained on expert states
    /// with the paired labelling, r2 = −r1; centralized critics.
    MagailZs,
    /// The MAGAIL baseline on an asynchronous game: φ is an ordinary action category, and the
    /// steps where the player function forced φ train the policy as if it had chosen φ.
    MagailPhi,
    /// The other reading of that baseline: at forced steps the policy's own draw is kept (the
    /// environment ignores it) and trained on with its log-probability.
    MagailPhiKept,
    /// AMAGAIL: samples where an agent played φ are filtered out of its updates.
    Amagail,
}

impl Method {
    /// Every method, in the order of the papers' tables.
    pub const ALL: [Method; 10] = [
        Method::Bc,
        Method::BcPhi,
        Method::Gail,
        Method::MagailC,
        Method::MagailShared,
        Method::MagailD,
        Method::MagailZs,
        Method::MagailPhi,
        Method::MagailPhiKept,
        Method::Amagail,
    ];

    /// The command-line name (`bc`, `bc-phi`, `gail`, `magail-c`, …).
    pub fn name(self) -> &'static str {
        match self {
            Method::Bc => "bc",
            Method::BcPhi => "bc-phi",
            Method::Gail => "gail",
            Method::MagailC => "magail-c",
            Method::MagailShared => "magail-c-shared",
            Method::MagailD => "magail-d",
            Method::MagailZs => "magail-zs",
            Method::MagailPhi => "magail-phi",
            Method::MagailPhiKept => "magail-phi-kept",
            Method::Amagail => "amagail",
        }
    }

    /// The method of a command-line name; an unknown name lists the known ones.
    pub fn from_name(name: &str) -> Result<Self, RunError> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| RunError::Settings {
                field: "method",
                reason: format!(
                    "unknown method `{name}`, expected one of: {}",
                    Self::ALL.map(Method::name).join(", ")
                ),
            })
    }

    /// The name used in tables and folders.
    pub fn label(self) -> &'static str {
        match self {
            Method::Bc => "BC",
            Method::BcPhi => "BC-phi",
            Method::Gail => "GAIL",
            Method::MagailC => "MAGAIL-C",
            Method::MagailShared => "MAGAIL-C-shared",
            Method::MagailD => "MAGAIL-D",
            Method::MagailZs => "MAGAIL-ZS",
            Method::MagailPhi => "MAGAIL",
            Method::MagailPhiKept => "MAGAIL-kept",
            Method::Amagail => "AMAGAIL",
        }
    }

    /// Whether adversarial iterations follow behaviour cloning.
    pub fn adversarial(self) -> bool {
        !matches!(self, Method::Bc | Method::BcPhi)
    }

    /// The trainer configuration of this method (docs/algorithms/magail.md).
    pub fn config(self, spec: &GameSpec, seed: u64) -> MagailConfig {
        let (prior, phi, central_critic) = match self {
            Method::Bc => (Prior::Decentralized, PhiMode::Filter, false),
            Method::BcPhi => (Prior::Decentralized, PhiMode::AsAction, false),
            Method::Gail => (Prior::Decentralized, PhiMode::Filter, false),
            Method::MagailC => (Prior::Centralized, PhiMode::Filter, true),
            Method::MagailShared => (Prior::Shared, PhiMode::Filter, true),
            Method::MagailD => (Prior::Decentralized, PhiMode::Filter, true),
            Method::MagailZs => (Prior::ZeroSum, PhiMode::Filter, true),
            Method::MagailPhi => (Prior::Decentralized, PhiMode::AsAction, true),
            Method::MagailPhiKept => (Prior::Decentralized, PhiMode::AsActionKept, true),
            Method::Amagail => (Prior::Decentralized, PhiMode::Filter, true),
        };
        let mut cfg = default_config(spec, prior, phi, seed);
        cfg.learner.centralized_value = central_critic;
        cfg
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = RunError;
    fn from_str(s: &str) -> Result<Self, RunError> {
        Self::from_name(s)
    }
}
