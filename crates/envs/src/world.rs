//! The particle world and its physics, in f64, operation for operation as mpe2 1.1.1 computes it
//! (`shared/docs/mpe-spec.md` §2 and §4). Never reorder arithmetic here: the conformance fixtures
//! compare states bit for bit, and every `a * b + c` must stay two rounded operations.

use serde::{Deserialize, Serialize};

/// Integration time step.
pub const DT: f64 = 0.1;
/// Velocity damping per step (velocity is multiplied by `1 - DAMPING`).
pub const DAMPING: f64 = 0.25;
/// Stiffness of the soft contact force.
pub const CONTACT_FORCE: f64 = 100.0;
/// Softness of the contact force (k in the spec).
pub const CONTACT_MARGIN: f64 = 0.001;

/// An agent or a landmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Radius.
    pub size: f64,
    /// Whether physics moves it.
    pub movable: bool,
    /// Whether it exchanges contact forces.
    pub collide: bool,
    /// Mass (1.0 in every mpe2 scenario; the keep-away paper variant makes the adversary 5.0).
    pub mass: f64,
    /// Speed cap, if any.
    pub max_speed: Option<f64>,
    /// Action sensitivity; `None` means 5.0.
    pub accel: Option<f64>,
    /// RGB color, for rendering and for the scenarios that observe colors.
    pub color: [f64; 3],
    /// Position.
    pub pos: [f64; 2],
    /// Velocity.
    pub vel: [f64; 2],
}

impl Entity {
    /// An entity at the origin with the reference defaults for everything but size.
    pub fn new(size: f64, movable: bool, collide: bool) -> Self {
        Self {
            size,
            movable,
            collide,
            mass: 1.0,
            max_speed: None,
            accel: None,
            color: [0.25, 0.25, 0.25],
            pos: [0.0; 2],
            vel: [0.0; 2],
        }
    }

    /// The multiplier applied to a unit action (`accel`, or 5.0).
    pub fn sensitivity(&self) -> f64 {
        self.accel.unwrap_or(5.0)
    }
}

/// The state of a particle world: agents first, then landmarks (entity order matters for the
/// order in which contact forces accumulate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// All entities: `n_agents` agents, then the landmarks.
    pub entities: Vec<Entity>,
    /// Number of agents (the first entities).
    pub n_agents: usize,
    /// Communication channel width.
    pub dim_c: usize,
    /// Whether each agent is silent (its comm state stays zero).
    pub silent: Vec<bool>,
    /// Comm states, `n_agents × dim_c`.
    pub comm: Vec<f64>,
    /// The scaled movement action of each agent for the coming step (`u`).
    pub action_u: Vec<[f64; 2]>,
    /// The comm action of each agent for the coming step, `n_agents × dim_c`.
    pub action_c: Vec<f64>,
    /// Scratch: force per entity, `None` until something pushes it.
    #[serde(skip)]
    force: Vec<Option<[f64; 2]>>,
    /// Pairs of colliding entities `(a, b)`, `a < b`, in the reference's order, precomputed
    /// because most pairs never collide.
    #[serde(skip)]
    pairs: Vec<(usize, usize)>,
    /// Scratch: `[dx, dy, dist, z]` of every pair in `pairs`.
    #[serde(skip)]
    pair_geom: Vec<[f64; 4]>,
}

/// numpy's `logaddexp(0, z)`, branch for branch (spec §4.3).
#[inline]
pub fn softplus(z: f64) -> f64 {
    if z == 0.0 {
        0.0 + std::f64::consts::LN_2
    } else if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else if z < -746.0 {
        // exp(z) underflows to exactly 0.0 below about -745.13, and log1p(0) = 0: skip the calls.
        0.0
    } else if z < -37.5 {
        // exp(z) < 2^-54 here, where log1p(x) rounds to x itself (its next term, x²/2, is far
        // below half an ulp of x): skip the log1p call. `softplus_matches_the_reference` checks it.
        0.0 + z.exp()
    } else {
        0.0 + z.exp().ln_1p()
    }
}

/// numpy's `logaddexp(0, z)` with no shortcuts, the oracle for [`softplus`].
pub fn softplus_reference(z: f64) -> f64 {
    if z == 0.0 {
        0.0 + std::f64::consts::LN_2
    } else if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        0.0 + z.exp().ln_1p()
    }
}

impl World {
    /// A world with these agents and landmarks.
    pub fn new(
        agents: Vec<Entity>,
        landmarks: Vec<Entity>,
        dim_c: usize,
        silent: Vec<bool>,
    ) -> Self {
        let n_agents = agents.len();
        assert_eq!(silent.len(), n_agents, "one silent flag per agent");
        let mut entities = agents;
        entities.extend(landmarks);
        let mut w = Self {
            force: vec![None; entities.len()],
            pairs: Vec::new(),
            pair_geom: Vec::new(),
            entities,
            n_agents,
            dim_c,
            silent,
            comm: vec![0.0; n_agents * dim_c],
            action_u: vec![[0.0; 2]; n_agents],
            action_c: vec![0.0; n_agents * dim_c],
        };
        w.refresh_colliders();
        w
    }

    /// Recomputes the list of colliding entities; call after changing `collide` flags.
    pub fn refresh_colliders(&mut self) {
        self.force = vec![None; self.entities.len()];
        let colliders: Vec<usize> = (0..self.entities.len())
            .filter(|&i| self.entities[i].collide)
            .collect();
        self.pairs = colliders
            .iter()
            .enumerate()
            .flat_map(|(ia, &a)| colliders[ia + 1..].iter().map(move |&b| (a, b)))
            .collect();
        self.pair_geom = Vec::with_capacity(self.pairs.len());
    }

    /// The agents.
    pub fn agents(&self) -> &[Entity] {
        &self.entities[..self.n_agents]
    }

    /// The landmarks.
    pub fn landmarks(&self) -> &[Entity] {
        &self.entities[self.n_agents..]
    }

    /// Landmark `j`.
    pub fn landmark(&self, j: usize) -> &Entity {
        &self.entities[self.n_agents + j]
    }

    /// Comm state of agent `i`.
    pub fn comm_of(&self, i: usize) -> &[f64] {
        &self.comm[i * self.dim_c..(i + 1) * self.dim_c]
    }

    /// Advances the world one step with the actions stored in `action_u` / `action_c`.
    /// Agents with `active[i] == false` play φ: they apply no force and their comm state becomes
    /// zero (they say nothing), while damping and contacts still move them.
    pub fn step(&mut self, active: impl Fn(usize) -> bool) {
        // The scratch is not serialized: a deserialized world rebuilds it here.
        if self.force.len() != self.entities.len() {
            self.refresh_colliders();
        }
        // 4.1 action forces.
        for f in self.force.iter_mut() {
            *f = None;
        }
        for i in 0..self.n_agents {
            if self.entities[i].movable && active(i) {
                // The reference adds a zero "noise" term, which turns -0.0 into +0.0.
                let u = self.action_u[i];
                self.force[i] = Some([u[0] + 0.0, u[1] + 0.0]);
            }
        }
        // 4.2 contact forces, pairs in lexicographic entity order. Three passes over the pairs
        // with the same operations as one: the geometry of every pair first (no branches, so the
        // square roots and divisions of different pairs overlap in the pipeline), then the
        // penetrations, then the forces summed in the reference's order.
        let k = CONTACT_MARGIN;
        self.pair_geom.clear();
        for &(a, b) in &self.pairs {
            let (ea, eb) = (&self.entities[a], &self.entities[b]);
            let dx = ea.pos[0] - eb.pos[0];
            let dy = ea.pos[1] - eb.pos[1];
            let dist = (dx * dx + dy * dy).sqrt();
            let dist_min = ea.size + eb.size;
            self.pair_geom.push([dx, dy, dist, -(dist - dist_min) / k]);
        }
        for (&(a, b), g) in self.pairs.iter().zip(&self.pair_geom) {
            let (ma, mb) = (self.entities[a].movable, self.entities[b].movable);
            if !ma && !mb {
                continue;
            }
            let [dx, dy, dist, z] = *g;
            let pen = softplus(z) * k;
            let fx = ((CONTACT_FORCE * dx) / dist) * pen;
            let fy = ((CONTACT_FORCE * dy) / dist) * pen;
            if ma {
                let old = self.force[a].unwrap_or([0.0, 0.0]);
                self.force[a] = Some([fx + old[0], fy + old[1]]);
            }
            if mb {
                let old = self.force[b].unwrap_or([0.0, 0.0]);
                self.force[b] = Some([(-fx) + old[0], (-fy) + old[1]]);
            }
        }
        // 4.4 integration: position with the old velocity, then damping, force, speed cap.
        for (e, f) in self.entities.iter_mut().zip(&self.force) {
            if !e.movable {
                continue;
            }
            e.pos[0] += e.vel[0] * DT;
            e.pos[1] += e.vel[1] * DT;
            e.vel[0] *= 1.0 - DAMPING;
            e.vel[1] *= 1.0 - DAMPING;
            if let Some(f) = f {
                // x / 1.0 == x exactly: skip the two divisions for the usual unit mass.
                let (fx, fy) = if e.mass == 1.0 {
                    (f[0], f[1])
                } else {
                    (f[0] / e.mass, f[1] / e.mass)
                };
                e.vel[0] += fx * DT;
                e.vel[1] += fy * DT;
            }
            if let Some(max) = e.max_speed {
                let s = (e.vel[0] * e.vel[0] + e.vel[1] * e.vel[1]).sqrt();
                if s > max {
                    e.vel[0] = (e.vel[0] / s) * max;
                    e.vel[1] = (e.vel[1] / s) * max;
                }
            }
        }
        // 4.5 comm.
        let dc = self.dim_c;
        for i in 0..self.n_agents {
            let c = &mut self.comm[i * dc..(i + 1) * dc];
            if self.silent[i] || !active(i) {
                c.fill(0.0);
            } else {
                c.copy_from_slice(&self.action_c[i * dc..(i + 1) * dc]);
            }
        }
    }
}

/// Euclidean distance between two positions, `sqrt(dx*dx + dy*dy)` with `dx = a - b`.
#[inline]
pub fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn softplus_matches_the_reference() {
        let mut rng = mg_core::stream_rng(7, 0);
        for _ in 0..1_000_000 {
            let z: f64 = rng.random_range(-800.0..50.0);
            assert_eq!(
                softplus(z).to_bits(),
                softplus_reference(z).to_bits(),
                "z = {z}"
            );
        }
        for z in [
            -746.0,
            -745.5,
            -745.0,
            -37.5,
            -37.499_999,
            -37.0,
            0.0,
            -0.0,
            1e-300,
            -1e-300,
        ] {
            assert_eq!(
                softplus(z).to_bits(),
                softplus_reference(z).to_bits(),
                "z = {z}"
            );
        }
    }

    #[test]
    fn a_deserialized_world_still_collides() {
        // Two overlapping agents push each other apart; the pair list is not serialized.
        let mut a = Entity::new(0.15, true, true);
        a.pos = [0.0, 0.0];
        let mut b = Entity::new(0.15, true, true);
        b.pos = [0.1, 0.05];
        let mut w = World::new(vec![a, b], vec![], 0, vec![true, true]);
        let text = serde_json::to_string(&w).expect("serializes");
        let mut back: World = serde_json::from_str(&text).expect("deserializes");
        w.step(|_| true);
        back.step(|_| true);
        assert!(
            w.entities[0].vel[0] < 0.0,
            "the contact pushed agent 0 away"
        );
        for (x, y) in w.entities.iter().zip(&back.entities) {
            assert_eq!(x.pos, y.pos);
            assert_eq!(x.vel, y.vel);
        }
    }
}
