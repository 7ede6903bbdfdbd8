//! `cargo xtask demos`: records demonstrations from an expert checkpoint (or the scripted
//! reference) in the versioned binary format, or as `.npz` for numpy.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use mg_core::{Demonstrations, Trajectories};
use npyz::WriterBuilder;

use crate::common::{return_stats, write_atomic};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// The versioned binary format (bincode 2.0.1), read by our loaders.
    Bin,
    /// numpy's `.npz`: episode_len, terminated, truncated, and per agent obs_<i>, final_obs_<i>,
    /// actions_<i>, rewards_<i>, acted_<i> (`mg_core::DemoColumns`).
    Npz,
}

/// `demos`' arguments.
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
    #[arg(long, default_value = "paper", value_parser = crate::common::parse_variant)]
    pub variant: envs::Variant,
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
    Ok(experiments::record_demos(
        &experiments::Demonstrator::parse(&a.expert),
        a.env.as_deref(),
        Some(a.variant),
        a.episodes,
        a.seed,
        a.greedy,
    )?)
}

pub fn run_demos(a: &DemosArgs) -> Result<()> {
    let (recorded, names) = record(a)?;
    let (per, team) = return_stats(&recorded);
    let set = Demonstrations::new(&recorded)?;
    let source = std::env::args().collect::<Vec<_>>().join(" ");
    match a.format {
        Format::Bin => {
            let bytes = set.encode(&names, &source)?;
            write_atomic(&a.out, |w| {
                std::io::Write::write_all(w, &bytes)?;
                Ok(())
            })?;
        }
        Format::Npz => write_npz(&a.out, &set)?,
    }
    println!(
        "wrote {} episodes ({} steps) of {} to {}; mean team return {team:.3}, per agent {:?}",
        set.episodes(),
        set.steps(),
        set.game(),
        a.out.display(),
        per.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    Ok(())
}

fn write_npz(path: &std::path::Path, set: &Demonstrations) -> Result<()> {
    let cols = set.columns();
    let steps = set.steps() as u64;
    let episodes = set.episodes() as u64;
    write_atomic(path, |w| {
        let mut z = npyz::npz::NpzWriter::new(w);
        let lens: Vec<i64> = cols.episode_len.iter().map(|&l| l as i64).collect();
        npz_array(&mut z, "episode_len", &[episodes], lens)?;
        let flags = |v: &[bool]| v.iter().map(|&b| u8::from(b)).collect::<Vec<_>>();
        npz_array(&mut z, "terminated", &[episodes], flags(&cols.terminated))?;
        npz_array(&mut z, "truncated", &[episodes], flags(&cols.truncated))?;
        for (i, col) in cols.agents.iter().enumerate() {
            let d = set.obs_dims()[i] as u64;
            let aw = set.action_spaces()[i].width() as u64;
            npz_array(
                &mut z,
                &format!("obs_{i}"),
                &[steps, d],
                col.obs.iter().copied(),
            )?;
            npz_array(
                &mut z,
                &format!("final_obs_{i}"),
                &[episodes, d],
                col.final_obs.iter().copied(),
            )?;
            npz_array(
                &mut z,
                &format!("actions_{i}"),
                &[steps, aw],
                col.actions.iter().copied(),
            )?;
            npz_array(
                &mut z,
                &format!("rewards_{i}"),
                &[steps],
                col.rewards.iter().copied(),
            )?;
            npz_array(&mut z, &format!("acted_{i}"), &[steps], flags(&col.acted))?;
        }
        z.zip_writer().finish()?;
        Ok(())
    })
}

/// Writes one array of the `.npz` export.
fn npz_array<W: std::io::Write + std::io::Seek, T: npyz::Serialize + npyz::AutoSerialize>(
    z: &mut npyz::npz::NpzWriter<W>,
    name: &str,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> Result<()> {
    let mut wr = z
        .array::<T>(name, Default::default())?
        .default_dtype()
        .shape(shape)
        .begin_nd()?;
    wr.extend(values)?;
    wr.finish()?;
    Ok(())
}
