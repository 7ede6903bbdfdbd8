//! Discriminator behaviour: the loss falls and accuracy rises on separable data; reward forms are
//! monotone in D; inputs encode actions as documented.

#![allow(clippy::unwrap_used)]

use candle_core::{Device, Tensor};
use gail::*;
use mg_core::ActionSpace;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn the_discriminator_learns_to_separate_expert_from_policy() {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    // Expert inputs cluster around +1, policy inputs around −1, in 4 dimensions.
    let make = |c: f32, r: &mut ChaCha8Rng| -> Vec<f32> {
        (0..256 * 4)
            .map(|_| c + r.random_range(-0.8..0.8))
            .collect()
    };
    let expert = make(1.0, &mut r);
    let policy = make(-1.0, &mut r);
    let mut d = Discriminator::new(
        4,
        1,
        DiscConfig {
            hidden: vec![16],
            lr: 1e-2,
            ..DiscConfig::default()
        },
        &mut r,
        &Device::Cpu,
    )
    .unwrap();
    let first = d.train_step(&expert, &policy).unwrap();
    let mut last = first;
    for _ in 0..100 {
        last = d.train_step(&expert, &policy).unwrap();
    }
    assert!(
        last.loss < 0.3 * first.loss,
        "loss {} -> {}",
        first.loss,
        last.loss
    );
    assert!(last.acc_expert > 0.95 && last.acc_policy > 0.95, "{last:?}");
    assert!(last.acc_expert + last.acc_policy > first.acc_expert + first.acc_policy);
    let le = d.logits(&expert[..4]).unwrap()[0];
    let lp = d.logits(&policy[..4]).unwrap()[0];
    assert!(le > 0.0 && lp < 0.0, "expert is high: {le} vs {lp}");
    assert!(d.train_step(&expert[..3], &policy).is_err());
}

#[test]
fn every_reward_form_is_increasing_in_d() {
    for f in [
        RewardForm::LogD,
        RewardForm::NegLog1mD,
        RewardForm::Logit,
        RewardForm::PaperLinear,
    ] {
        let mut prev = f64::NEG_INFINITY;
        for k in -400..=400 {
            let l = f64::from(k) * 0.05;
            let v = f.from_logit(l);
            assert!(
                v.is_finite() && v > prev,
                "{f:?} not increasing at logit {l}"
            );
            prev = v;
        }
    }
    // Exact values at a known point: D = σ(ln 3) = 0.75.
    let l = 3f64.ln();
    assert!((RewardForm::LogD.from_logit(l) - 0.75f64.ln()).abs() < 1e-12);
    assert!((RewardForm::NegLog1mD.from_logit(l) + 0.25f64.ln()).abs() < 1e-12);
    assert!((RewardForm::PaperLinear.from_logit(l) - 0.5).abs() < 1e-12);
}

#[test]
fn the_loss_labels_expert_one_and_smoothing_moves_targets() {
    let dev = Device::Cpu;
    let big = Tensor::new(&[[20.0f32]], &dev).unwrap();
    let small = Tensor::new(&[[-20.0f32]], &dev).unwrap();
    let right = discriminator_loss(&big, &small, 0.0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let wrong = discriminator_loss(&small, &big, 0.0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(right < 1e-6 && wrong > 19.0, "{right} {wrong}");
    let smoothed = discriminator_loss(&big, &small, 0.1)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        smoothed > 1.0,
        "confident logits are penalised under smoothing: {smoothed}"
    );
    assert_eq!(zero_sum_labels()[1], (true, true, 0.5));
}

#[test]
fn inputs_one_hot_discrete_actions_with_an_optional_phi_slot() {
    let mut out = Vec::new();
    encode_pairs(
        &[0.5, 0.25, -1.0, 2.0],
        2,
        &[2.0, 3.0],
        ActionSpace::Discrete { n: 3 },
        true,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![0.5, 0.25, 0.0, 0.0, 1.0, 0.0, -1.0, 2.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(input_width(2, ActionSpace::Discrete { n: 3 }, true), 6);
    let mut out = Vec::new();
    encode_pairs(
        &[1.0],
        1,
        &[3.0],
        ActionSpace::Discrete { n: 3 },
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![1.0, 0.0, 0.0, 0.0],
        "without the slot φ encodes as no action"
    );
    // What the space does not hold is refused, and nothing is appended.
    let d3 = ActionSpace::Discrete { n: 3 };
    for (obs, d, acts) in [
        (vec![1.0], 1, vec![-1.0]),
        (vec![1.0], 1, vec![4.0]),
        (vec![1.0], 1, vec![1.5]),
        (vec![1.0], 1, vec![f32::NAN]),
        (vec![1.0, 2.0], 1, vec![1.0]),
        (vec![1.0, 2.0, 3.0], 2, vec![1.0]),
    ] {
        let mut out = vec![7.0];
        assert!(
            encode_pairs(&obs, d, &acts, d3, true, &mut out).is_err(),
            "{obs:?} {acts:?} was encoded"
        );
        assert_eq!(out, vec![7.0]);
    }
}

#[test]
fn the_input_gradient_matches_finite_differences_for_every_output() {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let d = Discriminator::new(
        3,
        2,
        DiscConfig {
            hidden: vec![8, 8],
            ..DiscConfig::default()
        },
        &mut r,
        &Device::Cpu,
    )
    .unwrap();
    let x: Vec<f32> = (0..5 * 3).map(|_| r.random_range(-1.0..1.0)).collect();
    for k in 0..2 {
        let g = d.input_gradient(&x, k).unwrap();
        for row in 0..5 {
            for j in 0..3 {
                let h = 1e-2f32;
                let mut xp = x[row * 3..row * 3 + 3].to_vec();
                let mut xm = xp.clone();
                xp[j] += h;
                xm[j] -= h;
                let fd = (d.logits(&xp).unwrap()[k] - d.logits(&xm).unwrap()[k]) / (2.0 * h);
                let an = g[row * 3 + j];
                // A ReLU kink between x−h and x+h would break the comparison; with 8-unit
                // layers and this seed none is crossed, and the tolerance covers f32 rounding.
                assert!(
                    (fd - an).abs() < 2e-3,
                    "row {row} input {j} output {k}: {fd} vs {an}"
                );
            }
        }
    }
    assert!(d.input_gradient(&x, 2).is_err());
}

#[test]
fn the_gradient_penalty_holds_the_input_gradient_near_unit_norm() {
    // Expert and policy clusters 0.1 apart: separating them without a penalty needs a steep D.
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let make = |c: f32, r: &mut ChaCha8Rng| -> Vec<f32> {
        (0..256 * 2)
            .map(|_| c + r.random_range(-0.02..0.02))
            .collect()
    };
    let expert = make(0.05, &mut r);
    let policy = make(-0.05, &mut r);
    let mean_norm = |gp: f64| -> (f64, DiscStats) {
        let mut d = Discriminator::new(
            2,
            1,
            DiscConfig {
                hidden: vec![32, 32],
                lr: 1e-2,
                gradient_penalty: gp,
                ..DiscConfig::default()
            },
            &mut ChaCha8Rng::seed_from_u64(9),
            &Device::Cpu,
        )
        .unwrap();
        let mut last = DiscStats::default();
        for _ in 0..300 {
            last = d.train_step(&expert, &policy).unwrap();
        }
        let g = d.input_gradient(&policy, 0).unwrap();
        let norms: Vec<f64> = g
            .chunks(2)
            .map(|c| f64::from(c[0] * c[0] + c[1] * c[1]).sqrt())
            .collect();
        (norms.iter().sum::<f64>() / norms.len() as f64, last)
    };
    let (free, free_stats) = mean_norm(0.0);
    let (held, held_stats) = mean_norm(10.0);
    assert_eq!(free_stats.gradient_penalty, 0.0);
    assert!(held_stats.gradient_penalty.is_finite() && held_stats.gradient_penalty > 0.0);
    assert!(free > 5.0, "without a penalty D grows steep: {free}");
    assert!(
        (held - 1.0).abs() < 0.5,
        "with λ = 10 the norm stays near 1: {held}"
    );
    // A negative weight is refused by name.
    let err = Discriminator::new(
        2,
        1,
        DiscConfig {
            gradient_penalty: -1.0,
            ..DiscConfig::default()
        },
        &mut r,
        &Device::Cpu,
    )
    .unwrap_err();
    assert!(err.to_string().contains("gradient_penalty"), "{err}");
}

#[test]
fn paired_labels_train_the_zero_sum_discriminator_towards_their_targets() {
    // Three clusters with the zero-sum prior's targets 1, ½ and 0: after training, D on each
    // cluster approaches its target (the ½ cluster included: cross-entropy against ½ is
    // minimised at D = ½).
    let mut r = ChaCha8Rng::seed_from_u64(8);
    let make = |c: f32, r: &mut ChaCha8Rng| -> Vec<f32> {
        (0..128 * 2)
            .map(|_| c + r.random_range(-0.3..0.3))
            .collect()
    };
    let hi = make(1.5, &mut r);
    let mid = make(0.0, &mut r);
    let lo = make(-1.5, &mut r);
    let mut d = Discriminator::new(
        2,
        1,
        DiscConfig {
            hidden: vec![32, 32],
            lr: 1e-2,
            ..DiscConfig::default()
        },
        &mut r,
        &Device::Cpu,
    )
    .unwrap();
    let labels = zero_sum_labels();
    let sets = [
        (hi.as_slice(), labels[0].2),
        (mid.as_slice(), labels[1].2),
        (lo.as_slice(), labels[2].2),
    ];
    let first = d.train_step_labelled(&sets).unwrap();
    let mut last = first;
    for _ in 0..300 {
        last = d.train_step_labelled(&sets).unwrap();
    }
    assert!(last.loss < first.loss, "{first:?} -> {last:?}");
    let (ph, pm, pl) = (
        d.mean_prob(&hi).unwrap(),
        d.mean_prob(&mid).unwrap(),
        d.mean_prob(&lo).unwrap(),
    );
    assert!(
        ph > 0.9 && pl < 0.1 && (pm - 0.5).abs() < 0.1,
        "{ph} {pm} {pl}"
    );
    // Targets outside [0, 1] and a single set are refused by name.
    let err = d
        .train_step_labelled(&[(hi.as_slice(), 2.0), (lo.as_slice(), 0.0)])
        .unwrap_err();
    assert!(err.to_string().contains("target"), "{err}");
    assert!(d.train_step_labelled(&[(hi.as_slice(), 1.0)]).is_err());
}

#[test]
fn minibatch_steps_train_on_strided_rows_of_every_set() {
    // Step j of a discriminator with m minibatches trains on rows j, j + m, … of each set: the
    // same as full-batch steps on those rows, step by step.
    let mut r = ChaCha8Rng::seed_from_u64(11);
    let expert: Vec<f32> = (0..10 * 3).map(|_| r.random_range(-1.0..1.0)).collect();
    let policy: Vec<f32> = (0..7 * 3).map(|_| r.random_range(-1.0..1.0)).collect();
    let rows = |x: &[f32], j: usize, m: usize| -> Vec<f32> {
        x.chunks(3).skip(j).step_by(m).flatten().copied().collect()
    };
    let cfg = |minibatches, steps| DiscConfig {
        hidden: vec![8],
        lr: 1e-2,
        steps,
        minibatches,
        ..DiscConfig::default()
    };
    let new =
        |c| Discriminator::new(3, 1, c, &mut ChaCha8Rng::seed_from_u64(5), &Device::Cpu).unwrap();
    let mut mb = new(cfg(3, 3));
    let mut full = new(cfg(1, 1));
    let stats = mb.train_step(&expert, &policy).unwrap();
    let mut first = None;
    for j in 0..3 {
        let s = full
            .train_step(&rows(&expert, j, 3), &rows(&policy, j, 3))
            .unwrap();
        first.get_or_insert(s);
    }
    assert_eq!(Some(stats), first, "statistics of the first minibatch");
    let probe: Vec<f32> = (0..5 * 3).map(|_| r.random_range(-1.0..1.0)).collect();
    assert_eq!(mb.logits(&probe).unwrap(), full.logits(&probe).unwrap());
    // A different split gives a different discriminator, so the test can tell them apart.
    let mut two = new(cfg(2, 3));
    two.train_step(&expert, &policy).unwrap();
    assert_ne!(two.logits(&probe).unwrap(), full.logits(&probe).unwrap());
    let err = Discriminator::new(3, 1, cfg(0, 1), &mut r, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("minibatches"), "{err}");
}

#[test]
fn empty_sets_and_zero_widths_are_refused_and_loading_restarts_adam() {
    let mut r = ChaCha8Rng::seed_from_u64(9);
    let cfg = |gp: f64| DiscConfig {
        hidden: vec![8],
        gradient_penalty: gp,
        ..DiscConfig::default()
    };
    let expert: Vec<f32> = (0..12).map(|_| r.random_range(0.0..1.0)).collect();
    let policy: Vec<f32> = (0..12).map(|_| r.random_range(-1.0..0.0)).collect();
    // An empty set is an error with and without the gradient penalty, not a one-sided step.
    for gp in [0.0, 10.0] {
        let mut d = Discriminator::new(3, 1, cfg(gp), &mut r, &Device::Cpu).unwrap();
        let before = d.logits(&expert).unwrap();
        let err = d.train_step(&expert, &[]).unwrap_err();
        assert!(
            matches!(err, GailError::Config { field: "sets", .. }),
            "{err}"
        );
        assert_eq!(d.logits(&expert).unwrap(), before);
    }
    // Zero widths would make the initialisation bound infinite.
    for (in_dim, outputs, hidden) in [(0, 1, vec![8]), (3, 0, vec![8]), (3, 1, vec![0])] {
        let c = DiscConfig {
            hidden,
            ..DiscConfig::default()
        };
        assert!(matches!(
            Discriminator::new(in_dim, outputs, c, &mut r, &Device::Cpu),
            Err(GailError::Config { .. })
        ));
    }
    // Loading a snapshot into a trained discriminator continues as a fresh one given it would:
    // Adam's moments do not carry over.
    let mut r1 = ChaCha8Rng::seed_from_u64(10);
    let mut trained = Discriminator::new(3, 1, cfg(0.0), &mut r1, &Device::Cpu).unwrap();
    let snap: std::collections::HashMap<String, Tensor> =
        trained.tensors("d").unwrap().into_iter().collect();
    for _ in 0..3 {
        trained.train_step(&expert, &policy).unwrap();
    }
    trained.load_tensors(&snap, "d").unwrap();
    let mut r2 = ChaCha8Rng::seed_from_u64(11);
    let mut fresh = Discriminator::new(3, 1, cfg(0.0), &mut r2, &Device::Cpu).unwrap();
    fresh.load_tensors(&snap, "d").unwrap();
    trained.train_step(&expert, &policy).unwrap();
    fresh.train_step(&expert, &policy).unwrap();
    assert_eq!(
        trained.logits(&expert).unwrap(),
        fresh.logits(&expert).unwrap()
    );
}

#[test]
fn a_masked_output_is_not_trained_and_its_accuracy_not_counted() {
    let mut r = ChaCha8Rng::seed_from_u64(12);
    let cfg = DiscConfig {
        hidden: vec![8],
        steps: 3,
        lr: 1e-2,
        ..DiscConfig::default()
    };
    let mut d = Discriminator::new(2, 2, cfg, &mut r, &Device::Cpu).unwrap();
    let expert: Vec<f32> = (0..16).map(|_| r.random_range(0.5..1.0)).collect();
    let policy: Vec<f32> = (0..16).map(|_| r.random_range(-1.0..-0.5)).collect();
    // Output 1 is masked out everywhere (its agent never acted): its last-layer row and bias
    // keep their values while output 0 learns.
    let mask: Vec<f32> = (0..8).flat_map(|_| [1.0, 0.0]).collect();
    let before = d.tensors("d").unwrap();
    let s = d
        .train_sets(&[
            LabelledSet {
                inputs: &expert,
                target: 1.0,
                mask: Some(&mask),
            },
            LabelledSet {
                inputs: &policy,
                target: 0.0,
                mask: Some(&mask),
            },
        ])
        .unwrap();
    let after = d.tensors("d").unwrap();
    let rows = |t: &[(String, Tensor)], name: &str| -> Vec<Vec<f32>> {
        let t = &t.iter().find(|(k, _)| k == name).unwrap().1;
        match t.rank() {
            2 => t.to_vec2().unwrap(),
            _ => t.to_vec1().unwrap().into_iter().map(|v| vec![v]).collect(),
        }
    };
    for name in ["d.l1.weight", "d.l1.bias"] {
        let (b, a) = (rows(&before, name), rows(&after, name));
        assert_eq!(b[1], a[1], "{name}: the masked output's row moved");
        assert_ne!(b[0], a[0], "{name}: the trained output's row did not move");
    }
    // The accuracies count output 0 only: 8 logits per set, so multiples of 1/8.
    assert_eq!((s.acc_expert * 8.0).fract(), 0.0);
    // Minibatches draw from the weighted rows only: rows 1 and 3 of 4 weighted out entirely
    // would otherwise make the second of two strided minibatches 0/0.
    let mut mb = Discriminator::new(
        2,
        1,
        DiscConfig {
            hidden: vec![8],
            steps: 2,
            minibatches: 2,
            ..DiscConfig::default()
        },
        &mut r,
        &Device::Cpu,
    )
    .unwrap();
    let half = [1.0, 0.0, 1.0, 0.0];
    let s = mb
        .train_sets(&[
            LabelledSet {
                inputs: &expert[..8],
                target: 1.0,
                mask: Some(&half),
            },
            LabelledSet {
                inputs: &policy[..8],
                target: 0.0,
                mask: None,
            },
        ])
        .unwrap();
    assert!(s.loss.is_finite());
    // A mask of the wrong size, or one that masks a whole set out, is refused.
    for bad in [vec![1.0; 7], vec![0.0; 16], vec![f32::NAN; 16]] {
        let sets = [
            LabelledSet {
                inputs: &expert,
                target: 1.0,
                mask: Some(&bad),
            },
            LabelledSet {
                inputs: &policy,
                target: 0.0,
                mask: None,
            },
        ];
        assert!(matches!(
            d.train_sets(&sets),
            Err(GailError::Config { field: "mask", .. })
        ));
    }
}
