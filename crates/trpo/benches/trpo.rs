//! TRPO speed: one full update (2×64 ReLU nets, 2048 samples of an 18-dim observation and 5
//! actions, 10 CG iterations, up to 10 line-search steps, 10 critic epochs of 16 minibatches)
//! and the Fisher-vector product alone at 1024 and 8192 samples. Run with `cargo xtask bench trpo`.

use std::hint::black_box;

use candle_core::{Device, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trpo::{
    Activation, Head, PolicyBatch, StochasticPolicy, TrpoConfig, ValueFunction, flatten, set_flat,
    trpo_step,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn data(n: usize, r: &mut ChaCha8Rng) -> (Tensor, Tensor, Vec<f64>) {
    let obs: Vec<f32> = (0..n * 18).map(|_| r.random_range(-1.0..1.0)).collect();
    let acts: Vec<u32> = (0..n).map(|_| r.random_range(0..5)).collect();
    let adv: Vec<f64> = (0..n).map(|_| r.random_range(-1.0..1.0)).collect();
    (
        Tensor::from_vec(obs, (n, 18), &Device::Cpu).expect("obs"),
        Tensor::from_vec(acts, n, &Device::Cpu).expect("acts"),
        adv,
    )
}

fn bench_trpo(c: &mut Criterion) {
    let mut g = c.benchmark_group("trpo");
    g.sample_size(10);
    let mut r = ChaCha8Rng::seed_from_u64(0);
    let cfg = TrpoConfig::default();
    let p = StochasticPolicy::new(
        18,
        &[64, 64],
        Activation::Relu,
        Head::Categorical { n: 5 },
        &mut r,
        &Device::Cpu,
    )
    .expect("policy");
    let mut v = ValueFunction::new(
        18,
        &[64, 64],
        Activation::Relu,
        cfg.vf_lr,
        &mut r,
        &Device::Cpu,
    )
    .expect("value");
    let theta0 = flatten(&p.vars()).expect("params");
    let (obs, actions, adv) = data(2048, &mut r);
    let returns: Vec<f64> = adv.iter().map(|a| a * 3.0).collect();
    let batch = PolicyBatch {
        obs: obs.clone(),
        actions,
        advantages: adv,
        anchor: None,
    };
    g.bench_function("update/2048", |b| {
        b.iter(|| {
            // Same starting point every time: the timing covers one update, not a training run.
            set_flat(&p.vars(), &theta0).expect("reset");
            let rep = trpo_step(&p, &batch, &cfg).expect("step");
            let loss = v
                .fit(&obs, &returns, cfg.vf_epochs, cfg.vf_minibatches, &mut r)
                .expect("fit");
            black_box((rep, loss))
        })
    });
    g.bench_function("policy_step/2048", |b| {
        b.iter(|| {
            set_flat(&p.vars(), &theta0).expect("reset");
            black_box(trpo_step(&p, &batch, &cfg).expect("step"))
        })
    });
    g.bench_function("critic_fit/2048", |b| {
        b.iter(|| {
            black_box(
                v.fit(&obs, &returns, cfg.vf_epochs, cfg.vf_minibatches, &mut r)
                    .expect("fit"),
            )
        })
    });
    for n in [1024usize, 8192] {
        let (o, _, _) = data(n, &mut r);
        let vec: Vec<f64> = (0..theta0.len())
            .map(|_| r.random_range(-1.0..1.0))
            .collect();
        g.bench_function(format!("fvp/{n}"), |b| {
            b.iter(|| black_box(p.fvp(&o, &vec).expect("fvp")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_trpo);
criterion_main!(benches);
