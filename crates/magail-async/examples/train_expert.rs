//! Trains experts on a particle task and prints the learning curve.
//! Expected: the team's mean return rises well above random play within a few hundred iterations.
//!
//! `cargo run --release -p magail-async --example train_expert -- simple_spread paper 200`

use envs::{EnvConfig, ParticleEnv};
use magail_async::{ExpertTrainer, LearnerConfig, RolloutConfig};
use mg_core::{MarkovGame, Synchronous};
use trpo::TrpoConfig;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let env = args.get(1).map_or("simple_spread", String::as_str);
    let variant = args.get(2).map_or("paper", String::as_str);
    let iters: usize = args.get(3).map_or(Ok(100), |s| s.parse())?;
    let game = ParticleEnv::new(EnvConfig::from_names(env, variant)?)?;
    let n = game.spec().n_agents();
    let lc = LearnerConfig::sharing_identical(game.spec(), TrpoConfig::default(), 0);
    let rc = RolloutConfig {
        envs: 16,
        workers: 2,
        seed: 0,
        history_k: 0,
    };
    let mut t = ExpertTrainer::new(game, Synchronous::new(n)?, rc, lc, 128)?;
    let start = std::time::Instant::now();
    for _ in 0..iters {
        let s = t.iterate()?;
        if s.iteration % 10 == 0 {
            println!(
                "iter {:4} steps {:8} eps {:3} return {:?} kl {:?} vf {:?} ({:.1}s)",
                s.iteration,
                s.env_steps,
                s.episodes,
                s.mean_return,
                s.update.kl,
                s.update.vf_loss,
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
