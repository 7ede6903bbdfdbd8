//! MAGAIL on cooperative navigation (paper variant) from scripted demonstrations; prints the true
//! return per iteration. Expected: the return climbs from BC's level towards the demonstrator's.
//!
//! `cargo run --release -p magail-async --example magail_quick -- decentralized 100 60`

use envs::scripted::ScriptedPolicy;
use envs::{EnvConfig, ParticleEnv, Scenario};
use gail::Prior;
use magail_async::{
    Collector, FnPolicy, MagailTrainer, PhiMode, Policy, RolloutConfig, default_config,
};
use mg_core::{MarkovGame, Synchronous};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let prior = match args.get(1).map_or("decentralized", String::as_str) {
        "centralized" => Prior::Centralized,
        "shared" => Prior::Shared,
        _ => Prior::Decentralized,
    };
    let demos_n: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let iters: usize = args.get(3).map_or(Ok(60), |s| s.parse())?;
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread))?;
    let scripted = ScriptedPolicy::new(&env);
    let fns: Vec<_> = (0..3)
        .map(|i| {
            let s = scripted.clone();
            FnPolicy::new(16, 1, move |o: &[f32], a: &mut [f32]| s.act(i, o, a))
        })
        .collect();
    let refs: Vec<&dyn Policy> = fns.iter().map(|p| p as &dyn Policy).collect();
    let mut c = Collector::new(
        env.clone(),
        Synchronous::new(3)?,
        RolloutConfig {
            envs: 16,
            workers: 1,
            seed: 7,
            history_k: 0,
        },
    )?;
    let recorded = c.collect_episodes(&refs, demos_n)?;
    let demos = mg_core::Demonstrations::new(&recorded)?;
    let exp_ret: f64 = recorded
        .episodes
        .iter()
        .map(|e| e.returns()[0])
        .sum::<f64>()
        / demos.episodes() as f64;
    println!(
        "demos: {} episodes, {} steps, expert return {exp_ret:.2}",
        demos.episodes(),
        demos.steps()
    );
    let mut cfg = default_config(env.spec(), prior, PhiMode::Filter, 0);
    cfg.bc_epochs = args.get(4).map_or(Ok(20), |s| s.parse())?;
    cfg.disc.steps = args.get(5).map_or(Ok(1), |s| s.parse())?;
    cfg.disc.lr = args.get(6).map_or(Ok(3e-4), |s| s.parse())?;
    let mut t = MagailTrainer::new(env, Synchronous::new(3)?, &demos, cfg)?;
    let t0 = std::time::Instant::now();
    println!("bc loss {:.3}", t.behaviour_clone()?);
    for _ in 0..iters {
        let s = t.iterate()?;
        if s.iteration % 25 == 0 {
            println!(
                "iter {:3} return {:?} disc {:?} ({:.1}s)",
                s.iteration,
                s.true_return.first(),
                s.disc.first(),
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
