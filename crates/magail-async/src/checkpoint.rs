//! The training state inside a checkpoint: everything besides the network parameters that a run
//! needs to continue exactly (random streams, optimizer moments, games mid-episode, counters),
//! stored as one `u8` tensor beside the parameters, so a checkpoint is one file written at once.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use serde::{Serialize, de::DeserializeOwned};

use crate::learner::LearnError;

/// The name of the training-state tensor in a checkpoint's tensors.
pub const STATE_KEY: &str = "training.state";

/// Adds `state` (bincode) to `m` under [`STATE_KEY`].
pub(crate) fn put_state<T: Serialize>(
    m: &mut HashMap<String, Tensor>,
    state: &T,
) -> Result<(), LearnError> {
    let bytes = mg_core::encode_state(state)
        .map_err(|e| LearnError::Checkpoint(format!("training state: {e}")))?;
    let n = bytes.len();
    m.insert(STATE_KEY.into(), Tensor::from_vec(bytes, n, &Device::Cpu)?);
    Ok(())
}

/// The training state stored by [`put_state`].
pub(crate) fn take_state<T: DeserializeOwned>(
    m: &HashMap<String, Tensor>,
) -> Result<T, LearnError> {
    let t = m.get(STATE_KEY).ok_or_else(|| {
        LearnError::Checkpoint(format!(
            "no `{STATE_KEY}` tensor: these parameters can be evaluated but not continued"
        ))
    })?;
    let bytes = t
        .flatten_all()
        .and_then(|t| t.to_vec1::<u8>())
        .map_err(|e| LearnError::Checkpoint(format!("`{STATE_KEY}` is not a byte vector ({e})")))?;
    mg_core::decode_state(&bytes).map_err(|e| LearnError::Checkpoint(format!("`{STATE_KEY}`: {e}")))
}
