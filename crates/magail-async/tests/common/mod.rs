//! Helpers shared by the integration tests: demonstrations by the scripted particle policies.

#![allow(clippy::unwrap_used, dead_code)]

use envs::ParticleEnv;
use envs::scripted::ScriptedPolicy;
use magail_async::{Collector, FnPolicy, Policy, RolloutConfig};
use mg_core::{MarkovGame, PlayerFunction, Trajectories};

/// `episodes` episodes of the scripted policies in `env` under `player`, from `envs` copies
/// seeded with `seed`.
pub fn scripted_demos<P: PlayerFunction + Clone + Send>(
    env: &ParticleEnv,
    player: P,
    envs: usize,
    seed: u64,
    episodes: usize,
) -> Trajectories {
    let s = ScriptedPolicy::new(env);
    let spec = env.spec().clone();
    let fns: Vec<_> = (0..spec.n_agents())
        .map(|i| {
            let s = s.clone();
            FnPolicy::new(spec.obs_dim(i), 1, move |o: &[f32], a: &mut [f32]| {
                s.act(i, o, a)
            })
        })
        .collect();
    let refs: Vec<&dyn Policy> = fns.iter().map(|p| p as &dyn Policy).collect();
    let cfg = RolloutConfig {
        envs,
        workers: 1,
        seed,
        history_k: 0,
    };
    let mut c = Collector::new(env.clone(), player, cfg).unwrap();
    c.collect_episodes(&refs, episodes).unwrap()
}
