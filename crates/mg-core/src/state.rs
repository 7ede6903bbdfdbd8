//! Saved states: the bytes of a game mid-episode and of a random stream, so that a checkpointed
//! run resumes exactly where it stopped.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{GameError, StreamRng};

/// bincode refuses to allocate more than this while decoding a state (64 MiB): a corrupted
/// length is an error, not an allocation failure.
const LIMIT: usize = 1 << 26;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// Encodes a state (bincode): what [`crate::MarkovGame::save_state`] implementations return.
pub fn encode_state<T: Serialize>(state: &T) -> Result<Vec<u8>, GameError> {
    bincode::serde::encode_to_vec(state, config())
        .map_err(|e| GameError::State(format!("cannot encode: {e}")))
}

/// Decodes a state written by [`encode_state`]; every byte must be used.
pub fn decode_state<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GameError> {
    let (v, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| GameError::State(format!("not a saved state of this kind ({e})")))?;
    if used != bytes.len() {
        return Err(GameError::State(format!(
            "{} bytes left over after the saved state",
            bytes.len() - used
        )));
    }
    Ok(v)
}

/// The position of a [`StreamRng`]: its seed, stream and word position. Restoring it continues
/// the stream exactly where it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

impl RngState {
    /// The state of `rng`.
    pub fn of(rng: &StreamRng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A stream at this state.
    pub fn rng(&self) -> StreamRng {
        use rand::SeedableRng;
        let mut r = StreamRng::from_seed(self.seed);
        r.set_stream(self.stream);
        r.set_word_pos(self.word_pos);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn a_restored_stream_continues_where_it_was() {
        let mut a = crate::stream_rng(7, 3);
        let _: Vec<u32> = (0..13).map(|_| a.random()).collect();
        let mut b = decode_state::<RngState>(&encode_state(&RngState::of(&a)).expect("encode"))
            .expect("decode")
            .rng();
        let xa: Vec<u64> = (0..50).map(|_| a.random()).collect();
        let xb: Vec<u64> = (0..50).map(|_| b.random()).collect();
        assert_eq!(xa, xb);
        assert!(decode_state::<RngState>(&[1, 2, 3]).is_err());
        let mut long = encode_state(&RngState::of(&a)).expect("encode");
        long.push(0);
        let err = decode_state::<RngState>(&long).expect_err("trailing byte");
        assert!(err.to_string().contains("left over"), "{err}");
    }
}
