//! `cargo xtask demos`: records demonstrations from an expert checkpoint (or the scripted
//! reference) in the versioned binary format, or as `.npz` for numpy.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use magail_async::Policy;
use mg_core::{MarkovGame, Trajectories, encode_demos};
use npyz::WriterBuilder;

use crate::common::{GameChoice, Who, load_checkpoint, play, return_stats, write_atomic};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// The versioned binary format (bincode 2.0.1), read by our loaders.
    Bin,
    /// numpy's `.npz` (obs_<i>, actions_<i>, rewards_<i>, acted_<i>, episode_len).
    Npz,
}

#[derive(Args, Debug)]
pub struct DemosArgs {
    /// Expert checkpoint folder, or `scripted` for the scripted reference.
    #[arg(long)]
    pub expert: String,
    /// The game: needed with `--expert scripted`; with a checkpoint, plays its policies in
    /// another game with the same agents (the navigation expert in `stoch_navigation`, acting
    /// whenever the player function lets it).
    #[arg(long)]
    pub env: Option<String>,
    /// The variant of `--env`.
    #[arg(long, default_value = "paper")]
    pub variant: String,
    /// Number of episodes.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = Format::Bin)]
    pub format: Format,
    /// Seed of the recorded episodes.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Act with the most likely action instead of sampling.
    #[arg(long)]
    pub greedy: bool,
}

/// Records demonstrations; returns them with the agent names.
pub fn record(a: &DemosArgs) -> Result<(Trajectories, Vec<String>)> {
    if a.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let (game, set) = if a.expert == "scripted" {
        let Some(env) = &a.env else {
            bail!("--expert scripted needs --env");
        };
        let g = GameChoice {
            env: env.clone(),
            variant: a.variant.clone(),
        };
        let set = play(&g, Who::Scripted, a.episodes, a.seed)?;
        (g, set)
    } else {
        let (meta, learners) = load_checkpoint(std::path::Path::new(&a.expert))?;
        let game = match &a.env {
            Some(env) => {
                let g = GameChoice {
                    env: env.clone(),
                    variant: a.variant.clone(),
                };
                let (theirs, _) = meta.game.build()?;
                let (ours, _) = g.build()?;
                let shape = |s: &mg_core::GameSpec| {
                    s.agents
                        .iter()
                        .map(|x| (x.obs_dim, x.action_space))
                        .collect::<Vec<_>>()
                };
                if shape(theirs.spec()) != shape(ours.spec()) {
                    bail!(
                        "the expert in {} was trained on {}, whose agents' observation sizes and action spaces differ from {}'s",
                        a.expert,
                        theirs.spec().name,
                        ours.spec().name
                    );
                }
                g
            }
            None => meta.game,
        };
        let pols = learners.policies(a.greedy)?;
        let refs: Vec<&dyn Policy> = pols.iter().map(|p| p as &dyn Policy).collect();
        let set = play(&game, Who::Learned(&refs), a.episodes, a.seed)?;
        (game, set)
    };
    let (env, _) = game.build()?;
    let names = env.spec().agents.iter().map(|x| x.name.clone()).collect();
    Ok((set, names))
}

pub fn run_demos(a: &DemosArgs) -> Result<()> {
    let (set, names) = record(a)?;
    let source = std::env::args().collect::<Vec<_>>().join(" ");
    match a.format {
        Format::Bin => {
            let bytes = encode_demos(&set, &names, &source)?;
            write_atomic(&a.out, |w| {
                std::io::Write::write_all(w, &bytes)?;
                Ok(())
            })?;
        }
        Format::Npz => write_npz(&a.out, &set)?,
    }
    let (per, team) = return_stats(&set);
    println!(
        "wrote {} episodes ({} steps) of {} to {}; mean team return {team:.3}, per agent {:?}",
        set.episodes.len(),
        set.n_steps(),
        set.game,
        a.out.display(),
        per.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    Ok(())
}

fn write_npz(path: &std::path::Path, set: &Trajectories) -> Result<()> {
    let n = set.obs_dims.len();
    let steps = set.n_steps() as u64;
    write_atomic(path, |w| {
        let mut z = npyz::npz::NpzWriter::new(w);
        let lens: Vec<i64> = set.episodes.iter().map(|e| e.len as i64).collect();
        let mut wr = z
            .array::<i64>("episode_len", Default::default())?
            .default_dtype()
            .shape(&[lens.len() as u64])
            .begin_nd()?;
        wr.extend(lens)?;
        wr.finish()?;
        for i in 0..n {
            let d = set.obs_dims[i] as u64;
            let aw = set.action_spaces[i].width() as u64;
            let obs: Vec<f32> = set
                .episodes
                .iter()
                .flat_map(|e| e.agents[i].obs.iter().copied())
                .collect();
            let acts: Vec<f32> = set
                .episodes
                .iter()
                .flat_map(|e| e.agents[i].actions.iter().copied())
                .collect();
            let rew: Vec<f64> = set
                .episodes
                .iter()
                .flat_map(|e| e.agents[i].rewards.iter().copied())
                .collect();
            let acted: Vec<u8> = set
                .episodes
                .iter()
                .flat_map(|e| e.agents[i].acted.iter().map(|&b| u8::from(b)))
                .collect();
            let mut wr = z
                .array::<f32>(&format!("obs_{i}"), Default::default())?
                .default_dtype()
                .shape(&[steps, d])
                .begin_nd()?;
            wr.extend(obs)?;
            wr.finish()?;
            let mut wr = z
                .array::<f32>(&format!("actions_{i}"), Default::default())?
                .default_dtype()
                .shape(&[steps, aw])
                .begin_nd()?;
            wr.extend(acts)?;
            wr.finish()?;
            let mut wr = z
                .array::<f64>(&format!("rewards_{i}"), Default::default())?
                .default_dtype()
                .shape(&[steps])
                .begin_nd()?;
            wr.extend(rew)?;
            wr.finish()?;
            let mut wr = z
                .array::<u8>(&format!("acted_{i}"), Default::default())?
                .default_dtype()
                .shape(&[steps])
                .begin_nd()?;
            wr.extend(acted)?;
            wr.finish()?;
        }
        z.zip_writer().finish()?;
        Ok(())
    })
}
