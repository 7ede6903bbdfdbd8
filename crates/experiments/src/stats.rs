//! Statistics over seeds: mean ± sample standard deviation, the 95 % percentile-bootstrap
//! interval of a mean, and paired differences (by seed), with the verdict rule of
//! `claims.md`: a direction claim is reproduced when the paired difference's interval lies above
//! zero, not reproduced when it lies below, inconclusive otherwise.

use mg_core::stream_rng;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Bootstrap resamples: enough that the interval's ends move by well under 0.001 between
/// resample seeds for five values.
pub const RESAMPLES: usize = 10_000;

/// The bootstrap's seed: intervals are the same bytes on every machine.
const BOOTSTRAP_SEED: u64 = 20_181_203;

/// Mean and sample standard deviation (0 for one value; NaN for none).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, 0.0);
    }
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// A mean over seeds with its spread and 95 % bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Values (seeds).
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation.
    pub std: f64,
    /// The 2.5th percentile of the bootstrap means.
    pub lo: f64,
    /// The 97.5th percentile of the bootstrap means.
    pub hi: f64,
}

/// The summary of `xs`; `None` for fewer than two values (one seed is an anecdote, and its
/// interval would be a point).
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    if xs.len() < 2 || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let (mean, std) = mean_std(xs);
    let mut rng = stream_rng(BOOTSTRAP_SEED, xs.len() as u64);
    let n = xs.len();
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| xs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((RESAMPLES as f64 - 1.0) * q).round() as usize];
    Some(Summary {
        n,
        mean,
        std,
        lo: at(0.025),
        hi: at(0.975),
    })
}

/// The differences `a[s] − b[s]` over the seeds both have (pairs of (seed, value)), in seed
/// order.
pub fn paired(a: &[(u64, f64)], b: &[(u64, f64)]) -> Vec<f64> {
    let mut out: Vec<(u64, f64)> = a
        .iter()
        .filter_map(|&(s, x)| b.iter().find(|(t, _)| *t == s).map(|&(_, y)| (s, x - y)))
        .collect();
    out.sort_by_key(|&(s, _)| s);
    out.into_iter().map(|(_, d)| d).collect()
}

/// A direction claim's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The interval of the paired difference lies above zero (in the claim's direction).
    Reproduced,
    /// It lies below zero.
    NotReproduced,
    /// It holds zero.
    Inconclusive,
    /// Fewer than two paired seeds: no verdict yet.
    Pending,
    /// A method the claim names is not among the experiment's (no cell can give it).
    NotRun,
}

impl Verdict {
    /// The words of the claims table.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Pending => "pending (fewer than 2 seeds)",
            Verdict::NotRun => "not run (a method the claim names is not implemented here)",
        }
    }

    /// The verdict on "A > B" from the paired differences A − B.
    pub fn of(diff: Option<&Summary>) -> Verdict {
        match diff {
            None => Verdict::Pending,
            Some(s) if s.lo > 0.0 => Verdict::Reproduced,
            Some(s) if s.hi < 0.0 => Verdict::NotReproduced,
            Some(_) => Verdict::Inconclusive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_difference_is_reproduced_and_noise_is_inconclusive() {
        let s = summarize(&[0.10, 0.12, 0.09, 0.11, 0.13]).expect("five values");
        assert!(s.lo > 0.0 && s.lo <= s.mean && s.mean <= s.hi, "{s:?}");
        assert!((s.mean - 0.11).abs() < 1e-12);
        assert_eq!(Verdict::of(Some(&s)), Verdict::Reproduced);
        let neg: Vec<f64> = [0.10, 0.12, 0.09, 0.11, 0.13].map(|x| -x).to_vec();
        assert_eq!(
            Verdict::of(summarize(&neg).as_ref()),
            Verdict::NotReproduced
        );
        let noise = summarize(&[0.3, -0.2, 0.1, -0.4, 0.25]).expect("five values");
        assert_eq!(Verdict::of(Some(&noise)), Verdict::Inconclusive);
        assert_eq!(Verdict::of(summarize(&[1.0]).as_ref()), Verdict::Pending);
        // The same values give the same interval (a fixed bootstrap seed).
        assert_eq!(summarize(&neg), summarize(&neg));
    }

    #[test]
    fn pairs_are_matched_by_seed_not_by_position() {
        let a = [(2, 5.0), (0, 1.0), (1, 3.0)];
        let b = [(0, 0.5), (1, 1.0), (3, 9.0)];
        assert_eq!(paired(&a, &b), vec![0.5, 2.0]);
    }
}
