//! The papers' claims, written down before the runs (`claims.md`), and their verdicts from the
//! finished cells' **test** episodes: direction claims by the bootstrap interval of the paired
//! difference over seeds and episodes ([`Verdict`]), level claims as our interval beside the
//! paper's value and our demonstrators' own level. Every claim is listed, those of experiments
//! without cells as "not run yet".

use std::fmt::Write as _;

use magail_async::run::Method;

use crate::cell::CellResult;
use crate::papers::Experiment;
use crate::stats::{Summary, Verdict, paired_nested, summarize_nested};

/// Who the competitive tables' "agent" is. The papers report the agent's reward; in keep-away
/// the official code's rendering lists agent 0, the adversary, first, and Table 1's +24 can only
/// be its return (`claims.md`), so keep-away is read both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The agent is the good side (the prey in predator-prey, the good agent in keep-away).
    Good,
    /// The agent is agent 0, the adversary: the paper's "agents" are our adversaries and its
    /// reward is theirs.
    AgentZero,
}

impl Reading {
    fn text(self) -> &'static str {
        match self {
            Reading::Good => "",
            Reading::AgentZero => " [agent = agent 0, the adversary]",
        }
    }
}

/// A number of a table, per seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantity {
    /// A method's normalized test score at a demonstration count.
    Score {
        /// The method.
        method: Method,
        /// Demonstrations.
        demos: usize,
    },
    /// Competitive tables: the agent's test return with these agents and adversaries, in the
    /// paper's terms (which side is the agent is the reading's).
    Match {
        /// Who trained the paper's agents.
        agents: Method,
        /// Who trained the paper's adversaries.
        adversaries: Method,
        /// Which side the paper's agent is.
        reading: Reading,
    },
}

impl Quantity {
    /// Whether the experiment's cells can give this quantity (its methods include the ones
    /// named).
    pub fn possible(&self, e: Experiment) -> bool {
        let has = |m: Method| e.methods().contains(&m);
        match *self {
            Quantity::Score { method, demos } => has(method) && e.demos().contains(&demos),
            Quantity::Match {
                agents,
                adversaries,
                ..
            } => has(agents) && has(adversaries) && e.opponents().is_some(),
        }
    }

    fn text(&self) -> String {
        match self {
            Quantity::Score { method, demos } => format!("{} @{demos}", method.label()),
            Quantity::Match {
                agents,
                adversaries,
                reading,
            } => format!(
                "{} agents vs {} adversaries{}",
                agents.label(),
                adversaries.label(),
                reading.text()
            ),
        }
    }

    /// (seed, each test episode's value) of every finished cell of `e` that gives this
    /// quantity: normalized scores per episode ((return − random) / (demonstrator − random),
    /// the cell's means of random actions and the demonstrator on the same episodes), or the
    /// agent's return per episode; a single value where the cell kept only its mean.
    pub fn values(&self, e: Experiment, results: &[CellResult]) -> Vec<(u64, Vec<f64>)> {
        let mut out: Vec<(u64, Vec<f64>)> = Vec::new();
        for r in results.iter().filter(|r| r.spec.experiment == e) {
            let v = match *self {
                Quantity::Score { method, demos } => (r.spec.method == method
                    && r.spec.demos == demos)
                    .then(|| r.normalized_episodes()),
                Quantity::Match {
                    agents,
                    adversaries,
                    reading,
                } => {
                    let (good, adv) = match reading {
                        Reading::Good => (agents, adversaries),
                        Reading::AgentZero => (adversaries, agents),
                    };
                    r.matches
                        .iter()
                        .find(|m| m.agents == good && m.adversaries == adv)
                        .and_then(|m| match (reading, &m.episodes) {
                            (Reading::Good, Some(ep)) => Some(ep.test.good.values().to_vec()),
                            (Reading::Good, None) => Some(vec![m.test]),
                            (Reading::AgentZero, Some(ep)) => {
                                Some(ep.test.adversaries.values().to_vec())
                            }
                            (Reading::AgentZero, None) => {
                                m.adversaries_return.as_ref().map(|a| vec![a.test])
                            }
                        })
                }
            };
            if let Some(v) = v
                && !out.iter().any(|(s, _)| *s == r.spec.seed)
            {
                out.push((r.spec.seed, v));
            }
        }
        out.sort_by_key(|(s, _)| *s);
        out
    }

    /// Our demonstrators' own level of this quantity in `e`: 1 for a normalized score, the
    /// agent's return when the demonstrators play each other for a match.
    pub fn demonstrators(&self, e: Experiment, results: &[CellResult]) -> Option<f64> {
        match *self {
            Quantity::Score { .. } => Some(1.0),
            Quantity::Match { reading, .. } => results
                .iter()
                .filter(|r| r.spec.experiment == e)
                .find_map(|r| r.demonstrators)
                .map(|d| match reading {
                    Reading::Good => d.good,
                    Reading::AgentZero => d.adversaries,
                }),
        }
    }
}

/// How a claim is tested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Test {
    /// The first is above the second (paired by seed).
    Greater(Quantity, Quantity),
    /// The quantity is about the paper's value; `tolerance` where `claims.md` gives one.
    Level(Quantity, f64, Option<f64>),
    /// The quantity stays well below the level (the paper: "not close"): its interval is
    /// checked against the level less the tolerance.
    Below(Quantity, f64, f64),
}

/// One tested statement of one claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// `M1`, `A4`, …
    pub id: &'static str,
    /// Its experiment.
    pub experiment: Experiment,
    /// The test.
    pub test: Test,
}

fn score(method: Method, demos: usize) -> Quantity {
    Quantity::Score { method, demos }
}

fn pair(agents: Method, adversaries: Method) -> Quantity {
    read(agents, adversaries, Reading::Good)
}

fn read(agents: Method, adversaries: Method, reading: Reading) -> Quantity {
    Quantity::Match {
        agents,
        adversaries,
        reading,
    }
}

/// Every claim of `claims.md`, one statement per demonstration count or pairing.
pub fn all() -> Vec<Claim> {
    use Experiment::*;
    use Method::*;
    let mut out = Vec::new();
    let mut add = |id, experiment, test| {
        out.push(Claim {
            id,
            experiment,
            test,
        })
    };
    for (e, ids) in [
        (Navigation, ["M1", "M2", "M3", "M4", "M5", "M6"]),
        (Communication, ["M7", "M8", "M9", "M10", "M11", "M12"]),
    ] {
        // "Centralized" in both readings: per-agent heads (the official code) and one shared
        // reward (R1 = … = Rn).
        for d in [100, 200] {
            for c in [MagailC, MagailShared] {
                add(ids[0], e, Test::Greater(score(c, d), score(Bc, d)));
            }
            add(ids[1], e, Test::Greater(score(MagailD, d), score(Bc, d)));
            for c in [MagailC, MagailShared] {
                add(ids[2], e, Test::Greater(score(c, d), score(Gail, d)));
            }
        }
        for c in [MagailC, MagailShared] {
            for d in [200, 300, 400] {
                add(ids[3], e, Test::Level(score(c, d), 1.0, Some(0.1)));
            }
        }
        add(ids[4], e, Test::Below(score(Bc, 400), 1.0, 0.1));
        for c in [MagailC, MagailShared] {
            for d in [100, 200, 300, 400] {
                add(ids[5], e, Test::Greater(score(c, d), score(MagailD, d)));
            }
        }
    }
    // MAGAIL Table 1 (papers.md §1.5, UNVERIFIED there): BC vs BC, BC agents against each
    // method's adversaries, each method's agents against BC adversaries.
    let table1: [(Experiment, f64, [f64; 4], [f64; 4]); 2] = [
        (
            KeepAway,
            24.22,
            [24.04, 23.28, 23.56, 23.19],
            [26.22, 26.61, 28.73, 27.80],
        ),
        (
            PredatorPrey,
            -93.20,
            [-93.71, -93.75, -95.22, -95.48],
            [-90.55, -91.36, -85.00, -89.4],
        ),
    ];
    for (e, bc, adv, agents) in table1 {
        let readings: &[Reading] = if e == KeepAway {
            &[Reading::Good, Reading::AgentZero]
        } else {
            &[Reading::Good]
        };
        for &r in readings {
            let p = |a, b| read(a, b, r);
            for m in [MagailD, MagailZs] {
                add("M13", e, Test::Greater(p(m, Bc), p(Bc, Bc)));
                add("M14", e, Test::Greater(p(Bc, Bc), p(Bc, m)));
                for c in [MagailC, MagailShared] {
                    add("M15", e, Test::Greater(p(m, Bc), p(c, Bc)));
                    add("M15", e, Test::Greater(p(Bc, c), p(Bc, m)));
                }
            }
            add("M16", e, Test::Level(p(Bc, Bc), bc, None));
            // The paper's centralized column stands beside both readings of centralized.
            for (k, m) in [Gail, MagailC, MagailShared, MagailD, MagailZs]
                .into_iter()
                .enumerate()
            {
                let k = k.saturating_sub(usize::from(k >= 2));
                add("M16", e, Test::Level(p(Bc, m), adv[k], None));
                add("M16", e, Test::Level(p(m, Bc), agents[k], None));
            }
        }
    }
    // AMAGAIL: the paper's baselines treat φ as an action (BC-φ, MAGAIL-φ); plain BC is the
    // other reading of its BC.
    let grid = [100, 200, 300, 400, 500];
    for d in grid {
        for base in [MagailPhi, MagailPhiKept, BcPhi, Bc] {
            add(
                "A1",
                StochNavigation,
                Test::Greater(score(Amagail, d), score(base, d)),
            );
        }
    }
    for d in [300, 400, 500] {
        for bc in [BcPhi, Bc] {
            add(
                "A2",
                StochNavigation,
                Test::Level(score(bc, d), 0.65, Some(0.1)),
            );
        }
    }
    // The MAGAIL baseline in both readings of "φ as an ordinary action".
    for magail in [MagailPhi, MagailPhiKept] {
        let at = |d| (score(magail, d), score(Amagail, d));
        add("A3", DetNavigation, Test::Greater(at(200).0, at(200).1));
        add("A4", DetNavigation, Test::Greater(at(500).1, at(500).0));
    }
    for d in [200, 300, 400, 500] {
        for bc in [BcPhi, Bc] {
            add(
                "A5",
                DetNavigation,
                Test::Level(score(bc, d), 0.7, Some(0.1)),
            );
            add(
                "A7",
                DetReaching,
                Test::Level(score(bc, d), 0.94, Some(0.1)),
            );
        }
    }
    for d in grid {
        for base in [BcPhi, MagailPhi, MagailPhiKept, Bc] {
            add(
                "A6",
                DetReaching,
                Test::Greater(score(Amagail, d), score(base, d)),
            );
        }
    }
    let e = StochPredatorPrey;
    for magail in [MagailPhi, MagailPhiKept] {
        add(
            "A8",
            e,
            Test::Greater(pair(Amagail, BcPhi), pair(magail, BcPhi)),
        );
        add(
            "A9",
            e,
            Test::Greater(pair(BcPhi, magail), pair(BcPhi, Amagail)),
        );
    }
    add(
        "A8",
        e,
        Test::Greater(pair(Amagail, BcPhi), pair(BcPhi, BcPhi)),
    );
    add(
        "A9",
        e,
        Test::Greater(pair(BcPhi, BcPhi), pair(BcPhi, Amagail)),
    );
    for (q, v) in [
        (pair(BcPhi, BcPhi), -5.0),
        (pair(BcPhi, MagailPhi), -9.0),
        (pair(BcPhi, MagailPhiKept), -9.0),
        (pair(BcPhi, Amagail), -14.0),
        (pair(MagailPhi, BcPhi), -3.6),
        (pair(MagailPhiKept, BcPhi), -3.6),
        (pair(Amagail, BcPhi), -2.1),
    ] {
        add("A10", e, Test::Level(q, v, None));
    }
    out
}

/// A claim's outcome on the finished cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The claim.
    pub claim: Claim,
    /// Direction claims: the paired difference; level claims: the quantity.
    pub summary: Option<Summary>,
    /// Direction claims: the verdict; level claims: `None`.
    pub verdict: Option<Verdict>,
    /// Level claims: our demonstrators' own level of the quantity in the same game.
    pub demonstrators: Option<f64>,
    /// Whether its experiment has finished cells.
    pub run: bool,
}

/// The outcome of every claim of `claims.md` on `results`; claims of experiments without
/// finished cells are listed as not run yet.
pub fn evaluate(results: &[CellResult]) -> Vec<Outcome> {
    all()
        .into_iter()
        .map(|claim| {
            let e = claim.experiment;
            let run = results.iter().any(|r| r.spec.experiment == e);
            let mut o = Outcome {
                summary: None,
                verdict: None,
                demonstrators: None,
                run,
                claim: claim.clone(),
            };
            match claim.test {
                Test::Greater(a, b) if !(a.possible(e) && b.possible(e)) => {
                    o.verdict = Some(Verdict::NotRun);
                }
                Test::Greater(..) if !run => o.verdict = Some(Verdict::NotRunYet),
                Test::Greater(a, b) => {
                    let d = paired_nested(&a.values(e, results), &b.values(e, results));
                    o.summary = summarize_nested(&d);
                    o.verdict = Some(Verdict::of(o.summary.as_ref()));
                }
                Test::Level(q, ..) | Test::Below(q, ..) => {
                    let v: Vec<Vec<f64>> = q.values(e, results).into_iter().map(|x| x.1).collect();
                    o.summary = summarize_nested(&v);
                    o.demonstrators = q.demonstrators(e, results);
                }
            }
            o
        })
        .collect()
}

/// The seeds a claim rests on (`claims.md`); a verdict on fewer is marked provisional.
pub const SEEDS: usize = 5;

fn interval(s: &Summary) -> String {
    let provisional = if s.n < SEEDS {
        format!(", provisional: fewer than {SEEDS} seeds")
    } else {
        String::new()
    };
    format!(
        "{:+.4} ± {:.4} [{:+.4}, {:+.4}] ({} seeds × {} episodes{provisional})",
        s.mean, s.std, s.lo, s.hi, s.n, s.episodes
    )
}

/// The claims table (markdown), and a count of verdicts.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| claim | experiment | statement (test episodes) | ours: mean ± std over seeds [95 % \
         bootstrap over seeds and episodes] | t-interval over seeds (sensitivity) | verdict \
         |\n|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let c = &o.claim;
        let ours_demo = |level: f64| match o.demonstrators {
            Some(d) if d != 1.0 || level != 1.0 => format!("; our demonstrators {d:.4}"),
            _ => String::new(),
        };
        let (statement, verdict) = match c.test {
            Test::Greater(a, b) => (
                format!("{} > {} (paired difference)", a.text(), b.text()),
                o.verdict.map_or("", |v| v.word()).to_string(),
            ),
            Test::Level(q, paper, tol) => {
                let word = match (tol, &o.summary) {
                    (_, None) if !o.run => "not run yet".to_string(),
                    (_, None) => "pending (fewer than 2 seeds)".to_string(),
                    (Some(t), Some(s)) => {
                        let inside = s.lo >= paper - t && s.hi <= paper + t;
                        format!(
                            "level: interval {} {paper} ± {t}{}",
                            if inside { "within" } else { "not within" },
                            ours_demo(paper)
                        )
                    }
                    (None, Some(_)) => format!("level: paper {paper}{}", ours_demo(paper)),
                };
                (format!("{} about {paper}", q.text()), word)
            }
            Test::Below(q, level, tol) => {
                let edge = level - tol;
                let word = match &o.summary {
                    None if !o.run => "not run yet".to_string(),
                    None => "pending (fewer than 2 seeds)".to_string(),
                    Some(s) if s.hi < edge => {
                        format!("level: interval below {edge} (well below, as the paper says)")
                    }
                    Some(s) if s.lo >= edge => format!(
                        "level: interval at or above {edge} (close to the demonstrator, unlike \
                         the paper)"
                    ),
                    Some(_) => format!("level: interval holds {edge}"),
                };
                (
                    format!(
                        "{} well below the demonstrator's {level} (the paper: \"not close\")",
                        q.text()
                    ),
                    word,
                )
            }
        };
        let ours = o.summary.as_ref().map_or("–".to_string(), interval);
        let t = o.summary.as_ref().map_or("–".to_string(), |s| {
            format!("[{:+.4}, {:+.4}]", s.t_lo, s.t_hi)
        });
        let _ = writeln!(
            out,
            "| {} | {} | {statement} | {ours} | {t} | {verdict} |",
            c.id,
            c.experiment.name()
        );
    }
    let count = |v: Verdict| outcomes.iter().filter(|o| o.verdict == Some(v)).count();
    let levels = outcomes.iter().filter(|o| o.verdict.is_none()).count();
    let levels_not_run = outcomes
        .iter()
        .filter(|o| o.verdict.is_none() && !o.run)
        .count();
    let _ = writeln!(
        out,
        "\nDirection statements: {} reproduced, {} not reproduced, {} inconclusive, {} pending, \
         {} not run yet, {} not run (a method not implemented). Level statements: {levels}, {} \
         of them not run yet.",
        count(Verdict::Reproduced),
        count(Verdict::NotReproduced),
        count(Verdict::Inconclusive),
        count(Verdict::Pending),
        count(Verdict::NotRunYet),
        count(Verdict::NotRun),
        levels_not_run
    );
    out
}
