//! `cargo xtask render`: play one episode with random or scripted actions and write an animated
//! GIF (and, with `--frames DIR`, one PNG per step), so a person can watch it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use envs::scripted::ScriptedPolicy;
use envs::{EnvConfig, ParticleEnv, render};
use mg_core::{ActionSpace, MarkovGame, stream_rng};

use crate::common::write_atomic;
use rand::Rng;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PolicyKind {
    Random,
    Scripted,
}

/// `render`'s arguments.
#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Scenario, e.g. simple_spread, simple_tag, cooperative_navigation.
    #[arg(long)]
    env: String,
    /// Preset: mpe2 or paper.
    #[arg(long, default_value = "mpe2", value_parser = crate::common::parse_variant)]
    variant: envs::Variant,
    /// Who acts.
    #[arg(long, value_enum, default_value_t = PolicyKind::Scripted)]
    policy: PolicyKind,
    /// Output GIF file.
    #[arg(long)]
    out: PathBuf,
    /// Also write one PNG per frame into this folder.
    #[arg(long)]
    frames: Option<PathBuf>,
    /// Seed of the episode.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image width and height in pixels.
    #[arg(long, default_value_t = 400)]
    size: u16,
}

pub fn run_render(a: &RenderArgs) -> Result<()> {
    let cfg = EnvConfig::from_names(&a.env, a.variant.name())?;
    let mut env = ParticleEnv::new(cfg)?;
    let pol = ScriptedPolicy::new(&env);
    if a.out.extension().is_none_or(|e| e != "gif") {
        bail!(
            "--out {}: expected a file name ending in .gif",
            a.out.display()
        );
    }
    // Every frame is kept until the GIF is written: bound the memory (4096² RGB is 48 MiB).
    if !(32..=4096).contains(&a.size) {
        bail!("--size {}: expected 32 to 4096 pixels", a.size);
    }
    let mut rng = stream_rng(a.seed, 0);
    let mut act_rng = stream_rng(a.seed, 1);
    let mut obs = env.reset_joint(&mut rng);
    let size = usize::from(a.size);
    let mut frames = vec![render::draw(env.world(), size, None)];
    let mut joint = Vec::new();
    loop {
        match a.policy {
            PolicyKind::Scripted => pol.act_joint(&obs, &mut joint),
            PolicyKind::Random => {
                joint.clear();
                for ag in &env.spec().agents {
                    match ag.action_space {
                        ActionSpace::Discrete { n } => {
                            joint.push(act_rng.random_range(0..n) as f32)
                        }
                        ActionSpace::Box { dim, .. } => {
                            joint.extend((0..dim).map(|_| act_rng.random::<f32>()))
                        }
                    }
                }
            }
        }
        let s = env.step_joint(&joint)?;
        frames.push(render::draw(env.world(), size, None));
        obs = s.obs;
        if s.terminated[0] || s.truncated[0] {
            break;
        }
    }
    write_atomic(&a.out, |w| {
        let mut enc = gif::Encoder::new(w, a.size, a.size, &[])?;
        enc.set_repeat(gif::Repeat::Infinite)?;
        for f in &frames {
            let mut frame = gif::Frame::from_rgb_speed(a.size, a.size, &f.rgb, 10);
            frame.delay = 10; // hundredths of a second: 10 steps a second, as dt = 0.1
            enc.write_frame(&frame)?;
        }
        Ok(())
    })?;
    if let Some(dir) = &a.frames {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (t, f) in frames.iter().enumerate() {
            let path = dir.join(format!("frame_{t:03}.png"));
            write_atomic(&path, |w| {
                let mut enc = png::Encoder::new(w, f.width as u32, f.height as u32);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                enc.write_header()?.write_image_data(&f.rgb)?;
                Ok(())
            })?;
        }
    }
    println!(
        "wrote {} ({} frames){}",
        a.out.display(),
        frames.len(),
        a.frames
            .as_ref()
            .map(|d| format!(" and PNG frames in {}", d.display()))
            .unwrap_or_default()
    );
    Ok(())
}
