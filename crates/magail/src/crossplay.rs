//! `cargo xtask crossplay --expert DIR`: for a competitive game, the mean return of every agent
//! when each side is played by the trained expert, the scripted reference or random actions.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use magail_async::{Collector, Policy, RandomPolicy, RolloutConfig};
use mg_core::MarkovGame;

use crate::common::{game_for, load_checkpoint, return_stats, scripted_policies};
use magail_async::run::EVAL_SEED;

/// `crossplay`'s arguments.
#[derive(Args, Debug)]
pub struct CrossplayArgs {
    /// Expert checkpoint folder of a competitive game (keep-away, predator-prey).
    #[arg(long)]
    pub expert: PathBuf,
    /// Game to play in (default: the expert's own), e.g. `stoch_predator_prey`; the sizes must
    /// match.
    #[arg(long)]
    pub env: Option<String>,
    /// Variant of `--env` (paper or mpe2).
    #[arg(long, requires = "env", value_parser = crate::common::parse_variant)]
    pub variant: Option<envs::Variant>,
    /// Episodes per pairing.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
}

pub fn run_crossplay(a: &CrossplayArgs) -> Result<()> {
    if a.episodes == 0 {
        anyhow::bail!("--episodes must be at least 1: returns over no episode are undefined");
    }
    let (meta, learners) = load_checkpoint(&a.expert)?;
    let game = game_for(&meta, a.env.as_deref(), a.variant)?;
    let (env, player) = game.build()?;
    let label = match &a.env {
        Some(e) => format!("{} played in {e}", meta.game_name),
        None => meta.game_name.clone(),
    };
    let spec = env.spec().clone();
    let adversary: Vec<bool> = (0..spec.n_agents()).map(|i| env.is_adversary(i)).collect();
    if !adversary.iter().any(|&x| x) {
        anyhow::bail!(
            "{} has no adversaries: cross-play needs a competitive game",
            meta.game_name
        );
    }
    let learned = learners.policies(false)?;
    let randoms: Vec<RandomPolicy> = spec
        .agents
        .iter()
        .map(|x| RandomPolicy::new(x.action_space))
        .collect();
    let fns = scripted_policies(&env);
    let pick = |who: &str, i: usize| -> &dyn Policy {
        match who {
            "expert" => &learned[i],
            "scripted" => fns[i].as_ref(),
            _ => &randoms[i],
        }
    };
    let good_name = spec
        .agents
        .iter()
        .zip(&adversary)
        .find(|(_, a)| !**a)
        .map_or("good", |(s, _)| s.name.as_str());
    println!(
        "{} ({} episodes each, seed {EVAL_SEED}): mean return of `{good_name}` / of the first adversary (rows: good side, columns: adversary side)\n",
        label, a.episodes
    );
    let sides = ["expert", "scripted", "random"];
    println!("| good \\ adversary | {} |", sides.join(" | "));
    println!("|---|---|---|---|");
    for good in sides {
        let mut row = Vec::new();
        for adv in sides {
            let pols: Vec<&dyn Policy> = (0..spec.n_agents())
                .map(|i| pick(if adversary[i] { adv } else { good }, i))
                .collect();
            let mut c = Collector::new(
                env.clone(),
                player.clone(),
                RolloutConfig {
                    envs: a.episodes.clamp(1, 32),
                    workers: 2,
                    seed: EVAL_SEED,
                    history_k: 0,
                },
            )?;
            let set = c.collect_episodes(&pols, a.episodes)?;
            let (per, _) = return_stats(&set);
            let gi = adversary.iter().position(|x| !x).unwrap_or(0);
            let ai = adversary.iter().position(|x| *x).unwrap_or(0);
            row.push(format!("{:.2} / {:.2}", per[gi].0, per[ai].0));
        }
        println!("| {good} | {} |", row.join(" | "));
    }
    Ok(())
}
