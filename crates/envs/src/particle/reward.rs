//! The scenarios' rewards: each agent's own, mixed with the team's as the configuration says.

use super::*;

impl ParticleEnv {
    pub(super) fn rewards(&self, out: &mut [f64]) {
        let w = &self.world;
        let n = w.n_agents;
        let ents = &w.entities;
        match &self.cfg.params {
            ScenarioParams::Spread(p) => {
                // Global part: minus the sum over landmarks of the closest agent's distance.
                // sqrt is monotone and correctly rounded, so min(sqrt(d²)) == sqrt(min(d²)):
                // one sqrt per landmark instead of one per (agent, landmark) pair.
                let mut g = 0.0;
                for lm in w.landmarks() {
                    let mut m2 = f64::INFINITY;
                    for a in w.agents() {
                        let dx = a.pos[0] - lm.pos[0];
                        let dy = a.pos[1] - lm.pos[1];
                        let d2 = dx * dx + dy * dy;
                        if d2 < m2 {
                            m2 = d2;
                        }
                    }
                    g -= m2.sqrt();
                }
                out[..n].fill(0.0);
                // Each unordered pair once: (−x)² = x², so both agents see the same distance.
                for i in 0..n {
                    for k in i + 1..n {
                        let d = dist(ents[k].pos, ents[i].pos);
                        let r = ents[k].size + ents[i].size;
                        match p.collision {
                            CollisionPenalty::Count => {
                                if d < r {
                                    out[i] -= 1.0;
                                    out[k] -= 1.0;
                                }
                            }
                            CollisionPenalty::Penetration => {
                                let pen = (d - r).min(0.0);
                                out[i] += pen;
                                out[k] += pen;
                            }
                        }
                    }
                }
                mix(p.mix, g, out);
            }
            ScenarioParams::SpeakerListener(p) => {
                let lm = ents[n + self.goals.landmark].pos;
                let dx = ents[1].pos[0] - lm[0];
                let dy = ents[1].pos[1] - lm[1];
                let d2 = dx * dx + dy * dy;
                let r = if p.squared_distance { -d2 } else { -d2.sqrt() };
                out.fill(r);
                mix(p.mix, 0.0, out);
            }
            ScenarioParams::Push(p) => {
                let goal = ents[n + self.goals.landmark].pos;
                let good_d = dist(ents[1].pos, goal);
                out[1] = -good_d;
                out[0] = if p.paper_adversary_reward {
                    5.0 * good_d - 0.5 * dist(ents[0].pos, ents[1].pos)
                } else {
                    good_d - dist(goal, ents[0].pos)
                };
            }
            ScenarioParams::Tag(_) => {
                let touch = |a: &Entity, b: &Entity| dist(a.pos, b.pos) < a.size + b.size;
                let mut pairs = 0.0;
                for g in (0..n).filter(|&g| !self.adversary[g]) {
                    for a in (0..n).filter(|&a| self.adversary[a]) {
                        if touch(&ents[g], &ents[a]) {
                            pairs += 10.0;
                        }
                    }
                }
                for i in 0..n {
                    if self.adversary[i] {
                        out[i] = pairs;
                    } else {
                        let mut r = 0.0;
                        for a in (0..n).filter(|&a| self.adversary[a]) {
                            if touch(&ents[a], &ents[i]) {
                                r -= 10.0;
                            }
                        }
                        for x in ents[i].pos {
                            r -= tag_bound(x.abs());
                        }
                        out[i] = r;
                    }
                }
            }
            ScenarioParams::Reference => {
                let [g0, g1] = self.goals.landmark_per_agent;
                let l0 = -dist(ents[1].pos, ents[n + g0].pos);
                let l1 = -dist(ents[0].pos, ents[n + g1].pos);
                let g = (0.0 + l0 + l1) / 2.0;
                out[0] = l0;
                out[1] = l1;
                mix(RewardMix::LocalRatio(0.5), g, out);
            }
            ScenarioParams::Adversary { .. } => {
                let goal = ents[n + self.goals.landmark].pos;
                let adv = 0.0 + dist(ents[0].pos, goal);
                let mut m = f64::INFINITY;
                for g in 1..n {
                    let d = dist(ents[g].pos, goal);
                    if d < m {
                        m = d;
                    }
                }
                out[0] = -adv;
                for o in &mut out[1..] {
                    *o = -m + adv;
                }
            }
        }
    }
}

/// simple_tag's boundary penalty for one coordinate's magnitude.
fn tag_bound(x: f64) -> f64 {
    if x < 0.9 {
        0.0
    } else if x < 1.0 {
        (x - 0.9) * 10.0
    } else {
        (2.0 * x - 2.0).exp().min(10.0)
    }
}

fn mix(mix: RewardMix, global: f64, out: &mut [f64]) {
    match mix {
        RewardMix::Own => {}
        RewardMix::LocalRatio(rho) => {
            for r in out.iter_mut() {
                *r = global * (1.0 - rho) + *r * rho;
            }
        }
        RewardMix::TeamSum => {
            // The paper code's collaborative world: global + local per agent, summed over agents.
            let n = out.len() as f64;
            let total: f64 = out.iter().sum::<f64>() + n * global;
            out.fill(total);
        }
    }
}
