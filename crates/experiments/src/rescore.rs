//! Re-scoring: a plan's cells scored from run folders trained before (under an earlier
//! evaluation protocol, or in another reproduction folder), without training. A cell's
//! training does not depend on how it is scored ([`CellSpec::same_training`]), so a finished
//! run folder of the same training is moved into the cell's folder and scored there; cells
//! whose earlier training left no run folder are named, to be re-run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use magail_async::run::BcCache;

use crate::cell::{CellResult, CellSpec, RESULT_FILE, rescore_cell};
use crate::error::{ExperimentError, Result};
use crate::plan::{CellState, PLAN_FILE, Plan, cell_dir, cell_state};

/// What re-scoring did to each cell of a plan that was not done.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rescored {
    /// Scored under the plan's protocol from a finished run folder.
    pub scored: Vec<String>,
    /// Its run folder is in place but its training is unfinished: running the plan resumes it.
    pub unfinished: Vec<String>,
    /// Trained before (a result of the same training exists) but its run folder is gone: it
    /// must be re-run.
    pub gone: Vec<String>,
    /// Never trained anywhere searched.
    pub untrained: Vec<String>,
    /// Cells whose scoring failed, with the error.
    pub failed: Vec<String>,
}

/// A cell folder found in a source: its training settings and its run folder, if any.
struct Found {
    spec: CellSpec,
    run: Option<PathBuf>,
}

/// The cell folders of the reproduction folder `src`: each one's spec (from its result, or
/// from the source's plan) and run folder.
fn scan(src: &Path) -> Result<Vec<Found>> {
    let cells = src.join("cells");
    let Ok(entries) = std::fs::read_dir(&cells) else {
        return Ok(Vec::new());
    };
    let planned: HashMap<String, CellSpec> = match std::fs::read_to_string(src.join(PLAN_FILE)) {
        Ok(text) => serde_json::from_str::<Plan>(&text)
            .map_err(|e| ExperimentError::File {
                path: src.join(PLAN_FILE),
                reason: format!("is not a reproduction plan: {e}"),
            })?
            .cells
            .into_iter()
            .map(|c| (c.id(), c))
            .collect(),
        Err(_) => HashMap::new(),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let id = entry.file_name().to_string_lossy().to_string();
        let spec = std::fs::read_to_string(dir.join(RESULT_FILE))
            .ok()
            .and_then(|t| serde_json::from_str::<CellResult>(&t).ok())
            .map(|r| r.spec)
            .or_else(|| planned.get(&id).cloned());
        if let Some(spec) = spec {
            let run = dir.join("run");
            out.push(Found {
                spec,
                run: run.join("imitator.json").is_file().then_some(run),
            });
        }
    }
    Ok(out)
}

/// Moves a run folder (a rename, or a copy and removal across file systems).
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| ExperimentError::File {
        path: path.to_path_buf(),
        reason: format!("cannot move the run folder here: {e}"),
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    // Copied into a temporary name first, so an interrupted copy is never taken for a run.
    let tmp = to.with_extension("moving");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))?.flatten() {
        let target = tmp.join(entry.file_name());
        std::fs::copy(entry.path(), &target).map_err(|e| io(&target, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| io(to, e))?;
    std::fs::remove_dir_all(from).map_err(|e| io(from, e))?;
    Ok(())
}

/// Scores every cell of `plan` in `dir` that is not done from a run folder of the same
/// training: its own, or one found in `dir` or in the reproduction folders `sources` (moved
/// into the cell's folder). Nothing is trained. `root` resolves relative demonstrator paths.
pub fn rescore(plan: &Plan, root: &Path, dir: &Path, sources: &[PathBuf]) -> Result<Rescored> {
    let mut found = scan(dir)?;
    for s in sources {
        found.extend(scan(s)?);
    }
    let cache = BcCache::default();
    let mut out = Rescored::default();
    for spec in &plan.cells {
        if matches!(cell_state(dir, spec), CellState::Done(_)) {
            continue;
        }
        let id = spec.id();
        let run = cell_dir(dir, &id).join("run");
        if !run.join("imitator.json").is_file() {
            let source = found
                .iter()
                .filter(|f| f.spec.id() != id && spec.same_training(&f.spec))
                .find_map(|f| f.run.clone());
            match source {
                Some(src) => {
                    if run.exists() {
                        std::fs::remove_dir_all(&run).map_err(|e| ExperimentError::File {
                            path: run.clone(),
                            reason: format!("cannot replace an empty run folder: {e}"),
                        })?;
                    }
                    move_dir(&src, &run)?;
                }
                None => {
                    let trained = found
                        .iter()
                        .any(|f| f.spec.id() != id && spec.same_training(&f.spec));
                    if trained {
                        out.gone.push(id);
                    } else {
                        out.untrained.push(id);
                    }
                    continue;
                }
            }
        }
        match rescore_cell(spec, root, &cell_dir(dir, &id), Some(&cache)) {
            Ok(_) => out.scored.push(id),
            Err(ExperimentError::NotTrained { .. }) => out.unfinished.push(id),
            Err(e) => out.failed.push(format!("{id}: {e}")),
        }
    }
    Ok(out)
}
