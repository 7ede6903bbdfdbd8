//! One imitation run as a library: the papers' methods as typed presets ([`Method`]), a run
//! folder with a lock, a record of what it holds and atomic checkpoints ([`RunFolder`]), the
//! whole run — behaviour cloning, the adversarial loop, metrics, checkpoints, exact resume —
//! in [`train_imitator`], and the evaluation every command reports ([`Evaluation`]).
//!
//! A run folder holds `imitator.safetensors` (parameters and the training state, one file
//! written at once), `imitator.json` (a [`RunRecord`]: the game, method, configuration and
//! demonstrations it was trained with) and `metrics.jsonl` (one [`MagailStats`] per
//! iteration). A run stopped at any moment (SIGKILL included) and resumed writes the same bytes
//! as one that was never stopped.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use candle_core::Tensor;
use gail::Prior;
use mg_core::{GameSpec, MarkovGame, PlayerFunction, Trajectories};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use thiserror::Error;

use crate::magail::{
    ClonedPolicies, MagailConfig, MagailError, MagailStats, MagailTrainer, PhiMode, default_config,
};
use crate::policy::Policy;
use crate::rollout::{Collector, RolloutConfig};

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

/// Why a run could not be started, continued or finished.
#[derive(Debug, Error)]
pub enum RunError {
    /// A setting out of its range.
    #[error("setting `{field}`: {reason}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// The value given and what is accepted.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process holds the run folder.
    #[error(
        "{0} is in use by another run (its lock is held): wait for it to finish, or stop it first"
    )]
    Busy(PathBuf),
    /// The folder holds a run that this one may not continue (other settings, demonstrations,
    /// more iterations, or a run not asked to be resumed).
    #[error("{0}")]
    Exists(String),
    /// A file of the run folder that cannot be read as what it should be.
    #[error("{path} is not {what}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        what: &'static str,
        /// Why not.
        reason: String,
    },
    /// Training failed; the last checkpoint is kept.
    #[error("{source}; the last good checkpoint (iteration {kept}) is kept in {dir}")]
    Train {
        /// The cause.
        source: Box<MagailError>,
        /// The iteration of the checkpoint left in the folder.
        kept: usize,
        /// The run folder.
        dir: PathBuf,
    },
    /// Setting the run up failed (demonstrations that do not fit, a bad configuration).
    #[error(transparent)]
    Setup(Box<MagailError>),
}

impl From<MagailError> for RunError {
    fn from(e: MagailError) -> Self {
        RunError::Setup(Box::new(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

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
pub fn demo_digest(demos: &Trajectories) -> Result<String, RunError> {
    use sha2::{Digest, Sha256};
    let bytes = mg_core::encode_demos(demos, &[], "").map_err(|e| RunError::Settings {
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

const RECORD_FORMAT: u32 = 2;

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
    fn save<D: Serialize>(
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
    fn truncate_metrics(&self, upto: usize) -> Result<(), RunError> {
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

/// One run's settings besides the trainer's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    /// The method.
    pub method: Method,
    /// Adversarial iterations (ignored for behaviour-cloning methods).
    pub iterations: usize,
    /// Checkpoint every this many iterations (and at the end).
    pub checkpoint_every: usize,
}

impl RunSettings {
    /// Iterations the run trains for: none for behaviour cloning.
    pub fn adversarial_iterations(&self) -> usize {
        if self.method.adversarial() {
            self.iterations
        } else {
            0
        }
    }
}

/// What [`train_imitator`] reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Behaviour cloning finished (`adopted`: another run's identical cloning was taken).
    Cloned {
        /// The final minibatch loss.
        loss: f64,
        /// Whether it was adopted from the cache.
        adopted: bool,
    },
    /// The run continues from its checkpoint at this iteration.
    Resumed(usize),
    /// An iteration finished.
    Iteration(&'a MagailStats),
}

/// Behaviour clonings shared between the runs of one process: a run whose cloning would be
/// another's ([`MagailTrainer::bc_key`]) adopts it instead of cloning again, waiting for it if it
/// is under way. Results are bit-identical to cloning in every run.
#[derive(Default)]
pub struct BcCache {
    done: Mutex<HashMap<u64, Arc<CloningSlot>>>,
}

/// One cloning, done once by the first run that needs it (or its error, for every run).
type CloningSlot = OnceLock<Result<ClonedPolicies, String>>;

impl BcCache {
    /// Clones `t`'s policies, or adopts the cloning of an earlier run with the same inputs.
    /// Returns the final loss and whether it was adopted.
    pub fn clone_or_adopt<G, P>(
        &self,
        t: &mut MagailTrainer<G, P>,
    ) -> Result<(f64, bool), MagailError>
    where
        G: MarkovGame + Clone + Send,
        P: PlayerFunction + Clone + Send,
    {
        let key = t.bc_key()?;
        let slot = {
            let mut m = self.done.lock().map_err(|_| {
                MagailError::Config("a run sharing behaviour clonings panicked".into())
            })?;
            m.entry(key).or_default().clone()
        };
        let mut cloned_here = false;
        let res = slot.get_or_init(|| {
            cloned_here = true;
            t.behaviour_clone_shared().map_err(|e| e.to_string())
        });
        match res {
            Err(e) => Err(MagailError::Config(format!("behaviour cloning: {e}"))),
            Ok(c) if cloned_here => Ok((c.loss(), false)),
            Ok(c) => Ok((t.adopt_clone(c)?, true)),
        }
    }

    /// Clonings held.
    pub fn len(&self) -> usize {
        self.done.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs (or continues) one imitation in `folder`: behaviour cloning, then the method's
/// adversarial iterations with a metrics line each and a checkpoint every
/// `run.checkpoint_every` and at the end. `trainer` is a new trainer for the run's game,
/// demonstrations and configuration; `game` describes the game in the caller's terms (it is
/// recorded and compared on resume). A failing iteration stops the run with an error naming it;
/// the last checkpoint stays as it was.
#[allow(clippy::too_many_arguments)]
pub fn train_imitator<G, P, D>(
    folder: &RunFolder,
    game: &D,
    demos: &Trajectories,
    mut trainer: MagailTrainer<G, P>,
    run: &RunSettings,
    existing: Existing,
    cache: Option<&BcCache>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<MagailTrainer<G, P>, RunError>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
    D: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Clone,
{
    if run.checkpoint_every == 0 {
        return Err(RunError::Settings {
            field: "checkpoint_every",
            reason: "must be at least 1 (iterations between checkpoints)".into(),
        });
    }
    let iterations = run.adversarial_iterations();
    let mut record = RunRecord {
        format: RECORD_FORMAT,
        game: game.clone(),
        method: run.method,
        config: trainer.config().clone(),
        iteration: 0,
        demo_episodes: demos.episodes.len(),
        demo_digest: demo_digest(demos)?,
    };
    let dir = folder.dir();
    let resume_from = match folder.record::<D>() {
        Err(e) if existing != Existing::ResumeOrReplace => return Err(e),
        Err(_) | Ok(None) => None,
        Ok(Some(_)) if existing == Existing::Refuse => {
            return Err(RunError::Exists(format!(
                "{} already holds a run: resume it, or choose another folder",
                dir.display()
            )));
        }
        Ok(Some(old)) => {
            let checkpoint = load_tensors(&folder.checkpoint_path()).and_then(|m| {
                let it = MagailTrainer::<G, P>::checkpoint_iteration(&m).map_err(|e| {
                    RunError::Unreadable {
                        path: folder.checkpoint_path(),
                        what: "a checkpoint that can be continued",
                        reason: e.to_string(),
                    }
                })?;
                Ok((m, it))
            });
            let why_not = match &checkpoint {
                Err(e) => Some(e.to_string()),
                Ok(_) if old.format != RECORD_FORMAT => Some(format!(
                    "{} holds a run recorded in format {}, this version writes {RECORD_FORMAT}",
                    dir.display(),
                    old.format
                )),
                Ok(_)
                    if (&old.game, old.method, &old.config)
                        != (game, run.method, &record.config) =>
                {
                    Some(format!(
                        "{} holds a run with other settings ({:?} {} against {:?} {} now, or another \
                         configuration); choose another folder",
                        dir.display(),
                        old.game,
                        old.method,
                        game,
                        run.method
                    ))
                }
                Ok(_)
                    if (old.demo_episodes, &old.demo_digest)
                        != (record.demo_episodes, &record.demo_digest) =>
                {
                    Some(format!(
                        "{} holds a run on other demonstrations ({} episodes, digest {}; these: {} \
                         episodes, digest {}); choose another folder",
                        dir.display(),
                        old.demo_episodes,
                        old.demo_digest,
                        record.demo_episodes,
                        record.demo_digest
                    ))
                }
                Ok((_, done)) if *done > iterations => Some(format!(
                    "{} holds a run of {done} iterations, more than the {iterations} asked for; \
                     choose another folder (or more iterations to continue it)",
                    dir.display()
                )),
                Ok(_) => None,
            };
            match (checkpoint, why_not) {
                (Ok(c), None) => Some(c),
                (_, Some(why)) if existing == Existing::Resume => {
                    return Err(RunError::Exists(why));
                }
                // The caller's own folder: start afresh.
                _ => None,
            }
        }
    };
    if let Some((m, done)) = resume_from {
        trainer.resume(&m).map_err(|e| RunError::Unreadable {
            path: folder.checkpoint_path(),
            what: "a checkpoint of this run",
            reason: e.to_string(),
        })?;
        folder.truncate_metrics(done)?;
        record.iteration = done;
        progress(Progress::Resumed(done));
    } else {
        let (loss, adopted) = match cache {
            Some(c) => c.clone_or_adopt(&mut trainer)?,
            None => (trainer.behaviour_clone()?, false),
        };
        progress(Progress::Cloned { loss, adopted });
        folder.save(&trainer.checkpoint()?, &record)?;
        let metrics = folder.metrics_path();
        if metrics.exists() {
            std::fs::remove_file(&metrics).map_err(io_err(&metrics))?;
        }
    }
    if trainer.iteration() >= iterations {
        return Ok(trainer);
    }
    let metrics = folder.metrics_path();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics)
        .map_err(io_err(&metrics))?;
    while trainer.iteration() < iterations {
        let s = trainer.iterate().map_err(|source| RunError::Train {
            source: Box::new(source),
            kept: record.iteration,
            dir: dir.to_path_buf(),
        })?;
        let line = serde_json::to_string(&s).map_err(|e| RunError::Unreadable {
            path: metrics.clone(),
            what: "writable as JSON",
            reason: e.to_string(),
        })?;
        writeln!(log, "{line}").map_err(io_err(&metrics))?;
        progress(Progress::Iteration(&s));
        if s.iteration % run.checkpoint_every == 0 || s.iteration == iterations {
            log.flush().map_err(io_err(&metrics))?;
            record.iteration = s.iteration;
            folder.save(&trainer.checkpoint()?, &record)?;
        }
    }
    Ok(trainer)
}

/// The evaluation every command reports: the policy, uniformly random actions and a reference
/// policy, each played on the same seeded episodes, and the normalized score
/// (score − random) / (reference − random): random = 0, reference = 1. For an imitator the
/// reference is its demonstrator; for an expert, the scripted policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Episodes played by each.
    pub episodes: usize,
    /// The evaluation episodes' seed.
    pub seed: u64,
    /// The policy's mean team return (mean over agents of each episode's return).
    pub score: f64,
    /// Random actions' mean team return.
    pub random: f64,
    /// The reference's mean team return.
    pub reference: f64,
}

impl Evaluation {
    /// (score − random) / (reference − random); `None` when the reference does no better or
    /// worse than random (the ratio is then undefined).
    pub fn normalized(&self) -> Option<f64> {
        normalize(self.score, self.random, self.reference)
    }
}

/// The normalized score (score − random) / (reference − random); `None` when the reference
/// scores as random does (or a value is not finite).
pub fn normalize(score: f64, random: f64, reference: f64) -> Option<f64> {
    let d = reference - random;
    let v = (score - random) / d;
    (d != 0.0 && v.is_finite()).then_some(v)
}

/// The seed of every evaluation's episodes (disjoint from training streams).
pub const EVAL_SEED: u64 = 1_000_003;

/// Plays `episodes` whole episodes of the game with `policies` on the episodes of `seed` (the
/// same episodes whatever the policies), and returns them.
pub fn play<G, P>(
    game: G,
    player: P,
    policies: &[&dyn Policy],
    episodes: usize,
    seed: u64,
) -> Result<Trajectories, RunError>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    if episodes == 0 {
        return Err(RunError::Settings {
            field: "episodes",
            reason: "must be at least 1: returns over no episode are undefined".into(),
        });
    }
    let mut c = Collector::new(
        game,
        player,
        RolloutConfig {
            envs: episodes.clamp(1, 32),
            workers: 2,
            seed,
            history_k: 0,
        },
    )
    .map_err(|e| RunError::from(MagailError::from(e)))?;
    c.collect_episodes(policies, episodes)
        .map_err(|e| RunError::from(MagailError::from(e)))
}

/// Per-agent mean and standard deviation of episode returns, and the team mean (the mean over
/// agents of each episode's returns, averaged over episodes).
pub fn return_stats(set: &Trajectories) -> (Vec<(f64, f64)>, f64) {
    let rets: Vec<Vec<f64>> = set.episodes.iter().map(|e| e.returns()).collect();
    let n = set.obs_dims.len();
    let k = rets.len().max(1) as f64;
    let per: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let m = rets.iter().map(|r| r[i]).sum::<f64>() / k;
            let v = rets.iter().map(|r| (r[i] - m).powi(2)).sum::<f64>() / k;
            (m, v.sqrt())
        })
        .collect();
    let team = rets
        .iter()
        .map(|r| r.iter().sum::<f64>() / n as f64)
        .sum::<f64>()
        / k;
    (per, team)
}
