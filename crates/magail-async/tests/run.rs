//! The run API: a run folder is locked, refuses what it may not continue, resumes what it may,
//! and behaviour clonings shared through a cache end where cloning runs end.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use envs::{EnvConfig, ParticleEnv, Scenario};
use magail_async::run::{
    BcCache, Existing, Method, Progress, RunError, RunFolder, RunSettings, train_imitator,
};
use magail_async::{MagailStats, MagailTrainer};
use mg_core::{Demonstrations, MarkovGame, Synchronous};

fn env() -> ParticleEnv {
    ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap()
}

fn demos(seed: u64) -> Demonstrations {
    Demonstrations::new(&common::scripted_demos(
        &env(),
        Synchronous::new(3).unwrap(),
        4,
        seed,
        4,
    ))
    .unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("magail-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Trains `method` for `iterations` in `dir` (a small configuration).
fn train(
    dir: &Path,
    method: Method,
    iterations: usize,
    demos: &Demonstrations,
    existing: Existing,
    cache: Option<&BcCache>,
) -> Result<MagailTrainer<ParticleEnv, Synchronous>, RunError> {
    train_until(dir, method, iterations, demos, existing, cache, usize::MAX)
}

/// [`train`], asked to stop after iteration `stop` (as a user's Ctrl-C does).
fn train_until(
    dir: &Path,
    method: Method,
    iterations: usize,
    demos: &Demonstrations,
    existing: Existing,
    cache: Option<&BcCache>,
    stop: usize,
) -> Result<MagailTrainer<ParticleEnv, Synchronous>, RunError> {
    let mut cfg = method.config(env().spec(), 0);
    cfg.bc_epochs = 2;
    cfg.rollout.envs = 4;
    cfg.steps_per_iter = 9;
    let t = MagailTrainer::new(env(), Synchronous::new(3).unwrap(), demos, cfg)?;
    let folder = RunFolder::open(dir)?;
    let run = RunSettings {
        method,
        iterations,
        checkpoint_every: 2,
    };
    train_imitator(
        &folder,
        &"spread".to_string(),
        demos,
        t,
        &run,
        existing,
        cache,
        &mut |p| match p {
            Progress::Iteration(s) if s.iteration >= stop => std::ops::ControlFlow::Break(()),
            _ => std::ops::ControlFlow::Continue(()),
        },
    )
}

/// A run asked to stop mid-way stops after that iteration with a checkpoint of it, and resumed
/// ends with the bytes of a run never stopped (metrics and every tensor).
#[test]
fn a_run_stopped_between_checkpoints_resumes_exactly() {
    let root = dir("stop");
    let set = demos(7);
    let (a, b) = (root.join("stopped"), root.join("straight"));
    let t = train_until(&a, Method::MagailD, 6, &set, Existing::Refuse, None, 3).unwrap();
    assert_eq!(t.iteration(), 3, "stops after the iteration that asked");
    assert_eq!(logged(&a), vec![1, 2, 3]);
    drop(t);
    let resumed = train(&a, Method::MagailD, 6, &set, Existing::Resume, None).unwrap();
    let straight = train(&b, Method::MagailD, 6, &set, Existing::Refuse, None).unwrap();
    let read = |d: &Path| std::fs::read(d.join("metrics.jsonl")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_eq!(flat(&resumed), flat(&straight));
    let _ = std::fs::remove_dir_all(&root);
}

/// Every tensor of a trainer, by name.
fn flat(t: &MagailTrainer<ParticleEnv, Synchronous>) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<(String, Vec<f32>)> = t
        .tensors()
        .unwrap()
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn logged(dir: &Path) -> Vec<usize> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<MagailStats>(l).ok())
        .map(|s| s.iteration)
        .collect()
}

#[test]
fn a_run_folder_refuses_what_it_may_not_continue_and_resumes_what_it_may() {
    let d = dir("folder");
    let set = demos(7);
    train(&d, Method::MagailD, 3, &set, Existing::Refuse, None).unwrap();
    assert_eq!(logged(&d), vec![1, 2, 3]);
    // A second process (or holder) of the folder is refused while the lock is held.
    let held = RunFolder::open(&d).unwrap();
    let err = RunFolder::open(&d).unwrap_err();
    assert!(matches!(err, RunError::Busy(_)), "{err}");
    drop(held);
    // Not asked to resume: refused.
    let err = train(&d, Method::MagailD, 3, &set, Existing::Refuse, None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    // Resumed to more iterations: continues from the checkpoint at 3.
    let t = train(&d, Method::MagailD, 5, &set, Existing::Resume, None).unwrap();
    assert_eq!(t.iteration(), 5);
    assert_eq!(logged(&d), vec![1, 2, 3, 4, 5]);
    // Fewer iterations than the folder holds, other demonstrations, another method: refused.
    let err = train(&d, Method::MagailD, 4, &set, Existing::Resume, None)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("run of 5 iterations, more than the 4"),
        "{err}"
    );
    let err = train(&d, Method::MagailD, 5, &demos(8), Existing::Resume, None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("other demonstrations"), "{err}");
    let err = train(&d, Method::MagailC, 5, &set, Existing::Resume, None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("other settings"), "{err}");
    // Unless the folder is the caller's to replace: the run starts afresh, its metrics too.
    let t = train(
        &d,
        Method::MagailC,
        2,
        &set,
        Existing::ResumeOrReplace,
        None,
    )
    .unwrap();
    assert_eq!(t.iteration(), 2);
    assert_eq!(logged(&d), vec![1, 2]);
    let _ = std::fs::remove_dir_all(&d);
}

/// Runs of one demonstration set share a cloning through the cache: the later runs adopt the
/// first one's and end exactly where they would have cloning for themselves.
#[test]
fn runs_sharing_a_cloning_end_as_runs_that_clone() {
    let root = dir("cache");
    let set = demos(7);
    let cache = BcCache::default();

    // Past the discriminator warm-up, so the first run's policies move after sharing.
    for method in [Method::MagailD, Method::Gail, Method::MagailC, Method::Bc] {
        let label = method.label();
        let shared = train(
            &root.join(format!("{label}-shared")),
            method,
            12,
            &set,
            Existing::Refuse,
            Some(&cache),
        )
        .unwrap();
        let own = train(
            &root.join(format!("{label}-own")),
            method,
            12,
            &set,
            Existing::Refuse,
            None,
        )
        .unwrap();
        assert_eq!(flat(&shared), flat(&own), "{label}");
    }
    assert_eq!(cache.len(), 1);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_settings_are_named_with_the_value_and_the_range() {
    let set = demos(7);
    let check = |edit: &dyn Fn(&mut magail_async::MagailConfig), want: &str| {
        let mut cfg = Method::MagailC.config(env().spec(), 0);
        edit(&mut cfg);
        let err = MagailTrainer::new(env(), Synchronous::new(3).unwrap(), &set, cfg)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("configuration:") && err.contains(want),
            "{err}"
        );
    };
    check(&|c| c.steps_per_iter = 0, "`steps_per_iter` is 0");
    check(&|c| c.rollout.envs = 0, "`envs` is 0");
    check(&|c| c.disc.lr = 0.0, "`disc.lr` is 0");
    check(&|c| c.bc_lr = f64::NAN, "`bc_lr` is NaN");
    check(&|c| c.learner.trpo.max_kl = f64::NAN, "max_kl");
    check(&|c| c.learner.trpo.max_kl = f64::NAN, "NaN");
    check(&|c| c.disc.steps = 0, "`disc.steps` is 0");
    check(&|c| c.learner.trpo.vf_epochs = 0, "`vf_epochs` is 0");
    assert_eq!("magail-c".parse::<Method>().unwrap(), Method::MagailC);
    let err = "magail-x".parse::<Method>().unwrap_err().to_string();
    assert!(err.contains("magail-x") && err.contains("amagail"), "{err}");
}
