//! Rollout speed: agent-steps/s collecting simple_spread (N = 3, mpe2 defaults) with a candle MLP
//! policy per agent (2×64 ReLU, sampling actions and log-probabilities), on 1 and 2 workers.
//! Run with `cargo xtask bench rollouts`.

use std::hint::black_box;

use candle_core::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envs::{EnvConfig, ParticleEnv, Scenario};
use magail_async::{CandlePolicy, Collector, Policy, RolloutConfig};
use mg_core::{ActionSpace, Synchronous, stream_rng};
use trpo::{Activation, Head, StochasticPolicy};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_rollouts(c: &mut Criterion) {
    let mut g = c.benchmark_group("rollouts");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(4));
    let env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).expect("preset");
    let mut init = stream_rng(0, 0);
    let pols: Vec<CandlePolicy> = (0..3)
        .map(|_| {
            let p = StochasticPolicy::new(
                18,
                &[64, 64],
                Activation::Relu,
                Head::Categorical { n: 5 },
                &mut init,
                &Device::Cpu,
            )
            .expect("policy");
            CandlePolicy::new(p, ActionSpace::Discrete { n: 5 }, Device::Cpu)
        })
        .collect();
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let steps = 100;
    for envs in [64usize, 256] {
        for workers in [1usize, 2] {
            let mut col = Collector::new(
                env.clone(),
                Synchronous::new(3).expect("3 agents"),
                RolloutConfig {
                    envs,
                    workers,
                    seed: 0,
                    history_k: 0,
                },
            )
            .expect("collector");
            g.throughput(Throughput::Elements((envs * steps * 3) as u64));
            g.bench_function(
                format!("simple_spread/mlp2x64/envs{envs}/w{workers}"),
                |b| b.iter(|| black_box(col.collect(&refs, steps).expect("rollout"))),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_rollouts);
criterion_main!(benches);
