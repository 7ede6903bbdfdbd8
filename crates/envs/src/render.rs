//! Software rasterizer for particle worlds: draws entities as filled, anti-aliased circles with
//! the reference colors and sizes onto an RGB canvas, so a person can watch an episode without a
//! window system. Encoding (GIF, PNG) is left to the caller.

use crate::world::World;

/// An RGB image, row after row, 3 bytes a pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

fn to_byte(c: f64) -> f64 {
    (c.clamp(0.0, 1.0) * 255.0).round()
}

/// Draws `world` on a `size × size` canvas.
///
/// Like mpe2's renderer the view rescales to keep every entity in sight: it spans
/// `[-r, r]²` with `r` the larger of 1 and the farthest entity's coordinate. Landmarks are drawn
/// first and agents on top; agents that did not act at the step (`active[i] == false`) are drawn
/// faded, so a viewer can see participation.
pub fn draw(world: &World, size: usize, active: Option<&[bool]>) -> Frame {
    let mut rgb = vec![255u8; size * size * 3];
    let r = world
        .entities
        .iter()
        .flat_map(|e| [e.pos[0].abs() + e.size, e.pos[1].abs() + e.size])
        .fold(1.0f64, f64::max);
    let scale = size as f64 / (2.0 * r);
    let order = (world.n_agents..world.entities.len()).chain(0..world.n_agents);
    for idx in order {
        let e = &world.entities[idx];
        // A mask shorter than the agents leaves the missing ones drawn as acting.
        let faded = idx < world.n_agents && active.is_some_and(|a| a.get(idx) == Some(&false));
        let color = e.color.map(to_byte);
        let alpha_scale = if faded { 0.35 } else { 1.0 };
        let cx = (e.pos[0] + r) * scale;
        // Image rows grow downwards; world y grows upwards.
        let cy = (r - e.pos[1]) * scale;
        let rad = (e.size * scale).max(1.5);
        let x0 = (cx - rad - 1.0).floor().max(0.0) as usize;
        let x1 = ((cx + rad + 1.0).ceil() as usize).min(size);
        let y0 = (cy - rad - 1.0).floor().max(0.0) as usize;
        let y1 = ((cy + rad + 1.0).ceil() as usize).min(size);
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = x as f64 + 0.5 - cx;
                let dy = y as f64 + 0.5 - cy;
                // Coverage falls off over one pixel at the rim: cheap anti-aliasing.
                let cover = (rad - (dx * dx + dy * dy).sqrt() + 0.5).clamp(0.0, 1.0) * alpha_scale;
                if cover <= 0.0 {
                    continue;
                }
                let p = (y * size + x) * 3;
                for ch in 0..3 {
                    let old = f64::from(rgb[p + ch]);
                    rgb[p + ch] = (old + (color[ch] - old) * cover).round() as u8;
                }
            }
        }
    }
    Frame {
        width: size,
        height: size,
        rgb,
    }
}
