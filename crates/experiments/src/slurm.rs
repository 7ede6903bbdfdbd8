//! The Slurm executor: one `sbatch` job array with a cell per array task, and a job that builds
//! the tables once the array has ended. The reproduction folder must be on a filesystem every
//! node sees (a cluster's shared home or project space); each task runs
//! `<program> reproduce --out DIR --cell ID`, which resumes the cell from its last checkpoint or
//! returns at once if it is done.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cell::CellSpec;
use crate::error::{ExperimentError, Result};

/// How the array is submitted.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmOptions {
    /// At most this many array tasks run at once (`%K`).
    pub throttle: usize,
    /// Wall-clock limit of one task in minutes (default: from the costliest cell's estimate,
    /// twice it plus ten minutes).
    pub time_minutes: Option<u64>,
    /// Memory of one task in MiB.
    pub mem_mb: u64,
    /// `--partition`, if given.
    pub partition: Option<String>,
    /// `--account`, if given.
    pub account: Option<String>,
    /// Further `sbatch` flags, each written as an `#SBATCH` line (`--qos=short`).
    pub extra: Vec<String>,
    /// The jobs' name.
    pub job_name: String,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        Self {
            throttle: 32,
            time_minutes: None,
            mem_mb: 1024,
            partition: None,
            account: None,
            extra: Vec::new(),
            job_name: "magail".into(),
        }
    }
}

/// The scripts of one submission, and the cells its array runs (task k runs line k + 1 of
/// `cells_file`).
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    /// The array job's script.
    pub array_script: String,
    /// The script of the job that builds the tables after the array.
    pub report_script: String,
    /// Where the list of cell ids goes.
    pub cells_file: PathBuf,
    /// The ids, one per array task.
    pub cells: Vec<String>,
    /// Where the scripts go.
    pub array_path: PathBuf,
    /// Where the report script goes.
    pub report_path: PathBuf,
}

/// A word quoted for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The scripts that run `cells` (those of the plan not done) from the reproduction folder `dir`
/// with the program `program` (the built `xtask`, on the shared filesystem).
pub fn prepare(
    dir: &Path,
    program: &Path,
    cells: &[&CellSpec],
    o: &SlurmOptions,
) -> Result<Submission> {
    if cells.is_empty() {
        return Err(ExperimentError::Settings {
            field: "cells",
            reason: "every cell of the plan is done: nothing to submit".into(),
        });
    }
    if o.throttle == 0 || o.mem_mb == 0 || o.time_minutes == Some(0) {
        return Err(ExperimentError::Settings {
            field: "slurm",
            reason: format!(
                "throttle {}, memory {} MiB, time {:?} min: each must be at least 1",
                o.throttle, o.mem_mb, o.time_minutes
            ),
        });
    }
    let slurm_dir = dir.join("slurm");
    // One list per submission: tasks of an earlier array still queued keep reading their own.
    let n = (0..)
        .find(|k| !slurm_dir.join(format!("cells-{k}.txt")).exists())
        .unwrap_or(0);
    let cells_file = slurm_dir.join(format!("cells-{n}.txt"));
    let minutes = o.time_minutes.unwrap_or_else(|| {
        let worst = cells
            .iter()
            .map(|c| c.estimated_seconds())
            .fold(0.0, f64::max);
        (2.0 * worst / 60.0).ceil() as u64 + 10
    });
    let d = quote(&dir.display().to_string());
    let exe = quote(&program.display().to_string());
    let mut head = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name={}-cells", o.job_name),
        format!("#SBATCH --array=0-{}%{}", cells.len() - 1, o.throttle),
        format!("#SBATCH --time={minutes}"),
        format!("#SBATCH --mem={}M", o.mem_mb),
        "#SBATCH --cpus-per-task=1".to_string(),
        "#SBATCH --ntasks=1".to_string(),
        format!(
            "#SBATCH --output={}/logs/cells-{n}_%a.out",
            slurm_dir.display()
        ),
    ];
    let mut flags = Vec::new();
    if let Some(p) = &o.partition {
        flags.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(a) = &o.account {
        flags.push(format!("#SBATCH --account={a}"));
    }
    for e in &o.extra {
        flags.push(format!("#SBATCH {e}"));
    }
    head.extend(flags.iter().cloned());
    let body = format!(
        "# One cell per array task. {d} must be on a filesystem every node shares.\n\
         set -euo pipefail\n\
         export RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 MIMALLOC_PURGE_DELAY=-1\n\
         ID=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})\n\
         exec {exe} reproduce --out {d} --cell \"$ID\"\n",
        quote(&cells_file.display().to_string())
    );
    let array_script = format!("{}\n{body}", head.join("\n"));
    let mut rhead = vec![
        "#!/bin/bash".to_string(),
        format!("#SBATCH --job-name={}-report", o.job_name),
        "#SBATCH --time=30".to_string(),
        format!("#SBATCH --mem={}M", o.mem_mb),
        "#SBATCH --cpus-per-task=1".to_string(),
        format!(
            "#SBATCH --output={}/logs/report-{n}.out",
            slurm_dir.display()
        ),
    ];
    rhead.extend(flags);
    let report_script = format!(
        "{}\n# Builds the tables from the finished cells once the array has ended; cells that \
         failed are named, and running the reproduction command again resubmits them.\n\
         set -euo pipefail\n\
         export RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 MIMALLOC_PURGE_DELAY=-1\n\
         exec {exe} reproduce --out {d} --report\n",
        rhead.join("\n")
    );
    Ok(Submission {
        array_script,
        report_script,
        cells: cells.iter().map(|c| c.id()).collect(),
        array_path: slurm_dir.join(format!("cells-{n}.sbatch")),
        report_path: slurm_dir.join(format!("report-{n}.sbatch")),
        cells_file,
    })
}

/// Writes a submission's files and submits the array, then the report job after it
/// (`--dependency=afterany`). Returns both job ids.
pub fn submit(s: &Submission) -> Result<(String, String)> {
    let write = |p: &Path, text: &str| -> Result<()> {
        magail_async::run::write_atomic(p, |w| std::io::Write::write_all(w, text.as_bytes()))?;
        Ok(())
    };
    if let Some(logs) = s.array_path.parent() {
        std::fs::create_dir_all(logs.join("logs")).map_err(|e| ExperimentError::File {
            path: logs.join("logs"),
            reason: e.to_string(),
        })?;
    }
    write(&s.cells_file, &(s.cells.join("\n") + "\n"))?;
    write(&s.array_path, &s.array_script)?;
    write(&s.report_path, &s.report_script)?;
    let array = sbatch(&[s.array_path.display().to_string()])?;
    let report = sbatch(&[
        format!("--dependency=afterany:{array}"),
        s.report_path.display().to_string(),
    ])?;
    Ok((array, report))
}

/// Runs `sbatch --parsable ARGS` and returns the job id it prints.
fn sbatch(args: &[String]) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .map_err(|e| {
            ExperimentError::Slurm(format!(
                "cannot run sbatch ({e}): is this a Slurm login node with sbatch on the PATH?"
            ))
        })?;
    if !out.status.success() {
        return Err(ExperimentError::Slurm(format!(
            "sbatch {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ExperimentError::Slurm(format!(
            "sbatch printed `{}`, expected a job id",
            text.trim()
        )));
    }
    Ok(id)
}
