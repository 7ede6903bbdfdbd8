//! A run folder: its lock, the record of what it holds, atomic writes and checkpoint files.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use mg_core::Demonstrations;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::method::Method;
use super::{RunError, io_err};
use crate::magail::{MagailConfig, MagailStats};

/// Writes a file through a temporary sibling and a rename: never a half-written file. The one
/// atomic writer of the workspace (checkpoints, records, metrics, tables).
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), RunError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut w = std::io::BufWriter::new(f);
        write(&mut w).map_err(io_err(&tmp))?;
        w.flush().map_err(io_err(&tmp))?;
        w.get_ref().sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes a checkpoint: `tensors` as a safetensors file at `tensors_path`, then `sidecar` as
/// pretty JSON at `sidecar_path`, each atomically. Tensors first, so the sidecar never names
/// parameters that are not on disk yet; what a run needs to continue is in the tensors.
pub fn save_checkpoint_files(
    tensors_path: &Path,
    tensors: &HashMap<String, Tensor>,
    sidecar_path: &Path,
    sidecar: &impl Serialize,
) -> Result<(), RunError> {
    // safetensors orders the tensors itself (by alignment, then name): the same tensors always
    // give the same bytes.
    let bytes = safetensors::serialize(tensors.iter(), None).map_err(|e| RunError::Unreadable {
        path: tensors_path.to_path_buf(),
        what: "writable as safetensors",
        reason: e.to_string(),
    })?;
    let json = serde_json::to_vec_pretty(sidecar).map_err(|e| RunError::Unreadable {
        path: sidecar_path.to_path_buf(),
        what: "writable as JSON",
        reason: e.to_string(),
    })?;
    write_atomic(tensors_path, |w| w.write_all(&bytes))?;
    write_atomic(sidecar_path, |w| w.write_all(&json))
}

/// Reads a safetensors file.
pub fn load_tensors(path: &Path) -> Result<HashMap<String, Tensor>, RunError> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu).map_err(|e| {
        RunError::Unreadable {
            path: path.to_path_buf(),
            what: "a safetensors file",
            reason: e.to_string(),
        }
    })
}

/// The digest of a demonstration set: SHA-256 (hex, first 16 bytes) of its encoding without
/// header names, a function of the game, the sizes and every recorded number.
pub fn demo_digest(demos: &Demonstrations) -> Result<String, RunError> {
    use sha2::{Digest, Sha256};
    let bytes = demos.encode(&[], "").map_err(|e| RunError::Settings {
        field: "demonstrations",
        reason: e.to_string(),
    })?;
    let hash = Sha256::digest(&bytes);
    Ok(hash[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// What a run folder holds: `imitator.json`. `D` describes the game in the caller's terms
/// (a name and variant, say); runs are continued only with an equal description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord<D> {
    /// Format version of this record.
    pub format: u32,
    /// The game, as the caller describes it.
    pub game: D,
    /// The method.
    pub method: Method,
    /// The trainer's whole configuration.
    pub config: MagailConfig,
    /// Adversarial iterations the checkpoint beside it holds (0: behaviour cloning only).
    pub iteration: usize,
    /// Demonstration episodes.
    pub demo_episodes: usize,
    /// [`demo_digest`] of the demonstrations.
    pub demo_digest: String,
}

pub(super) const RECORD_FORMAT: u32 = 2;

/// A run folder, locked for the life of this value: a second process (or a second
/// `RunFolder` in this one) opening it gets [`RunError::Busy`]. The lock is the operating
/// system's, so it goes with the process that held it, however that process ended.
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    _lock: File,
}

impl RunFolder {
    /// Opens (creating it if needed) and locks `dir`.
    pub fn open(dir: &Path) -> Result<Self, RunError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(RunError::Busy(dir.into())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `imitator.safetensors`: parameters and training state.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("imitator.safetensors")
    }

    /// `imitator.json`: the [`RunRecord`].
    pub fn record_path(&self) -> PathBuf {
        self.dir.join("imitator.json")
    }

    /// `metrics.jsonl`: one [`MagailStats`] per iteration.
    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }

    /// The record, if the folder holds one.
    pub fn record<D: DeserializeOwned>(&self) -> Result<Option<RunRecord<D>>, RunError> {
        let path = self.record_path();
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RunError::Unreadable {
                path,
                what: "an imitation run record",
                reason: e.to_string(),
            })
    }

    /// Saves a checkpoint ([`save_checkpoint_files`]). The tensors carry their own iteration,
    /// so a stop between the two writes resumes from the tensors.
    pub(super) fn save<D: Serialize>(
        &self,
        tensors: &HashMap<String, Tensor>,
        record: &RunRecord<D>,
    ) -> Result<(), RunError> {
        save_checkpoint_files(
            &self.checkpoint_path(),
            tensors,
            &self.record_path(),
            record,
        )
    }

    /// Keeps the metrics lines of iterations up to `upto` (a resumed run writes what follows;
    /// a line cut short by a kill is dropped).
    pub(super) fn truncate_metrics(&self, upto: usize) -> Result<(), RunError> {
        let path = self.metrics_path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: String = text
            .lines()
            .filter(|l| serde_json::from_str::<MagailStats>(l).is_ok_and(|s| s.iteration <= upto))
            .map(|l| format!("{l}\n"))
            .collect();
        write_atomic(&path, |w| w.write_all(kept.as_bytes()))
    }
}

/// What to do with a run folder that already holds a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse to touch it.
    Refuse,
    /// Continue it; refuse if it is of other settings or demonstrations, or longer.
    Resume,
    /// Continue it if it is this run; otherwise start afresh (a reproduction's own folders).
    ResumeOrReplace,
}
