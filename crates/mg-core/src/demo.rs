//! The versioned binary file format of demonstrations.
//!
//! Layout: the magic `MAGAILDM` (8 bytes), the format version (u32, little-endian), the header's
//! length (u64, little-endian), the [`DemoHeader`] and then the episodes, both encoded with bincode
//! 2.0.1's standard configuration. Decoding checks everything — truncation, magic, version, sizes
//! against the header, finite numbers — and never panics on arbitrary bytes (a property test
//! feeds it random and corrupted files). File IO is the caller's: this module maps bytes to data.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ActionSpace, Trajectories, TrajectoryError};

/// First bytes of every demonstration file.
pub const DEMO_MAGIC: [u8; 8] = *b"MAGAILDM";
/// The format version this code writes and reads.
pub const DEMO_VERSION: u32 = 1;
/// bincode refuses to allocate more than this while decoding (1 GiB): a corrupted length can
/// never make the loader reserve absurd amounts of memory.
const LIMIT: usize = 1 << 30;

/// What a demonstration file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoHeader {
    /// The game and variant (`simple_spread/paper`).
    pub game: String,
    /// Agent names in order.
    pub agents: Vec<String>,
    /// Observation size per agent.
    pub obs_dims: Vec<usize>,
    /// Action space per agent.
    pub action_spaces: Vec<ActionSpace>,
    /// Number of episodes that follow.
    pub episodes: u64,
    /// Free text: the command, seed and checkpoint that produced the file.
    pub source: String,
}

/// A demonstration file that cannot be used.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DemoError {
    /// Shorter than its own framing says.
    #[error("demonstrations truncated: {0}")]
    Truncated(String),
    /// Not a demonstration file.
    #[error("not a demonstration file: the first bytes are {got:?}, expected {DEMO_MAGIC:?}")]
    Magic {
        /// The bytes found.
        got: Vec<u8>,
    },
    /// Written by another version of the format.
    #[error("demonstration format version {got}, this build reads version {DEMO_VERSION}")]
    Version {
        /// The version found.
        got: u32,
    },
    /// The encoded data is malformed.
    #[error("malformed demonstrations: {0}")]
    Malformed(String),
    /// The data contradicts the header or has non-finite values.
    #[error("invalid demonstrations: {0}")]
    Invalid(#[from] TrajectoryError),
    /// The header and the data disagree.
    #[error("demonstrations header mismatch: {0}")]
    Header(String),
    /// The demonstrations belong to another game or other sizes.
    #[error("demonstrations are for {found}, but the game is {expected}")]
    WrongGame {
        /// What the game needs.
        expected: String,
        /// What the file holds.
        found: String,
    },
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// Encodes `set` with a header naming `agents` and the `source`.
pub fn encode_demos(
    set: &Trajectories,
    agents: &[String],
    source: &str,
) -> Result<Vec<u8>, DemoError> {
    set.validate()?;
    let header = DemoHeader {
        game: set.game.clone(),
        agents: agents.to_vec(),
        obs_dims: set.obs_dims.clone(),
        action_spaces: set.action_spaces.clone(),
        episodes: set.episodes.len() as u64,
        source: source.to_string(),
    };
    let enc = |e: bincode::error::EncodeError| DemoError::Malformed(e.to_string());
    let h = bincode::serde::encode_to_vec(&header, config()).map_err(enc)?;
    let body = bincode::serde::encode_to_vec(&set.episodes, config()).map_err(enc)?;
    let mut out = Vec::with_capacity(20 + h.len() + body.len());
    out.extend_from_slice(&DEMO_MAGIC);
    out.extend_from_slice(&DEMO_VERSION.to_le_bytes());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes and validates a demonstration file's bytes.
pub fn decode_demos(bytes: &[u8]) -> Result<(DemoHeader, Trajectories), DemoError> {
    if bytes.len() < 8 {
        return Err(DemoError::Truncated(format!(
            "{} bytes, not even the magic",
            bytes.len()
        )));
    }
    if bytes[..8] != DEMO_MAGIC {
        return Err(DemoError::Magic {
            got: bytes[..8].to_vec(),
        });
    }
    if bytes.len() < 20 {
        return Err(DemoError::Truncated(
            "the version and header length are cut".into(),
        ));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(v);
    if version != DEMO_VERSION {
        return Err(DemoError::Version { got: version });
    }
    let mut l = [0u8; 8];
    l.copy_from_slice(&bytes[12..20]);
    let hlen = u64::from_le_bytes(l);
    let rest = &bytes[20..];
    if hlen > rest.len() as u64 {
        return Err(DemoError::Truncated(format!(
            "the header claims {hlen} bytes, {} remain",
            rest.len()
        )));
    }
    let (hbytes, body) = rest.split_at(hlen as usize);
    let dec = |e: bincode::error::DecodeError| match e {
        bincode::error::DecodeError::UnexpectedEnd { .. } => DemoError::Truncated(e.to_string()),
        other => DemoError::Malformed(other.to_string()),
    };
    let (header, used): (DemoHeader, usize) =
        bincode::serde::decode_from_slice(hbytes, config()).map_err(dec)?;
    if used != hbytes.len() {
        return Err(DemoError::Malformed(
            "trailing bytes after the header".into(),
        ));
    }
    let n = header.agents.len();
    if header.obs_dims.len() != n || header.action_spaces.len() != n {
        return Err(DemoError::Header(format!(
            "{n} agents but {} observation sizes and {} action spaces",
            header.obs_dims.len(),
            header.action_spaces.len()
        )));
    }
    let (episodes, used): (Vec<crate::Episode>, usize) =
        bincode::serde::decode_from_slice(body, config()).map_err(dec)?;
    if used != body.len() {
        return Err(DemoError::Malformed(format!(
            "{} trailing bytes after the episodes",
            body.len() - used
        )));
    }
    if episodes.len() as u64 != header.episodes {
        return Err(DemoError::Header(format!(
            "the header announces {} episodes, the file holds {}",
            header.episodes,
            episodes.len()
        )));
    }
    let set = Trajectories {
        game: header.game.clone(),
        obs_dims: header.obs_dims.clone(),
        action_spaces: header.action_spaces.clone(),
        episodes,
    };
    set.validate()?;
    Ok((header, set))
}

/// What demonstrations must agree on with the game that learns from them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoShape<'a> {
    /// The full name: game and variant, plus the player function and history features when the
    /// data was collected with them (`simple_spread/paper+stochastic[0.5,0.5,0.5]`).
    pub game: &'a str,
    /// Observation size per agent.
    pub obs_dims: &'a [usize],
    /// Action space per agent.
    pub action_spaces: &'a [ActionSpace],
}

impl<'a> DemoShape<'a> {
    /// The shape a file's header announces.
    pub fn of_header(h: &'a DemoHeader) -> Self {
        Self {
            game: &h.game,
            obs_dims: &h.obs_dims,
            action_spaces: &h.action_spaces,
        }
    }

    /// The shape of loaded demonstrations.
    pub fn of_trajectories(t: &'a Trajectories) -> Self {
        Self {
            game: &t.game,
            obs_dims: &t.obs_dims,
            action_spaces: &t.action_spaces,
        }
    }
}

/// Refuses demonstrations `found` unless they match `expected` exactly: the same name (so the
/// same player function too), observation sizes and action spaces.
pub fn check_demos_for(found: DemoShape<'_>, expected: DemoShape<'_>) -> Result<(), DemoError> {
    let describe = |s: DemoShape<'_>| {
        format!(
            "`{}` with observation sizes {:?} and action spaces {:?}",
            s.game, s.obs_dims, s.action_spaces
        )
    };
    if found != expected {
        return Err(DemoError::WrongGame {
            expected: describe(expected),
            found: describe(found),
        });
    }
    Ok(())
}

/// One agent's part of a [`DemoColumns`]: every episode's steps one after another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentColumns {
    /// `steps × obs_dim` observations.
    pub obs: Vec<f32>,
    /// `episodes × obs_dim`: each episode's observation after its last step.
    pub final_obs: Vec<f32>,
    /// `steps × action width` flat actions (φ where the agent did not act).
    pub actions: Vec<f32>,
    /// `steps` rewards (0 where the agent did not act).
    pub rewards: Vec<f64>,
    /// `steps` participation flags.
    pub acted: Vec<bool>,
}

/// A demonstration set as flat columns: the layout of the `.npz` export and of the Python
/// package's arrays (`episode_len`, then per agent `obs_<i>`, `actions_<i>`, ...). Episodes are
/// told apart by `episode_len` alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DemoColumns {
    /// Steps of each episode.
    pub episode_len: Vec<usize>,
    /// Per episode: it ended in a terminal state.
    pub terminated: Vec<bool>,
    /// Per episode: it was cut by a time limit.
    pub truncated: Vec<bool>,
    /// Per agent.
    pub agents: Vec<AgentColumns>,
}

impl DemoColumns {
    /// The columns of `set`.
    pub fn of(set: &Trajectories) -> Self {
        let n = set.obs_dims.len();
        let mut agents = vec![AgentColumns::default(); n];
        for ep in &set.episodes {
            for (col, a) in agents.iter_mut().zip(&ep.agents) {
                col.obs.extend_from_slice(&a.obs);
                col.final_obs.extend_from_slice(&a.final_obs);
                col.actions.extend_from_slice(&a.actions);
                col.rewards.extend_from_slice(&a.rewards);
                col.acted.extend_from_slice(&a.acted);
            }
        }
        Self {
            episode_len: set.episodes.iter().map(|e| e.len).collect(),
            terminated: set.episodes.iter().map(|e| e.terminated).collect(),
            truncated: set.episodes.iter().map(|e| e.truncated).collect(),
            agents,
        }
    }

    /// Splits the columns back into the episodes of a set for a game with these sizes, and
    /// checks them ([`Trajectories::validate`]). Column lengths that disagree with
    /// `episode_len` or the sizes are refused with the column's name.
    pub fn into_trajectories(
        self,
        game: &str,
        obs_dims: &[usize],
        action_spaces: &[ActionSpace],
    ) -> Result<Trajectories, DemoError> {
        let n = obs_dims.len();
        let episodes = self.episode_len.len();
        if action_spaces.len() != n || self.agents.len() != n {
            return Err(DemoError::Header(format!(
                "{n} observation sizes, {} action spaces and columns for {} agents",
                action_spaces.len(),
                self.agents.len()
            )));
        }
        for (what, len) in [
            ("terminated", self.terminated.len()),
            ("truncated", self.truncated.len()),
        ] {
            if len != episodes {
                return Err(DemoError::Header(format!(
                    "`{what}` has {len} entries for {episodes} episodes"
                )));
            }
        }
        let steps: usize = self.episode_len.iter().sum();
        for (i, col) in self.agents.iter().enumerate() {
            let (d, w) = (obs_dims[i], action_spaces[i].width());
            for (what, len, want) in [
                ("obs", col.obs.len(), steps * d),
                ("final_obs", col.final_obs.len(), episodes * d),
                ("actions", col.actions.len(), steps * w),
                ("rewards", col.rewards.len(), steps),
                ("acted", col.acted.len(), steps),
            ] {
                if len != want {
                    return Err(DemoError::Header(format!(
                        "`{what}_{i}` has {len} values, expected {want} ({steps} steps in {episodes} episodes)"
                    )));
                }
            }
        }
        let mut set = Trajectories {
            game: game.to_string(),
            obs_dims: obs_dims.to_vec(),
            action_spaces: action_spaces.to_vec(),
            episodes: Vec::with_capacity(episodes),
        };
        let mut start = 0;
        for (e, &len) in self.episode_len.iter().enumerate() {
            let agents = self
                .agents
                .iter()
                .enumerate()
                .map(|(i, col)| {
                    let (d, w) = (obs_dims[i], action_spaces[i].width());
                    crate::AgentTrajectory {
                        obs: col.obs[start * d..(start + len) * d].to_vec(),
                        final_obs: col.final_obs[e * d..(e + 1) * d].to_vec(),
                        actions: col.actions[start * w..(start + len) * w].to_vec(),
                        rewards: col.rewards[start..start + len].to_vec(),
                        acted: col.acted[start..start + len].to_vec(),
                    }
                })
                .collect();
            set.episodes.push(crate::Episode {
                len,
                agents,
                terminated: self.terminated[e],
                truncated: self.truncated[e],
            });
            start += len;
        }
        set.validate()?;
        Ok(set)
    }
}
