//! The optimizer's mathematics: exact Fisher-vector products, conjugate gradient, the line
//! search's guarantees, GAE, and learning on a small task.

#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trpo::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn random_obs(n: usize, d: usize, r: &mut ChaCha8Rng, dtype: DType) -> Tensor {
    let v: Vec<f64> = (0..n * d).map(|_| r.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(v, (n, d), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// The explicit Fisher matrix from per-sample Jacobians of the network output, the Jacobians
/// taken by central finite differences (independent of the JVP code under test).
fn explicit_fisher(p: &StochasticPolicy, obs: &Tensor) -> Vec<Vec<f64>> {
    let vars = p.vars();
    let theta = flatten(&vars).unwrap();
    let n_params = theta.len();
    let n_net = p.mlp().n_params();
    let out0 = p
        .dist(obs)
        .unwrap()
        .out
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
    let (n, a) = (out0.len(), out0[0].len());
    let eps = 1e-6;
    // jac[k][s][j] = ∂ out[s][j] / ∂ θ_k
    let mut jac = vec![vec![vec![0.0; a]; n]; n_net];
    for (k, jk) in jac.iter_mut().enumerate() {
        let mut tp = theta.clone();
        tp[k] += eps;
        set_flat(&vars, &tp).unwrap();
        let up = p
            .dist(obs)
            .unwrap()
            .out
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        tp[k] -= 2.0 * eps;
        set_flat(&vars, &tp).unwrap();
        let dn = p
            .dist(obs)
            .unwrap()
            .out
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        for s in 0..n {
            for j in 0..a {
                jk[s][j] = (up[s][j] - dn[s][j]) / (2.0 * eps);
            }
        }
    }
    set_flat(&vars, &theta).unwrap();
    let mut f = vec![vec![0.0; n_params]; n_params];
    for s in 0..n {
        // M_s: the output distribution's Fisher.
        let m: Vec<Vec<f64>> = match p.head() {
            Head::Categorical { .. } => {
                let mx = out0[s].iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = out0[s].iter().map(|x| (x - mx).exp()).collect();
                let z: f64 = e.iter().sum();
                let pr: Vec<f64> = e.iter().map(|x| x / z).collect();
                (0..a)
                    .map(|i| {
                        (0..a)
                            .map(|j| if i == j { pr[i] } else { 0.0 } - pr[i] * pr[j])
                            .collect()
                    })
                    .collect()
            }
            Head::Gaussian { .. } => {
                let ls = theta[n_net..].to_vec();
                (0..a)
                    .map(|i| {
                        (0..a)
                            .map(|j| if i == j { (-2.0 * ls[i]).exp() } else { 0.0 })
                            .collect()
                    })
                    .collect()
            }
        };
        for k in 0..n_net {
            for l in 0..n_net {
                let mut acc = 0.0;
                for i in 0..a {
                    for j in 0..a {
                        acc += jac[k][s][i] * m[i][j] * jac[l][s][j];
                    }
                }
                f[k][l] += acc / n as f64;
            }
        }
    }
    for k in n_net..n_params {
        f[k][k] = 2.0; // log σ block of a Gaussian
    }
    f
}

fn check_fvp(head: Head, act: Activation) {
    let mut r = rng(3);
    let p =
        StochasticPolicy::with_dtype(3, &[5], act, head, &mut r, DType::F64, &Device::Cpu).unwrap();
    // Bigger weights than the default small output layer, so the Fisher is not near zero.
    let vars = p.vars();
    let theta: Vec<f64> = flatten(&vars)
        .unwrap()
        .iter()
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    set_flat(&vars, &theta).unwrap();
    let obs = random_obs(7, 3, &mut r, DType::F64);
    assert_fvp_exact(&p, &obs, &mut r, &format!("{head:?}"));
}

/// `p.fvp` against the explicit Fisher at `obs`, for three random vectors.
fn assert_fvp_exact(p: &StochasticPolicy, obs: &Tensor, r: &mut ChaCha8Rng, what: &str) {
    let f = explicit_fisher(p, obs);
    let n = flatten(&p.vars()).unwrap().len();
    for trial in 0..3 {
        let v: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let want: Vec<f64> = f
            .iter()
            .map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let got = p.fvp(obs, &v).unwrap();
        let diff: f64 = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let norm: f64 = want.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(norm > 1e-3, "degenerate Fisher");
        assert!(
            diff / norm < 1e-8,
            "{what} trial {trial}: relative error {}",
            diff / norm
        );
    }
}

#[test]
fn fvp_equals_the_explicit_fisher_times_v_categorical() {
    check_fvp(Head::Categorical { n: 4 }, Activation::Tanh);
}

#[test]
fn fvp_equals_the_explicit_fisher_times_v_through_relu() {
    // The reverse pass masks by the ReLU's derivative; random inputs never sit exactly at 0.
    check_fvp(Head::Categorical { n: 4 }, Activation::Relu);
}

#[test]
fn fvp_equals_the_explicit_fisher_times_v_gaussian() {
    check_fvp(
        Head::Gaussian {
            dim: 2,
            init_log_std: -0.3,
        },
        Activation::Tanh,
    );
}

#[test]
fn fvp_agrees_with_central_differences_of_the_outputs() {
    // F v = (1/N) Jᵀ M (J v), with J v replaced by (f(θ + εv) − f(θ − εv)) / 2ε.
    let mut r = rng(8);
    let p = StochasticPolicy::with_dtype(
        4,
        &[6, 6],
        Activation::Tanh,
        Head::Categorical { n: 3 },
        &mut r,
        DType::F64,
        &Device::Cpu,
    )
    .unwrap();
    let vars = p.vars();
    let theta: Vec<f64> = flatten(&vars)
        .unwrap()
        .iter()
        .map(|_| r.random_range(-0.8..0.8))
        .collect();
    set_flat(&vars, &theta).unwrap();
    let obs = random_obs(9, 4, &mut r, DType::F64);
    let v: Vec<f64> = (0..theta.len())
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    let eps = 1e-5;
    let shifted = |s: f64| {
        let t: Vec<f64> = theta.iter().zip(&v).map(|(a, b)| a + s * b).collect();
        set_flat(&vars, &t).unwrap();
        p.dist(&obs).unwrap().out
    };
    let jv = ((shifted(eps) - shifted(-eps)).unwrap() / (2.0 * eps)).unwrap();
    set_flat(&vars, &theta).unwrap();
    let out = p.dist(&obs).unwrap().out;
    let pr = candle_nn::ops::softmax_last_dim(&out).unwrap();
    let pjv = (&pr * &jv).unwrap().sum_keepdim(1).unwrap();
    let u = ((&pr * &jv).unwrap() - pr.broadcast_mul(&pjv).unwrap())
        .unwrap()
        .detach();
    let want = p
        .flat_grad(&((u * &out).unwrap().sum_all().unwrap() / 9.0).unwrap())
        .unwrap();
    let got = p.fvp(&obs, &v).unwrap();
    let diff: f64 = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = want.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!(diff / norm < 1e-6, "relative error {}", diff / norm);
}

#[test]
fn cg_solves_random_spd_systems() {
    let mut r = rng(5);
    for trial in 0..20 {
        let n = r.random_range(2..25);
        let q: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..n).map(|_| r.random_range(-1.0..1.0)).collect())
            .collect();
        // A = QᵀQ + 0.5 I is symmetric positive definite.
        let a: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (0..n).map(|k| q[k][i] * q[k][j]).sum::<f64>()
                            + if i == j { 0.5 } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        let b: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
        let mv = |v: &[f64]| {
            Ok(a.iter()
                .map(|row| row.iter().zip(v).map(|(x, y)| x * y).sum())
                .collect())
        };
        let sol = conjugate_gradient(
            mv,
            &b,
            &CgConfig {
                iters: 4 * n,
                residual_tol: 1e-24,
            },
        )
        .unwrap();
        let ax: Vec<f64> = a
            .iter()
            .map(|row| row.iter().zip(&sol.x).map(|(x, y)| x * y).sum())
            .collect();
        let err: f64 = ax
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(err < 1e-8, "trial {trial}, n {n}: residual {err}");
    }
    // Non-finite input is an error, not a silent NaN solution.
    assert!(
        conjugate_gradient(
            |v: &[f64]| Ok(v.to_vec()),
            &[f64::NAN],
            &CgConfig::default()
        )
        .is_err()
    );
}

#[test]
fn gae_matches_a_hand_computed_example() {
    // γ = 0.5, λ = 0.5; three steps, the episode truncated after the last (bootstrap V = 4).
    let r = [1.0, 0.0, 2.0];
    let v = [0.5, 1.0, 2.0];
    let nv = [1.0, 2.0, 4.0];
    let (adv, ret) = gae(&r, &v, &nv, &[false; 3], &[false, false, true], 0.5, 0.5).unwrap();
    // δ = [1 + .5·1 − .5, 0 + .5·2 − 1, 2 + .5·4 − 2] = [1, 0, 2]
    // A2 = 2; A1 = 0 + .25·2 = .5; A0 = 1 + .25·.5 = 1.125
    assert_eq!(adv, vec![1.125, 0.5, 2.0]);
    assert_eq!(ret, vec![1.625, 1.5, 4.0]);
    // A terminal step does not bootstrap, and the recursion stops at episode ends.
    let (adv, _) = gae(
        &[1.0, 1.0],
        &[0.0, 0.0],
        &[5.0, 5.0],
        &[true, false],
        &[true, false],
        0.9,
        0.9,
    )
    .unwrap();
    assert_eq!(adv, vec![1.0, 1.0 + 0.9 * 5.0]);
    assert!(gae(&[1.0], &[], &[1.0], &[false], &[false], 0.9, 0.9).is_err());
}

/// A categorical policy over the bandit's 4 actions with one ReLU layer of `hidden` units.
fn bandit_policy(hidden: usize, r: &mut ChaCha8Rng) -> StochasticPolicy {
    StochasticPolicy::new(
        4,
        &[hidden],
        Activation::Relu,
        Head::Categorical { n: 4 },
        r,
        &Device::Cpu,
    )
    .unwrap()
}

/// A contextual bandit: the observation one-hot codes a context c in 0..4; action c pays 1.
fn bandit_batch(p: &StochasticPolicy, n: usize, r: &mut ChaCha8Rng) -> (PolicyBatch, f64) {
    let ctx: Vec<usize> = (0..n).map(|_| r.random_range(0..4)).collect();
    let obs: Vec<f32> = ctx
        .iter()
        .flat_map(|&c| (0..4).map(move |k| if k == c { 1.0 } else { 0.0 }))
        .collect();
    let obs = Tensor::from_vec(obs, (n, 4), &Device::Cpu).unwrap();
    let mut streams: Vec<ChaCha8Rng> = (0..n)
        .map(|i| rng(1000 + i as u64 + r.random::<u32>() as u64))
        .collect();
    let mut refs: Vec<&mut ChaCha8Rng> = streams.iter_mut().collect();
    let (acts, _) = p.sample(&obs, &mut refs).unwrap();
    let rew: Vec<f64> = acts
        .iter()
        .zip(&ctx)
        .map(|(&a, &c)| if a as usize == c { 1.0 } else { 0.0 })
        .collect();
    let mean = rew.iter().sum::<f64>() / n as f64;
    let actions = Tensor::from_iter(acts.iter().map(|&a| a as u32), &Device::Cpu).unwrap();
    (
        PolicyBatch {
            obs,
            actions,
            advantages: rew,
            anchor: None,
        },
        mean,
    )
}

#[test]
fn trpo_learns_a_contextual_bandit_and_respects_the_trust_region() {
    let mut r = rng(11);
    let p = bandit_policy(16, &mut r);
    let cfg = TrpoConfig {
        max_kl: 0.05,
        ..TrpoConfig::default()
    };
    let (_, start) = bandit_batch(&p, 512, &mut r);
    for _ in 0..15 {
        let (batch, _) = bandit_batch(&p, 512, &mut r);
        let before = p.dist(&batch.obs).unwrap();
        let before = DistParams {
            out: before.out.detach(),
            log_std: None,
        };
        let rep = trpo_step(&p, &batch, &cfg).unwrap();
        if let LineSearch::Accepted {
            kl, improvement, ..
        } = rep.line_search
        {
            let after = p.dist(&batch.obs).unwrap();
            let real_kl = p.kl(&before, &after).unwrap().to_scalar::<f32>().unwrap() as f64;
            assert!(
                kl <= cfg.max_kl && real_kl <= cfg.max_kl * 1.0001,
                "KL {kl} / {real_kl}"
            );
            assert!(improvement > 0.0);
        }
    }
    let (_, end) = bandit_batch(&p, 2048, &mut r);
    assert!(start < 0.4, "starts near uniform: {start}");
    assert!(end > 0.8, "learned the bandit: {start} -> {end}");
}

#[test]
fn a_gaussian_step_respects_the_trust_region_in_its_log_std_too() {
    // Advantages that reward actions far from the mean push log σ up. The KL the line search
    // bounds must be to the policy before the step, log σ included, as recomputed here from a
    // separate policy holding the old parameters.
    let mut r = rng(17);
    let head = Head::Gaussian {
        dim: 2,
        init_log_std: -0.5,
    };
    let make = |r: &mut ChaCha8Rng| {
        StochasticPolicy::with_dtype(3, &[8], Activation::Tanh, head, r, DType::F64, &Device::Cpu)
            .unwrap()
    };
    let p = make(&mut r);
    let n = 256;
    let obs = random_obs(n, 3, &mut r, DType::F64);
    let mu = p.dist(&obs).unwrap().out.to_vec2::<f64>().unwrap();
    let mut actions = Vec::with_capacity(2 * n);
    let mut advantages = Vec::with_capacity(n);
    for row in &mu {
        let dev: Vec<f64> = row.iter().map(|_| r.random_range(-2.0..2.0)).collect();
        advantages.push(dev.iter().map(|d| d * d).sum::<f64>());
        actions.extend(row.iter().zip(&dev).map(|(m, d)| m + d));
    }
    let batch = PolicyBatch {
        obs: obs.clone(),
        actions: Tensor::from_vec(actions, (n, 2), &Device::Cpu).unwrap(),
        advantages,
        anchor: None,
    };
    let theta0 = flatten(&p.vars()).unwrap();
    let old = make(&mut r);
    set_flat(&old.vars(), &theta0).unwrap();
    let cfg = TrpoConfig {
        max_kl: 0.01,
        ..TrpoConfig::default()
    };
    let rep = trpo_step(&p, &batch, &cfg).unwrap();
    let LineSearch::Accepted { kl, .. } = rep.line_search else {
        panic!("no step: {:?}", rep.line_search);
    };
    let theta1 = flatten(&p.vars()).unwrap();
    let k = theta0.len() - 2;
    assert!(
        theta1[k..].iter().zip(&theta0[k..]).all(|(a, b)| a > b),
        "log σ did not grow: {:?} -> {:?}",
        &theta0[k..],
        &theta1[k..]
    );
    let real = p
        .kl(&old.dist(&obs).unwrap(), &p.dist(&obs).unwrap())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(
        (real - kl).abs() <= 1e-9 + 1e-6 * real,
        "reported KL {kl}, real KL {real}"
    );
    assert!(
        real <= cfg.max_kl * (1.0 + 1e-9),
        "KL {real} over the bound"
    );
}

#[test]
fn the_line_search_never_takes_a_bad_step() {
    let mut r = rng(2);
    let p = bandit_policy(8, &mut r);
    let vars = p.vars();
    let theta0 = flatten(&vars).unwrap();
    let (batch, _) = bandit_batch(&p, 64, &mut r);
    // Zero gradient: all advantages zero (no normalisation).
    let cfg0 = TrpoConfig {
        normalize_advantages: false,
        ..TrpoConfig::default()
    };
    let zero = PolicyBatch {
        advantages: vec![0.0; 64],
        ..batch.clone()
    };
    assert!(matches!(
        trpo_step(&p, &zero, &cfg0).unwrap().line_search,
        LineSearch::Rejected { .. }
    ));
    assert_eq!(flatten(&vars).unwrap(), theta0);
    // NaN gradient: a NaN observation poisons the gradient.
    let mut o = batch.obs.to_vec2::<f32>().unwrap();
    o[3][1] = f32::NAN;
    let nan = PolicyBatch {
        obs: Tensor::new(o, &Device::Cpu).unwrap(),
        ..batch.clone()
    };
    assert!(matches!(
        trpo_step(&p, &nan, &cfg0).unwrap().line_search,
        LineSearch::Rejected { .. }
    ));
    assert_eq!(flatten(&vars).unwrap(), theta0);
    // NaN advantages are refused outright.
    let bad = PolicyBatch {
        advantages: vec![f64::NAN; 64],
        ..batch.clone()
    };
    assert!(trpo_step(&p, &bad, &cfg0).is_err());
    // A huge trust region: whatever is taken must still be a real, bounded improvement.
    let huge = TrpoConfig {
        max_kl: 50.0,
        cg_damping: 1e-6,
        line_search_steps: 3,
        ..TrpoConfig::default()
    };
    let rep = trpo_step(&p, &batch, &huge).unwrap();
    match rep.line_search {
        LineSearch::Accepted {
            kl, improvement, ..
        } => assert!(kl <= 50.0 && improvement > 0.0),
        LineSearch::Rejected { .. } => assert_eq!(flatten(&vars).unwrap(), theta0),
    }
    // A tiny trust region bounds the step.
    set_flat(&vars, &theta0).unwrap();
    let tiny = TrpoConfig {
        max_kl: 1e-6,
        ..TrpoConfig::default()
    };
    if let LineSearch::Accepted { kl, .. } = trpo_step(&p, &batch, &tiny).unwrap().line_search {
        assert!(kl <= 1e-6);
    }
    assert!(
        trpo_step(
            &p,
            &batch,
            &TrpoConfig {
                max_kl: -1.0,
                ..TrpoConfig::default()
            }
        )
        .is_err()
    );
}

#[test]
fn the_value_function_fits_a_simple_target() {
    let mut r = rng(4);
    let mut v = ValueFunction::new(2, &[32], Activation::Relu, 3e-3, &mut r, &Device::Cpu).unwrap();
    let obs = random_obs(256, 2, &mut r, DType::F32);
    let x = obs.to_vec2::<f32>().unwrap();
    let y: Vec<f64> = x.iter().map(|p| f64::from(2.0 * p[0] - p[1])).collect();
    let first = v.fit(&obs, &y, 1, 8, &mut r).unwrap();
    let last = v.fit(&obs, &y, 60, 8, &mut r).unwrap();
    assert!(last < 0.05 * first, "loss {first} -> {last}");
    assert!(v.fit(&obs, &[0.0; 3], 1, 1, &mut r).is_err());
}

#[test]
fn a_value_fit_on_bad_numbers_is_an_error_that_leaves_the_weights_finite() {
    let mut r = rng(5);
    let mut v = ValueFunction::new(2, &[8], Activation::Relu, 1e-3, &mut r, &Device::Cpu).unwrap();
    let clean = random_obs(16, 2, &mut r, DType::F32);
    let finite = |v: &ValueFunction| v.predict(&clean).unwrap().iter().all(|p| p.is_finite());
    // One NaN observation: the first minibatch holding it is refused before its Adam step.
    let mut x = clean.to_vec2::<f32>().unwrap();
    x[3][1] = f32::NAN;
    let bad = Tensor::new(x, &Device::Cpu).unwrap();
    let err = v.fit(&bad, &[0.5; 16], 2, 4, &mut r).unwrap_err();
    assert!(matches!(err, TrpoError::NonFinite { .. }), "{err}");
    assert!(finite(&v));
    // A target that is finite as f64 but not as f32.
    let mut y = vec![0.0; 16];
    y[5] = 1e39;
    assert!(matches!(
        v.fit(&clean, &y, 1, 1, &mut r),
        Err(TrpoError::NonFinite { .. })
    ));
    // A loss that overflows f32 (squared errors of 1e30) is refused too.
    assert!(matches!(
        v.fit(&clean, &[1e30; 16], 1, 1, &mut r),
        Err(TrpoError::NonFinite { .. })
    ));
    assert!(finite(&v));
    // And the network still fits clean data afterwards.
    assert!(v.fit(&clean, &[0.5; 16], 3, 2, &mut r).unwrap().is_finite());
}

#[test]
fn a_broken_policy_or_batch_is_an_error_not_a_silent_answer() {
    let mut r = rng(6);
    let p = bandit_policy(8, &mut r);
    let (batch, _) = bandit_batch(&p, 16, &mut r);
    // Fewer action rows than observations.
    let short = PolicyBatch {
        actions: batch.actions.narrow(0, 0, 15).unwrap(),
        ..batch.clone()
    };
    let err = trpo_step(&p, &short, &TrpoConfig::default()).unwrap_err();
    assert!(
        matches!(
            err,
            TrpoError::Size {
                what: "actions",
                ..
            }
        ),
        "{err}"
    );
    // NaN weights: sampling refuses instead of answering the last category.
    let vars = p.vars();
    let mut theta = flatten(&vars).unwrap();
    let last = theta.len() - 1; // an output bias: no ReLU in between to absorb the NaN
    theta[last] = f64::NAN;
    set_flat(&vars, &theta).unwrap();
    let obs = random_obs(3, 4, &mut r, DType::F32);
    let mut streams: Vec<ChaCha8Rng> = (0..3).map(rng).collect();
    let mut refs: Vec<&mut ChaCha8Rng> = streams.iter_mut().collect();
    assert!(matches!(
        p.sample(&obs, &mut refs),
        Err(TrpoError::NonFinite { .. })
    ));
}

#[test]
fn an_anchor_pulls_the_policy_toward_its_demonstrations_within_the_trust_region() {
    let mut r = rng(7);
    let p = bandit_policy(16, &mut r);
    let theta0 = flatten(&p.vars()).unwrap();
    // Demonstrations play action (c + 1) mod 4 in context c; the batch carries no signal.
    let demo_obs: Vec<f32> = (0..64)
        .flat_map(|i| (0..4).map(move |k| if k == i % 4 { 1.0 } else { 0.0 }))
        .collect();
    let demo_obs = Tensor::from_vec(demo_obs, (64, 4), &Device::Cpu).unwrap();
    let demo_act = Tensor::from_iter((0..64u32).map(|i| (i + 1) % 4), &Device::Cpu).unwrap();
    let likelihood = |p: &StochasticPolicy| {
        let d = p.dist(&demo_obs).unwrap();
        p.log_prob(&d, &demo_act)
            .unwrap()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let (batch, _) = bandit_batch(&p, 256, &mut r);
    let cfg = TrpoConfig {
        normalize_advantages: false,
        ..TrpoConfig::default()
    };
    let anchored = PolicyBatch {
        advantages: vec![0.0; 256],
        anchor: Some(Anchor {
            obs: demo_obs.clone(),
            actions: demo_act.clone(),
            weight: 1.0,
        }),
        ..batch.clone()
    };
    let before = likelihood(&p);
    for _ in 0..20 {
        match trpo_step(&p, &anchored, &cfg).unwrap().line_search {
            LineSearch::Accepted { kl, .. } => assert!(kl <= cfg.max_kl),
            LineSearch::Rejected { reason } => panic!("rejected: {reason}"),
        }
    }
    let after = likelihood(&p);
    assert!(
        after > before + 0.5,
        "demonstrations became likelier: {before} -> {after}"
    );
    // Weight 0 is plain TRPO, step for step.
    set_flat(&p.vars(), &theta0).unwrap();
    trpo_step(&p, &batch, &TrpoConfig::default()).unwrap();
    let plain = flatten(&p.vars()).unwrap();
    set_flat(&p.vars(), &theta0).unwrap();
    let zero = PolicyBatch {
        anchor: Some(Anchor {
            obs: demo_obs.clone(),
            actions: demo_act.clone(),
            weight: 0.0,
        }),
        ..batch.clone()
    };
    trpo_step(&p, &zero, &TrpoConfig::default()).unwrap();
    assert_eq!(flatten(&p.vars()).unwrap(), plain);
    // A negative or NaN weight, or mismatched anchor sizes, is refused by name.
    for w in [-1.0, f64::NAN] {
        let bad = PolicyBatch {
            anchor: Some(Anchor {
                obs: demo_obs.clone(),
                actions: demo_act.clone(),
                weight: w,
            }),
            ..batch.clone()
        };
        let e = trpo_step(&p, &bad, &cfg).unwrap_err().to_string();
        assert!(e.contains("anchor.weight"), "{e}");
    }
    let short = PolicyBatch {
        anchor: Some(Anchor {
            obs: demo_obs,
            actions: demo_act.narrow(0, 0, 10).unwrap(),
            weight: 1.0,
        }),
        ..batch
    };
    assert!(
        trpo_step(&p, &short, &cfg)
            .unwrap_err()
            .to_string()
            .contains("anchor")
    );
}

/// The Fisher subsample takes every k-th row: on a batch whose observations come in runs of k
/// equal rows, that subsample has exactly the batch's Fisher, so the step is the full step; on
/// a batch without that structure it is a different (approximate) step. Zero is refused.
#[test]
fn the_fisher_subsample_keeps_the_step_when_the_subsample_has_the_batch_fisher() {
    let k = 4;
    let make = || {
        StochasticPolicy::new(
            6,
            &[16],
            Activation::Relu,
            Head::Categorical { n: 3 },
            &mut rng(5),
            &Device::Cpu,
        )
        .unwrap()
    };
    let mut r = rng(6);
    let m = 48;
    let base = random_obs(m, 6, &mut r, DType::F32)
        .to_vec2::<f32>()
        .unwrap();
    // Each base row k times in a row; actions and advantages differ between the copies, so the
    // gradient uses every row while the Fisher (a function of the observations only) does not.
    let rows: Vec<Vec<f32>> = base
        .iter()
        .flat_map(|row| std::iter::repeat_n(row.clone(), k))
        .collect();
    let n = rows.len();
    let acts: Vec<u32> = (0..n).map(|_| r.random_range(0..3)).collect();
    let adv: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    let batch = PolicyBatch {
        obs: Tensor::new(rows, &Device::Cpu).unwrap(),
        actions: Tensor::new(acts.as_slice(), &Device::Cpu).unwrap(),
        advantages: adv.clone(),
        anchor: None,
    };
    let step = |p: &StochasticPolicy, b: &PolicyBatch, sub: usize| {
        let cfg = TrpoConfig {
            fisher_subsample: sub,
            ..TrpoConfig::default()
        };
        let rep = trpo_step(p, b, &cfg).unwrap();
        assert!(
            matches!(rep.line_search, LineSearch::Accepted { .. }),
            "{rep:?}"
        );
        flatten(&p.vars()).unwrap()
    };
    let theta0 = flatten(&make().vars()).unwrap();
    let (full, sub) = (make(), make());
    let a = step(&full, &batch, 1);
    let b = step(&sub, &batch, k);
    let moved: f64 = a.iter().zip(&theta0).map(|(x, y)| (x - y).abs()).sum();
    let diff: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
    assert!(moved > 1e-3, "the step moved the parameters: {moved}");
    assert!(
        diff < 1e-4 * moved,
        "same Fisher, same step: {diff} vs {moved}"
    );

    // Distinct rows: the subsample sees a quarter of the states, another Fisher, another step.
    let distinct = PolicyBatch {
        obs: random_obs(n, 6, &mut r, DType::F32),
        ..batch.clone()
    };
    let (full, sub) = (make(), make());
    let a = step(&full, &distinct, 1);
    let b = step(&sub, &distinct, k);
    let diff: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
    assert!(
        diff > 1e-3 * moved,
        "a different Fisher gives a different step: {diff}"
    );

    let zero = TrpoConfig {
        fisher_subsample: 0,
        ..TrpoConfig::default()
    };
    let err = trpo_step(&make(), &batch, &zero).unwrap_err().to_string();
    assert!(err.contains("fisher_subsample"), "{err}");
    let no_minibatch = TrpoConfig {
        vf_minibatches: 0,
        ..TrpoConfig::default()
    };
    let err = no_minibatch.validate().unwrap_err().to_string();
    assert!(err.contains("vf_minibatches"), "{err}");
}

#[test]
fn the_hand_written_backward_pass_is_autograds() {
    // Σ dout ⊙ output differentiated by hand and by candle's autograd, for both activations,
    // with a seed that depends on the output (as the critic's squared error does).
    let dev = Device::Cpu;
    let mut r = ChaCha8Rng::seed_from_u64(17);
    for act in [Activation::Relu, Activation::Tanh] {
        let mlp = Mlp::new(&[6, 9, 7, 2], act, 1.0, &mut r, DType::F32, &dev).unwrap();
        let xv: Vec<f32> = (0..11 * 6).map(|_| r.random_range(-2.0..2.0)).collect();
        let x = Tensor::from_vec(xv, (11, 6), &dev).unwrap();
        let target: Vec<f32> = (0..11 * 2).map(|_| r.random_range(-1.0..1.0)).collect();
        let (out, got) = mlp
            .backward(&x, |o| {
                Ok(o.iter()
                    .zip(&target)
                    .map(|(a, b)| 2.0 * (a - b) / 22.0)
                    .collect())
            })
            .unwrap();
        let pred = mlp.forward(&x).unwrap();
        let want_out: Vec<f32> = pred.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(out, want_out, "{act:?}: the forward pass is the same");
        let t = Tensor::from_vec(target.clone(), (11, 2), &dev).unwrap();
        let loss = (pred - t).unwrap().sqr().unwrap().mean_all().unwrap();
        let store = loss.backward().unwrap();
        for (k, (var, g)) in mlp.vars().iter().zip(&got).enumerate() {
            let want: Vec<f32> = store
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(g.len(), want.len());
            for (a, b) in g.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{act:?} parameter {k}: {a} vs {b}");
            }
            assert!(
                want.iter().any(|v| v.abs() > 1e-4),
                "{act:?} parameter {k} moves"
            );
        }
        let short = mlp.backward(&x, |_| Ok(vec![0.0; 3]));
        assert!(short.is_err(), "a seed of the wrong length is refused");
    }
}

/// A masked policy: the observation's last 4 entries say which of its 4 actions are legal. It
/// never samples or prefers an illegal one, its log-probabilities stay finite, and its
/// Fisher-vector product is the masked distribution's exactly.
#[test]
fn a_masked_policy_never_chooses_an_illegal_action_and_its_fisher_is_exact() {
    let mut r = rng(5);
    let head = Head::Categorical { n: 4 };
    let p = StochasticPolicy::with_dtype(
        7,
        &[5],
        Activation::Tanh,
        head,
        &mut r,
        DType::F64,
        &Device::Cpu,
    )
    .unwrap()
    .with_action_mask(4)
    .unwrap();
    assert_eq!(p.action_mask(), Some(4));
    let vars = p.vars();
    let theta: Vec<f64> = flatten(&vars)
        .unwrap()
        .iter()
        .map(|_| r.random_range(-1.0..1.0))
        .collect();
    set_flat(&vars, &theta).unwrap();
    let rows = 9;
    let mut obs = Vec::new();
    let mut legal = Vec::new();
    for row in 0..rows {
        obs.extend((0..3).map(|_| r.random_range(-1.0..1.0)));
        // Every mask but the all-illegal one, in turn.
        let bits = 1 + row % 15;
        let m: Vec<f64> = (0..4).map(|k| f64::from((bits >> k) & 1 == 1)).collect();
        legal.push(m.clone());
        obs.extend(m);
    }
    let obs = Tensor::from_vec(obs, (rows, 7), &Device::Cpu).unwrap();
    assert_fvp_exact(&p, &obs, &mut r, "masked");
    // Sampling and the greedy action keep to the legal actions.
    let mut gens: Vec<ChaCha8Rng> = (0..rows as u64).map(|s| rng(100 + s)).collect();
    for _ in 0..300 {
        let mut refs: Vec<&mut ChaCha8Rng> = gens.iter_mut().collect();
        let (acts, logp) = p.sample(&obs, &mut refs).unwrap();
        for (row, (&a, &lp)) in acts.iter().zip(&logp).enumerate() {
            assert_eq!(
                legal[row][a as usize], 1.0,
                "row {row} chose illegal action {a}"
            );
            assert!(lp.is_finite() && lp <= 0.0);
        }
    }
    for (row, &a) in p.act_greedy(&obs).unwrap().iter().enumerate() {
        assert_eq!(legal[row][a as usize], 1.0);
    }
    // The KL between two masked policies is finite.
    let d = p.dist(&obs).unwrap();
    let kl = p.kl(&d, &d).unwrap().to_scalar::<f64>().unwrap();
    assert!(kl.abs() < 1e-9);
    // A Gaussian head, or a mask wider than the actions, is refused.
    let gauss = Head::Gaussian {
        dim: 2,
        init_log_std: 0.0,
    };
    let g = StochasticPolicy::new(7, &[5], Activation::Tanh, gauss, &mut r, &Device::Cpu).unwrap();
    assert!(g.with_action_mask(2).is_err());
    let c = StochasticPolicy::new(7, &[5], Activation::Tanh, head, &mut r, &Device::Cpu).unwrap();
    assert!(c.with_action_mask(5).is_err());
}
