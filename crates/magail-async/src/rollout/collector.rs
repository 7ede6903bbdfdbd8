//! The collector: B copies in contiguous shards over worker threads, each copy with its own
//! streams, policies asked only where their agent acts, and its resumable state.

use mg_core::{
    ActionSpace, Episode, ExtensiveGame, GameError, GameSpec, MAX_AGENTS, MarkovGame, PhiMode,
    PlayerFunction, RngState, StreamRng, Trajectories, stream_rng,
};
use serde::{Deserialize, Serialize};

use super::{ACT_STREAMS, AgentSteps, EpisodeEnd, Rollout, RolloutConfig, RolloutError};
use crate::policy::Policy;

/// Where every copy of a [`Collector`] stands: its game mid-episode, its streams and its
/// episode so far. Restoring it ([`Collector::set_state`]) continues the rollouts exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollectorState {
    seed: u64,
    slots: Vec<SlotState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SlotState {
    game: Vec<u8>,
    rng: RngState,
    act_rngs: Vec<RngState>,
    ep_return: Vec<f64>,
    ep_len: usize,
}

/// One environment copy and its streams.
struct Slot<G, P> {
    index: usize,
    game: ExtensiveGame<G, P>,
    rng: StreamRng,
    act_rngs: Vec<StreamRng>,
    /// Current observation per agent (history features appended).
    obs: Vec<Vec<f32>>,
    joint: Vec<f32>,
    rewards: Vec<f64>,
    ep_return: Vec<f64>,
    ep_len: usize,
    /// When recording whole episodes: the one in progress and the finished ones.
    recording: Option<(Episode, Vec<Episode>)>,
}

/// Collects participation-aware rollouts from B copies of an extensive game.
pub struct Collector<G, P> {
    spec: GameSpec,
    cfg: RolloutConfig,
    /// The seed the collector was built with (`cfg.seed` changes with [`Collector::reseed`]).
    base_seed: u64,
    obs_dims: Vec<usize>,
    slots: Vec<Slot<G, P>>,
    /// Ask the policies for agents the player function leaves out too, and record what they
    /// drew (the environment ignores it): [`PhiMode::samples_when_forced`], set by
    /// [`Collector::set_phi`].
    sample_inactive: bool,
}

fn observe_into<G: MarkovGame, P: PlayerFunction>(
    game: &ExtensiveGame<G, P>,
    k: usize,
    obs: &mut [Vec<f32>],
) {
    let n = game.spec().n_agents();
    for (i, o) in obs.iter_mut().enumerate() {
        let d = game.spec().obs_dim(i);
        game.game().observe(i, &mut o[..d]);
        if k > 0 {
            game.history().last_k_features(k, n, &mut o[d..]);
        }
    }
}

impl<G: MarkovGame, P: PlayerFunction> Slot<G, P> {
    /// Derives the copy's streams from (`seed`, its index), forgets the episode in progress and
    /// resets the game: a new collector's copies and a reseeded one's start the same way.
    fn restart(&mut self, seed: u64, history_k: usize) {
        let b = self.index as u64;
        self.rng = stream_rng(seed, b);
        self.act_rngs = (0..self.rewards.len() as u64)
            .map(|i| stream_rng(seed, ACT_STREAMS + 64 * b + i))
            .collect();
        self.ep_return.iter_mut().for_each(|x| *x = 0.0);
        self.ep_len = 0;
        self.recording = None;
        self.game.reset(&mut self.rng);
        observe_into(&self.game, history_k, &mut self.obs);
    }
}

impl<G, P> Collector<G, P>
where
    G: MarkovGame + Clone,
    P: PlayerFunction + Clone,
{
    /// B copies of the extensive game made of `game` and `player`, reset and ready.
    pub fn new(game: G, player: P, cfg: RolloutConfig) -> Result<Self, RolloutError> {
        if cfg.envs == 0 {
            return Err(RolloutError::Config("envs must be at least 1".into()));
        }
        if cfg.workers == 0 {
            return Err(RolloutError::Config("workers must be at least 1".into()));
        }
        let proto = ExtensiveGame::new(game, player)?;
        let spec = proto.spec().clone();
        let n = spec.n_agents();
        if n > MAX_AGENTS {
            return Err(GameError::TooManyAgents { n, max: MAX_AGENTS }.into());
        }
        let obs_dims: Vec<usize> = (0..n)
            .map(|i| spec.obs_dim(i) + cfg.history_k * n)
            .collect();
        let slots = (0..cfg.envs)
            .map(|b| {
                let mut s = Slot {
                    index: b,
                    game: proto.clone(),
                    // Set by `restart` just below.
                    rng: stream_rng(cfg.seed, b as u64),
                    act_rngs: Vec::new(),
                    obs: obs_dims.iter().map(|&d| vec![0.0; d]).collect(),
                    joint: vec![0.0; spec.joint_action_width()],
                    rewards: vec![0.0; n],
                    ep_return: vec![0.0; n],
                    ep_len: 0,
                    recording: None,
                };
                s.restart(cfg.seed, cfg.history_k);
                s
            })
            .collect();
        Ok(Self {
            spec,
            base_seed: cfg.seed,
            cfg,
            obs_dims,
            slots,
            sample_inactive: false,
        })
    }

    /// How the learners treat φ. Where it [samples when forced](PhiMode::samples_when_forced)
    /// (`PhiMode::AsActionKept`), the policies are asked for the agents the player function
    /// leaves out as well, and the rollout records what they drew and its log-probability at
    /// those steps (the environment ignores it; `acted` stays false). Otherwise (the default,
    /// `PhiMode::Filter`) those steps record φ.
    pub fn set_phi(&mut self, phi: PhiMode) {
        self.sample_inactive = phi.samples_when_forced();
    }

    /// Restarts every copy from streams derived from (the seed it was built with, `iteration`):
    /// what a run resumed after `iteration` iterations uses, so that it sees new episodes and is
    /// a function of its checkpoint, however often this is called.
    pub fn restart_stream(&mut self, iteration: usize) {
        use rand::Rng;
        self.reseed(stream_rng(self.base_seed, (1 << 54) + iteration as u64).random());
    }

    /// Restarts every copy from a fresh reset with the random streams of `seed` (as if the
    /// collector had been built with it).
    pub fn reseed(&mut self, seed: u64) {
        self.cfg.seed = seed;
        for s in &mut self.slots {
            s.restart(seed, self.cfg.history_k);
        }
    }

    /// Where every copy stands, or `None` when the game cannot save its state
    /// ([`MarkovGame::save_state`]) or a copy is recording whole episodes.
    pub fn state(&self) -> Option<CollectorState> {
        let slots = self
            .slots
            .iter()
            .map(|s| {
                if s.recording.is_some() {
                    return None;
                }
                Some(SlotState {
                    game: s.game.save_state()?,
                    rng: RngState::of(&s.rng),
                    act_rngs: s.act_rngs.iter().map(RngState::of).collect(),
                    ep_return: s.ep_return.clone(),
                    ep_len: s.ep_len,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(CollectorState {
            seed: self.cfg.seed,
            slots,
        })
    }

    /// Puts every copy where [`state`](Self::state) found it, in a collector built the same
    /// way (game, player function, copies). A state that does not fit is refused; a copy's
    /// game that refuses its state leaves the collector to be [`reseed`](Self::reseed)ed.
    pub fn set_state(&mut self, state: &CollectorState) -> Result<(), RolloutError> {
        let n = self.spec.n_agents();
        if state.slots.len() != self.slots.len() {
            return Err(RolloutError::Config(format!(
                "a saved state of {} copies, this collector has {}",
                state.slots.len(),
                self.slots.len()
            )));
        }
        if let Some(bad) = state
            .slots
            .iter()
            .position(|s| s.act_rngs.len() != n || s.ep_return.len() != n)
        {
            return Err(RolloutError::Config(format!(
                "the saved state of copy {bad} is not for {n} agents"
            )));
        }
        for (slot, saved) in self.slots.iter_mut().zip(&state.slots) {
            slot.game.load_state(&saved.game)?;
            slot.rng = saved.rng.rng();
            slot.act_rngs = saved.act_rngs.iter().map(RngState::rng).collect();
            slot.ep_return.clone_from(&saved.ep_return);
            slot.ep_len = saved.ep_len;
            slot.recording = None;
            observe_into(&slot.game, self.cfg.history_k, &mut slot.obs);
        }
        self.cfg.seed = state.seed;
        Ok(())
    }

    /// The game's spec.
    pub fn spec(&self) -> &GameSpec {
        &self.spec
    }

    /// Observation length of agent `i` as policies see it (history features included).
    pub fn obs_dim(&self, i: usize) -> usize {
        self.obs_dims[i]
    }

    /// The configuration.
    pub fn config(&self) -> &RolloutConfig {
        &self.cfg
    }

    /// The name recorded in data from this collector: the game's, plus the player function
    /// unless it is synchronous, plus the history features if any
    /// (`simple_spread/paper+stochastic[0.5,0.5,0.5]+history2`).
    pub fn game_name(&self) -> String {
        let mut name = self.spec.name.clone();
        if let Some(s) = self.slots.first() {
            let rule = s.game.player().describe();
            if rule != "synchronous" {
                name = format!("{name}+{rule}");
            }
        }
        if self.cfg.history_k > 0 {
            name = format!("{name}+history{}", self.cfg.history_k);
        }
        name
    }

    /// Collects `steps` steps from every copy (episodes continue across calls).
    pub fn collect(
        &mut self,
        policies: &[&dyn Policy],
        steps: usize,
    ) -> Result<Rollout, RolloutError>
    where
        G: Send,
        P: Send,
    {
        let n = self.spec.n_agents();
        if policies.len() != n {
            return Err(RolloutError::PolicyCount {
                expected: n,
                got: policies.len(),
            });
        }
        let shard = self
            .slots
            .len()
            .div_ceil(self.cfg.workers.min(self.slots.len()));
        let spec = &self.spec;
        let obs_dims = &self.obs_dims;
        let k = self.cfg.history_k;
        let all = self.sample_inactive;
        let results: Vec<Result<Rollout, RolloutError>> = if shard >= self.slots.len() {
            vec![collect_shard(
                spec,
                obs_dims,
                k,
                all,
                &mut self.slots,
                policies,
                steps,
            )]
        } else {
            crossbeam::thread::scope(|s| {
                let handles: Vec<_> = self
                    .slots
                    .chunks_mut(shard)
                    .map(|chunk| {
                        s.spawn(move |_| {
                            collect_shard(spec, obs_dims, k, all, chunk, policies, steps)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(RolloutError::Config("a rollout worker panicked".into()))
                        })
                    })
                    .collect()
            })
            .map_err(|_| RolloutError::Config("a rollout worker panicked".into()))?
        };
        let mut out = Rollout {
            steps,
            ..Rollout::default()
        };
        for r in results {
            out.append(r?);
        }
        // Each shard lists its ends step by step; the documented (env, step) order makes the
        // list, and sums over it, the same whatever the number of workers.
        out.ends.sort_by_key(|e| (e.env, e.step));
        Ok(out)
    }

    /// Resets every copy and plays until `episodes` whole episodes are done: copy `b` contributes
    /// its first ⌈(episodes − b) / B⌉ episodes, so the set does not depend on the workers.
    pub fn collect_episodes(
        &mut self,
        policies: &[&dyn Policy],
        episodes: usize,
    ) -> Result<Trajectories, RolloutError>
    where
        G: Send,
        P: Send,
    {
        let b_count = self.slots.len();
        let quota = |b: usize| episodes / b_count + usize::from(b < episodes % b_count);
        for s in &mut self.slots {
            s.game.reset(&mut s.rng);
            observe_into(&s.game, self.cfg.history_k, &mut s.obs);
            s.ep_return.fill(0.0);
            s.ep_len = 0;
            s.recording = Some((Episode::new(&self.spec, 64), Vec::new()));
        }
        let chunk = self.spec.max_steps.unwrap_or(64).max(1);
        let result = loop {
            if let Err(e) = self.collect(policies, chunk) {
                break Err(e);
            }
            let done = self.slots.iter().all(|s| {
                s.recording
                    .as_ref()
                    .is_some_and(|(_, f)| f.len() >= quota(s.index))
            });
            if done {
                break Ok(());
            }
        };
        let mut set = Trajectories::new(&self.spec);
        // Record who could act and the sizes the data really has (history features included).
        set.obs_dims = self.obs_dims.clone();
        set.game = self.game_name();
        for s in &mut self.slots {
            if let Some((_, finished)) = s.recording.take() {
                set.episodes
                    .extend(finished.into_iter().take(quota(s.index)));
            }
        }
        result.map(|()| set)
    }
}

fn invalid(agent: usize, env: usize, reason: String) -> RolloutError {
    RolloutError::InvalidPolicyOutput { agent, env, reason }
}

/// Runs `steps` steps on one shard and returns its part of the rollout.
fn collect_shard<G: MarkovGame, P: PlayerFunction>(
    spec: &GameSpec,
    obs_dims: &[usize],
    history_k: usize,
    sample_inactive: bool,
    slots: &mut [Slot<G, P>],
    policies: &[&dyn Policy],
    steps: usize,
) -> Result<Rollout, RolloutError> {
    let n = spec.n_agents();
    let envs = slots.len();
    let offsets = spec.action_offsets();
    let mut out = Rollout {
        envs,
        steps,
        agents: (0..n)
            .map(|i| AgentSteps {
                obs: vec![0.0; envs * steps * obs_dims[i]],
                actions: vec![0.0; envs * steps * spec.action_space(i).width()],
                logp: vec![0.0; envs * steps],
                rewards: vec![0.0; envs * steps],
                acted: vec![false; envs * steps],
                last_obs: vec![0.0; envs * obs_dims[i]],
            })
            .collect(),
        terminated: vec![false; envs * steps],
        truncated: vec![false; envs * steps],
        episode_start: vec![false; envs * steps],
        ends: Vec::new(),
    };
    let mut buf: Vec<f32> = Vec::new();
    let mut rows: Vec<usize> = Vec::new();
    for t in 0..steps {
        // Record observations and ask each agent's policy for the copies where it acts.
        for (k, s) in slots.iter().enumerate() {
            let at = k * steps + t;
            out.episode_start[at] = s.ep_len == 0;
            for i in 0..n {
                let d = obs_dims[i];
                out.agents[i].obs[at * d..(at + 1) * d].copy_from_slice(&s.obs[i]);
            }
        }
        for i in 0..n {
            let space = spec.action_space(i);
            let w = space.width();
            let d = obs_dims[i];
            rows.clear();
            buf.clear();
            let asked = |s: &Slot<G, P>| sample_inactive || s.game.participation().is_active(i);
            for (k, s) in slots.iter().enumerate() {
                if asked(s) {
                    rows.push(k);
                    buf.extend_from_slice(&s.obs[i]);
                }
            }
            let a = &mut out.agents[i];
            // φ for every copy where the agent does not act.
            for (k, s) in slots.iter_mut().enumerate() {
                if !s.game.participation().is_active(i) {
                    let at = k * steps + t;
                    space.phi_fill(&mut a.actions[at * w..(at + 1) * w]);
                    space.phi_fill(&mut s.joint[offsets[i]..offsets[i + 1]]);
                }
            }
            if rows.is_empty() {
                continue;
            }
            let mut rngs: Vec<&mut StreamRng> = slots
                .iter_mut()
                .filter(|s| sample_inactive || s.game.participation().is_active(i))
                .map(|s| &mut s.act_rngs[i])
                .collect();
            let po = policies[i]
                .act(&buf[..rows.len() * d], &mut rngs)
                .map_err(|e| RolloutError::Policy {
                    agent: i,
                    message: e.0,
                })?;
            for (what, expected, got) in [
                ("actions", rows.len() * w, po.actions.len()),
                ("log-probabilities", rows.len(), po.logp.len()),
            ] {
                if expected != got {
                    return Err(RolloutError::PolicyOutputSize {
                        agent: i,
                        what,
                        rows: rows.len(),
                        expected,
                        got,
                    });
                }
            }
            let may_phi = policies[i].plays_phi();
            for (r, &k) in rows.iter().enumerate() {
                let act = &po.actions[r * w..(r + 1) * w];
                let env = slots[k].index;
                if !po.logp[r].is_finite() {
                    return Err(invalid(i, env, format!("log-probability {}", po.logp[r])));
                }
                let at = k * steps + t;
                if !slots[k].game.participation().is_active(i) {
                    // Left out by the player function: keep the draw, the game ignores it (its
                    // joint-action slot already holds φ).
                    a.actions[at * w..(at + 1) * w].copy_from_slice(act);
                    a.logp[at] = po.logp[r];
                    continue;
                }
                if may_phi && space.is_phi(act) {
                    // φ is one of this policy's own actions: the game moves the agent as one
                    // that does not act, but it stays in the round (rewarded, recorded acting).
                    slots[k].game.choose_phi(i)?;
                    a.actions[at * w..(at + 1) * w].copy_from_slice(act);
                    a.logp[at] = po.logp[r];
                    space.phi_fill(&mut slots[k].joint[offsets[i]..offsets[i + 1]]);
                    continue;
                }
                space
                    .check(i, act)
                    .map_err(|e| invalid(i, env, e.to_string()))?;
                if let ActionSpace::Box { low, high, .. } = space
                    && act.iter().any(|&x| x < low || x > high)
                {
                    return Err(invalid(
                        i,
                        env,
                        format!("box action {act:?} outside [{low}, {high}]"),
                    ));
                }
                a.actions[at * w..(at + 1) * w].copy_from_slice(act);
                a.logp[at] = po.logp[r];
                slots[k].joint[offsets[i]..offsets[i + 1]].copy_from_slice(act);
            }
        }
        // Step every copy.
        for (k, s) in slots.iter_mut().enumerate() {
            let at = k * steps + t;
            let (status, acted) = s.game.step(&s.joint, &mut s.rng, &mut s.rewards)?;
            s.ep_len += 1;
            // An episode that outlives its stated limit would otherwise grow without end.
            if let Some(max) = spec.max_steps
                && s.ep_len >= max
                && !status.done()
            {
                return Err(RolloutError::Unending {
                    game: spec.name.clone(),
                    max_steps: max,
                    steps: s.ep_len,
                });
            }
            for i in 0..n {
                let a = &mut out.agents[i];
                a.acted[at] = acted.is_active(i);
                a.rewards[at] = s.rewards[i];
                if acted.is_active(i) {
                    s.ep_return[i] += s.rewards[i];
                }
            }
            out.terminated[at] = status.terminated;
            out.truncated[at] = status.truncated;
            if let Some((cur, _)) = &mut s.recording {
                for i in 0..n {
                    let w = spec.action_space(i).width();
                    let d = obs_dims[i];
                    let a = &out.agents[i];
                    let tr = &mut cur.agents[i];
                    tr.obs.extend_from_slice(&a.obs[at * d..(at + 1) * d]);
                    tr.actions
                        .extend_from_slice(&a.actions[at * w..(at + 1) * w]);
                    tr.rewards.push(a.rewards[at]);
                    tr.acted.push(a.acted[at]);
                }
                cur.len += 1;
            }
            observe_into(&s.game, history_k, &mut s.obs);
            if status.done() {
                out.ends.push(EpisodeEnd {
                    env: s.index,
                    step: t,
                    len: s.ep_len,
                    returns: s.ep_return.clone(),
                    terminated: status.terminated,
                    final_obs: s.obs.clone(),
                });
                if let Some((cur, finished)) = &mut s.recording {
                    let mut ep = std::mem::replace(cur, Episode::new(spec, 64));
                    for (tr, o) in ep.agents.iter_mut().zip(&s.obs) {
                        tr.final_obs = o.clone();
                    }
                    ep.terminated = status.terminated;
                    ep.truncated = status.truncated;
                    finished.push(ep);
                }
                s.game.reset(&mut s.rng);
                observe_into(&s.game, history_k, &mut s.obs);
                s.ep_return.fill(0.0);
                s.ep_len = 0;
            }
        }
    }
    for (k, s) in slots.iter().enumerate() {
        for i in 0..n {
            let d = obs_dims[i];
            out.agents[i].last_obs[k * d..(k + 1) * d].copy_from_slice(&s.obs[i]);
        }
    }
    Ok(out)
}
