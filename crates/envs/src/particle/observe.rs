//! The scenarios' observations, in mpe2's layouts (docs/envs.md).

use super::*;

impl ParticleEnv {
    /// Agent `i`'s observation, written into `out` (the layouts of docs/envs.md).
    pub(super) fn observation(&self, i: usize, out: &mut [f32]) {
        let w = &self.world;
        let n = w.n_agents;
        let ents = &w.entities;
        let me = &ents[i];
        let mut k = 0;
        match &self.cfg.params {
            ScenarioParams::Spread(p) => {
                put(out, &mut k, me.vel[0]);
                put(out, &mut k, me.vel[1]);
                if p.observe_own_pos {
                    put(out, &mut k, me.pos[0]);
                    put(out, &mut k, me.pos[1]);
                }
                put_landmarks_rel(out, &mut k, w, me.pos);
                put_others_rel(out, &mut k, w, i);
                for j in (0..n).filter(|&j| j != i) {
                    for &c in w.comm_of(j) {
                        put(out, &mut k, c);
                    }
                }
            }
            ScenarioParams::SpeakerListener(_) => {
                if i == 0 {
                    for c in w.landmark(self.goals.landmark).color {
                        put(out, &mut k, c);
                    }
                } else {
                    put(out, &mut k, me.vel[0]);
                    put(out, &mut k, me.vel[1]);
                    put_landmarks_rel(out, &mut k, w, me.pos);
                    for &c in w.comm_of(0) {
                        put(out, &mut k, c);
                    }
                }
            }
            ScenarioParams::Push(p) => {
                let goal = w.landmark(self.goals.landmark);
                put(out, &mut k, me.vel[0]);
                put(out, &mut k, me.vel[1]);
                if i == 0 {
                    if p.adversary_sees_goal {
                        put_rel(out, &mut k, goal.pos, me.pos);
                    }
                    put_landmarks_rel(out, &mut k, w, me.pos);
                    put_rel(out, &mut k, ents[1].pos, me.pos);
                } else {
                    put_rel(out, &mut k, goal.pos, me.pos);
                    for c in me.color {
                        put(out, &mut k, c);
                    }
                    put_landmarks_rel(out, &mut k, w, me.pos);
                    for lm in w.landmarks() {
                        for c in lm.color {
                            put(out, &mut k, c);
                        }
                    }
                    put_rel(out, &mut k, ents[0].pos, me.pos);
                }
            }
            ScenarioParams::Tag(_) => {
                put(out, &mut k, me.vel[0]);
                put(out, &mut k, me.vel[1]);
                put(out, &mut k, me.pos[0]);
                put(out, &mut k, me.pos[1]);
                put_landmarks_rel(out, &mut k, w, me.pos);
                put_others_rel(out, &mut k, w, i);
                for (j, o) in w.agents().iter().enumerate() {
                    if j != i && !self.adversary[j] {
                        put(out, &mut k, o.vel[0]);
                        put(out, &mut k, o.vel[1]);
                    }
                }
            }
            ScenarioParams::Reference => {
                put(out, &mut k, me.vel[0]);
                put(out, &mut k, me.vel[1]);
                put_landmarks_rel(out, &mut k, w, me.pos);
                for c in w.landmark(self.goals.landmark_per_agent[i]).color {
                    put(out, &mut k, c);
                }
                for &c in w.comm_of(1 - i) {
                    put(out, &mut k, c);
                }
            }
            ScenarioParams::Adversary { .. } => {
                if !self.adversary[i] {
                    put_rel(out, &mut k, w.landmark(self.goals.landmark).pos, me.pos);
                }
                put_landmarks_rel(out, &mut k, w, me.pos);
                put_others_rel(out, &mut k, w, i);
            }
        }
        debug_assert_eq!(k, out.len(), "observation length of agent {i}");
    }
}

#[inline(always)]
fn put(out: &mut [f32], k: &mut usize, v: f64) {
    out[*k] = v as f32;
    *k += 1;
}

#[inline(always)]
fn put_rel(out: &mut [f32], k: &mut usize, e: [f64; 2], me: [f64; 2]) {
    // One bounds check for the pair; the difference is taken in f64, then rounded.
    out[*k..*k + 2].copy_from_slice(&[(e[0] - me[0]) as f32, (e[1] - me[1]) as f32]);
    *k += 2;
}

/// Every landmark's position relative to `me`, in landmark order.
#[inline(always)]
fn put_landmarks_rel(out: &mut [f32], k: &mut usize, w: &World, me: [f64; 2]) {
    for lm in w.landmarks() {
        put_rel(out, k, lm.pos, me);
    }
}

/// Every other agent's position relative to agent `i`, in agent order.
#[inline(always)]
fn put_others_rel(out: &mut [f32], k: &mut usize, w: &World, i: usize) {
    let me = w.entities[i].pos;
    for (j, o) in w.agents().iter().enumerate() {
        if j != i {
            put_rel(out, k, o.pos, me);
        }
    }
}
