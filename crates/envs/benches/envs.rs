//! Environment stepping speed: env-steps/s for every scenario at batch 1 and 1024, on 1 and 2
//! threads, through the generic batched stepper with automatic reset (random discrete actions,
//! drawn before timing). Run with `cargo xtask bench envs`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envs::{EnvConfig, ParticleEnv, Scenario};
use mg_core::{ActionSpace, BatchBuffers, BatchedGame, VecGame, stream_rng};
use rand::Rng;

/// A few pre-drawn joint actions per agent, cycled, so the timing excludes the RNG.
fn action_sets(spec: &mg_core::GameSpec, batch: usize, sets: usize) -> Vec<Vec<Vec<f32>>> {
    let mut rng = stream_rng(1, 0);
    (0..sets)
        .map(|_| {
            spec.agents
                .iter()
                .map(|a| match a.action_space {
                    ActionSpace::Discrete { n } => {
                        (0..batch).map(|_| rng.random_range(0..n) as f32).collect()
                    }
                    ActionSpace::Box { dim, .. } => {
                        (0..batch * dim).map(|_| rng.random::<f32>()).collect()
                    }
                })
                .collect()
        })
        .collect()
}

fn bench_envs(c: &mut Criterion) {
    let mut g = c.benchmark_group("envs");
    g.sample_size(20);
    g.measurement_time(std::time::Duration::from_secs(2));
    g.warm_up_time(std::time::Duration::from_millis(500));
    let threads_available = std::thread::available_parallelism().map_or(1, |n| n.get());
    for scenario in Scenario::ALL {
        let env = ParticleEnv::new(EnvConfig::mpe2(scenario)).expect("preset builds");
        for batch in [1usize, 1024] {
            for threads in [1usize, 2] {
                if threads > 1 && (batch == 1 || threads > threads_available) {
                    continue;
                }
                let mut v = VecGame::new(env.clone(), batch, 0)
                    .expect("batch")
                    .with_threads(threads);
                let mut out = BatchBuffers::new(v.spec(), batch);
                v.reset_all(&mut out).expect("reset");
                let sets = action_sets(v.spec(), batch, 16);
                let mut k = 0;
                g.throughput(Throughput::Elements(batch as u64));
                g.bench_function(format!("{}/b{batch}/t{threads}", scenario.name()), |b| {
                    b.iter(|| {
                        k = (k + 1) % sets.len();
                        v.step_batch(black_box(&sets[k]), None, &mut out)
                            .expect("step");
                        black_box(&out.rewards);
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench_envs);
criterion_main!(benches);
