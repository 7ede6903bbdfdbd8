//! Diagnostic: behaviour cloning on cooperative-navigation demonstrations (as the MAGAIL cells
//! of `cargo xtask reproduce` pre-train), then TRPO on the **true** reward from that start, with
//! the MAGAIL loop's rollout size (16 copies × 50 steps), centralized critic and 10 critic-only
//! warm-up iterations. Prints the mean training return every 50 iterations. It separates the
//! generator from the discriminator: if even the true reward cannot improve on BC within the
//! quick budget, a discriminator reward cannot either (docs/results.md).
//!
//! `cargo run --release -p magail-async --example bc_then_trpo -- DEMOS.bin MAX_KL`
//! (demonstrations from `cargo xtask demos --expert assets/experts/simple_spread-paper-s0`).
//! Knobs by environment variable: `ENVS` (16), `STEPS` per copy (50), `ITERS` (500), `WARMUP`
//! critic-only iterations (10), `INIT=path/expert.safetensors` starts from that policy instead of
//! BC (and `INIT_VF=1` from its critic too).
use envs::{EnvConfig, ParticleEnv, Scenario};
use gail::Prior;
use magail_async::{Collector, Learners, MagailTrainer, PhiMode, Policy, default_config};
use mg_core::{Demonstrations, MarkovGame, Synchronous};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(kl)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: bc_then_trpo DEMOS.bin MAX_KL");
    };
    let bytes = std::fs::read(path)?;
    let max_kl: f64 = kl.parse()?;
    let (_, demos) = Demonstrations::decode(&bytes)?;
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread))?;
    let mut cfg = default_config(env.spec(), Prior::Centralized, PhiMode::Filter, 0);
    cfg.learner.centralized_value = true;
    cfg.learner.trpo.max_kl = max_kl;
    let knob = |name: &str, default: usize| -> anyhow::Result<usize> {
        Ok(match std::env::var(name) {
            Ok(v) => v.parse()?,
            Err(_) => default,
        })
    };
    let (envs, steps, iters, warmup) = (
        knob("ENVS", 16)?,
        knob("STEPS", 50)?,
        knob("ITERS", 500)?,
        knob("WARMUP", 10)?,
    );
    cfg.rollout.envs = envs;
    let mut l = Learners::new(env.spec(), &[16, 16, 16], cfg.learner.clone(), cfg.phi)?;
    if let Ok(init) = std::env::var("INIT") {
        let m = candle_core::safetensors::load(&init, &candle_core::Device::Cpu)?;
        l.load_tensors(&m, std::env::var("INIT_VF").is_err())?;
        println!("start from {init}");
    } else {
        let mut t = MagailTrainer::new(env.clone(), Synchronous::new(3)?, &demos, cfg.clone())?;
        println!("bc loss {:.3}", t.behaviour_clone()?);
        l.load_tensors(&t.learners().tensors()?, true)?;
    }
    let mut c = Collector::new(env, Synchronous::new(3)?, cfg.rollout.clone())?;
    let mut acc = Vec::new();
    let every = (iters / 10).max(1);
    for it in 0..iters {
        let pols = l.policies(false)?;
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let ro = c.collect(&refs, steps)?;
        if let Some(r) = ro.mean_returns() {
            acc.push(r[0]);
        }
        l.update_parts(&ro, None, it >= warmup)?;
        if (it + 1) % every == 0 {
            println!(
                "{} {:.1}",
                it + 1,
                acc.iter().sum::<f64>() / acc.len().max(1) as f64
            );
            acc.clear();
        }
    }
    Ok(())
}
