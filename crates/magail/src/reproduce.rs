//! `cargo xtask reproduce --quick | --full | --smoke`: the MAGAIL paper's cooperative-navigation
//! experiment and AMAGAIL's stochastic cooperative navigation, end to end, as a plan of cells
//! (`experiments::Plan`, written to `DIR/plan.json`). Each cell has a stable id from its settings
//! and its own folder; `--executor local` runs them on worker threads, `--executor slurm` submits
//! them as a job array with a job that builds the tables after it. `--plan` lists the cells and
//! where they stand; `--cell ID` runs (or resumes) one; `--report` builds the tables from the
//! finished ones. Finished cells are never redone; interrupted ones resume exactly.

use std::path::Path;

use anyhow::{Context, Result, bail};
use experiments::report;
use experiments::{CellSpec, CellState, Experiment, Observer, Plan, Preset, SlurmOptions};

use crate::common::{Series, line_plot, write_atomic};
use crate::progress::Bars;

mod args;

use args::Executor;
pub use args::ReproduceArgs;

pub fn run_reproduce(a: &ReproduceArgs, root: &Path) -> Result<()> {
    if a.list {
        for e in Experiment::ALL {
            println!("{}", e.describe());
        }
        return Ok(());
    }
    let papers = a
        .paper
        .map(|p| Experiment::select(p.paper(), &a.only))
        .transpose()?;
    let preset = match (a.quick, a.full, a.smoke) {
        (true, _, _) => Some(Preset::Quick),
        (_, true, _) => Some(Preset::Full),
        (_, _, true) => Some(Preset::Smoke),
        // The papers' experiments train with the quick generator unless told otherwise.
        _ if papers.is_some() => Some(Preset::Quick),
        _ => None,
    };
    let default_out = |p: Preset| {
        root.join(match (p, papers.is_some()) {
            (Preset::Quick, false) => "target/reproduce",
            (Preset::Full, false) => "target/reproduce-full",
            (Preset::Smoke, false) => "target/reproduce-smoke",
            (Preset::Quick, true) => "results/papers",
            (Preset::Full, true) => "results/papers-full",
            (Preset::Smoke, true) => "target/reproduce-papers-smoke",
        })
    };
    let dir = match (&a.out, preset) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) => default_out(p),
        (None, None) => bail!(
            "say which experiment: `cargo xtask reproduce --quick` (15–21 minutes on 2 cores), \
             `--full` or `--smoke` (under two minutes); `--cell` and `--report` need `--out DIR`"
        ),
    };
    let plan = match preset {
        Some(p) => {
            let plan = Plan::new(&a.settings.options(p, papers.clone(), root)?);
            plan.validate(root).map_err(|e| {
                let hint = if root.join("assets/experts").is_dir() {
                    String::new()
                } else {
                    format!(
                        " (the shipped experts are read from {}/assets/experts: run this inside \
                         a clone of magail-rs, or set MAGAIL_ROOT to one)",
                        root.display()
                    )
                };
                anyhow::anyhow!("{e}{hint}")
            })?;
            plan.save(&dir)?;
            plan
        }
        None => Plan::load(&dir)?,
    };
    if let Some(id) = &a.cell {
        let cell = plan.cell(id)?;
        let bars = Bars::new();
        bars.started(cell);
        let res =
            experiments::run_recorded(cell, root, &dir, None, &mut |p| bars.progress(cell, &p));
        bars.finished(cell, res.as_ref());
        res?;
        return Ok(());
    }
    if a.report {
        return write_report(&dir, &plan);
    }
    if preset.is_none() && !a.plan {
        bail!(
            "say which experiment (`--quick`, `--full`, `--smoke`), or `--cell ID`, `--report` \
             or `--plan` for the plan in {}",
            dir.display()
        );
    }
    if a.rescore {
        return rescore(&plan, root, &dir, &a.from);
    }
    let states = plan.states(&dir);
    if a.plan {
        print!("{}", experiments::plan::listing(&plan, &states, &dir));
        return Ok(());
    }
    let done = states
        .iter()
        .filter(|s| matches!(s, CellState::Done(_)))
        .count();
    // The stamp every result of this run will carry: a binary copied from a build folder that
    // another checkout also built into says so here, before any cell is trained.
    let stamp = experiments::provenance::Stamp::here();
    eprintln!(
        "{} cells, {done} already done, results in {} (this program: commit {}, {})",
        plan.cells.len(),
        dir.display(),
        stamp.commit,
        stamp.kernels
    );
    match a.executor {
        Executor::Local => {
            let workers = a
                .workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            experiments::run_local(&plan, root, &dir, workers, &Bars::new())?;
            write_report(&dir, &plan)
        }
        Executor::Slurm => submit(a, &plan, &states, &dir),
    }
}

fn rescore(
    plan: &experiments::Plan,
    root: &Path,
    dir: &Path,
    from: &[std::path::PathBuf],
) -> Result<()> {
    eprintln!(
        "scoring the unfinished cells of {} from finished run folders",
        dir.display()
    );
    let r = experiments::rescore(plan, root, dir, from)?;
    let list = |what: &str, ids: &[String]| {
        if !ids.is_empty() {
            println!("{what} ({}):", ids.len());
            for id in ids {
                println!("  {id}");
            }
        }
    };
    list("scored without training", &r.scored);
    list(
        "run folder in place, training unfinished (running the plan resumes it)",
        &r.unfinished,
    );
    list("trained before but its run folder is gone: re-run", &r.gone);
    list("never trained", &r.untrained);
    list("failed", &r.failed);
    println!(
        "{} scored, {} unfinished, {} to re-run (run folder gone), {} never trained, {} failed",
        r.scored.len(),
        r.unfinished.len(),
        r.gone.len(),
        r.untrained.len(),
        r.failed.len()
    );
    if !r.failed.is_empty() {
        bail!(
            "{} cells could not be scored (listed above)",
            r.failed.len()
        );
    }
    Ok(())
}

fn submit(a: &ReproduceArgs, plan: &Plan, states: &[CellState], dir: &Path) -> Result<()> {
    let todo: Vec<&CellSpec> = plan
        .cells
        .iter()
        .zip(states)
        .filter(|(_, s)| {
            matches!(
                s,
                CellState::ToDo | CellState::Failed(_) | CellState::Stopped(_)
            )
        })
        .map(|(c, _)| c)
        .collect();
    let running = states
        .iter()
        .filter(|s| matches!(s, CellState::Running))
        .count();
    if todo.is_empty() {
        eprintln!("nothing to submit: every cell is done or running ({running} running)");
        return write_report(dir, plan);
    }
    // The array runs this very program: it must be where every node can read it.
    let program = std::env::current_exe().context("cannot find this program's path")?;
    let dir = std::path::absolute(dir).context("cannot make the output folder absolute")?;
    let s = &a.slurm;
    let o = SlurmOptions {
        throttle: s.throttle,
        time_minutes: s.time_minutes,
        mem_mb: s.mem_mb,
        partition: s.partition.clone(),
        account: s.account.clone(),
        extra: s.sbatch_flags.clone(),
        ..SlurmOptions::default()
    };
    let sub = experiments::slurm::prepare(&dir, &program, &todo, &o)?;
    if s.dry_run {
        println!("# {}\n{}", sub.array_path.display(), sub.array_script);
        println!("# {}\n{}", sub.report_path.display(), sub.report_script);
        println!(
            "# {} (one cell id per array task)\n{}",
            sub.cells_file.display(),
            sub.cells.join("\n")
        );
        return Ok(());
    }
    let (array, report) = experiments::slurm::submit(&sub)?;
    println!(
        "submitted {} cells as array job {array} ({running} already running elsewhere); the \
         tables follow in job {report}.\nFollow with `squeue -j {array},{report}` and \
         `cargo xtask reproduce --out {} --plan`; logs in {}/slurm/logs. Run the same command \
         again to resubmit cells that failed or were cancelled.",
        todo.len(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The tables (markdown, CSV) and plots of the finished cells; names the cells not finished.
fn write_report(dir: &Path, plan: &Plan) -> Result<()> {
    let states = plan.states(dir);
    let report::Report {
        markdown: md,
        results,
        tables,
        missing,
    } = report::document(plan, &states);
    write_atomic(&dir.join("results.csv"), |w| {
        Ok(std::io::Write::write_all(
            w,
            report::csv(&results).as_bytes(),
        )?)
    })?;
    write_atomic(&dir.join("results.md"), |w| {
        Ok(std::io::Write::write_all(w, md.as_bytes())?)
    })?;
    for t in &tables {
        let many = t.demos.len() > 1;
        let series: Vec<Series> = t
            .methods
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let x = |d: usize| if many { d as f64 } else { k as f64 };
                Series {
                    label: m.label().to_string(),
                    points: t
                        .demos
                        .iter()
                        .filter_map(|&d| {
                            let v = t.get(d, *m);
                            (!v.is_empty()).then(|| (x(d), report::mean_std(v).0))
                        })
                        .collect(),
                    // The 95 % bootstrap interval of the mean over seeds and episodes.
                    band: t
                        .demos
                        .iter()
                        .filter_map(|&d| t.summary(d, *m).map(|s| (x(d), s.lo, s.hi)))
                        .collect(),
                }
            })
            .collect();
        let labels: Vec<&str> = t.methods.iter().map(|m| m.label()).collect();
        let (title, x) = if many {
            (report::heading(t.experiment), "demonstrations")
        } else {
            (
                format!(
                    "{}, {} demos (x: {})",
                    report::heading(t.experiment),
                    t.demos.first().copied().unwrap_or(0),
                    labels.join(", ")
                ),
                "method",
            )
        };
        line_plot(
            &dir.join(t.experiment.name()),
            &title,
            x,
            "normalized reward (95 % interval)",
            &series,
        )?;
    }
    print!("{md}");
    println!(
        "\nwrote {}/results.{{md,csv}} and a plot per experiment (.png, .svg)",
        dir.display()
    );
    if !missing.is_empty() {
        bail!(
            "{} of {} cells are not finished: run the same command again to finish them",
            missing.len(),
            plan.cells.len()
        );
    }
    Ok(())
}
