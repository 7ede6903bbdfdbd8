//! `cargo xtask eval`: mean ± std return per agent and the normalized score (random = 0,
//! scripted reference = 1) of a checkpoint, on fixed evaluation seeds.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use magail_async::Policy;

use magail_async::run::{EVAL_SEED, normalize};

use crate::common::{Who, game_for, load_checkpoint, play, return_stats};

/// `eval`'s arguments.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint folder (or its expert.json).
    #[arg(long)]
    pub policy: PathBuf,
    /// Episodes.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Game to play in (default: the checkpoint's own), e.g. `stoch_navigation` for a
    /// synchronous navigation expert; the sizes must match.
    #[arg(long)]
    pub env: Option<String>,
    /// Variant of `--env` (paper or mpe2).
    #[arg(long, requires = "env", value_parser = crate::common::parse_variant)]
    pub variant: Option<envs::Variant>,
    /// Act with the most likely action instead of sampling.
    #[arg(long)]
    pub greedy: bool,
}

pub fn run_eval(a: &EvalArgs) -> Result<()> {
    let (meta, learners) = load_checkpoint(&a.policy)?;
    let game = game_for(&meta, a.env.as_deref(), a.variant)?;
    let label = match &a.env {
        Some(e) => format!(
            "{} trained in {}, played in {e}",
            a.policy.display(),
            meta.game_name
        ),
        None => meta.game_name.clone(),
    };
    let pols = learners.policies(a.greedy)?;
    let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
    let mine = play(&game, Who::Learned(&refs), a.episodes, EVAL_SEED)?;
    let rand = play(&game, Who::Random, a.episodes, EVAL_SEED)?;
    let scr = play(&game, Who::Scripted, a.episodes, EVAL_SEED)?;
    let (per, team) = return_stats(&mine);
    let (rper, rteam) = return_stats(&rand);
    let (sper, steam) = return_stats(&scr);
    println!(
        "{} ({} episodes, seed {EVAL_SEED}, {})",
        label,
        a.episodes,
        if a.greedy { "greedy" } else { "sampled" }
    );
    println!("| agent | policy | random | scripted | normalized |");
    println!("|---|---|---|---|---|");
    for i in 0..per.len() {
        println!(
            "| {i} | {:.2} ± {:.2} | {:.2} ± {:.2} | {:.2} ± {:.2} | {} |",
            per[i].0,
            per[i].1,
            rper[i].0,
            rper[i].1,
            sper[i].0,
            sper[i].1,
            show(normalize(per[i].0, rper[i].0, sper[i].0))
        );
    }
    println!(
        "team mean return {team:.3} (random {rteam:.3}, scripted {steam:.3}): normalized score {}",
        show(normalize(team, rteam, steam))
    );
    Ok(())
}

/// A normalized score to three decimals, or why there is none.
fn show(v: Option<f64>) -> String {
    v.map_or_else(
        || "undefined (reference = random)".into(),
        |v| format!("{v:.3}"),
    )
}
