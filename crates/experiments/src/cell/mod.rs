//! One cell of an experiment's table: a method trained on one demonstration set of one game,
//! from one seed, and scored. A cell's settings are all in its [`CellSpec`]; its id is derived
//! from them, so a cell made under other settings is another cell with another folder.

mod spec;

pub use spec::{CellSpec, CloningKey, Demonstrator, Generator, PROTOCOL, PROTOCOL_EPISODES};

use std::io::Write;
use std::path::Path;

use magail_async::run::{self, BcCache, Existing, Method, RunFolder, RunSettings};
use magail_async::{MagailError, MagailTrainer, Policy};
use mg_core::{Demonstrations, MarkovGame};
use serde::{Deserialize, Serialize};

use crate::checkpoint::load_checkpoint;
use crate::episodes::Series;
use crate::error::{ExperimentError, Result};
use crate::evaluate::{
    Sides, TEST_SEED, VALIDATION_SEED, Who, adversaries_of, match_episodes, play, score_on,
};
use crate::provenance::{Provenance, Stamp, stamp_training, trained_by};

/// Scores on one set of evaluation episodes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Team mean return of the imitator.
    pub score: f64,
    /// Team mean return of random actions on the same episodes.
    pub random: f64,
    /// Team mean return of the demonstrator on the same episodes.
    pub expert: f64,
    /// (score − random) / (expert − random).
    pub normalized: f64,
}

/// One pairing of a competitive table: the good agents' mean return when `agents` play the
/// good side and `adversaries` the adversaries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchScore {
    /// Who trained the good agents.
    pub agents: Method,
    /// Who trained the adversaries.
    pub adversaries: Method,
    /// On the validation episodes.
    pub validation: f64,
    /// On the test episodes.
    pub test: f64,
    /// The adversaries' mean return on the same episodes (validation, test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversaries_return: Option<Sets<f64>>,
    /// Each episode's mean return of the good agents and of the adversaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Sets<MatchSeries>>,
}

/// One value for each set of evaluation episodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sets<T> {
    /// On the validation episodes.
    pub validation: T,
    /// On the test episodes.
    pub test: T,
}

/// A match's episodes: each one's mean return of either side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchSeries {
    /// The good agents'.
    pub good: Series,
    /// The adversaries'.
    pub adversaries: Series,
}

/// A finished cell: its settings and its scores. The top-level scores are on the **test**
/// episodes (what tables report); `validation` holds the same on the validation episodes (what
/// settings may be chosen on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The cell's id.
    pub id: String,
    /// The cell's settings.
    pub spec: CellSpec,
    /// Team mean return of the imitator on the test episodes.
    pub score: f64,
    /// Team mean return of random actions on the same episodes.
    pub random: f64,
    /// Team mean return of the demonstrator on the same episodes.
    pub expert: f64,
    /// (score − random) / (expert − random).
    pub normalized: f64,
    /// The same on the validation episodes.
    pub validation: Scores,
    /// Competitive cells: the pairings with behaviour-cloned opponents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<MatchScore>,
    /// The imitator's team return, episode by episode (random actions and the demonstrator
    /// meet the same episodes in every cell of a game, so their means above suffice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Sets<Series>>,
    /// Competitive cells: the demonstrators' own mean return of each side when they play each
    /// other on the test episodes (the scale of the game, beside the paper's levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demonstrators: Option<Sides>,
    /// The programs that trained and scored the cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl CellResult {
    /// The normalized test score of each episode, (return − random) / (demonstrator − random)
    /// with the cell's means of random actions and the demonstrator on the same episodes; the
    /// cell's mean alone where it kept no episodes.
    pub fn normalized_episodes(&self) -> Vec<f64> {
        match &self.episodes {
            Some(ep) => {
                let d = self.expert - self.random;
                ep.test
                    .values()
                    .iter()
                    .map(|x| (x - self.random) / d)
                    .collect()
            }
            None => vec![self.normalized],
        }
    }
}

/// A new trainer for `spec` on `demos`, configured as the cell says.
fn trainer(
    spec: &CellSpec,
    demos: &Demonstrations,
) -> Result<MagailTrainer<envs::ParticleEnv, mg_core::PlayerRule>> {
    let (env, player) = spec.game.build()?;
    let mut cfg = spec.method.config(env.spec(), spec.seed);
    let n = env.spec().n_agents();
    if spec.method == Method::MagailZs && n > 2 {
        // Zero-sum between the adversaries and the good agents (docs/algorithms/magail.md).
        cfg.teams = (0..n).map(|i| env.is_adversary(i)).collect();
    }
    cfg.bc_epochs = spec.bc_epochs;
    spec.generator.apply(&mut cfg);
    MagailTrainer::new(env, player, demos, cfg).map_err(|e| match e {
        e @ MagailError::Config(_) => ExperimentError::Setup(format!("invalid settings: {e}")),
        e => ExperimentError::Setup(format!(
            "the demonstrations do not fit {}: {e}",
            spec.game.env
        )),
    })
}

fn normalized(spec: &CellSpec, e: &run::Evaluation, which: &str) -> Result<f64> {
    e.normalized().ok_or_else(|| {
        ExperimentError::Score(format!(
            "{} at {} demonstrations: the normalized score on the {which} episodes is undefined \
             (return {}, random {}, demonstrator {} over {} episodes)",
            spec.method.label(),
            spec.demos,
            e.score,
            e.random,
            e.reference,
            spec.episodes
        ))
    })
}

/// Trains (or resumes) a cell in its folder `dir` (the run folder is `dir/run`), scores it and
/// writes its result to `dir/result.json`.
/// `root` resolves a relative demonstrator path; `cache` shares behaviour clonings between the
/// cells of one process (the same bytes as cloning in each).
pub fn run_cell(
    spec: &CellSpec,
    root: &Path,
    dir: &Path,
    cache: Option<&BcCache>,
    progress: &mut dyn FnMut(run::Progress<'_>),
) -> Result<CellResult> {
    cell(spec, root, dir, cache, progress, true)
}

/// Scores a cell whose run folder `dir/run` holds its finished training, without training
/// (the folder may have been trained under an earlier evaluation protocol), and writes its
/// result. A run folder that is missing or unfinished is refused ([`ExperimentError::NotTrained`]).
pub fn rescore_cell(
    spec: &CellSpec,
    root: &Path,
    dir: &Path,
    cache: Option<&BcCache>,
) -> Result<CellResult> {
    cell(spec, root, dir, cache, &mut |_| {}, false)
}

fn cell(
    spec: &CellSpec,
    root: &Path,
    dir: &Path,
    cache: Option<&BcCache>,
    progress: &mut dyn FnMut(run::Progress<'_>),
    train: bool,
) -> Result<CellResult> {
    spec.validate()?;
    // A cell run alone still clones once where its start and its cloned opponents are the same
    // cloning (GAIL's start and BC's, in the competitive games): adopting it gives the same
    // bytes as cloning twice.
    let own = BcCache::default();
    let cache = cache.unwrap_or(&own);
    let expert = match spec.demonstrator.path(root) {
        Some(path) => Some(load_checkpoint(&path)?),
        None => None,
    };
    let expert_pols = expert
        .as_ref()
        .map(|(_, l)| l.policies(false))
        .transpose()
        .map_err(|e| ExperimentError::Checkpoint {
            path: spec.demonstrator.path(root).unwrap_or_default(),
            reason: format!("its policies cannot be built: {e}"),
        })?
        .unwrap_or_default();
    let expert_refs: Vec<&dyn Policy> = expert_pols.iter().map(|p| p as &dyn Policy).collect();
    let demonstrator = || {
        if expert_refs.is_empty() {
            Who::Scripted
        } else {
            Who::Learned(&expert_refs)
        }
    };
    let demos = Demonstrations::new(&play(
        &spec.game,
        demonstrator(),
        spec.demos,
        spec.seed.wrapping_add(7),
    )?)
    .map_err(|e| ExperimentError::Setup(format!("the recorded demonstrations: {e}")))?;
    let trainer = trainer(spec, &demos)?;
    let settings = RunSettings {
        method: spec.method,
        iterations: spec.generator.iterations,
        checkpoint_every: 25,
    };
    let run_dir = dir.join("run");
    if !train {
        unfinished(&run_dir, &settings)?;
    }
    let folder = RunFolder::open(&run_dir)?;
    if train {
        stamp_training(&run_dir)?;
    }
    let t = run::train_imitator(
        &folder,
        &spec.game,
        &demos,
        trainer,
        &settings,
        if train {
            Existing::ResumeOrReplace
        } else {
            Existing::Resume
        },
        Some(cache),
        &mut |p| {
            progress(p);
            std::ops::ControlFlow::Continue(())
        },
    )?;
    let pols = t
        .learners()
        .policies(false)
        .map_err(|e| ExperimentError::Score(format!("the trained policies: {e}")))?;
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let test = score_on(&spec.game, &refs, demonstrator(), spec.episodes, TEST_SEED)?;
    let val = score_on(
        &spec.game,
        &refs,
        demonstrator(),
        spec.episodes,
        VALIDATION_SEED,
    )?;
    let (matches, demonstrators) = match spec.opponents {
        Some(by) => (
            crossplay(spec, by, &demos, &refs, cache)?,
            Some(Sides::of(
                &adversaries_of(&spec.game)?,
                &test.reference_agents,
            )),
        ),
        None => (Vec::new(), None),
    };
    let result = CellResult {
        id: spec.id(),
        spec: spec.clone(),
        score: test.eval.score,
        random: test.eval.random,
        expert: test.eval.reference,
        normalized: normalized(spec, &test.eval, "test")?,
        validation: Scores {
            score: val.eval.score,
            random: val.eval.random,
            expert: val.eval.reference,
            normalized: normalized(spec, &val.eval, "validation")?,
        },
        matches,
        episodes: Some(Sets {
            validation: Series::stored(&val.episodes),
            test: Series::stored(&test.episodes),
        }),
        demonstrators,
        provenance: Some(Provenance {
            trained: trained_by(&run_dir)?,
            scored: Stamp::here(),
        }),
    };
    // Written while the run folder is still locked: one process finishes a cell.
    run::write_atomic(&dir.join(RESULT_FILE), |w| {
        serde_json::to_writer_pretty(&mut *w, &result)?;
        w.write_all(b"\n")
    })?;
    drop(folder);
    Ok(result)
}

/// The adversarial iteration of the checkpoint in run folder `run_dir` (its `imitator.json`),
/// `None` where it holds no record yet; an unreadable record is the error.
pub(crate) fn recorded_iteration(run_dir: &Path) -> std::result::Result<Option<usize>, String> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("imitator.json")) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(Some(
        v.get("iteration")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0) as usize,
    ))
}

/// Refuses to score a run folder that does not hold a finished training of `settings`.
fn unfinished(run_dir: &Path, settings: &RunSettings) -> Result<()> {
    let not_trained = |reason: String| ExperimentError::NotTrained {
        dir: run_dir.to_path_buf(),
        reason,
    };
    let done = recorded_iteration(run_dir)
        .map_err(|e| not_trained(format!("its run record is unreadable ({e})")))?
        .ok_or_else(|| {
            not_trained("it holds no run record (imitator.json): the cell must be trained".into())
        })?;
    let want = settings.adversarial_iterations();
    if done < want {
        return Err(ExperimentError::NotTrained {
            dir: run_dir.to_path_buf(),
            reason: format!("its training reached iteration {done} of {want}"),
        });
    }
    Ok(())
}

/// The pairings of a competitive cell with cloned opponents (`by`): its agents against cloned
/// adversaries and cloned agents against its adversaries (one pairing, the clone against
/// itself, for the cloning cell). The clone is that cell's, same demonstrations and seed (the
/// same bytes).
fn crossplay(
    spec: &CellSpec,
    by: Method,
    demos: &Demonstrations,
    trained: &[&dyn Policy],
    cache: &BcCache,
) -> Result<Vec<MatchScore>> {
    // The cloning cell plays itself: it needs no opponents cloned.
    let cloned = if spec.method == by {
        Vec::new()
    } else {
        let bc_spec = CellSpec {
            method: by,
            ..spec.clone()
        };
        let mut t = trainer(&bc_spec, demos)?;
        cache
            .clone_or_adopt(&mut t)
            .map_err(|e| ExperimentError::Setup(format!("behaviour cloning the opponents: {e}")))?;
        t.learners()
            .policies(false)
            .map_err(|e| ExperimentError::Score(format!("the cloned opponents: {e}")))?
    };
    let bc: Vec<&dyn Policy> = cloned.iter().map(|p| p as &dyn Policy).collect();
    type Pairing<'a> = (Method, Method, &'a [&'a dyn Policy], &'a [&'a dyn Policy]);
    let pairs: Vec<Pairing<'_>> = if spec.method == by {
        vec![(by, by, trained, trained)]
    } else {
        vec![
            (spec.method, by, trained, &bc),
            (by, spec.method, &bc, trained),
        ]
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    pairs
        .into_iter()
        .map(|(agents, adversaries, a, b)| {
            let on = |seed| match_episodes(&spec.game, a, b, spec.episodes, seed);
            let (vg, va) = on(VALIDATION_SEED)?;
            let (tg, ta) = on(TEST_SEED)?;
            Ok(MatchScore {
                agents,
                adversaries,
                validation: mean(&vg),
                test: mean(&tg),
                adversaries_return: Some(Sets {
                    validation: mean(&va),
                    test: mean(&ta),
                }),
                episodes: Some(Sets {
                    validation: MatchSeries {
                        good: Series::stored(&vg),
                        adversaries: Series::stored(&va),
                    },
                    test: MatchSeries {
                        good: Series::stored(&tg),
                        adversaries: Series::stored(&ta),
                    },
                }),
            })
        })
        .collect()
}

/// A finished cell's result, in its folder.
pub const RESULT_FILE: &str = "result.json";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::papers::Experiment;

    /// The plan's cloning keys tell clonings apart exactly as the trainers' own fingerprints
    /// (`bc_key`, what the executor's cache shares by) do: for every experiment, every pair of
    /// the methods its cells and their cloned opponents start from.
    #[test]
    fn cloning_keys_tell_apart_what_the_trainers_clone() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let plan = crate::Plan::load(&root.join("results/papers"))?;
        for e in Experiment::ALL {
            let cells: Vec<&CellSpec> = plan.cells.iter().filter(|c| c.experiment == e).collect();
            let Some(first) = cells.first() else {
                panic!("{e:?} has no cells");
            };
            let demos = Demonstrations::new(&play(&first.game, Who::Random, 3, 7)?)
                .map_err(|x| ExperimentError::Setup(x.to_string()))?;
            let mut methods: Vec<Method> = Vec::new();
            for m in cells
                .iter()
                .flat_map(|c| [Some(c.method), c.opponents])
                .flatten()
            {
                if !methods.contains(&m) {
                    methods.push(m);
                }
            }
            let mut seen = Vec::new();
            for &m in &methods {
                let spec = CellSpec {
                    method: m,
                    ..(*first).clone()
                };
                let fingerprint = trainer(&spec, &demos)?
                    .bc_key()
                    .map_err(|x| ExperimentError::Setup(x.to_string()))?;
                seen.push((m, fingerprint, first.cloning_key(m)));
            }
            for (a, fa, ka) in &seen {
                for (b, fb, kb) in &seen {
                    assert_eq!(fa == fb, ka == kb, "{e:?}: {a} and {b}");
                }
            }
        }
        Ok(())
    }
}
