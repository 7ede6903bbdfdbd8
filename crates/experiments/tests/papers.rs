//! The papers' experiments as plans, competitive cells' pairings, and the claims' verdicts.

use std::path::{Path, PathBuf};

use experiments::claims::{self, Quantity, Test};
use experiments::stats::Verdict;
use experiments::{
    CellResult, CellSpec, Demonstrator, Experiment, MatchScore, Plan, PlanOptions, Preset, Scores,
};
use magail_async::run::Method;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn papers(preset: Preset, experiments: Vec<Experiment>, seeds: u64) -> Plan {
    let mut o = PlanOptions::new(preset, Demonstrator::Scripted);
    o.seeds = (0..seeds).collect();
    o.papers = Some(experiments);
    Plan::new(&o)
}

/// The eight experiments, each paper's selection, and the plan of all of them over five seeds:
/// every (seed, demonstrations, method) once, demonstrated by a shipped expert that exists and
/// can play the game.
#[test]
fn both_papers_are_eight_experiments_over_five_seeds() {
    let names: Vec<&str> = Experiment::ALL.iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        [
            "navigation",
            "communication",
            "keep_away",
            "predator_prey",
            "det_navigation",
            "stoch_navigation",
            "det_reaching",
            "stoch_predator_prey"
        ]
    );
    use experiments::Paper;
    assert_eq!(
        Experiment::select(Some(Paper::Magail), &[])
            .expect("magail")
            .len(),
        4
    );
    assert_eq!(
        Experiment::select(Some(Paper::Amagail), &[])
            .expect("amagail")
            .len(),
        4
    );
    assert_eq!(Experiment::select(None, &[]).expect("both").len(), 8);
    match Experiment::select(Some(Paper::Amagail), &[Experiment::Navigation]) {
        Err(experiments::ExperimentError::Settings { field, reason }) => {
            assert_eq!(field, "only");
            assert!(
                reason.contains("`navigation` is not an experiment of --paper amagail"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    match Experiment::from_name("navigaton") {
        Err(experiments::ExperimentError::Settings { field, reason }) => {
            assert_eq!(field, "only");
            assert!(reason.contains("navigation, communication"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let plan = papers(Preset::Quick, Experiment::ALL.to_vec(), 5);
    let per_seed: usize = Experiment::ALL
        .iter()
        .map(|e| e.methods().len() * e.demos().len())
        .sum();
    assert_eq!(plan.cells.len(), 5 * per_seed);
    let mut ids: Vec<String> = plan.cells.iter().map(CellSpec::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), plan.cells.len(), "every cell once");
    plan.validate(&root())
        .expect("every expert exists and plays its game");
    assert!(
        plan.cells
            .iter()
            .all(|c| c.opponents.is_some() == c.experiment.competitive())
    );
}

/// The MAGAIL navigation cells of the papers' plan train what the quick preset's cells train
/// where their settings agree, but are scored under the current evaluation protocol (1,000
/// episodes, each kept), so their ids differ and the two are never mixed in one table.
#[test]
fn papers_cells_train_as_the_quick_cells_they_equal_under_their_own_protocol() {
    let mut quick = PlanOptions::new(
        Preset::Quick,
        Demonstrator::Expert("assets/experts/simple_spread-paper-s0".into()),
    );
    quick.seeds = vec![0];
    let quick = Plan::new(&quick);
    let mut o = PlanOptions::papers(Preset::Quick, vec![Experiment::Navigation]);
    o.seeds = vec![0];
    let paper = Plan::new(&o);
    assert!(paper.cells.iter().all(
        |c| c.protocol == experiments::PROTOCOL && c.episodes == experiments::PROTOCOL_EPISODES
    ));
    let same = |f: &dyn Fn(&CellSpec, &CellSpec) -> bool| {
        quick
            .cells
            .iter()
            .filter(|c| paper.cells.iter().any(|p| f(p, c)))
            .count()
    };
    assert_eq!(same(&|p, c| p.id() == c.id()), 0);
    assert_eq!(
        same(&|p, c| p.same_training(c)),
        12,
        "navigation at 100, 200 and 400 demonstrations"
    );
}

/// A competitive cell plays its agents against cloned adversaries and the reverse, on the
/// validation and the test episodes; the cloning cell plays itself.
#[test]
fn competitive_cells_play_the_cloned_opponents() {
    let dir = std::env::temp_dir().join(format!("magail-papers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut plan = papers(Preset::Smoke, vec![Experiment::KeepAway], 1);
    plan.cells
        .retain(|c| matches!(c.method, Method::Bc | Method::MagailD));
    for c in &mut plan.cells {
        c.generator.iterations = 2;
        c.episodes = 4;
    }
    plan.save(&dir).expect("plan");
    experiments::run_local(&plan, &root(), &dir, 1, &experiments::Quiet).expect("cells");
    let result = |m: Method| -> CellResult {
        let c = plan.cells.iter().find(|c| c.method == m).expect("cell");
        let text = std::fs::read_to_string(
            experiments::cell_dir(&dir, &c.id()).join(experiments::RESULT_FILE),
        )
        .expect("result");
        serde_json::from_str(&text).expect("json")
    };
    let bc = result(Method::Bc);
    assert_eq!(bc.matches.len(), 1);
    assert_eq!(
        (bc.matches[0].agents, bc.matches[0].adversaries),
        (Method::Bc, Method::Bc)
    );
    let d = result(Method::MagailD);
    let pairs: Vec<(Method, Method)> = d
        .matches
        .iter()
        .map(|m| (m.agents, m.adversaries))
        .collect();
    assert_eq!(
        pairs,
        [(Method::MagailD, Method::Bc), (Method::Bc, Method::MagailD)]
    );
    for m in bc.matches.iter().chain(&d.matches) {
        assert!(m.test.is_finite() && m.validation.is_finite());
        assert_ne!(m.test, m.validation, "two disjoint episode sets");
    }
    assert_ne!(d.normalized, d.validation.normalized);
    // Run alone (as a Slurm task runs it), each cell writes the bytes the executor wrote while
    // sharing clonings between cells.
    let alone = dir.join("alone");
    plan.save(&alone).expect("plan");
    for c in &plan.cells {
        experiments::run_recorded(c, &root(), &alone, None, &mut |_| {}).expect("cell");
        let read = |d: &std::path::Path| {
            std::fs::read(experiments::cell_dir(d, &c.id()).join(experiments::RESULT_FILE))
                .expect("result")
        };
        assert!(read(&dir) == read(&alone), "{}", c.id());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn result(e: Experiment, method: Method, demos: usize, seed: u64, v: f64) -> CellResult {
    let spec = CellSpec {
        experiment: e,
        game: e.game(),
        method,
        demos,
        seed,
        demonstrator: Demonstrator::Expert(e.expert()),
        generator: experiments::Generator::QUICK,
        bc_epochs: 1000,
        episodes: 100,
        opponents: e.opponents(),
        protocol: 1,
    };
    let s = Scores {
        score: v,
        random: 0.0,
        expert: 1.0,
        normalized: v,
    };
    CellResult {
        id: spec.id(),
        spec,
        score: v,
        random: 0.0,
        expert: 1.0,
        normalized: v,
        validation: s,
        matches: Vec::new(),
        episodes: None,
        demonstrators: None,
        provenance: None,
    }
}

/// Verdicts follow the paired differences: a method above BC on every seed is reproduced, one
/// below on every seed is not, one that crosses is inconclusive; a claim on a method the
/// experiment does not run gives no quantity; only experiments with results are listed.
#[test]
fn claims_get_their_verdicts_from_paired_seeds() {
    let e = Experiment::Navigation;
    let bc = [0.70, 0.62, 0.75, 0.66, 0.71];
    let mut results = Vec::new();
    for (s, &b) in bc.iter().enumerate() {
        let s = s as u64;
        results.push(result(e, Method::Bc, 100, s, b));
        results.push(result(
            e,
            Method::MagailC,
            100,
            s,
            b + 0.05 + 0.01 * s as f64,
        ));
        results.push(result(e, Method::MagailD, 100, s, b - 0.04));
        results.push(result(
            e,
            Method::Gail,
            100,
            s,
            b + [0.2, -0.1, 0.15, -0.08, 0.02][s as usize],
        ));
    }
    // One competitive cell of predator-prey.
    let mut pp = result(Experiment::PredatorPrey, Method::MagailD, 200, 0, 0.5);
    pp.matches.push(MatchScore {
        agents: Method::MagailD,
        adversaries: Method::Bc,
        validation: -90.0,
        test: -91.0,
        adversaries_return: None,
        episodes: None,
    });
    results.push(pp);
    let outcomes = claims::evaluate(&results);
    let find = |id: &str, a: Quantity| {
        outcomes
            .iter()
            .filter(|o| o.run || o.claim.experiment == Experiment::Communication)
            .find(|o| o.claim.id == id && matches!(o.claim.test, Test::Greater(x, _) if x == a))
            .and_then(|o| o.verdict)
    };
    let at100 = |m| Quantity::Score {
        method: m,
        demos: 100,
    };
    assert_eq!(
        find("M1", at100(Method::MagailC)),
        Some(Verdict::Reproduced)
    );
    assert_eq!(
        find("M2", at100(Method::MagailD)),
        Some(Verdict::NotReproduced)
    );
    assert_eq!(
        find("M3", at100(Method::MagailC)),
        Some(Verdict::Inconclusive)
    );
    // Predator-prey's zero-sum is the two-team prior: its claims wait for cells like the others;
    // a method an experiment does not run gives no quantity.
    let zs = Quantity::Match {
        agents: Method::MagailZs,
        adversaries: Method::Bc,
        reading: claims::Reading::Good,
    };
    assert_eq!(find("M13", zs), Some(Verdict::Pending));
    assert!(
        !Quantity::Score {
            method: Method::MagailZs,
            demos: 100
        }
        .possible(e)
    );
    let d_pp = Quantity::Match {
        agents: Method::MagailD,
        adversaries: Method::Bc,
        reading: claims::Reading::Good,
    };
    assert_eq!(find("M13", d_pp), Some(Verdict::Pending));
    // Every claim is listed: those of experiments without cells as not run yet.
    assert_eq!(outcomes.len(), claims::all().len());
    assert!(
        outcomes
            .iter()
            .filter(|o| o.claim.experiment == Experiment::Communication)
            .all(|o| !o.run && o.summary.is_none())
    );
    assert_eq!(
        find(
            "M7",
            Quantity::Score {
                method: Method::MagailC,
                demos: 100
            }
        ),
        Some(Verdict::NotRunYet)
    );
    let md = claims::markdown(&outcomes);
    assert!(
        md.contains("| M1 | navigation | MAGAIL-C @100 > BC @100"),
        "{md}"
    );
    assert!(
        md.contains("2 reproduced, 1 not reproduced, 1 inconclusive"),
        "{md}"
    );
    assert!(md.contains("not run yet"), "{md}");
    // M5 is the paper's statement: BC stays well below the demonstrator.
    assert!(
        md.contains("BC @400 well below the demonstrator's 1"),
        "{md}"
    );
}

/// Keep-away's two readings of "the agent": the good agent, or agent 0 (the adversary). Under
/// the second, "MAGAIL-D agents vs BC adversaries" is our MAGAIL-D adversary against our BC good
/// agent, scored by the adversary's return; intervals resample each seed's episodes, paired by
/// episode; level claims show our demonstrators' return on the reading's side.
#[test]
fn keep_away_is_read_with_the_good_agent_and_with_agent_zero() {
    use experiments::episodes::Series;
    use experiments::{MatchSeries, Sets, Sides};
    let e = Experiment::KeepAway;
    // Each episode's return: a level, a per-seed shift and an episode pattern both cells share.
    let series = |level: f64, seed: u64| -> Series {
        Series::stored(
            &(0..50)
                .map(|k| level + 0.1 * seed as f64 + [0.5, -0.5, 0.2, -0.2, 0.0][k % 5])
                .collect::<Vec<_>>(),
        )
    };
    let pairing = |agents, adversaries, good: f64, adv: f64, seed| {
        let sides = MatchSeries {
            good: series(good, seed),
            adversaries: series(adv, seed),
        };
        MatchScore {
            agents,
            adversaries,
            validation: good,
            test: good,
            adversaries_return: Some(Sets {
                validation: adv,
                test: adv,
            }),
            episodes: Some(Sets {
                validation: sides.clone(),
                test: sides,
            }),
        }
    };
    let mut results = Vec::new();
    for s in 0..5u64 {
        let mut bc = result(e, Method::Bc, 200, s, 0.99);
        bc.matches = vec![pairing(Method::Bc, Method::Bc, -8.0, 28.0, s)];
        bc.demonstrators = Some(Sides {
            good: -7.85,
            adversaries: 28.4,
        });
        let mut d = result(e, Method::MagailD, 200, s, 0.99);
        d.matches = vec![
            // Its good agent earns more against the BC adversary (good reading: M13 holds)...
            pairing(Method::MagailD, Method::Bc, -7.5, 27.0, s),
            // ...and its adversary earns less against the BC good agent (agent 0: M13 fails).
            pairing(Method::Bc, Method::MagailD, -8.3, 26.0, s),
        ];
        results.push(bc);
        results.push(d);
    }
    let outcomes = claims::evaluate(&results);
    let verdict = |reading| {
        let q = Quantity::Match {
            agents: Method::MagailD,
            adversaries: Method::Bc,
            reading,
        };
        outcomes
            .iter()
            .find(|o| {
                o.claim.id == "M13"
                    && o.claim.experiment == e
                    && matches!(o.claim.test, Test::Greater(a, _) if a == q)
            })
            .and_then(|o| o.verdict)
    };
    assert_eq!(verdict(claims::Reading::Good), Some(Verdict::Reproduced));
    assert_eq!(
        verdict(claims::Reading::AgentZero),
        Some(Verdict::NotReproduced)
    );
    // M14 under agent 0: "BC adversaries hold the BC agent below what MAGAIL-D adversaries
    // allow" reads our good agents (BC, then MAGAIL-D) against our BC adversary, by its return:
    // 28 against 27, so the BC-vs-BC value is the greater and M14 holds.
    let m14 = outcomes
        .iter()
        .find(|o| {
            o.claim.id == "M14"
                && matches!(
                    o.claim.test,
                    Test::Greater(
                        _,
                        Quantity::Match {
                            adversaries: Method::MagailD,
                            reading: claims::Reading::AgentZero,
                            ..
                        }
                    )
                )
        })
        .expect("M14 under agent 0");
    assert_eq!(m14.verdict, Some(Verdict::Reproduced));
    let s = m14.summary.expect("five seeds");
    assert!((s.mean - 1.0).abs() < 1e-5 && s.episodes == 50, "{s:?}");
    let md = claims::markdown(&outcomes);
    assert!(md.contains("[agent = agent 0, the adversary]"), "{md}");
    assert!(md.contains("our demonstrators 28.4000"), "{md}");
    assert!(md.contains("our demonstrators -7.8500"), "{md}");
}
