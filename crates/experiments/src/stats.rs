//! Statistics over seeds and episodes: mean ± sample standard deviation over seeds, the 95 %
//! percentile-bootstrap interval of a mean that resamples seeds and, within each resampled
//! seed, its episodes (`claims.md`'s amendment: evaluation noise belongs in the interval), a
//! t-interval over the seeds' means beside it as a sensitivity check, and paired differences
//! (by seed, then by episode), with the verdict rule of `claims.md`: a direction claim is
//! reproduced when the paired difference's interval lies above zero, not reproduced when it
//! lies below, inconclusive otherwise.

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
    /// The fewest episodes behind one seed's value (1 where only the seeds' means are known).
    pub episodes: usize,
    /// The lower end of the 95 % t-interval over the seeds' means (a sensitivity check beside
    /// the bootstrap; the verdict rule reads the bootstrap).
    pub t_lo: f64,
    /// Its upper end.
    pub t_hi: f64,
}

/// The 97.5th percentile of Student's t with `df` degrees of freedom (table to 30, then the
/// Cornish–Fisher expansion, within 0.001 there).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => {
            let z = 1.959_964_f64;
            let d = df as f64;
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

/// The summary of `xs`, one value per seed; `None` for fewer than two values (one seed is an
/// anecdote, and its interval would be a point).
pub fn summarize(xs: &[f64]) -> Option<Summary> {
    let groups: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x]).collect();
    summarize_nested(&groups)
}

/// The summary of a mean over seeds, each seed given by its per-episode values (`groups[s]`):
/// the mean and spread of the seeds' means, and the 95 % interval of a bootstrap that draws
/// the seeds with replacement and, within each drawn seed, its episodes with replacement.
/// `None` for fewer than two seeds, an empty seed, or a value that is not finite.
pub fn summarize_nested(groups: &[Vec<f64>]) -> Option<Summary> {
    if groups.len() < 2
        || groups.iter().any(|g| g.is_empty())
        || groups.iter().flatten().any(|x| !x.is_finite())
    {
        return None;
    }
    let seed_means: Vec<f64> = groups
        .iter()
        .map(|g| g.iter().sum::<f64>() / g.len() as f64)
        .collect();
    let (mean, std) = mean_std(&seed_means);
    let n = groups.len();
    let mut rng = stream_rng(BOOTSTRAP_SEED, n as u64);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            (0..n)
                .map(|_| {
                    let g = &groups[rng.random_range(0..n)];
                    match g.len() {
                        1 => g[0],
                        k => (0..k).map(|_| g[rng.random_range(0..k)]).sum::<f64>() / k as f64,
                    }
                })
                .sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((RESAMPLES as f64 - 1.0) * q).round() as usize];
    let half = t975(n - 1) * std / (n as f64).sqrt();
    Some(Summary {
        n,
        mean,
        std,
        lo: at(0.025),
        hi: at(0.975),
        episodes: groups.iter().map(Vec::len).min().unwrap_or(0),
        t_lo: mean - half,
        t_hi: mean + half,
    })
}

/// The per-episode differences `a − b` of the seeds both have (pairs of (seed, episodes)), in
/// seed order: paired by seed, then by episode where both seeds kept the same number of
/// episodes (the same episodes, played on the same seed), else by the seeds' means.
pub fn paired_nested(a: &[(u64, Vec<f64>)], b: &[(u64, Vec<f64>)]) -> Vec<Vec<f64>> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut out: Vec<(u64, Vec<f64>)> = a
        .iter()
        .filter_map(|(s, x)| {
            b.iter().find(|(t, _)| t == s).map(|(_, y)| {
                let d = if x.len() == y.len() {
                    x.iter().zip(y).map(|(p, q)| p - q).collect()
                } else {
                    vec![mean(x) - mean(y)]
                };
                (*s, d)
            })
        })
        .collect();
    out.sort_by_key(|&(s, _)| s);
    out.into_iter().map(|(_, d)| d).collect()
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
    /// The claim's experiment has no finished cell yet.
    NotRunYet,
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
            Verdict::NotRunYet => "not run yet",
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
    fn episode_noise_widens_the_interval_and_the_t_interval_matches_its_formula() {
        // Five seeds whose means are 0.1 apart from zero, each from 200 noisy episodes.
        let noisy: Vec<Vec<f64>> = (0..5)
            .map(|s| {
                (0..200)
                    .map(|e| 0.1 + 0.02 * s as f64 + if e % 2 == 0 { 3.0 } else { -3.0 })
                    .collect()
            })
            .collect();
        let means: Vec<f64> = noisy
            .iter()
            .map(|g| g.iter().sum::<f64>() / g.len() as f64)
            .collect();
        let seeds_only = summarize(&means).expect("five seeds");
        let nested = summarize_nested(&noisy).expect("five seeds");
        assert!((nested.mean - seeds_only.mean).abs() < 1e-12);
        assert_eq!(nested.std, seeds_only.std);
        assert_eq!(nested.episodes, 200);
        // Seeds alone put the mean well above zero; with ±3 per episode over 200 episodes
        // (a standard error near 0.09 a seed) the interval must reach zero.
        assert_eq!(Verdict::of(Some(&seeds_only)), Verdict::Reproduced);
        assert_eq!(Verdict::of(Some(&nested)), Verdict::Inconclusive);
        assert!(nested.hi - nested.lo > 3.0 * (seeds_only.hi - seeds_only.lo));
        let half = 2.776 * seeds_only.std / 5f64.sqrt();
        assert!((seeds_only.t_lo - (seeds_only.mean - half)).abs() < 1e-12);
        assert!((t975(1000) - 1.962).abs() < 1e-3 && (t975(31) - 2.040).abs() < 2e-3);
        assert!(summarize_nested(&[vec![1.0], vec![]]).is_none());
    }

    #[test]
    fn episodes_pair_by_position_within_a_seed() {
        let a = vec![(1, vec![1.0, 2.0, 3.0]), (0, vec![5.0])];
        let b = vec![(0, vec![1.0, 2.0]), (1, vec![0.5, 0.5, 0.5])];
        // Seed 0 kept a different number of episodes: paired by means (5 − 1.5).
        assert_eq!(paired_nested(&a, &b), vec![vec![3.5], vec![0.5, 1.5, 2.5]]);
    }

    #[test]
    fn pairs_are_matched_by_seed_not_by_position() {
        let a = [(2, 5.0), (0, 1.0), (1, 3.0)];
        let b = [(0, 0.5), (1, 1.0), (3, 9.0)];
        assert_eq!(paired(&a, &b), vec![0.5, 2.0]);
    }
}
