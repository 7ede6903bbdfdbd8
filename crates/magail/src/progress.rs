//! Progress bars for cells running on worker threads (`experiments::Observer`).

use std::collections::HashMap;
use std::sync::Mutex;

use experiments::{CellResult, CellSpec, ExperimentError, Observer};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use magail_async::run;

/// Progress bars, one per running cell.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// No bars yet; one appears per cell as it starts.
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn with(&self, cell: &CellSpec, f: impl FnOnce(&ProgressBar)) {
        if let Ok(m) = self.bars.lock()
            && let Some(b) = m.get(&cell.id())
        {
            f(b);
        }
    }
}

/// A cell as its progress line names it.
pub fn name(c: &CellSpec) -> String {
    format!(
        "{} {} {} demos s{}",
        c.experiment,
        c.method.label(),
        c.demos,
        c.seed
    )
}

impl Observer for Bars {
    fn started(&self, cell: &CellSpec) {
        let n = if cell.method.adversarial() {
            cell.generator.iterations
        } else {
            0
        };
        let bar = self.multi.add(ProgressBar::new(n as u64));
        bar.set_style(
            ProgressStyle::with_template("{bar:25} {pos}/{len} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{}: demonstrations, BC", name(cell)));
        if let Ok(mut m) = self.bars.lock() {
            m.insert(cell.id(), bar);
        }
    }

    fn progress(&self, cell: &CellSpec, p: &run::Progress<'_>) {
        self.with(cell, |bar| match p {
            run::Progress::Cloned { .. } => bar.set_message(name(cell)),
            run::Progress::Resumed(i) => bar.set_position(*i as u64),
            run::Progress::Iteration(s) => {
                bar.set_position(s.iteration as u64);
                if let Some(r) = s.true_return.first() {
                    bar.set_message(format!("{} return {r:.1}", name(cell)));
                }
            }
        });
    }

    fn finished(
        &self,
        cell: &CellSpec,
        outcome: std::result::Result<&CellResult, &ExperimentError>,
    ) {
        if let Ok(mut m) = self.bars.lock()
            && let Some(b) = m.remove(&cell.id())
        {
            b.finish_and_clear();
        }
        let line = match outcome {
            Ok(r) => format!("{}: normalized {:.3}", name(cell), r.normalized),
            Err(e) => format!("{}: failed: {e}", name(cell)),
        };
        let _ = self.multi.println(line);
    }
}
