//! The learners' settings ([`LearnerConfig`]) and where their networks compute
//! ([`ComputeDevice`]).

use candle_core::Device;
use mg_core::{ActionSpace, GameSpec};
use serde::{Deserialize, Serialize};
use trpo::{Activation, TrpoConfig};

use super::LearnError;

/// How agents share networks, and the networks' shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    /// TRPO and value-function settings.
    pub trpo: TrpoConfig,
    /// Parameter-sharing group of each agent: agents with the same number share one policy and
    /// one value network (the paper code shares among the 3 navigators and among the 3 predators).
    pub groups: Vec<usize>,
    /// Hidden-layer nonlinearity.
    pub activation: Activation,
    /// Seed of the networks' initialisation and of the value-fit shuffling.
    pub seed: u64,
    /// Centralized value function: each agent's value network sees its own observation followed
    /// by every agent's observation at the same step (MACK's critic conditions on all
    /// observations, papers.md §1.2). Policies still see only their own observation. It helps
    /// where an agent's return depends on what it cannot observe (the speaker, which sees only
    /// the goal colour, is rewarded for the listener's distance). Off by default (the
    /// per-agent baseline of TRPO); old configurations without the field read as off.
    #[serde(default)]
    pub centralized_value: bool,
    /// Treat an episode cut off by its step limit as ended in a terminal state: its last step's
    /// value target is its reward, without the bootstrap V(s_T) (as in the official MAGAIL code,
    /// whose scenarios raise `done` at the limit and whose returns stop there). Off by default:
    /// a truncated episode bootstraps from its final observation, which is unbiased but leaves
    /// V(s_T) anchored only by how the network extrapolates to observations at the step limit,
    /// where no target ever lands. Where an
    /// observation reveals how far into the episode it is, the λ-return then admits the
    /// homogeneous solutions V(s_t) ∝ γ^(−t) that no reward pins down, and the fit can follow
    /// one without bound (stochastic predator-prey's critics did, to 1e12 within 4 M steps).
    /// Old configurations without the field read as off, and it is written only when on, so
    /// the records of runs without it keep their bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncation_as_terminal: bool,
    /// Where the policy, value and discriminator networks compute (CPU by default; old
    /// configurations without the field read as CPU). Environments always step on the CPU.
    #[serde(default)]
    pub device: ComputeDevice,
}

/// A compute device by name: `cpu`, or `cuda` / `cuda:N` (the N-th GPU, candle's CUDA backend,
/// which needs the `cuda` feature of this crate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComputeDevice {
    /// The CPU (candle's CPU backend).
    #[default]
    Cpu,
    /// The GPU of this ordinal.
    Cuda(usize),
}

impl ComputeDevice {
    /// The candle device; a GPU in a build without the `cuda` feature, or one that cannot be
    /// opened, is refused with the reason.
    pub fn device(self) -> Result<Device, LearnError> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(i) => {
                if !candle_core::utils::cuda_is_available() {
                    return Err(LearnError::Config(format!(
                        "device `cuda:{i}`: this build has no CUDA support (build with the \
                         `cuda` feature of magail-async, e.g. `cargo xtask gpu-check`)"
                    )));
                }
                Device::new_cuda(i).map_err(|e| {
                    LearnError::Config(format!("device `cuda:{i}` cannot be opened: {e}"))
                })
            }
        }
    }
}

impl std::fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl std::str::FromStr for ComputeDevice {
    type Err = LearnError;

    fn from_str(s: &str) -> Result<Self, LearnError> {
        let bad = || {
            LearnError::Config(format!(
                "unknown device `{s}`, expected `cpu`, `cuda` or `cuda:N` (N a GPU number)"
            ))
        };
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(bad),
        }
    }
}

impl LearnerConfig {
    /// Identical agents share: agents with the same observation size, action space and name
    /// prefix (`adversary_*`, `agent_*`) form one group.
    pub fn sharing_identical(spec: &GameSpec, trpo: TrpoConfig, seed: u64) -> Self {
        let mut keys: Vec<(String, usize, ActionSpace)> = Vec::new();
        let groups = spec
            .agents
            .iter()
            .map(|a| {
                let prefix = a
                    .name
                    .rsplit_once('_')
                    .map_or(a.name.as_str(), |p| p.0)
                    .to_string();
                let key = (prefix, a.obs_dim, a.action_space);
                match keys.iter().position(|k| *k == key) {
                    Some(g) => g,
                    None => {
                        keys.push(key);
                        keys.len() - 1
                    }
                }
            })
            .collect();
        Self {
            trpo,
            groups,
            activation: Activation::Relu,
            seed,
            centralized_value: false,
            truncation_as_terminal: false,
            device: ComputeDevice::Cpu,
        }
    }

    /// The same configuration with a centralized value function on or off.
    pub fn with_centralized_value(mut self, on: bool) -> Self {
        self.centralized_value = on;
        self
    }

    /// As this configuration, with [`truncation_as_terminal`](Self::truncation_as_terminal)
    /// on or off.
    pub fn with_truncation_as_terminal(mut self, on: bool) -> Self {
        self.truncation_as_terminal = on;
        self
    }
}
