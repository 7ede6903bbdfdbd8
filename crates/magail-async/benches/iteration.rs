//! One centralized-MAGAIL iteration with the paper-shape generator's shapes (beside
//! `benches/iteration_peer.py`, its PyTorch peer): 41 copies × 50 steps of cooperative navigation,
//! a shared 2×64 ReLU policy, the joint 2×128 discriminator stepped ten times on 2,050 policy and
//! 2,050 expert rows, TRPO with Fisher products on every 4th sample, the centralized critic in 3
//! epochs × 4 minibatches; on 1 and 2 rollout workers. `disc10` times the ten discriminator steps
//! alone and `fma_peak` one core's f32 multiply-add peak (both in FLOP, so `cargo xtask bench
//! iteration` prints their GFLOP/s and the share of the peak). Run with
//! `cargo xtask bench iteration [--peers]`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envs::{EnvConfig, ParticleEnv, Scenario};
use gail::{DiscConfig, Discriminator, LabelledSet};
use magail_async::MagailTrainer;
use magail_async::run::Method;
use mg_core::{MarkovGame, Synchronous, stream_rng};
use rand::Rng;

// The integration tests' scripted demonstrations, shared rather than written again.
#[path = "../tests/common/mod.rs"]
mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows of one iteration's policy samples (41 copies × 50 steps) and of the joint input
/// (3 agents × (18 observation + 5 actions + φ)).
const ROWS: usize = 41 * 50;
const WIDTH: usize = 72;

fn bench_iteration(c: &mut Criterion) {
    let mut g = c.benchmark_group("iteration");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(8));
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).expect("preset");
    let spec = env.spec().clone();
    let demos = mg_core::Demonstrations::new(&common::scripted_demos(
        &env,
        Synchronous::new(3).expect("3 agents"),
        8,
        7,
        100,
    ))
    .expect("scripted demonstrations are valid");
    for workers in [1usize, 2] {
        let mut cfg = Method::MagailC.config(&spec, 0);
        cfg.bc_epochs = 0;
        cfg.disc_warmup = 0;
        cfg.rollout.envs = 41;
        cfg.rollout.workers = workers;
        cfg.steps_per_iter = 50;
        cfg.disc.steps = 10;
        cfg.learner.trpo.max_kl = 0.002;
        cfg.learner.trpo.fisher_subsample = 4;
        cfg.learner.trpo.vf_epochs = 3;
        cfg.learner.trpo.vf_minibatches = 4;
        let mut t = MagailTrainer::new(
            env.clone(),
            Synchronous::new(3).expect("3 agents"),
            &demos,
            cfg,
        )
        .expect("trainer");
        g.throughput(Throughput::Elements((ROWS * 3) as u64));
        g.bench_function(format!("magail_c/w{workers}"), |b| {
            b.iter(|| black_box(t.iterate().expect("iteration")))
        });
    }
    // Ten full-batch steps of the joint discriminator on 2 × 2,050 rows.
    let mut rng = stream_rng(0, 1);
    let mut disc = Discriminator::new(
        WIDTH,
        3,
        DiscConfig {
            steps: 10,
            ..DiscConfig::default()
        },
        &mut rng,
        &candle_core::Device::Cpu,
    )
    .expect("discriminator");
    let mut rows = || -> Vec<f32> {
        (0..ROWS * WIDTH)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect()
    };
    let (exp, pol) = (rows(), rows());
    // Multiply-adds per row and step: the forward products, the weight gradients (the same
    // count) and the input gradients of every layer but the first; 2 × 2,050 rows, 2 FLOP each.
    let layers = WIDTH * 128 + 128 * 128 + 128 * 3;
    let macs = 2 * ROWS * (2 * layers + 128 * 128 + 128 * 3);
    g.throughput(Throughput::Elements((10 * 2 * macs) as u64));
    g.bench_function("disc10", |b| {
        b.iter(|| {
            black_box(
                disc.train_sets(&[
                    LabelledSet {
                        inputs: &exp,
                        target: 1.0,
                        mask: None,
                    },
                    LabelledSet {
                        inputs: &pol,
                        target: 0.0,
                        mask: None,
                    },
                ])
                .expect("steps"),
            )
        })
    });
    // One core's f32 FMA peak: independent multiply-add chains on the widest vectors this CPU
    // has (pulp picks AVX-512 where present, as gemm does), enough chains to hide the latency.
    let iters = 1 << 20;
    let lanes = pulp::Arch::new().dispatch(Fma { iters: 1 }).1;
    g.throughput(Throughput::Elements((iters * CHAINS * lanes * 2) as u64));
    g.bench_function("fma_peak", |b| {
        b.iter(|| {
            black_box(pulp::Arch::new().dispatch(Fma {
                iters: black_box(iters),
            }))
        })
    });
    g.finish();
}

/// Independent FMA chains in the peak loop (two FMA pipes × four cycles of latency, and some).
const CHAINS: usize = 12;

/// `iters` rounds of `CHAINS` vector multiply-adds; returns a sum (so nothing is optimised away)
/// and the f32 lanes of a vector.
struct Fma {
    iters: usize,
}

impl pulp::WithSimd for Fma {
    type Output = (f32, usize);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
        let (a, b) = (simd.splat_f32s(0.999_9), simd.splat_f32s(1e-7));
        let mut acc = [simd.splat_f32s(1.0); CHAINS];
        for _ in 0..self.iters {
            for x in acc.iter_mut() {
                *x = simd.mul_add_f32s(*x, a, b);
            }
        }
        let mut s = simd.splat_f32s(0.0);
        for x in acc {
            s = simd.add_f32s(s, x);
        }
        (simd.reduce_sum_f32s(s), S::F32_LANES)
    }
}

criterion_group!(benches, bench_iteration);
criterion_main!(benches);
