//! The whole run: behaviour cloning (shared between runs that would clone alike), the
//! adversarial loop, metrics, checkpoints and exact resume.

use std::collections::HashMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, OnceLock};

use mg_core::{Demonstrations, MarkovGame, PlayerFunction};
use serde::{Serialize, de::DeserializeOwned};

use super::folder::{Existing, RECORD_FORMAT, RunFolder, RunRecord, demo_digest, load_tensors};
use super::method::Method;
use super::{RunError, io_err};
use crate::magail::{ClonedPolicies, MagailError, MagailStats, MagailTrainer};

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
///
/// `progress` hears of every step; answering [`ControlFlow::Break`] to an iteration stops the
/// run there with a checkpoint of that iteration (a user's Ctrl-C, say), and the trainer comes
/// back with fewer iterations than asked: the folder resumes exactly.
#[allow(clippy::too_many_arguments)]
pub fn train_imitator<G, P, D>(
    folder: &RunFolder,
    game: &D,
    demos: &Demonstrations,
    mut trainer: MagailTrainer<G, P>,
    run: &RunSettings,
    existing: Existing,
    cache: Option<&BcCache>,
    progress: &mut dyn FnMut(Progress<'_>) -> ControlFlow<()>,
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
        demo_episodes: demos.episodes(),
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
        // Resuming is itself the step that follows a stop: a stop asked here waits for the
        // next iteration.
        let _ = progress(Progress::Resumed(done));
    } else {
        let (loss, adopted) = match cache {
            Some(c) => c.clone_or_adopt(&mut trainer)?,
            None => (trainer.behaviour_clone()?, false),
        };
        let _ = progress(Progress::Cloned { loss, adopted });
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
        let stop = progress(Progress::Iteration(&s)).is_break();
        if stop || s.iteration % run.checkpoint_every == 0 || s.iteration == iterations {
            log.flush().map_err(io_err(&metrics))?;
            record.iteration = s.iteration;
            folder.save(&trainer.checkpoint()?, &record)?;
        }
        if stop {
            break;
        }
    }
    Ok(trainer)
}
