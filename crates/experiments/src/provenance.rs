//! Where a result comes from: the commit of the program that produced it and the matrix
//! kernels it ran with. The same cell can differ in its last digits between machines whose
//! CPUs select different kernels (gemm dispatches at run time: AVX-512 where the CPU has it,
//! AVX2 and FMA otherwise), so both travel with every result.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// The commit this library was built from: a hash, `<hash>-dirty` when tracked files differed
/// from it, or `unknown` outside a git checkout.
pub const COMMIT: &str = env!("MAGAIL_COMMIT");

/// The matrix kernels this CPU runs: `x86-64-v4 (AVX-512)`, `x86-64-v3 (AVX2, FMA)`,
/// `x86-64 (SSE2)`, `aarch64 (NEON)` or the architecture's name.
pub fn kernels() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "x86-64-v4 (AVX-512)".into();
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "x86-64-v3 (AVX2, FMA)".into();
        }
        "x86-64 (SSE2)".into()
    }
    #[cfg(target_arch = "aarch64")]
    {
        "aarch64 (NEON)".into()
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        std::env::consts::ARCH.into()
    }
}

/// One program's mark: its commit and the kernels it ran with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The commit ([`COMMIT`]).
    pub commit: String,
    /// The matrix kernels ([`kernels`]).
    pub kernels: String,
}

impl Stamp {
    /// This program's stamp.
    pub fn here() -> Self {
        Self {
            commit: COMMIT.into(),
            kernels: kernels(),
        }
    }
}

/// A result's provenance: who trained its policies and who scored them (the same program
/// unless the cell was re-scored from its run folder under a later protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The program that trained the policies; `None` when its run folder did not record it.
    pub trained: Option<Stamp>,
    /// The program that scored them and wrote the result.
    pub scored: Stamp,
}

/// The file in a run folder that records the program that trained it.
pub const TRAINED_FILE: &str = "trained-by.json";

/// The stamp recorded in run folder `run`, if any.
pub fn trained_by(run: &Path) -> Result<Option<Stamp>> {
    let path = run.join(TRAINED_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ExperimentError::File {
                path,
                reason: format!("is not a training stamp (commit and kernels): {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExperimentError::File {
            path,
            reason: e.to_string(),
        }),
    }
}

/// Records this program in run folder `run` unless a stamp is there already (a resumed run
/// keeps the stamp of the program that began it; resumption is exact, so the bytes are the
/// same whichever finishes it).
pub fn stamp_training(run: &Path) -> Result<()> {
    if trained_by(run)?.is_some() {
        return Ok(());
    }
    let text = serde_json::to_string(&Stamp::here()).map_err(|e| ExperimentError::File {
        path: run.join(TRAINED_FILE),
        reason: e.to_string(),
    })?;
    magail_async::run::write_atomic(&run.join(TRAINED_FILE), |w| {
        std::io::Write::write_all(w, text.as_bytes())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_is_a_hash_or_unknown_and_a_stamp_round_trips() {
        let c = COMMIT.trim_end_matches("-dirty");
        assert!(
            c == "unknown" || (c.len() == 40 && c.chars().all(|ch| ch.is_ascii_hexdigit())),
            "{COMMIT}"
        );
        assert!(!kernels().is_empty());
        let dir = std::env::temp_dir().join(format!("stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert_eq!(trained_by(&dir).expect("none yet"), None);
        stamp_training(&dir).expect("stamped");
        assert_eq!(trained_by(&dir).expect("read"), Some(Stamp::here()));
        std::fs::write(dir.join(TRAINED_FILE), "{").expect("write");
        let e = trained_by(&dir).expect_err("malformed");
        assert!(e.to_string().contains("training stamp"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
