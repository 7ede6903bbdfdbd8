//! Pieces the command-line tasks share: games by name (`envs::GameChoice`) and checkpoints and
//! evaluation (from the `experiments` crate), atomic writes, method overrides, progress, plots.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use envs::ParticleEnv;
use indicatif::{ProgressBar, ProgressStyle};
use magail_async::run;
use magail_async::{MagailConfig, MagailError, MagailTrainer};
use mg_core::{Demonstrations, PlayerRule};

pub use envs::GameChoice;

/// Writes a file atomically ([`magail_async::run::write_atomic`]): `write` fills a buffer,
/// which then goes to disk through a temporary sibling and a rename.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::Cursor<Vec<u8>>) -> Result<()>,
) -> Result<()> {
    let mut buf = std::io::Cursor::new(Vec::new());
    write(&mut buf)?;
    Ok(magail_async::run::write_atomic(path, |w| {
        w.write_all(buf.get_ref())
    })?)
}

pub use experiments::{Who, evaluate, game_for, load_checkpoint, play, scripted_policies};

/// The generator's settings, one flag per knob, flattened into every command that sets them
/// (`imitate`, `reproduce`): each flag given replaces the command's own value (its preset's, or
/// the library's defaults). What each knob sets is `experiments::Generator`'s to say.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct GeneratorArgs {
    /// Environment copies per iteration.
    #[arg(long)]
    pub envs: Option<usize>,
    /// TRPO trust-region radius.
    #[arg(long)]
    pub max_kl: Option<f64>,
    /// Fisher-vector products on every k-th sample of the batch (1: all).
    #[arg(long)]
    pub fisher_subsample: Option<usize>,
    /// Discriminator Adam steps per iteration.
    #[arg(long)]
    pub disc_steps: Option<usize>,
    /// Critic (value-function) epochs per iteration.
    #[arg(long)]
    pub vf_epochs: Option<usize>,
    /// Critic minibatches per epoch.
    #[arg(long)]
    pub vf_minibatches: Option<usize>,
}

impl GeneratorArgs {
    /// The settings given, as the library's overrides.
    pub fn overrides(&self) -> experiments::Overrides {
        experiments::Overrides {
            envs: self.envs,
            max_kl: self.max_kl,
            fisher_subsample: self.fisher_subsample,
            disc_steps: self.disc_steps,
            vf_epochs: self.vf_epochs,
            vf_minibatches: self.vf_minibatches,
            ..experiments::Overrides::default()
        }
    }

    /// Replaces the settings of `g` that were given.
    pub fn overlay(&self, g: &mut experiments::Generator) {
        self.overrides().overlay(g);
    }
}

/// Optional overrides of a method's configuration, for experiments.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Tuning {
    /// The generator's settings.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Discriminator learning rate.
    #[arg(long)]
    pub disc_lr: Option<f64>,
    /// Minibatches the discriminator steps cycle through (1: every step on the whole batch).
    #[arg(long)]
    pub disc_minibatches: Option<usize>,
    /// Policy reward form: logd, neglog1md, logit or linear (2D − 1).
    #[arg(long, value_parser = parse_reward)]
    pub reward: Option<gail::RewardForm>,
    /// Steps per copy per iteration.
    #[arg(long)]
    pub steps_per_iter: Option<usize>,
    /// Weight of the behaviour-cloning term kept in every policy step (0: the papers' MAGAIL).
    #[arg(long)]
    pub bc_weight: Option<f64>,
    /// Where the networks compute: `cpu`, `cuda` or `cuda:N` (a GPU needs the `cuda` build:
    /// `cargo xtask gpu-check`).
    #[arg(long, value_parser = |s: &str| s.parse::<magail_async::ComputeDevice>().map_err(|e| e.to_string()))]
    pub device: Option<magail_async::ComputeDevice>,
}

/// A variant by name (`paper`, `mpe2`; `magail` and `default` are accepted too), for clap.
pub fn parse_variant(s: &str) -> Result<envs::Variant, String> {
    envs::Variant::from_name(s).map_err(|e| e.to_string())
}

fn parse_reward(s: &str) -> Result<gail::RewardForm, String> {
    gail::RewardForm::from_name(s).ok_or_else(|| {
        format!("unknown reward form `{s}`: expected logd, neglog1md, logit or linear")
    })
}

impl Tuning {
    /// Every setting given, as the library's overrides (applied by
    /// `experiments::Overrides::apply`, as Python's `train` applies its keywords).
    pub fn overrides(&self) -> experiments::Overrides {
        experiments::Overrides {
            disc_lr: self.disc_lr,
            disc_minibatches: self.disc_minibatches,
            reward: self.reward,
            steps_per_iter: self.steps_per_iter,
            bc_weight: self.bc_weight,
            device: self.device,
            ..self.generator.overrides()
        }
    }
}

/// Trains (or continues) one imitator of `demos` in `folder` with the library's run
/// ([`run::train_imitator`]), showing progress on `bar` (a bar of its own when `None`).
#[allow(clippy::too_many_arguments)]
pub fn train_cell(
    game: &GameChoice,
    demos: &Demonstrations,
    cfg: MagailConfig,
    folder: &run::RunFolder,
    settings: &run::RunSettings,
    existing: run::Existing,
    cache: Option<&run::BcCache>,
    bar: Option<&ProgressBar>,
) -> Result<MagailTrainer<ParticleEnv, PlayerRule>> {
    let (env, player) = game.build()?;
    let bc_epochs = cfg.bc_epochs;
    let trainer = MagailTrainer::new(env, player, demos, cfg).map_err(|e| match e {
        e @ MagailError::Config(_) => anyhow::anyhow!("invalid settings: {e}"),
        e => anyhow::anyhow!("the demonstrations do not fit {}: {e}", game.env),
    })?;
    let own;
    let bar = match bar {
        Some(b) => b,
        None => {
            own = ProgressBar::new(settings.adversarial_iterations() as u64);
            own.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} iterations {elapsed_precise} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            &own
        }
    };
    bar.set_length(settings.adversarial_iterations() as u64);
    let label = settings.method.label();
    let t = run::train_imitator(
        folder,
        game,
        demos,
        trainer,
        settings,
        existing,
        cache,
        &mut |p| {
            match p {
                run::Progress::Cloned { loss, adopted } => bar.suspend(|| {
                    let how = if adopted {
                        " (the same cloning as an earlier run's, adopted)"
                    } else {
                        ""
                    };
                    eprintln!(
                        "behaviour cloning: {bc_epochs} epochs, final minibatch loss {loss:.4}{how}"
                    )
                }),
                run::Progress::Resumed(i) => bar.set_position(i as u64),
                run::Progress::Iteration(s) => {
                    bar.set_position(s.iteration as u64);
                    if let Some(r) = s.true_return.first() {
                        bar.set_message(format!("{label} return {r:.1}"));
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        },
    )?;
    bar.set_position(bar.length().unwrap_or(0));
    Ok(t)
}

pub use magail_async::run::return_stats;

/// Registers the bundled DejaVu Sans font for plots (once).
pub fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// One labelled series of (x, y) points.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// An error band: (x, low, high) per point that has one (drawn shaded under the line).
    pub band: Vec<(f64, f64, f64)>,
}

/// A line plot with markers to PNG and SVG (`base.png`, `base.svg`), written atomically.
pub fn line_plot(
    base: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<()> {
    use plotters::prelude::*;
    fonts();
    let pts = series.iter().flat_map(|s| {
        s.points
            .iter()
            .copied()
            .chain(s.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
    });
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        if x.is_finite() && y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        bail!("nothing to plot for {title}");
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    // Points on the frame are half hidden: keep them inside.
    let pad = (x1 - x0) * 0.08;
    let (x0, x1) = (x0 - pad, x1 + pad);
    let colors = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        CYAN,
        BLACK,
        RGBColor(255, 140, 0),
    ];
    // Demonstration counts and iterations are whole numbers: no "100.0" under the axis.
    let tick = |x: f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        }
    };
    macro_rules! draw {
        ($root:expr) => {{
            let root = $root;
            root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .x_label_formatter(&|x: &f64| tick(*x))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            for (k, s) in series.iter().enumerate() {
                let c = colors[k % colors.len()];
                if s.band.len() >= 2 {
                    let outline: Vec<(f64, f64)> = s
                        .band
                        .iter()
                        .map(|&(x, _, hi)| (x, hi))
                        .chain(s.band.iter().rev().map(|&(x, lo, _)| (x, lo)))
                        .collect();
                    chart
                        .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.15).filled())))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                } else {
                    chart
                        .draw_series(s.band.iter().map(|&(x, lo, hi)| {
                            PathElement::new(vec![(x, lo), (x, hi)], c.stroke_width(2))
                        }))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                }
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                // Markers help read a few points (demonstration counts), not a long curve.
                if s.points.len() <= 60 {
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                }
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }};
    }
    let png = base.with_extension("png");
    let svg = base.with_extension("svg");
    let tmp_png = base.with_extension("png.tmp.png");
    let tmp_svg = base.with_extension("svg.tmp.svg");
    draw!(BitMapBackend::new(&tmp_png, (800, 500)).into_drawing_area());
    draw!(SVGBackend::new(&tmp_svg, (800, 500)).into_drawing_area());
    std::fs::rename(&tmp_png, &png)?;
    std::fs::rename(&tmp_svg, &svg)?;
    Ok(())
}
