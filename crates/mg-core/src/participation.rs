//! The participation vector I_t (who acts at step t) and the history h_{t-1} = [I_0..I_{t-1}].

use serde::{Deserialize, Serialize};

use crate::GameError;

/// Largest number of agents a [`Participation`] can describe (one bit each in a `u64`).
pub const MAX_AGENTS: usize = 64;

/// The participation vector I_t of an extensive Markov game: bit `i` is set when agent `i` acts.
///
/// A bitset rather than `Vec<bool>`: it is `Copy`, compares in one instruction, and a history of
/// them costs 16 bytes per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ParticipationFields")]
pub struct Participation {
    bits: u64,
    n: u8,
}

// Loading checks what `from_bits` checks: a file is user input.
#[derive(Deserialize)]
struct ParticipationFields {
    bits: u64,
    n: u8,
}

impl TryFrom<ParticipationFields> for Participation {
    type Error = GameError;
    fn try_from(f: ParticipationFields) -> Result<Self, GameError> {
        Self::from_bits(usize::from(f.n), f.bits)
    }
}

impl Participation {
    /// Every one of `n` agents acts (the synchronous case).
    pub fn all(n: usize) -> Self {
        assert!(n <= MAX_AGENTS, "at most {MAX_AGENTS} agents");
        let bits = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        Self { bits, n: n as u8 }
    }

    /// No agent acts.
    pub fn none(n: usize) -> Self {
        assert!(n <= MAX_AGENTS, "at most {MAX_AGENTS} agents");
        Self {
            bits: 0,
            n: n as u8,
        }
    }

    /// From raw bits; bits at or above `n` must be clear.
    pub fn from_bits(n: usize, bits: u64) -> Result<Self, GameError> {
        if n > MAX_AGENTS {
            return Err(GameError::TooManyAgents { n, max: MAX_AGENTS });
        }
        if n < 64 && bits >> n != 0 {
            return Err(GameError::AgentOutOfRange {
                agent: 63 - bits.leading_zeros() as usize,
                n,
            });
        }
        Ok(Self { bits, n: n as u8 })
    }

    /// The agents listed in `active` act; every index must be below `n`.
    pub fn from_active(n: usize, active: &[usize]) -> Result<Self, GameError> {
        if n > MAX_AGENTS {
            return Err(GameError::TooManyAgents { n, max: MAX_AGENTS });
        }
        let mut bits = 0u64;
        for &a in active {
            if a >= n {
                return Err(GameError::AgentOutOfRange { agent: a, n });
            }
            bits |= 1 << a;
        }
        Ok(Self { bits, n: n as u8 })
    }

    /// From one flag per agent.
    pub fn from_flags(flags: &[bool]) -> Result<Self, GameError> {
        let n = flags.len();
        if n > MAX_AGENTS {
            return Err(GameError::TooManyAgents { n, max: MAX_AGENTS });
        }
        let bits = flags
            .iter()
            .enumerate()
            .fold(0u64, |b, (i, &f)| b | (u64::from(f) << i));
        Ok(Self { bits, n: n as u8 })
    }

    /// Number of agents described.
    pub fn n_agents(&self) -> usize {
        self.n as usize
    }

    /// The raw bits.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Whether agent `i` acts.
    pub fn is_active(&self, i: usize) -> bool {
        i < self.n as usize && (self.bits >> i) & 1 == 1
    }

    /// Sets whether agent `i` acts.
    pub fn set(&mut self, i: usize, active: bool) {
        assert!(i < self.n as usize, "agent {i} out of range 0..{}", self.n);
        if active {
            self.bits |= 1 << i;
        } else {
            self.bits &= !(1 << i);
        }
    }

    /// Number of acting agents.
    pub fn count(&self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Whether every agent acts.
    pub fn is_all(&self) -> bool {
        *self == Self::all(self.n as usize)
    }

    /// The acting agents in increasing order.
    pub fn iter_active(&self) -> impl Iterator<Item = usize> + '_ {
        let bits = self.bits;
        (0..self.n as usize).filter(move |i| (bits >> i) & 1 == 1)
    }

    /// One flag per agent.
    pub fn to_flags(&self) -> Vec<bool> {
        (0..self.n as usize).map(|i| self.is_active(i)).collect()
    }
}

/// The participation history h_{t-1} = [I_0, ..., I_{t-1}] of the current episode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    steps: Vec<Participation>,
}

impl History {
    /// An empty history (before the first step; the player function then gives ζ).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of recorded steps, which is the index t of the step about to be decided.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends I_t.
    pub fn push(&mut self, p: Participation) {
        self.steps.push(p);
    }

    /// Forgets everything (keeps the allocation).
    pub fn clear(&mut self) {
        self.steps.clear();
    }

    /// The recorded vectors, oldest first.
    pub fn as_slice(&self) -> &[Participation] {
        &self.steps
    }

    /// The last `k` vectors as 0/1 features, oldest first, zero-padded at the front when the
    /// history is shorter: `k * n` values. Lets policies observe the participation history.
    pub fn last_k_features(&self, k: usize, n: usize, out: &mut [f32]) {
        assert_eq!(out.len(), k * n, "feature buffer must hold k * n values");
        out.fill(0.0);
        let have = self.steps.len().min(k);
        let start = self.steps.len() - have;
        for (slot, p) in (k - have..k).zip(&self.steps[start..]) {
            for i in 0..n {
                out[slot * n + i] = if p.is_active(i) { 1.0 } else { 0.0 };
            }
        }
    }
}
