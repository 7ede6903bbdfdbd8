//! The papers' claims, written down before the runs (`claims.md`), and their verdicts from the
//! finished cells' **test** numbers: direction claims by the paired difference's bootstrap
//! interval ([`Verdict`]), level claims as our interval beside the paper's value.

use std::fmt::Write as _;

use magail_async::run::Method;

use crate::cell::CellResult;
use crate::papers::Experiment;
use crate::stats::{Summary, Verdict, paired, summarize};

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
    /// Competitive tables: the good agents' test return with these agents and adversaries.
    Match {
        /// Who trained the good agents.
        agents: Method,
        /// Who trained the adversaries.
        adversaries: Method,
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
            } => has(agents) && has(adversaries) && e.opponents().is_some(),
        }
    }

    fn text(&self) -> String {
        match self {
            Quantity::Score { method, demos } => format!("{} @{demos}", method.label()),
            Quantity::Match {
                agents,
                adversaries,
            } => format!(
                "{} agents vs {} adversaries",
                agents.label(),
                adversaries.label()
            ),
        }
    }

    /// (seed, value) of every finished cell of `e` that gives this quantity.
    pub fn values(&self, e: Experiment, results: &[CellResult]) -> Vec<(u64, f64)> {
        let mut out: Vec<(u64, f64)> = Vec::new();
        for r in results.iter().filter(|r| r.spec.experiment == e.name()) {
            let v = match *self {
                Quantity::Score { method, demos } => {
                    (r.spec.method == method && r.spec.demos == demos).then_some(r.normalized)
                }
                Quantity::Match {
                    agents,
                    adversaries,
                } => r
                    .matches
                    .iter()
                    .find(|m| m.agents == agents && m.adversaries == adversaries)
                    .map(|m| m.test),
            };
            if let Some(v) = v
                && !out.iter().any(|(s, _)| *s == r.spec.seed)
            {
                out.push((r.spec.seed, v));
            }
        }
        out.sort_by_key(|&(s, _)| s);
        out
    }
}

/// How a claim is tested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Test {
    /// The first is above the second (paired by seed).
    Greater(Quantity, Quantity),
    /// The quantity is about the paper's value; `tolerance` where `claims.md` gives one.
    Level(Quantity, f64, Option<f64>),
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
    Quantity::Match {
        agents,
        adversaries,
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
        for d in [100, 200] {
            add(ids[0], e, Test::Greater(score(MagailC, d), score(Bc, d)));
            add(ids[1], e, Test::Greater(score(MagailD, d), score(Bc, d)));
            add(ids[2], e, Test::Greater(score(MagailC, d), score(Gail, d)));
        }
        for d in [200, 300, 400] {
            add(ids[3], e, Test::Level(score(MagailC, d), 1.0, Some(0.1)));
        }
        add(ids[4], e, Test::Level(score(Bc, 400), 1.0, Some(0.1)));
        for d in [100, 200, 300, 400] {
            add(
                ids[5],
                e,
                Test::Greater(score(MagailC, d), score(MagailD, d)),
            );
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
        for m in [MagailD, MagailZs] {
            add("M13", e, Test::Greater(pair(m, Bc), pair(Bc, Bc)));
            add("M14", e, Test::Greater(pair(Bc, Bc), pair(Bc, m)));
            add("M15", e, Test::Greater(pair(m, Bc), pair(MagailC, Bc)));
            add("M15", e, Test::Greater(pair(Bc, MagailC), pair(Bc, m)));
        }
        add("M16", e, Test::Level(pair(Bc, Bc), bc, None));
        for (k, m) in [Gail, MagailC, MagailD, MagailZs].into_iter().enumerate() {
            add("M16", e, Test::Level(pair(Bc, m), adv[k], None));
            add("M16", e, Test::Level(pair(m, Bc), agents[k], None));
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
}

/// The outcome of every claim on an experiment that has finished cells in `results`.
pub fn evaluate(results: &[CellResult]) -> Vec<Outcome> {
    all()
        .into_iter()
        .filter(|c| {
            results
                .iter()
                .any(|r| r.spec.experiment == c.experiment.name())
        })
        .map(|claim| {
            let e = claim.experiment;
            match claim.test {
                Test::Greater(a, b) if !(a.possible(e) && b.possible(e)) => Outcome {
                    summary: None,
                    verdict: Some(Verdict::NotRun),
                    claim,
                },
                Test::Greater(a, b) => {
                    let d = paired(&a.values(e, results), &b.values(e, results));
                    let summary = summarize(&d);
                    Outcome {
                        verdict: Some(Verdict::of(summary.as_ref())),
                        summary,
                        claim,
                    }
                }
                Test::Level(q, ..) => {
                    let v: Vec<f64> = q.values(e, results).into_iter().map(|x| x.1).collect();
                    Outcome {
                        summary: summarize(&v),
                        verdict: None,
                        claim,
                    }
                }
            }
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
        "{:+.3} ± {:.3} [{:+.3}, {:+.3}] (n={}{provisional})",
        s.mean, s.std, s.lo, s.hi, s.n
    )
}

/// The claims table (markdown), and a count of verdicts.
pub fn markdown(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| claim | experiment | statement (test episodes) | ours: mean ± std [95 % bootstrap \
         interval] (seeds) | verdict |\n|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let c = &o.claim;
        let (statement, verdict) = match c.test {
            Test::Greater(a, b) => (
                format!("{} > {} (paired difference)", a.text(), b.text()),
                o.verdict.map_or("", |v| v.word()).to_string(),
            ),
            Test::Level(q, paper, tol) => {
                let word = match (tol, &o.summary) {
                    (_, None) => "pending (fewer than 2 seeds)".to_string(),
                    (Some(t), Some(s)) => {
                        let inside = s.lo >= paper - t && s.hi <= paper + t;
                        format!(
                            "level: interval {} {paper} ± {t}",
                            if inside { "within" } else { "not within" }
                        )
                    }
                    (None, Some(_)) => format!("level: paper {paper}"),
                };
                (format!("{} about {paper}", q.text()), word)
            }
        };
        let ours = o.summary.as_ref().map_or("–".to_string(), interval);
        let _ = writeln!(
            out,
            "| {} | {} | {statement} | {ours} | {verdict} |",
            c.id,
            c.experiment.name()
        );
    }
    let count = |v: Verdict| outcomes.iter().filter(|o| o.verdict == Some(v)).count();
    let _ = writeln!(
        out,
        "\nDirection statements: {} reproduced, {} not reproduced, {} inconclusive, {} pending, \
         {} not run.",
        count(Verdict::Reproduced),
        count(Verdict::NotReproduced),
        count(Verdict::Inconclusive),
        count(Verdict::Pending),
        count(Verdict::NotRun)
    );
    out
}
