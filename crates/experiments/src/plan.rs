//! A plan: the cells of a reproduction, written once to `DIR/plan.json`, each with its own
//! folder `DIR/cells/<id>/` (its run folder and, once finished, `result.json`). Any process that
//! can read the folder can run any cell of it (`run_recorded`), which is what the local workers
//! and a Slurm array task both do.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use envs::GameChoice;
use magail_async::run::{self, BcCache, Method, RunError};
use serde::{Deserialize, Serialize};

use crate::cell::{CellResult, CellSpec, Demonstrator, Generator, RESULT_FILE, run_cell};
use crate::checkpoint::{game_for, read_sidecar};
use crate::error::{ExperimentError, Result};
use crate::papers::Experiment;

/// The plan file in a reproduction's folder.
pub const PLAN_FILE: &str = "plan.json";
/// Written in a cell's folder when its run failed (the error), removed when it is run again.
pub const FAILED_FILE: &str = "failed.txt";

/// Which cells a reproduction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Four cells of a few iterations: the machinery end to end in well under two minutes.
    Smoke,
    /// Cooperative navigation (BC, GAIL, MAGAIL-C, MAGAIL-D at 100, 200, 400 demonstrations)
    /// and stochastic navigation (BC-φ, BC, MAGAIL-φ, AMAGAIL at 200), the quick generator.
    Quick,
    /// The quick preset's cells with the full generator.
    Full,
}

impl Preset {
    /// The preset's generator.
    pub fn generator(self) -> Generator {
        match self {
            Preset::Smoke => Generator::SMOKE,
            Preset::Quick => Generator::QUICK,
            Preset::Full => Generator::FULL,
        }
    }

    /// The preset's behaviour-cloning epochs.
    pub fn bc_epochs(self) -> usize {
        match self {
            Preset::Smoke => 20,
            Preset::Quick | Preset::Full => 1000,
        }
    }

    /// The preset's evaluation episodes.
    pub fn episodes(self) -> usize {
        match self {
            Preset::Smoke => 10,
            Preset::Quick | Preset::Full => 100,
        }
    }

    /// The name in titles.
    pub fn title(self) -> &'static str {
        match self {
            Preset::Smoke => "Smoke",
            Preset::Quick => "Quick",
            Preset::Full => "Full",
        }
    }
}

/// What a plan is made from: a preset and the settings given in place of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanOptions {
    /// The cells.
    pub preset: Preset,
    /// The generator of every adversarial cell.
    pub generator: Generator,
    /// Behaviour-cloning epochs.
    pub bc_epochs: usize,
    /// Evaluation episodes per cell.
    pub episodes: usize,
    /// One replicate of every cell per seed.
    pub seeds: Vec<u64>,
    /// Who demonstrates in cooperative navigation.
    pub demonstrator: Demonstrator,
    /// Who demonstrates in stochastic navigation.
    pub stoch_demonstrator: Demonstrator,
    /// The papers' experiments instead of the preset's cells (each with its own game, methods,
    /// demonstrations and shipped expert), trained with the preset's generator.
    pub papers: Option<Vec<Experiment>>,
    /// The evaluation protocol the cells are scored under ([`crate::PROTOCOL`]).
    pub protocol: u32,
}

impl PlanOptions {
    /// The preset with its own settings, seed 0, and `demonstrator` in both games.
    pub fn new(preset: Preset, demonstrator: Demonstrator) -> Self {
        Self {
            preset,
            generator: preset.generator(),
            bc_epochs: preset.bc_epochs(),
            episodes: preset.episodes(),
            seeds: vec![0],
            stoch_demonstrator: demonstrator.clone(),
            demonstrator,
            papers: None,
            protocol: 1,
        }
    }

    /// The papers' `experiments` with the preset's generator, scored under the current
    /// evaluation protocol ([`crate::PROTOCOL`], [`crate::PROTOCOL_EPISODES`] episodes), except
    /// the smoke preset, whose few episodes only try the machinery.
    pub fn papers(preset: Preset, experiments: Vec<Experiment>) -> Self {
        let mut o = Self::new(preset, Demonstrator::Scripted);
        o.papers = Some(experiments);
        if preset != Preset::Smoke {
            o.protocol = crate::PROTOCOL;
            o.episodes = crate::PROTOCOL_EPISODES;
        }
        o
    }
}

/// The cells of a reproduction, in table order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What the tables are called.
    pub title: String,
    /// Every cell.
    pub cells: Vec<CellSpec>,
}

/// Where a cell stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    /// Finished; its result.
    Done(Box<CellResult>),
    /// Another process holds its run folder.
    Running,
    /// Its last run failed (the error).
    Failed(String),
    /// Its last run was stopped partway: it resumes from its checkpoint of this adversarial
    /// iteration, or starts over where none was written (`None`).
    Stopped(Option<usize>),
    /// Never started.
    ToDo,
}

impl CellState {
    /// `done`, `running`, `failed`, `stopped` or `to do`.
    pub fn word(&self) -> &'static str {
        match self {
            CellState::Done(_) => "done",
            CellState::Running => "running",
            CellState::Failed(_) => "failed",
            CellState::Stopped(_) => "stopped",
            CellState::ToDo => "to do",
        }
    }

    /// What is left of cell `spec` in this state, run alone, in
    /// [`CellSpec::estimated_seconds`]'s seconds: nothing when done, the iterations not yet
    /// run when stopped, all of it otherwise.
    pub fn seconds_left(&self, spec: &CellSpec) -> f64 {
        match self {
            CellState::Done(_) => 0.0,
            _ => spec.estimated_seconds_from(self.resumed()),
        }
    }

    /// The checkpoint's iteration a stopped cell resumes from.
    fn resumed(&self) -> Option<usize> {
        match self {
            CellState::Stopped(k) => *k,
            _ => None,
        }
    }
}

/// What is left of `cells` (each with its state) when one process runs them all: each cell's
/// own work, and each behaviour cloning once however many of the cells adopt it.
pub fn seconds_left_together<'a>(
    cells: impl IntoIterator<Item = (&'a CellSpec, &'a CellState)>,
) -> f64 {
    let mut clonings = std::collections::HashMap::new();
    let mut total = 0.0;
    for (c, s) in cells {
        if matches!(s, CellState::Done(_)) {
            continue;
        }
        let resumed = s.resumed();
        total += c.own_seconds_after(resumed.unwrap_or(0));
        for (k, secs) in c.clonings(resumed) {
            clonings.insert(k, secs);
        }
    }
    total + clonings.values().sum::<f64>()
}

/// A cell's folder in the reproduction folder `dir`.
pub fn cell_dir(dir: &Path, id: &str) -> PathBuf {
    dir.join("cells").join(id)
}

impl Plan {
    /// The plan of a preset.
    pub fn new(o: &PlanOptions) -> Self {
        let nav = GameChoice::new("cooperative_navigation", envs::Variant::Paper);
        let stoch = GameChoice::new("stoch_navigation", envs::Variant::Paper);
        let (nav_demos, nav_methods, stoch_demos, stoch_methods): (
            &[usize],
            &[Method],
            usize,
            &[Method],
        ) = match o.preset {
            Preset::Smoke => (
                &[20],
                &[Method::Bc, Method::MagailC, Method::MagailD],
                20,
                &[Method::Amagail],
            ),
            Preset::Quick | Preset::Full => (
                &[100, 200, 400],
                &[Method::Bc, Method::Gail, Method::MagailC, Method::MagailD],
                200,
                &[
                    Method::BcPhi,
                    Method::Bc,
                    Method::MagailPhi,
                    Method::Amagail,
                ],
            ),
        };
        let cell =
            |experiment: Experiment, game: &GameChoice, who: &Demonstrator, method, demos, seed| {
                CellSpec {
                    experiment,
                    game: game.clone(),
                    method,
                    demos,
                    seed,
                    demonstrator: who.clone(),
                    generator: o.generator,
                    bc_epochs: o.bc_epochs,
                    episodes: o.episodes,
                    opponents: None,
                    protocol: o.protocol,
                }
            };
        if let Some(experiments) = &o.papers {
            return Plan::papers(o, experiments);
        }
        let mut cells = Vec::new();
        for &seed in &o.seeds {
            for &demos in nav_demos {
                for &m in nav_methods {
                    cells.push(cell(
                        Experiment::Navigation,
                        &nav,
                        &o.demonstrator,
                        m,
                        demos,
                        seed,
                    ));
                }
            }
            for &m in stoch_methods {
                cells.push(cell(
                    Experiment::StochNavigation,
                    &stoch,
                    &o.stoch_demonstrator,
                    m,
                    stoch_demos,
                    seed,
                ));
            }
        }
        Plan {
            title: o.preset.title().into(),
            cells,
        }
    }

    /// The cells of the papers' `experiments`: every (seed, demonstrations, method) of each,
    /// demonstrated by its shipped expert, with `o`'s generator, cloning and episodes.
    fn papers(o: &PlanOptions, experiments: &[Experiment]) -> Self {
        let mut cells = Vec::new();
        for &seed in &o.seeds {
            for e in experiments {
                for &demos in e.demos() {
                    for &method in e.methods() {
                        cells.push(CellSpec {
                            experiment: *e,
                            game: e.game(),
                            method,
                            demos,
                            seed,
                            demonstrator: Demonstrator::Expert(e.expert()),
                            generator: o.generator,
                            bc_epochs: o.bc_epochs,
                            episodes: o.episodes,
                            opponents: e.opponents(),
                            protocol: o.protocol,
                        });
                    }
                }
            }
        }
        Plan {
            title: format!("The papers ({} generator)", o.preset.title()),
            cells,
        }
    }

    /// Refuses a plan that cannot run, before any cell starts: settings out of range, and each
    /// demonstrator checkpoint missing or unable to play its cells' game (one clear error, not
    /// one per cell).
    pub fn validate(&self, root: &Path) -> Result<()> {
        if self.cells.is_empty() {
            return Err(ExperimentError::Settings {
                field: "cells",
                reason: "the plan has none: expected at least one cell".into(),
            });
        }
        let mut checked: Vec<(PathBuf, GameChoice)> = Vec::new();
        for c in &self.cells {
            c.validate()?;
            if let Some(path) = c.demonstrator.path(root) {
                if checked.iter().any(|(p, g)| *p == path && *g == c.game) {
                    continue;
                }
                let (meta, _) = read_sidecar(&path)?;
                game_for(&meta, Some(&c.game.env), Some(c.game.variant))?;
                checked.push((path, c.game.clone()));
            }
        }
        Ok(())
    }

    /// Writes the plan to `dir/plan.json` (atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| ExperimentError::File {
            path: dir.join(PLAN_FILE),
            reason: e.to_string(),
        })?;
        run::write_atomic(&dir.join(PLAN_FILE), |w| {
            std::io::Write::write_all(w, text.as_bytes())
        })?;
        Ok(())
    }

    /// Reads `dir/plan.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ExperimentError::File {
            path: path.clone(),
            reason: format!(
                "cannot read the plan ({e}): expected the folder of a reproduction, written by \
                 `cargo xtask reproduce`"
            ),
        })?;
        serde_json::from_str(&text).map_err(|e| ExperimentError::File {
            path,
            reason: format!("is not a reproduction plan: {e}"),
        })
    }

    /// The cell of an id.
    pub fn cell(&self, id: &str) -> Result<&CellSpec> {
        self.cells
            .iter()
            .find(|c| c.id() == id)
            .ok_or_else(|| ExperimentError::Settings {
                field: "cell",
                reason: format!(
                    "`{id}` is not a cell of this plan ({} cells; `--plan` lists them)",
                    self.cells.len()
                ),
            })
    }

    /// Where each cell stands.
    pub fn states(&self, dir: &Path) -> Vec<CellState> {
        self.cells.iter().map(|c| cell_state(dir, c)).collect()
    }
}

/// Where one cell stands in the reproduction folder `dir`.
pub fn cell_state(dir: &Path, spec: &CellSpec) -> CellState {
    let cdir = cell_dir(dir, &spec.id());
    if let Some(r) = std::fs::read_to_string(cdir.join(RESULT_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<CellResult>(&t).ok())
        .filter(|r| r.spec == *spec)
    {
        return CellState::Done(Box::new(r));
    }
    let run_dir = cdir.join("run");
    if run_dir.is_dir() {
        match run::RunFolder::open(&run_dir) {
            Err(RunError::Busy(_)) => return CellState::Running,
            Err(e) => return CellState::Failed(e.to_string()),
            Ok(_) => {}
        }
    }
    if let Ok(t) = std::fs::read_to_string(cdir.join(FAILED_FILE)) {
        return CellState::Failed(t.trim().to_string());
    }
    if !run_dir.is_dir() {
        return CellState::ToDo;
    }
    // Where it resumes: its last checkpoint (metrics written after it are cut back to it).
    CellState::Stopped(crate::cell::recorded_iteration(&run_dir).ok().flatten())
}

/// Runs (or resumes) one cell of the reproduction folder `dir`, recording a failure in its
/// folder (`failed.txt`, removed once it finishes). A cell already done is returned as it is.
pub fn run_recorded(
    spec: &CellSpec,
    root: &Path,
    dir: &Path,
    cache: Option<&BcCache>,
    progress: &mut dyn FnMut(run::Progress<'_>),
) -> Result<CellResult> {
    if let CellState::Done(r) = cell_state(dir, spec) {
        return Ok(*r);
    }
    let cdir = cell_dir(dir, &spec.id());
    let failed = cdir.join(FAILED_FILE);
    let res = run_cell(spec, root, &cdir, cache, progress);
    match &res {
        Ok(_) => {
            let _ = std::fs::remove_file(&failed);
        }
        // A cell another process is running has not failed; its own run records how it ends.
        Err(ExperimentError::Run(RunError::Busy(_))) => {}
        Err(e) => {
            let text = format!("{e}\n");
            run::write_atomic(&failed, |w| std::io::Write::write_all(w, text.as_bytes()))?;
        }
    }
    res
}

/// What the local executor tells its caller as cells go.
pub trait Observer: Sync {
    /// A cell starts.
    fn started(&self, cell: &CellSpec);
    /// A cell's run reports progress.
    fn progress(&self, cell: &CellSpec, p: &run::Progress<'_>);
    /// A cell ended, with its result or error.
    fn finished(
        &self,
        cell: &CellSpec,
        outcome: std::result::Result<&CellResult, &ExperimentError>,
    );
}

/// An observer that says nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn started(&self, _: &CellSpec) {}
    fn progress(&self, _: &CellSpec, _: &run::Progress<'_>) {}
    fn finished(&self, _: &CellSpec, _: std::result::Result<&CellResult, &ExperimentError>) {}
}

/// Runs every cell of `plan` not yet done on `workers` threads of this process, the costliest
/// first; cells of one demonstration set share their behaviour cloning. Killing the process
/// stops every cell; running the same plan again resumes them. Errors name every failed cell.
pub fn run_local(
    plan: &Plan,
    root: &Path,
    dir: &Path,
    workers: usize,
    observer: &dyn Observer,
) -> Result<()> {
    if workers == 0 {
        return Err(ExperimentError::Settings {
            field: "workers",
            reason: "is 0: expected at least 1".into(),
        });
    }
    let todo: Vec<(&CellSpec, CellState)> = plan
        .cells
        .iter()
        .map(|c| (c, cell_state(dir, c)))
        .filter(|(_, s)| !matches!(s, CellState::Done(_)))
        .collect();
    let todo = schedule(&todo);
    let queue = Mutex::new(todo.into_iter());
    let cache = BcCache::default();
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some(cell) = next else { break };
                    observer.started(cell);
                    let res = run_recorded(cell, root, dir, Some(&cache), &mut |p| {
                        observer.progress(cell, &p)
                    });
                    observer.finished(cell, res.as_ref());
                    if let (Err(e), Ok(mut v)) = (res, errors.lock()) {
                        v.push(format!("{}: {e}", cell.id()));
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ExperimentError::Cells(errors))
    }
}

/// The order in which `run_local` takes cells: one experiment at a time, the experiment with the
/// least work left first ([`seconds_left_together`]), so that whole experiments (and their
/// verdicts) finish while the rest still runs; within an experiment the longest cells first
/// ([`CellState::seconds_left`]), so that its last cells do not leave a worker idle for long.
pub fn schedule<'a>(cells: &[(&'a CellSpec, CellState)]) -> Vec<&'a CellSpec> {
    let mut left: Vec<(Experiment, f64)> = Vec::new();
    for (c, _) in cells {
        if !left.iter().any(|(e, _)| *e == c.experiment) {
            let mine = cells.iter().filter(|(x, _)| x.experiment == c.experiment);
            left.push((
                c.experiment,
                seconds_left_together(mine.map(|(x, s)| (*x, s))),
            ));
        }
    }
    let rank = |e: Experiment| left.iter().find(|(x, _)| *x == e).map_or(0.0, |(_, t)| *t);
    let mut costed: Vec<(f64, &CellSpec)> =
        cells.iter().map(|(c, s)| (s.seconds_left(c), *c)).collect();
    costed.sort_by(|a, b| {
        rank(a.1.experiment)
            .total_cmp(&rank(b.1.experiment))
            .then_with(|| a.1.experiment.name().cmp(b.1.experiment.name()))
            .then_with(|| b.0.total_cmp(&a.0))
    });
    costed.into_iter().map(|(_, c)| c).collect()
}

/// The plan as `--plan` prints it: each cell's id, state and estimated cost, then the counts.
pub fn listing(plan: &Plan, states: &[CellState], dir: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = format!("plan of {} cells in {}\n", plan.cells.len(), dir.display());
    let _ = writeln!(out, "{:<48} {:<8} {:>9}  note", "cell", "state", "estimate");
    for (c, s) in plan.cells.iter().zip(states) {
        let note = match s {
            CellState::Done(r) => format!("normalized {:.3}", r.normalized),
            CellState::Failed(why) => why.lines().next().unwrap_or("").to_string(),
            CellState::Stopped(Some(k)) => format!(
                "resumes from its checkpoint at iteration {k} of {}",
                if c.method.adversarial() {
                    c.generator.iterations
                } else {
                    0
                }
            ),
            CellState::Stopped(None) => "stopped before its first checkpoint: starts over".into(),
            _ => String::new(),
        };
        let shown = match s {
            CellState::Done(_) => c.estimated_seconds(),
            _ => s.seconds_left(c),
        };
        let _ = writeln!(
            out,
            "{:<48} {:<8} {:>8.0}s  {note}",
            c.id(),
            s.word(),
            shown
        );
    }
    let count = |w: &str| states.iter().filter(|s| s.word() == w).count();
    let left = seconds_left_together(plan.cells.iter().zip(states));
    let _ = writeln!(
        out,
        "{} done, {} running, {} stopped, {} failed, {} to do; about {:.1} core-minutes left \
         (estimates from cells measured on a 2-core machine, two at a time; each cell's figure \
         as if run alone, the total with the clonings cells share counted once)",
        count("done"),
        count("running"),
        count("stopped"),
        count("failed"),
        count("to do"),
        left / 60.0
    );
    out
}
