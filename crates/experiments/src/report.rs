//! Tables from finished cells: one per experiment, demonstration counts down and methods across,
//! the normalized reward's mean over seeds (± the standard deviation when there are several).

use std::fmt::Write as _;

use magail_async::run::Method;

use crate::cell::CellResult;
use crate::claims;
use crate::papers::Experiment;
use crate::plan::{CellState, Plan};
use crate::stats::{Summary, summarize_nested};

pub use crate::stats::mean_std;

/// A column's heading.
pub fn column(m: Method) -> &'static str {
    match m {
        Method::Bc => "BC",
        Method::BcPhi => "BC (φ as an action)",
        Method::Gail => "GAIL (independent)",
        Method::MagailC => "MAGAIL centralized",
        Method::MagailShared => "MAGAIL centralized (shared reward)",
        Method::MagailD => "MAGAIL decentralized",
        Method::MagailZs => "MAGAIL zero-sum",
        Method::MagailPhi => "MAGAIL (φ as an action)",
        Method::MagailPhiKept => "MAGAIL (φ as an action, own draw kept where forced)",
        Method::Amagail => "AMAGAIL",
    }
}

/// An experiment's heading.
pub fn heading(experiment: Experiment) -> String {
    experiment.title().into()
}

/// One experiment's table: `(demonstrations, method, values over seeds)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The experiment.
    pub experiment: Experiment,
    /// Its methods, in the plan's order.
    pub methods: Vec<Method>,
    /// Its demonstration counts, ascending.
    pub demos: Vec<usize>,
    /// Normalized rewards of each (demonstrations, method), one per finished seed.
    pub values: Vec<(usize, Method, Vec<f64>)>,
    /// The same per seed and test episode (one value for a seed that kept only its mean).
    pub groups: Vec<(usize, Method, Vec<Vec<f64>>)>,
}

impl Table {
    /// The values of a (demonstrations, method) pair.
    pub fn get(&self, demos: usize, m: Method) -> &[f64] {
        self.values
            .iter()
            .find(|(d, mm, _)| *d == demos && *mm == m)
            .map_or(&[], |(_, _, v)| v.as_slice())
    }

    /// The summary over seeds and episodes of a (demonstrations, method) pair.
    pub fn summary(&self, demos: usize, m: Method) -> Option<Summary> {
        self.groups
            .iter()
            .find(|(d, mm, _)| *d == demos && *mm == m)
            .and_then(|(_, _, g)| summarize_nested(g))
    }
}

/// The tables of the finished `results`, experiments in the order they first appear.
pub fn tables(results: &[CellResult]) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    for r in results {
        let s = &r.spec;
        let t = match out.iter_mut().position(|t| t.experiment == s.experiment) {
            Some(k) => &mut out[k],
            None => {
                out.push(Table {
                    experiment: s.experiment,
                    methods: Vec::new(),
                    demos: Vec::new(),
                    values: Vec::new(),
                    groups: Vec::new(),
                });
                let k = out.len() - 1;
                &mut out[k]
            }
        };
        if !t.methods.contains(&s.method) {
            t.methods.push(s.method);
        }
        if !t.demos.contains(&s.demos) {
            t.demos.push(s.demos);
            t.demos.sort_unstable();
        }
        match t
            .values
            .iter_mut()
            .find(|(d, m, _)| *d == s.demos && *m == s.method)
        {
            Some((_, _, v)) => v.push(r.normalized),
            None => t.values.push((s.demos, s.method, vec![r.normalized])),
        }
        let g = r.normalized_episodes();
        match t
            .groups
            .iter_mut()
            .find(|(d, m, _)| *d == s.demos && *m == s.method)
        {
            Some((_, _, v)) => v.push(g),
            None => t.groups.push((s.demos, s.method, vec![g])),
        }
    }
    out
}

/// A value as the tables show it, from its seeds' per-episode values: `0.7130` for one seed,
/// or over several the mean ± standard deviation over seeds with the 95 % bootstrap interval
/// over seeds and episodes, `0.7130 ± 0.0210 [0.6950, 0.7310] (n=5)`; `–` if none.
pub fn cell_text(groups: &[Vec<f64>]) -> String {
    let mean = |g: &[f64]| g.iter().sum::<f64>() / g.len().max(1) as f64;
    match (groups.len(), summarize_nested(groups)) {
        (0, _) => "–".into(),
        (_, Some(s)) => format!(
            "{:.4} ± {:.4} [{:.4}, {:.4}] (n={})",
            s.mean, s.std, s.lo, s.hi, s.n
        ),
        _ => format!("{:.4}", mean(&groups[0])),
    }
}

/// The competitive tables in the papers' Table 1 layout: the good agents' test return when the
/// cloned agents play each method's adversaries, and each method's agents play the cloned
/// adversaries (mean over seeds, higher is better for the agents' side).
pub fn match_tables(results: &[CellResult]) -> String {
    let mut md = String::new();
    let mut experiments: Vec<Experiment> = Vec::new();
    for r in results.iter().filter(|r| !r.matches.is_empty()) {
        if !experiments.contains(&r.spec.experiment) {
            experiments.push(r.spec.experiment);
        }
    }
    // The claims are built once; each pairing looks its paper value up in them.
    let stated = claims::all();
    for e in experiments {
        let of: Vec<&CellResult> = results.iter().filter(|r| r.spec.experiment == e).collect();
        let mut pairs: Vec<(Method, Method)> = Vec::new();
        for m in of.iter().flat_map(|r| &r.matches) {
            if !pairs.contains(&(m.agents, m.adversaries)) {
                pairs.push((m.agents, m.adversaries));
            }
        }
        // The clone against itself first, then its agents against each method's adversaries,
        // then each method's agents against its adversaries.
        let clone = pairs.iter().find(|(a, b)| a == b).map(|p| p.0);
        let rank = |m: Method| Method::ALL.iter().position(|&x| x == m).unwrap_or(0);
        pairs.sort_by_key(|&(a, b)| match (a == b, Some(a) == clone) {
            (true, _) => (0, 0),
            (false, true) => (1, rank(b)),
            (false, false) => (2, rank(a)),
        });
        let _ = writeln!(
            md,
            "## {}: each side's return (test episodes)\n\n| agents | adversaries | good agents' \
             return | adversaries' return | paper (agent's reward) |\n|---|---|---|---|---|",
            heading(e)
        );
        // The paper's value of a pairing, where its table gives one (the level claims).
        let paper = |a: Method, b: Method| {
            stated
                .iter()
                .find_map(|c| match c.test {
                    claims::Test::Level(
                        claims::Quantity::Match {
                            agents,
                            adversaries,
                            reading: claims::Reading::Good,
                        },
                        v,
                        _,
                    ) if c.experiment == e && agents == a && adversaries == b => {
                        Some(format!("{v}"))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| "–".into())
        };
        for (a, b) in pairs {
            let side = |good: bool| -> Vec<Vec<f64>> {
                of.iter()
                    .flat_map(|r| &r.matches)
                    .filter(|m| m.agents == a && m.adversaries == b)
                    .filter_map(|m| match (&m.episodes, good) {
                        (Some(ep), true) => Some(ep.test.good.values().to_vec()),
                        (Some(ep), false) => Some(ep.test.adversaries.values().to_vec()),
                        (None, true) => Some(vec![m.test]),
                        (None, false) => m.adversaries_return.as_ref().map(|r| vec![r.test]),
                    })
                    .collect()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                a.label(),
                b.label(),
                cell_text(&side(true)),
                cell_text(&side(false)),
                paper(a, b)
            );
        }
        if let Some(d) = of.iter().find_map(|r| r.demonstrators) {
            let _ = writeln!(
                md,
                "| demonstrators | demonstrators | {:.4} | {:.4} | – |",
                d.good, d.adversaries
            );
        }
        md.push('\n');
    }
    md
}

/// The markdown tables.
pub fn markdown(tables: &[Table]) -> String {
    let mut md = String::new();
    for t in tables {
        let _ = writeln!(md, "## {}\n", heading(t.experiment));
        let _ = write!(md, "| demos |");
        for m in &t.methods {
            let _ = write!(md, " {} |", column(*m));
        }
        let _ = write!(md, "\n|---|");
        for _ in &t.methods {
            md.push_str("---|");
        }
        md.push('\n');
        for &d in &t.demos {
            let _ = write!(md, "| {d} |");
            for m in &t.methods {
                let g = t
                    .groups
                    .iter()
                    .find(|(dd, mm, _)| *dd == d && mm == m)
                    .map_or(&[][..], |(_, _, g)| g.as_slice());
                let _ = write!(md, " {} |", cell_text(g));
            }
            md.push('\n');
        }
        md.push('\n');
    }
    md
}

/// One CSV line per finished cell.
pub fn csv(results: &[CellResult]) -> String {
    let mut s = String::from(
        "experiment,method,demos,seed,score,random,expert,normalized,validation_normalized\n",
    );
    for r in results {
        let _ = writeln!(
            s,
            "{},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4}",
            r.spec.experiment.name(),
            r.spec.method.label(),
            r.spec.demos,
            r.spec.seed,
            r.score,
            r.random,
            r.expert,
            r.normalized,
            r.validation.normalized
        );
    }
    s
}

/// A plan's report, built once from where its cells stand.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Title, settings, a table per experiment, the cells not finished.
    pub markdown: String,
    /// The finished cells, in plan order.
    pub results: Vec<CellResult>,
    /// Their tables, one per experiment.
    pub tables: Vec<Table>,
    /// The ids and states of the cells not finished.
    pub missing: Vec<String>,
}

/// The report of a plan whose cells stand at `states`.
pub fn document(plan: &Plan, states: &[CellState]) -> Report {
    let results: Vec<CellResult> = states
        .iter()
        .filter_map(|s| match s {
            CellState::Done(r) => Some((**r).clone()),
            _ => None,
        })
        .collect();
    let missing: Vec<String> = plan
        .cells
        .iter()
        .zip(states)
        .filter(|(_, s)| !matches!(s, CellState::Done(_)))
        .map(|(c, s)| format!("{} ({})", c.id(), s.word()))
        .collect();
    let mut md = format!(
        "# {} reproduction: normalized team reward (demonstrator = 1, random = 0)\n\n",
        plan.title
    );
    if let Some(c) = plan.cells.first() {
        let mut whos: Vec<String> = plan
            .cells
            .iter()
            .map(|c| format!("{} in {}", c.demonstrator.describe(), c.game.env))
            .collect();
        whos.sort();
        whos.dedup();
        let mut seeds: Vec<u64> = plan.cells.iter().map(|c| c.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        let _ = write!(
            md,
            "Settings: {}; {} BC epochs; {} evaluation episodes (protocol {}); seeds {seeds:?}; \
             demonstrators: {}.\n\n",
            c.generator.describe(),
            c.bc_epochs,
            c.episodes,
            c.protocol,
            whos.join(", ")
        );
    }
    let tables = tables(&results);
    md.push_str(
        "Every number is on the test episodes (seed 3000017), never used to choose a setting; the \
         validation episodes (seed 1000003, those `eval` and `imitate` report and every setting \
         so far was chosen on) are in each cell's result.json and in results.csv.\n\n",
    );
    md.push_str(&markdown(&tables));
    md.push_str(&match_tables(&results));
    let seeds = {
        let mut s: Vec<u64> = results.iter().map(|r| r.spec.seed).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    if seeds >= 2 || plan.cells.iter().any(|c| c.protocol >= crate::PROTOCOL) {
        md.push_str("## The papers' claims\n\n");
        md.push_str(&claims::markdown(&claims::evaluate(&results)));
        md.push('\n');
    }
    md.push_str(
        "The baselines of the AMAGAIL paper (BC and MAGAIL) treat φ as an ordinary action: their \
         policies clone and may choose it. AMAGAIL, and the BC beside it, know who acted and \
         leave φ out.\n\nRaw team returns (score, random, expert) per cell are in results.csv.\n",
    );
    if !missing.is_empty() {
        let _ = write!(
            md,
            "\nNot finished ({}): {}.\n",
            missing.len(),
            missing.join(", ")
        );
    }
    Report {
        markdown: md,
        results,
        tables,
        missing,
    }
}
