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
    );
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
    );
    assert_eq!(
        out,
        vec![1.0, 0.0, 0.0, 0.0],
        "without the slot φ encodes as no action"
    );
}
