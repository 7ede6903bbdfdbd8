//! Plans of cells: stable ids, states, the local executor against cells run one at a time (what
//! a Slurm array task does), Slurm scripts, and tables over seeds.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use experiments::report::{cell_text, mean_std, tables};
use experiments::slurm::{SlurmOptions, prepare};
use experiments::{
    CellState, Demonstrator, Experiment, ExperimentError, FAILED_FILE, Plan, PlanOptions, Preset,
    Quiet, cell_dir, cell_state, run_local, run_recorded, schedule, seconds_left_together,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("magail-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn smoke() -> Plan {
    let expert = Demonstrator::Expert("assets/experts/simple_spread-paper-s0".into());
    Plan::new(&PlanOptions::new(Preset::Smoke, expert))
}

/// Ids are a pure function of the settings: the same on every machine and in every version that
/// keeps the settings' meaning (results committed under `results/` stay findable).
#[test]
fn cell_ids_are_stable_and_follow_every_setting() {
    let plan = smoke();
    assert_eq!(plan.cells.len(), 4);
    assert_eq!(plan.cells[0].id(), "navigation-bc-20-s0-0374733a85");
    let mut ids: Vec<String> = plan.cells.iter().map(|c| c.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    let base = plan.cells[1].clone();
    let mut changed = Vec::new();
    let mut c = base.clone();
    c.generator.max_kl = 0.02;
    changed.push(c);
    let mut c = base.clone();
    c.episodes += 1;
    changed.push(c);
    let mut c = base.clone();
    c.demonstrator = Demonstrator::Scripted;
    changed.push(c);
    let mut c = base.clone();
    c.protocol = experiments::PROTOCOL;
    changed.push(c);
    for c in changed {
        assert_ne!(c.id(), base.id());
    }
    // The protocol and the episodes are how a cell is scored, not what it trains.
    let mut c = base.clone();
    c.protocol = experiments::PROTOCOL;
    c.episodes = experiments::PROTOCOL_EPISODES;
    assert!(c.same_training(&base) && !c.same_training(&plan.cells[0]));
    // Under the current protocol fewer than its episodes are refused by name.
    c.episodes = 100;
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("`episodes`") && e.contains("at least 1000"),
        "{e}"
    );
    // Several seeds: one replicate of every cell per seed.
    let mut o = PlanOptions::new(Preset::Quick, Demonstrator::Scripted);
    o.seeds = vec![0, 1, 2, 3, 4];
    assert_eq!(Plan::new(&o).cells.len(), 80);
}

/// Settings no cell can run with are refused before anything runs, naming the setting.
#[test]
fn bad_plans_are_refused_before_any_cell_runs() {
    let mut plan = smoke();
    plan.cells[0].episodes = 0;
    let err = plan.validate(&root()).unwrap_err().to_string();
    assert!(
        err.contains("episodes") && err.contains("at least 1"),
        "{err}"
    );
    let mut plan = smoke();
    plan.cells[2].generator.max_kl = f64::NAN;
    let err = plan.validate(&root()).unwrap_err().to_string();
    assert!(err.contains("max-kl") && err.contains("NaN"), "{err}");
    let mut plan = smoke();
    plan.cells[3].demonstrator = Demonstrator::Expert("assets/experts/nowhere".into());
    let err = plan.validate(&root()).unwrap_err().to_string();
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );
    let err = Plan::load(Path::new("/nonexistent/repro"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plan.json") && err.contains("cargo xtask reproduce"),
        "{err}"
    );
    assert!(smoke().cell("no-such-cell").is_err());
    assert!(smoke().validate(&root()).is_ok());
}

/// The local executor (two workers, shared clonings) and each cell run alone in a fresh process
/// state (no shared cloning, as a Slurm array task runs it) write the same bytes; states move
/// from to-do to done, and a done cell is not run again.
#[test]
fn local_workers_and_cells_run_alone_write_the_same_bytes() {
    let plan = smoke();
    let (a, b) = (scratch("local"), scratch("alone"));
    plan.save(&a).unwrap();
    plan.save(&b).unwrap();
    assert!(plan.states(&a).iter().all(|s| *s == CellState::ToDo));
    run_local(&plan, &root(), &a, 2, &Quiet).unwrap();
    for c in Plan::load(&b).unwrap().cells.iter().rev() {
        run_recorded(c, &root(), &b, None, &mut |_| {}).unwrap();
    }
    for c in &plan.cells {
        let (da, db) = (cell_dir(&a, &c.id()), cell_dir(&b, &c.id()));
        let mut files = vec![
            "result.json",
            "run/imitator.safetensors",
            "run/imitator.json",
        ];
        if c.method.adversarial() {
            files.push("run/metrics.jsonl");
        }
        for f in files {
            let (x, y) = (
                std::fs::read(da.join(f)).unwrap(),
                std::fs::read(db.join(f)).unwrap(),
            );
            assert!(x == y, "{} {f} differs", c.id());
        }
        let CellState::Done(r) = cell_state(&a, c) else {
            panic!("{} not done", c.id())
        };
        assert!(r.normalized.is_finite() && r.expert > r.random);
    }
    // Done cells are returned as they are: nothing is rewritten.
    let p = cell_dir(&a, &plan.cells[1].id()).join("run/imitator.safetensors");
    let before = std::fs::metadata(&p).unwrap().modified().unwrap();
    run_local(&plan, &root(), &a, 2, &Quiet).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
}

/// A cell that fails records why in its folder, and its state says so; a run stopped partway is
/// failed with how far it got.
#[test]
fn failures_and_interruptions_are_recorded() {
    let dir = scratch("fail");
    let mut plan = smoke();
    // A demonstrator that is not there fails the cell (a plan's `validate` would have refused
    // it before any cell ran; one cell run on its own meets it here).
    plan.cells.truncate(1);
    plan.cells[0].demonstrator = Demonstrator::Expert("/nonexistent/expert".into());
    let err = run_local(&plan, &root(), &dir, 1, &Quiet).unwrap_err();
    assert!(
        matches!(err, ExperimentError::Cells(ref v) if v.len() == 1),
        "{err}"
    );
    let why =
        std::fs::read_to_string(cell_dir(&dir, &plan.cells[0].id()).join(FAILED_FILE)).unwrap();
    assert!(why.contains("/nonexistent/expert"), "{why}");
    match cell_state(&dir, &plan.cells[0]) {
        CellState::Failed(w) => assert_eq!(w, why.trim()),
        s => panic!("{s:?}"),
    }
    // A run folder left with no checkpoint: it starts over, all of it left.
    let plan = smoke();
    let c = &plan.cells[1];
    let run = cell_dir(&dir, &c.id()).join("run");
    std::fs::create_dir_all(&run).unwrap();
    assert_eq!(cell_state(&dir, c), CellState::Stopped(None));
    assert_eq!(cell_state(&dir, c).seconds_left(c), c.estimated_seconds());
    // A checkpoint at iteration 2, metrics written past it (a hard kill): it resumes from the
    // checkpoint, with its iterations left and no cloning of its own start.
    std::fs::write(run.join("imitator.json"), r#"{"iteration": 2}"#).unwrap();
    std::fs::write(run.join("metrics.jsonl"), "{}\n{}\n{}\n").unwrap();
    assert_eq!(cell_state(&dir, c), CellState::Stopped(Some(2)));
    let left = cell_state(&dir, c).seconds_left(c);
    assert_eq!(left, c.estimated_seconds_after(2));
    assert!(
        c.clonings(Some(2)).is_empty(),
        "a cooperative cell's only cloning is its start"
    );
    let alone = c.estimated_seconds() - c.clonings(None)[0].1;
    assert!(left < alone, "{left} {alone}");
    assert!(
        left > c.estimated_seconds_after(c.generator.iterations),
        "{left}"
    );
    std::fs::write(cell_dir(&dir, &c.id()).join(FAILED_FILE), "boom\n").unwrap();
    assert_eq!(cell_state(&dir, c), CellState::Failed("boom".into()));
}

/// The local executor finishes the experiment with the least work left first (so whole
/// experiments, and their verdicts, land while the rest runs), longest cells first within each.
#[test]
fn cells_run_one_experiment_at_a_time_cheapest_first() {
    let plan = smoke();
    let mut cells = Vec::new();
    for (i, c) in plan.cells.iter().enumerate() {
        // Two experiments interleaved; communication's cells train ten times longer.
        let mut long = c.clone();
        long.experiment = Experiment::Communication;
        long.generator.iterations *= 10;
        cells.push(long);
        let mut short = c.clone();
        short.experiment = Experiment::Navigation;
        short.seed += i as u64 + 1;
        cells.push(short);
    }
    let states: Vec<_> = cells.iter().map(|c| (c, CellState::ToDo)).collect();
    let order = schedule(&states);
    assert_eq!(order.len(), cells.len());
    let exps: Vec<Experiment> = order.iter().map(|c| c.experiment).collect();
    let n = plan.cells.len();
    assert!(
        exps[..n].iter().all(|e| *e == Experiment::Navigation),
        "{exps:?}"
    );
    assert!(
        exps[n..].iter().all(|e| *e == Experiment::Communication),
        "{exps:?}"
    );
    for half in [&order[..n], &order[n..]] {
        let est: Vec<f64> = half.iter().map(|c| c.estimated_seconds()).collect();
        assert!(est.windows(2).all(|w| w[0] >= w[1]), "{est:?}");
        assert!(est[0] > est[n - 1], "{est:?}");
    }
}

/// A plan's total counts each behaviour cloning once: the cells of one demonstration set and
/// seed adopt the clonings they share (a competitive cell's cloned opponents included); policies
/// of another shape (φ as an action) or drawn after a centralized critic's initialization
/// (games of two sharing groups) are other clonings.
#[test]
fn a_plans_estimate_counts_each_shared_cloning_once() {
    use Experiment as E;
    // The papers' plan as committed.
    let plan = Plan::load(&root().join("results/papers")).unwrap();
    let of = |e: E, seed: u64, demos: usize| -> Vec<_> {
        plan.cells
            .iter()
            .filter(|c| c.experiment == e && c.seed == seed && c.demos == demos)
            .collect()
    };
    let total = |cells: &[&experiments::CellSpec]| {
        seconds_left_together(cells.iter().map(|c| (*c, &CellState::ToDo)))
    };
    let keys = |cells: &[&experiments::CellSpec]| -> std::collections::HashSet<_> {
        cells
            .iter()
            .flat_map(|c| c.clonings(None))
            .map(|(k, _)| k)
            .collect()
    };
    // Keep-away at 200 demonstrations, seed 0: six cells, two clonings (BC's, which GAIL
    // starts from, and the centralized-critic methods' start). Run alone, the four MAGAIL
    // cells clone both, BC and GAIL one: ten, where one process needs two.
    let keep = of(E::KeepAway, 0, 200);
    assert_eq!(keep.len(), 6);
    assert_eq!(keys(&keep).len(), 2, "{:?}", keys(&keep));
    let clone = keep[0].clonings(None)[0].1;
    let alone: f64 = keep.iter().map(|c| c.estimated_seconds()).sum();
    assert!((alone - total(&keep) - 8.0 * clone).abs() < 1e-6);
    // Stochastic navigation (one sharing group): BC-φ and MAGAIL-φ(-kept) share one cloning,
    // BC and AMAGAIL another.
    let stoch = of(E::StochNavigation, 0, 200);
    assert_eq!(keys(&stoch).len(), 2, "{:?}", keys(&stoch));
    // Another seed's clonings are others.
    assert!(keys(&keep).is_disjoint(&keys(&of(E::KeepAway, 1, 200))));
}

/// The array script runs one cell per task from a list, throttled, with the time, memory and
/// flags asked for, and quotes paths for the shell.
#[test]
fn slurm_scripts_say_what_was_asked() {
    let plan = smoke();
    let cells: Vec<_> = plan.cells.iter().collect();
    let dir = Path::new("/shared/it's here");
    let o = SlurmOptions {
        throttle: 3,
        mem_mb: 1500,
        partition: Some("short".into()),
        account: Some("lab".into()),
        extra: vec!["--qos=low".into()],
        ..SlurmOptions::default()
    };
    let s = prepare(dir, Path::new("/opt/xtask"), &cells, &o).unwrap();
    let a = &s.array_script;
    for want in [
        "#SBATCH --array=0-3%3",
        "#SBATCH --mem=1500M",
        "#SBATCH --partition=short",
        "#SBATCH --account=lab",
        "#SBATCH --qos=low",
        "#SBATCH --time=11",
        "SLURM_ARRAY_TASK_ID + 1",
        "exec '/opt/xtask' reproduce --out '/shared/it'\\''s here' --cell \"$ID\"",
    ] {
        assert!(a.contains(want), "missing {want} in\n{a}");
    }
    assert!(s.report_script.contains("--report") && s.report_script.contains("--partition=short"));
    assert_eq!(s.cells.len(), 4);
    assert_eq!(s.cells_file, dir.join("slurm/cells-0.txt"));
    let bad = SlurmOptions {
        throttle: 0,
        ..SlurmOptions::default()
    };
    let err = prepare(dir, Path::new("/opt/xtask"), &cells, &bad).unwrap_err();
    assert!(err.to_string().contains("throttle 0"), "{err}");
    assert!(prepare(dir, Path::new("/opt/xtask"), &[], &o).is_err());
}

/// Tables average over seeds and show the spread.
#[test]
fn tables_average_over_seeds() {
    let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
    assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
    assert_eq!(cell_text(&[vec![0.5]]), "0.5000");
    assert_eq!(
        cell_text(&[vec![0.25, 0.75]]),
        "0.5000",
        "one seed's episodes"
    );
    let three = cell_text(&[vec![1.0], vec![2.0], vec![3.0]]);
    assert!(
        three.starts_with("2.0000 ± 1.0000 [") && three.ends_with("(n=3)"),
        "{three}"
    );
    assert_eq!(cell_text(&[]), "–");
    let plan = smoke();
    let mk = |k: usize, seed: u64, v: f64| experiments::CellResult {
        id: String::new(),
        spec: experiments::CellSpec {
            seed,
            ..plan.cells[k].clone()
        },
        score: 0.0,
        random: 0.0,
        expert: 1.0,
        normalized: v,
        validation: experiments::Scores {
            score: 0.0,
            random: 0.0,
            expert: 1.0,
            normalized: v,
        },
        matches: Vec::new(),
        episodes: None,
        demonstrators: None,
        provenance: None,
    };
    let t = tables(&[mk(0, 0, 0.2), mk(1, 0, 0.4), mk(0, 1, 0.6), mk(3, 0, 0.9)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].get(20, plan.cells[0].method), &[0.2, 0.6]);
    assert_eq!(t[1].experiment, experiments::Experiment::StochNavigation);
}

/// Cells trained under the first protocol are scored under the current one from their run
/// folders, moved in, without training, with the same policies (the validation and test means
/// over the first episodes agree); a cell whose run folder is gone, or that never trained, is
/// named instead.
#[test]
fn rescoring_moves_finished_run_folders_and_names_the_rest() {
    let old_dir = scratch("rescore-old");
    let new_dir = scratch("rescore-new");
    let mut old = smoke();
    old.cells.truncate(2);
    for c in &mut old.cells {
        c.generator.iterations = 2;
    }
    old.save(&old_dir).unwrap();
    run_local(&old, &root(), &old_dir, 1, &Quiet).unwrap();
    // The second cell's run folder is lost (its result stays).
    std::fs::remove_dir_all(cell_dir(&old_dir, &old.cells[1].id()).join("run")).unwrap();
    let mut new = old.clone();
    for c in &mut new.cells {
        c.protocol = experiments::PROTOCOL;
        c.episodes = experiments::PROTOCOL_EPISODES;
    }
    let mut never = new.cells[0].clone();
    never.seed = 9;
    new.cells.push(never);
    new.save(&new_dir).unwrap();
    let r = experiments::rescore(&new, &root(), &new_dir, std::slice::from_ref(&old_dir)).unwrap();
    assert_eq!(r.scored, vec![new.cells[0].id()]);
    assert_eq!(r.gone, vec![new.cells[1].id()]);
    assert_eq!(r.untrained, vec![new.cells[2].id()]);
    assert!(r.unfinished.is_empty() && r.failed.is_empty(), "{r:?}");
    assert!(!cell_dir(&old_dir, &old.cells[0].id()).join("run").exists());
    let done = match cell_state(&new_dir, &new.cells[0]) {
        CellState::Done(r) => r,
        s => panic!("{s:?}"),
    };
    let ep = done.episodes.as_ref().unwrap();
    assert_eq!(ep.test.values().len(), experiments::PROTOCOL_EPISODES);
    let trained = done.provenance.as_ref().unwrap().trained.as_ref().unwrap();
    assert_eq!(trained.commit, experiments::provenance::COMMIT);
    // The same policies as training the cell afresh under the current protocol.
    let fresh_dir = scratch("rescore-fresh");
    let fresh = run_recorded(&new.cells[0], &root(), &fresh_dir, None, &mut |_| {}).unwrap();
    assert_eq!((fresh.score, &fresh.episodes), (done.score, &done.episodes));
    assert_eq!(fresh.matches, done.matches);
    let _ = std::fs::remove_dir_all(&fresh_dir);
    // Scoring again finds it done; an unfinished run is not trained by re-scoring.
    let again = experiments::rescore(&new, &root(), &new_dir, &[]).unwrap();
    assert!(
        again.scored.is_empty() && again.untrained.len() == 2,
        "{again:?}"
    );
    let _ = std::fs::remove_dir_all(&old_dir);
    let _ = std::fs::remove_dir_all(&new_dir);
}
