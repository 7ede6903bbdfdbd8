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

/// Encodes a set of episodes (checked first) with the agents' names and a note on where it came
/// from. [`Demonstrations::encode`](crate::Demonstrations::encode) writes the same bytes from a
/// checked set.
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
    encode_body(&header, &set.episodes)
}

/// The file's bytes: magic, version, the header's length, the header, the episodes.
pub(crate) fn encode_body<B: Serialize + ?Sized>(
    header: &DemoHeader,
    body: &B,
) -> Result<Vec<u8>, DemoError> {
    let enc = |e: bincode::error::EncodeError| DemoError::Malformed(e.to_string());
    let h = bincode::serde::encode_to_vec(header, config()).map_err(enc)?;
    let body = bincode::serde::encode_to_vec(body, config()).map_err(enc)?;
    let mut out = Vec::with_capacity(20 + h.len() + body.len());
    out.extend_from_slice(&DEMO_MAGIC);
    out.extend_from_slice(&DEMO_VERSION.to_le_bytes());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes and validates a demonstration file's bytes as episodes.
/// [`Demonstrations::decode`](crate::Demonstrations::decode) gives the checked columns instead.
pub fn decode_demos(bytes: &[u8]) -> Result<(DemoHeader, Trajectories), DemoError> {
    let (header, set) = decode_episodes(bytes)?;
    set.validate()?;
    Ok((header, set))
}

/// A file's header and episodes, their sizes against the header (the values are not checked).
pub(crate) fn decode_episodes(bytes: &[u8]) -> Result<(DemoHeader, Trajectories), DemoError> {
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
