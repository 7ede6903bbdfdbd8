//! Scripted reference policies: hand-written controllers that act from observations alone.
//!
//! They are sanity experts and the yardstick of normalized scores (random = 0, scripted = 1):
//! cooperative navigation assigns agents to landmarks (the assignment with the least total
//! distance, which every agent computes identically from its own view) and steers each to its
//! landmark; cooperative communication has the speaker name the goal and the listener steer to
//! the named landmark; the competitive tasks get simple chase, flee and guard heuristics.
//!
//! Steering is a one-step look-ahead on the physics: for each of the five movement options the
//! controller predicts where the agent would come to rest if it then coasted (velocity decays by
//! 0.75 a step, so a velocity v still carries the agent `0.1·v/(1−0.75) = 0.4·v`), and picks the
//! option whose resting point is closest to the target. That brakes in time and never oscillates.

use mg_core::{ActionSpace, GameSpec};

use crate::config::{EnvConfig, ScenarioParams};
use crate::particle::ParticleEnv;
use crate::world::{DAMPING, DT};

/// Scripted policies for every agent of one particle environment configuration.
#[derive(Clone, Debug)]
pub struct ScriptedPolicy {
    cfg: EnvConfig,
    spec: GameSpec,
    sens: Vec<f64>,
    adversary: Vec<bool>,
    talk: Vec<bool>,
}

/// Reads observation values in order.
struct Cursor<'a> {
    obs: &'a [f32],
    k: usize,
}

impl Cursor<'_> {
    fn v2(&mut self) -> [f64; 2] {
        let v = [f64::from(self.obs[self.k]), f64::from(self.obs[self.k + 1])];
        self.k += 2;
        v
    }
    fn vn(&mut self, n: usize) -> Vec<f64> {
        let v = self.obs[self.k..self.k + n]
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        self.k += n;
        v
    }
    fn skip(&mut self, n: usize) {
        self.k += n;
    }
}

fn argmax(v: &[f64]) -> Option<usize> {
    let (i, m) = v
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bm), (i, &x)| {
            if x > bm { (i, x) } else { (bi, bm) }
        });
    (m > 0.0).then_some(i)
}

fn norm(v: [f64; 2]) -> f64 {
    (v[0] * v[0] + v[1] * v[1]).sqrt()
}

/// The movement option (0 none, 1 −x, 2 +x, 3 −y, 4 +y) whose coasting rest point is closest to
/// `target` (relative to the agent), given its velocity and `sens`, the velocity an action adds
/// per unit of time (the action's force over the agent's mass).
pub fn steer(target: [f64; 2], vel: [f64; 2], sens: f64) -> usize {
    let keep = 1.0 - DAMPING;
    let coast = DT / (1.0 - keep);
    let dirs = [[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]];
    let mut best = (0, f64::INFINITY);
    for (m, d) in dirs.iter().enumerate() {
        let v1 = [
            vel[0] * keep + d[0] * sens * DT,
            vel[1] * keep + d[1] * sens * DT,
        ];
        let rest = [vel[0] * DT + v1[0] * coast, vel[1] * DT + v1[1] * coast];
        let err = norm([target[0] - rest[0], target[1] - rest[1]]);
        // Prefer doing nothing on ties, so agents at their target stay still.
        if err < best.1 - 1e-12 {
            best = (m, err);
        }
    }
    best.0
}

/// Every injective assignment of `l` landmarks to `n` agents with the least total cost
/// (`cost[agent][landmark]`); returns the landmark of each agent, `None` if unassigned.
/// Exhaustive for up to 7 agents, greedy beyond.
pub fn assign(cost: &[Vec<f64>]) -> Vec<Option<usize>> {
    let n = cost.len();
    let l = cost.first().map_or(0, Vec::len);
    let mut best: (f64, Vec<Option<usize>>) = (f64::INFINITY, vec![None; n]);
    if n <= 7 {
        // Choose an agent for each landmark in turn (depth-first), pruning on cost.
        fn rec(
            j: usize,
            cost: &[Vec<f64>],
            used: &mut Vec<Option<usize>>,
            acc: f64,
            best: &mut (f64, Vec<Option<usize>>),
        ) {
            let l = cost[0].len();
            if acc >= best.0 {
                return;
            }
            if j == l || used.iter().all(Option::is_some) {
                *best = (acc, used.clone());
                return;
            }
            for a in 0..cost.len() {
                if used[a].is_none() {
                    used[a] = Some(j);
                    rec(j + 1, cost, used, acc + cost[a][j], best);
                    used[a] = None;
                }
            }
            // With more landmarks left than free agents, landmark j may also go uncovered
            // (with as many agents as landmarks this never applies).
            let free = used.iter().filter(|u| u.is_none()).count();
            if l - j > free {
                rec(j + 1, cost, used, acc, best);
            }
        }
        let mut used = vec![None; n];
        rec(0, cost, &mut used, 0.0, &mut best);
    } else {
        let mut used = vec![None; n];
        for j in 0..l {
            if let Some(a) = (0..n)
                .filter(|&a| used[a].is_none())
                .min_by(|&a, &b| cost[a][j].total_cmp(&cost[b][j]))
            {
                used[a] = Some(j);
            }
        }
        best.1 = used;
    }
    best.1
}

impl ScriptedPolicy {
    /// Policies for the environment `env`'s configuration.
    pub fn new(env: &ParticleEnv) -> Self {
        let w = env.world();
        let n = w.n_agents;
        Self {
            cfg: env.config().clone(),
            spec: mg_core::MarkovGame::spec(env).clone(),
            // What an action does to the velocity in a step: force over mass (the paper
            // keep-away adversary weighs 5, and steering it as if it weighed 1 undershot and
            // overshot its targets).
            sens: (0..n)
                .map(|i| w.entities[i].sensitivity() / w.entities[i].mass)
                .collect(),
            adversary: (0..n).map(|i| env.is_adversary(i)).collect(),
            talk: (0..n).map(|i| !w.silent[i]).collect(),
        }
    }

    /// Writes agent `i`'s action for observation `obs` into `out` (its action width).
    pub fn act(&self, i: usize, obs: &[f32], out: &mut [f32]) {
        let (movement, word) = self.decide(i, obs);
        match self.spec.action_space(i) {
            ActionSpace::Discrete { .. } => {
                let movable = self.cfg.scenario != crate::Scenario::SpeakerListener || i == 1;
                out[0] = match (movable, self.talk[i]) {
                    (true, true) => (movement + 5 * word.unwrap_or(0)) as f32,
                    (true, false) => movement as f32,
                    (false, _) => word.unwrap_or(0) as f32,
                };
            }
            ActionSpace::Box { dim, .. } => {
                out.fill(0.0);
                let mut k = 0;
                if dim >= 5 {
                    if movement > 0 {
                        out[movement] = 1.0;
                    }
                    k = 5;
                }
                if let (true, Some(w)) = (self.talk[i], word) {
                    out[k + w] = 1.0;
                }
            }
        }
    }

    /// Every agent's action as one flat joint action.
    pub fn act_joint(&self, obs: &[Vec<f32>], out: &mut Vec<f32>) {
        out.clear();
        for (i, o) in obs.iter().enumerate() {
            let w = self.spec.action_space(i).width();
            let start = out.len();
            out.resize(start + w, 0.0);
            self.act(i, o, &mut out[start..]);
        }
    }

    /// The movement option and the word to say (if the agent talks).
    fn decide(&self, i: usize, obs: &[f32]) -> (usize, Option<usize>) {
        let mut c = Cursor { obs, k: 0 };
        let n = self.spec.n_agents();
        let sens = self.sens[i];
        match &self.cfg.params {
            ScenarioParams::Spread(p) => {
                let vel = c.v2();
                if p.observe_own_pos {
                    c.skip(2);
                }
                let lms: Vec<[f64; 2]> = (0..p.n_landmarks).map(|_| c.v2()).collect();
                let mut agents: Vec<[f64; 2]> = (0..n - 1).map(|_| c.v2()).collect();
                agents.insert(i, [0.0, 0.0]);
                let cost: Vec<Vec<f64>> = agents
                    .iter()
                    .map(|a| {
                        lms.iter()
                            .map(|l| norm([l[0] - a[0], l[1] - a[1]]))
                            .collect()
                    })
                    .collect();
                let target = assign(&cost)[i].map_or([0.0, 0.0], |j| lms[j]);
                (steer(target, vel, sens), None)
            }
            ScenarioParams::SpeakerListener(_) => {
                if i == 0 {
                    (0, argmax(&c.vn(3)).or(Some(0)))
                } else {
                    let vel = c.v2();
                    let lms: Vec<[f64; 2]> = (0..3).map(|_| c.v2()).collect();
                    let target = argmax(&c.vn(3)).map_or([0.0, 0.0], |g| lms[g]);
                    (steer(target, vel, sens), None)
                }
            }
            ScenarioParams::Push(p) => {
                let vel = c.v2();
                if i == 1 {
                    (steer(c.v2(), vel, sens), None)
                } else {
                    let goal = p.adversary_sees_goal.then(|| c.v2());
                    let l0 = c.v2();
                    let l1 = c.v2();
                    let other = c.v2();
                    // Without the goal, guard the landmark the good agent is heading for.
                    let target = goal.unwrap_or_else(|| {
                        let d = |l: [f64; 2]| norm([l[0] - other[0], l[1] - other[1]]);
                        if d(l0) <= d(l1) { l0 } else { l1 }
                    });
                    (steer(target, vel, sens), None)
                }
            }
            ScenarioParams::Tag(p) => {
                let vel = c.v2();
                let pos = c.v2();
                c.skip(2 * p.n_obstacles);
                let mut others: Vec<(usize, [f64; 2])> = Vec::new();
                for j in (0..n).filter(|&j| j != i) {
                    others.push((j, c.v2()));
                }
                if self.adversary[i] {
                    // Chase the nearest prey, leading it by its velocity.
                    let prey_vels: Vec<[f64; 2]> = (0..p.n_good).map(|_| c.v2()).collect();
                    let prey: Vec<[f64; 2]> = others
                        .iter()
                        .filter(|(j, _)| !self.adversary[*j])
                        .map(|(_, r)| *r)
                        .collect();
                    let (k, r) = prey
                        .iter()
                        .enumerate()
                        .min_by(|a, b| norm(*a.1).total_cmp(&norm(*b.1)))
                        .map(|(k, r)| (k, *r))
                        .unwrap_or((0, [0.0, 0.0]));
                    let v = prey_vels.get(k).copied().unwrap_or([0.0, 0.0]);
                    (
                        steer([r[0] + 0.3 * v[0], r[1] + 0.3 * v[1]], vel, sens),
                        None,
                    )
                } else {
                    // Flee: away from predators (closer ones count more), back from the edges.
                    let mut d = [0.0, 0.0];
                    for (j, r) in &others {
                        if self.adversary[*j] {
                            let m = norm(*r).max(1e-3);
                            d[0] -= r[0] / (m * m * m);
                            d[1] -= r[1] / (m * m * m);
                        }
                    }
                    let m = norm(d).max(1e-9);
                    let mut t = [0.5 * d[0] / m, 0.5 * d[1] / m];
                    for k in 0..2 {
                        if pos[k].abs() > 0.7 {
                            t[k] -= pos[k].signum() * 2.0 * (pos[k].abs() - 0.7);
                        }
                    }
                    (steer(t, vel, sens), None)
                }
            }
            ScenarioParams::Reference => {
                let vel = c.v2();
                let lms: Vec<[f64; 2]> = (0..3).map(|_| c.v2()).collect();
                let word = argmax(&c.vn(3));
                let heard = argmax(&c.vn(10)[..3]);
                let target = heard.map_or([0.0, 0.0], |g| lms[g]);
                (steer(target, vel, sens), word.or(Some(0)))
            }
            ScenarioParams::Adversary { .. } => {
                if self.adversary[i] {
                    // Go to the landmark closest to any good agent.
                    let lms = [c.v2(), c.v2()];
                    let others: Vec<[f64; 2]> = (0..n - 1).map(|_| c.v2()).collect();
                    let near = |l: [f64; 2]| {
                        others
                            .iter()
                            .map(|o| norm([l[0] - o[0], l[1] - o[1]]))
                            .fold(f64::INFINITY, f64::min)
                    };
                    let t = if near(lms[0]) <= near(lms[1]) {
                        lms[0]
                    } else {
                        lms[1]
                    };
                    (steer(t, [0.0, 0.0], sens), None)
                } else {
                    // The first good agent covers the goal, the others the decoy landmarks.
                    let goal = c.v2();
                    let lms = [c.v2(), c.v2()];
                    let decoy = if norm([lms[0][0] - goal[0], lms[0][1] - goal[1]]) < 1e-6 {
                        lms[1]
                    } else {
                        lms[0]
                    };
                    let t = if i == 1 { goal } else { decoy };
                    (steer(t, [0.0, 0.0], sens), None)
                }
            }
        }
    }
}
