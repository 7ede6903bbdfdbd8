//! [`ParticleEnv`]: one particle scenario as an mg-core [`MarkovGame`].

mod observe;
mod reward;

use mg_core::{ActionSpace, AgentSpec, GameError, GameSpec, MarkovGame, Participation, StepStatus};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::config::{
    CollisionPenalty, ConfigError, EnvConfig, RewardMix, Scenario, ScenarioParams,
};
use crate::numpy_rng::{integers, uniform};
use crate::world::{Entity, World, dist};

/// The scenario facts that observations and rewards depend on, drawn at reset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Goals {
    /// The goal landmark (push, adversary, speaker-listener).
    pub landmark: usize,
    /// simple_reference: per agent, the landmark the *other* agent should reach.
    pub landmark_per_agent: [usize; 2],
}

/// A particle environment: a [`World`], a scenario's rules and an episode clock.
#[derive(Clone, Debug)]
pub struct ParticleEnv {
    cfg: EnvConfig,
    spec: GameSpec,
    world: World,
    goals: Goals,
    t: usize,
    over: bool,
    /// Per agent: whether it is an adversary (push, tag, adversary scenarios).
    adversary: Vec<bool>,
}

const AGENT_GREY: [f64; 3] = [0.25, 0.25, 0.25];

fn agent(size: f64, movable: bool, collide: bool, color: [f64; 3]) -> Entity {
    let mut e = Entity::new(size, movable, collide);
    e.color = color;
    e
}

impl ParticleEnv {
    /// Builds the environment described by `cfg` (its state is all zeros until `reset`).
    pub fn new(cfg: EnvConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let names = |prefix: &str, n: usize| -> Vec<String> {
            (0..n).map(|i| format!("{prefix}_{i}")).collect()
        };
        let mut adversary = Vec::new();
        let (agents, landmarks, dim_c, silent, agent_names): (
            Vec<Entity>,
            Vec<Entity>,
            usize,
            Vec<bool>,
            Vec<String>,
        ) = match &cfg.params {
            ScenarioParams::Spread(p) => (
                (0..p.n_agents)
                    .map(|_| agent(0.15, true, true, [0.35, 0.35, 0.85]))
                    .collect(),
                (0..p.n_landmarks)
                    .map(|_| agent(0.05, false, false, AGENT_GREY))
                    .collect(),
                2,
                vec![true; p.n_agents],
                names("agent", p.n_agents),
            ),
            ScenarioParams::SpeakerListener(_) => (
                vec![
                    agent(0.075, false, false, AGENT_GREY),
                    agent(0.075, true, false, AGENT_GREY),
                ],
                [[0.65, 0.15, 0.15], [0.15, 0.65, 0.15], [0.15, 0.15, 0.65]]
                    .into_iter()
                    .map(|c| agent(0.04, false, false, c))
                    .collect(),
                3,
                vec![false, true],
                vec!["speaker_0".into(), "listener_0".into()],
            ),
            ScenarioParams::Push(p) => {
                adversary = vec![true, false];
                let mut adv = agent(0.05, true, true, [0.75, 0.25, 0.25]);
                adv.mass = p.adversary_mass;
                adv.max_speed = p.max_speed;
                let mut good = agent(0.05, true, true, AGENT_GREY);
                good.max_speed = p.max_speed;
                let lm = |i: usize| {
                    let mut c = [0.1, 0.1, 0.1];
                    c[i + 1] += 0.8;
                    agent(0.05, false, false, c)
                };
                (
                    vec![adv, good],
                    vec![lm(0), lm(1)],
                    2,
                    vec![true, true],
                    vec!["adversary_0".into(), "agent_0".into()],
                )
            }
            ScenarioParams::Tag(p) => {
                let mut agents = Vec::new();
                for _ in 0..p.n_adversaries {
                    let mut e = agent(0.075, true, true, [0.85, 0.35, 0.35]);
                    e.accel = Some(3.0);
                    e.max_speed = Some(1.0);
                    agents.push(e);
                    adversary.push(true);
                }
                for _ in 0..p.n_good {
                    let mut e = agent(0.05, true, true, [0.35, 0.85, 0.35]);
                    e.accel = Some(4.0);
                    e.max_speed = Some(1.3);
                    agents.push(e);
                    adversary.push(false);
                }
                let mut nm = names("adversary", p.n_adversaries);
                nm.extend(names("agent", p.n_good));
                let n = agents.len();
                (
                    agents,
                    (0..p.n_obstacles)
                        .map(|_| agent(0.2, false, true, AGENT_GREY))
                        .collect(),
                    2,
                    vec![true; n],
                    nm,
                )
            }
            ScenarioParams::Reference => (
                vec![
                    agent(0.05, true, false, AGENT_GREY),
                    agent(0.05, true, false, AGENT_GREY),
                ],
                [[0.75, 0.25, 0.25], [0.25, 0.75, 0.25], [0.25, 0.25, 0.75]]
                    .into_iter()
                    .map(|c| agent(0.05, false, false, c))
                    .collect(),
                10,
                vec![false, false],
                names("agent", 2),
            ),
            ScenarioParams::Adversary { n_good } => {
                let mut agents = vec![agent(0.15, true, false, [0.85, 0.35, 0.35])];
                adversary.push(true);
                for _ in 0..*n_good {
                    agents.push(agent(0.15, true, false, [0.35, 0.35, 0.85]));
                    adversary.push(false);
                }
                let mut nm = vec!["adversary_0".to_string()];
                nm.extend(names("agent", *n_good));
                let n = agents.len();
                // mpe2 places N landmarks for N good agents (one of them the goal).
                (
                    agents,
                    (0..*n_good)
                        .map(|_| agent(0.08, false, false, [0.15, 0.15, 0.15]))
                        .collect(),
                    2,
                    vec![true; n],
                    nm,
                )
            }
        };
        if adversary.is_empty() {
            adversary = vec![false; agents.len()];
        }
        let world = World::new(agents, landmarks, dim_c, silent);
        let mut env = Self {
            spec: GameSpec {
                name: cfg.game_name(),
                agents: Vec::new(),
                max_steps: Some(cfg.max_steps),
            },
            cfg,
            world,
            goals: Goals::default(),
            t: 0,
            over: false,
            adversary,
        };
        env.spec.agents = agent_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| AgentSpec {
                name,
                obs_dim: env.obs_dim(i),
                action_space: env.action_space_of(i),
                action_mask: false,
            })
            .collect();
        Ok(env)
    }

    /// Builds a preset from names, e.g. `ParticleEnv::from_names("simple_tag", "mpe2")`.
    pub fn from_names(env: &str, variant: &str) -> Result<Self, ConfigError> {
        Self::new(EnvConfig::from_names(env, variant)?)
    }

    /// The configuration.
    pub fn config(&self) -> &EnvConfig {
        &self.cfg
    }

    /// The world state.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Mutable world state, for setting up exact situations (conformance replays, tests).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The scenario's goals.
    pub fn goals(&self) -> &Goals {
        &self.goals
    }

    /// Sets the goals (with `world_mut`, reproduces a recorded initial state).
    pub fn set_goals(&mut self, goals: Goals) {
        self.goals = goals;
        self.apply_goal_colors();
    }

    /// Steps taken in this episode.
    pub fn t(&self) -> usize {
        self.t
    }

    /// Whether agent `i` is an adversary.
    pub fn is_adversary(&self, i: usize) -> bool {
        self.adversary[i]
    }

    fn n_agents(&self) -> usize {
        self.world.n_agents
    }

    fn obs_dim(&self, i: usize) -> usize {
        let n = self.n_agents();
        match &self.cfg.params {
            ScenarioParams::Spread(p) => {
                2 + if p.observe_own_pos { 2 } else { 0 } + 2 * p.n_landmarks + 4 * (n - 1)
            }
            ScenarioParams::SpeakerListener(_) => {
                if i == 0 {
                    3
                } else {
                    11
                }
            }
            ScenarioParams::Push(p) => match (i, p.adversary_sees_goal) {
                (0, false) => 8,
                (0, true) => 10,
                _ => 19,
            },
            ScenarioParams::Tag(p) => {
                4 + 2 * p.n_obstacles
                    + 2 * (n - 1)
                    + 2 * (p.n_good - usize::from(!self.adversary[i]))
            }
            ScenarioParams::Reference => 21,
            ScenarioParams::Adversary { n_good } => {
                let base = 2 * n_good + 2 * (n - 1);
                if self.adversary[i] { base } else { base + 2 }
            }
        }
    }

    fn action_space_of(&self, i: usize) -> ActionSpace {
        let e = &self.world.entities[i];
        let talk = !self.world.silent[i];
        let dc = self.world.dim_c;
        let (disc, cont) = match (e.movable, talk) {
            (true, false) => (5, 5),
            (true, true) => (5 * dc, 5 + dc),
            (false, true) => (dc, dc),
            (false, false) => (1, 0),
        };
        if self.cfg.continuous {
            ActionSpace::Box {
                dim: cont,
                low: 0.0,
                high: 1.0,
            }
        } else {
            ActionSpace::Discrete { n: disc }
        }
    }

    /// Colors that depend on the goals (rendering, and observed by some scenarios).
    fn apply_goal_colors(&mut self) {
        let na = self.n_agents();
        match self.cfg.scenario {
            Scenario::SpeakerListener => {
                let g = self.world.entities[na + self.goals.landmark].color;
                self.world.entities[1].color = [g[0] + 0.45, g[1] + 0.45, g[2] + 0.45];
            }
            Scenario::Push => {
                let mut c = [0.25, 0.25, 0.25];
                c[self.goals.landmark + 1] += 0.5;
                self.world.entities[1].color = c;
            }
            Scenario::Reference => {
                let [g0, g1] = self.goals.landmark_per_agent;
                self.world.entities[1].color = self.world.entities[na + g0].color;
                self.world.entities[0].color = self.world.entities[na + g1].color;
            }
            Scenario::Adversary => {
                for j in 0..self.world.landmarks().len() {
                    self.world.entities[na + j].color = if j == self.goals.landmark {
                        [0.15, 0.65, 0.15]
                    } else {
                        [0.15, 0.15, 0.15]
                    };
                }
            }
            _ => {}
        }
    }

    /// Decodes agent `i`'s flat action into the world's `action_u` / `action_c` (spec §3.3–3.4).
    fn decode_action(&mut self, i: usize, a: &[f32]) {
        let w = &mut self.world;
        let dc = w.dim_c;
        let movable = w.entities[i].movable;
        let sens = w.entities[i].sensitivity();
        let talk = !w.silent[i];
        let comm = &mut w.action_c[i * dc..(i + 1) * dc];
        if self.cfg.continuous {
            let clip = |v: f32| v.clamp(0.0, 1.0);
            let mut rest = a;
            if movable {
                // The reference subtracts in f32, then widens.
                let ux = 0.0 + f64::from(clip(a[2]) - clip(a[1]));
                let uy = 0.0 + f64::from(clip(a[4]) - clip(a[3]));
                w.action_u[i] = [ux * sens, uy * sens];
                rest = &a[5..];
            }
            if talk {
                for (c, &v) in comm.iter_mut().zip(rest) {
                    *c = f64::from(clip(v));
                }
            }
        } else {
            let a = a[0] as usize;
            let (m, word) = if movable { (a % 5, a / 5) } else { (0, a) };
            if movable {
                let mut u = [0.0f64, 0.0];
                match m {
                    1 => u[0] = -1.0,
                    2 => u[0] = 1.0,
                    3 => u[1] = -1.0,
                    4 => u[1] = 1.0,
                    _ => {}
                }
                w.action_u[i] = [u[0] * sens, u[1] * sens];
            }
            if talk {
                comm.fill(0.0);
                comm[word] = 1.0;
            }
        }
    }

    fn terminal(&self) -> bool {
        let w = &self.world;
        match &self.cfg.params {
            ScenarioParams::Spread(p) => p.cover_radius.is_some_and(|r| {
                w.landmarks()
                    .iter()
                    .all(|lm| w.agents().iter().any(|a| dist(a.pos, lm.pos) < r))
            }),
            ScenarioParams::SpeakerListener(p) => p
                .reach_radius
                .is_some_and(|r| dist(w.entities[1].pos, w.landmark(self.goals.landmark).pos) <= r),
            _ => false,
        }
    }
}

/// What changes while an episode is played: the entities (positions, velocities, and the colors
/// some scenarios draw at reset), communication, the pending actions, the goals and the clock.
#[derive(Serialize, Deserialize)]
struct EpisodeState {
    entities: Vec<Entity>,
    comm: Vec<f64>,
    action_u: Vec<[f64; 2]>,
    action_c: Vec<f64>,
    goals: Goals,
    t: usize,
    over: bool,
}

impl MarkovGame for ParticleEnv {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }

    fn save_state(&self) -> Option<Vec<u8>> {
        let w = &self.world;
        mg_core::encode_state(&EpisodeState {
            entities: w.entities.clone(),
            comm: w.comm.clone(),
            action_u: w.action_u.clone(),
            action_c: w.action_c.clone(),
            goals: self.goals.clone(),
            t: self.t,
            over: self.over,
        })
        .ok()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), GameError> {
        let s: EpisodeState = mg_core::decode_state(state)?;
        let w = &self.world;
        let sizes = |e: usize, c: usize, u: usize, a: usize| (e, c, u, a);
        let want = sizes(
            w.entities.len(),
            w.comm.len(),
            w.action_u.len(),
            w.action_c.len(),
        );
        let got = sizes(
            s.entities.len(),
            s.comm.len(),
            s.action_u.len(),
            s.action_c.len(),
        );
        if want != got {
            return Err(GameError::State(format!(
                "a state of {} with (entities, comm, movement, comm actions) = {got:?}, expected {want:?}",
                self.spec.name
            )));
        }
        let w = &mut self.world;
        w.entities = s.entities;
        w.comm = s.comm;
        w.action_u = s.action_u;
        w.action_c = s.action_c;
        self.goals = s.goals;
        self.t = s.t;
        self.over = s.over;
        Ok(())
    }

    fn reset(&mut self, rng: &mut dyn RngCore) {
        let na = self.n_agents();
        let nl = self.world.landmarks().len();
        let range = match &self.cfg.params {
            ScenarioParams::Tag(_) => 0.9,
            ScenarioParams::Push(p) => p.landmark_range,
            _ => 1.0,
        };
        match self.cfg.scenario {
            Scenario::SpeakerListener => self.goals.landmark = integers(rng, 3) as usize,
            Scenario::Push | Scenario::Adversary => {
                self.goals.landmark = integers(rng, nl as u32) as usize
            }
            Scenario::Reference => {
                let g0 = integers(rng, 3) as usize;
                let g1 = integers(rng, 3) as usize;
                self.goals.landmark_per_agent = [g0, g1];
            }
            _ => {}
        }
        for (i, e) in self.world.entities.iter_mut().enumerate() {
            let r = if i < na { 1.0 } else { range };
            e.pos = [uniform(rng, -r, r), uniform(rng, -r, r)];
            e.vel = [0.0, 0.0];
        }
        self.world.comm.fill(0.0);
        self.apply_goal_colors();
        self.t = 0;
        self.over = false;
    }

    fn observe(&self, i: usize, out: &mut [f32]) {
        self.observation(i, out)
    }

    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        let n = self.n_agents();
        self.step_partial(actions, Participation::all(n), rewards)
    }

    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        let n = self.n_agents();
        if self.over {
            return Err(GameError::EpisodeOver);
        }
        if active.n_agents() != n {
            return Err(GameError::AgentCountMismatch {
                what: "participation vector",
                expected: n,
                got: active.n_agents(),
            });
        }
        if rewards.len() != n {
            return Err(GameError::BufferSize {
                what: "rewards",
                expected: n,
                got: rewards.len(),
            });
        }
        self.spec.check_joint_action(actions, Some(active))?;
        self.apply(actions, active, rewards)
    }

    fn step_prechecked(
        &mut self,
        actions: &[f32],
        active: Option<Participation>,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        let n = self.n_agents();
        let active = active.unwrap_or_else(|| Participation::all(n));
        if self.over {
            return Err(GameError::EpisodeOver);
        }
        if active.n_agents() != n
            || rewards.len() != n
            || actions.len() != self.spec.joint_action_width()
        {
            // Not what a batched stepper sends: take the checked path for a precise error.
            return self.step_partial(actions, active, rewards);
        }
        self.apply(actions, active, rewards)
    }
}

impl ParticleEnv {
    /// Decodes checked actions, advances the world, and scores the step.
    fn apply(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        let n = self.n_agents();
        let mut off = 0;
        for i in 0..n {
            let wd = self.spec.agents[i].action_space.width();
            if active.is_active(i) {
                self.decode_action(i, &actions[off..off + wd]);
            }
            off += wd;
        }
        self.world.step(|i| active.is_active(i));
        self.rewards(rewards);
        self.t += 1;
        let terminated = self.terminal();
        let truncated = !terminated && self.t >= self.cfg.max_steps;
        self.over = terminated || truncated;
        Ok(StepStatus {
            terminated,
            truncated,
        })
    }
}
