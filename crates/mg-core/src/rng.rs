//! Seeded random streams: every stream in a run is derived from the run's seed.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG used for derived streams: ChaCha8, whose output is fixed by its specification
/// (unlike `StdRng`, which may change between `rand` releases).
pub type StreamRng = ChaCha8Rng;

/// The independent stream number `stream` of the run seeded with `seed`.
///
/// Streams use ChaCha's native stream counter, so (seed, stream) pairs never overlap.
pub fn stream_rng(seed: u64, stream: u64) -> StreamRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}
