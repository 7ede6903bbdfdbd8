//! Batched stepping: B independent copies of a game stepped together into caller-owned buffers.
//!
//! Buffers are laid out per agent (`obs[i]` holds B × obs_dim(i) values, copy after copy), so a
//! learner can run one batched policy call per agent on a contiguous slice.

use crate::{GameError, GameSpec, MarkovGame, Participation, StreamRng, stream_rng};

/// Caller-owned output of a batched step (allocated once, reused every step).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchBuffers {
    /// Per agent: B observations after the step (after the automatic reset for finished copies).
    pub obs: Vec<Vec<f32>>,
    /// Per agent: the last observation of the episode that just ended, valid where `done`.
    pub final_obs: Vec<Vec<f32>>,
    /// Per agent: B rewards.
    pub rewards: Vec<Vec<f64>>,
    /// Per copy: the episode reached a terminal state at this step.
    pub terminated: Vec<bool>,
    /// Per copy: the episode was truncated at this step.
    pub truncated: Vec<bool>,
}

impl BatchBuffers {
    /// Buffers for `batch` copies of a game with this spec.
    pub fn new(spec: &GameSpec, batch: usize) -> Self {
        let n = spec.n_agents();
        Self {
            obs: (0..n).map(|i| vec![0.0; batch * spec.obs_dim(i)]).collect(),
            final_obs: (0..n).map(|i| vec![0.0; batch * spec.obs_dim(i)]).collect(),
            rewards: vec![vec![0.0; batch]; n],
            terminated: vec![false; batch],
            truncated: vec![false; batch],
        }
    }

    /// Whether copy `b` finished an episode at the last step.
    pub fn done(&self, b: usize) -> bool {
        self.terminated[b] || self.truncated[b]
    }

    fn check(&self, spec: &GameSpec, batch: usize) -> Result<(), GameError> {
        let n = spec.n_agents();
        for (what, len) in [
            ("obs", self.obs.len()),
            ("final_obs", self.final_obs.len()),
            ("rewards", self.rewards.len()),
        ] {
            if len != n {
                return Err(GameError::BufferSize {
                    what,
                    expected: n,
                    got: len,
                });
            }
        }
        for i in 0..n {
            let want = batch * spec.obs_dim(i);
            for (what, len) in [
                ("obs[agent]", self.obs[i].len()),
                ("final_obs[agent]", self.final_obs[i].len()),
            ] {
                if len != want {
                    return Err(GameError::BufferSize {
                        what,
                        expected: want,
                        got: len,
                    });
                }
            }
            if self.rewards[i].len() != batch {
                return Err(GameError::BufferSize {
                    what: "rewards[agent]",
                    expected: batch,
                    got: self.rewards[i].len(),
                });
            }
        }
        for (what, len) in [
            ("terminated", self.terminated.len()),
            ("truncated", self.truncated.len()),
        ] {
            if len != batch {
                return Err(GameError::BufferSize {
                    what,
                    expected: batch,
                    got: len,
                });
            }
        }
        Ok(())
    }
}

/// B independent copies of a game stepped together, with automatic reset.
pub trait BatchedGame: Send {
    /// The spec shared by every copy.
    fn spec(&self) -> &GameSpec;

    /// Number of copies B.
    fn batch_size(&self) -> usize;

    /// Resets every copy and writes the initial observations into `out.obs`.
    fn reset_all(&mut self, out: &mut BatchBuffers) -> Result<(), GameError>;

    /// Steps every copy. `actions[i]` holds B actions of agent `i` (B × width values). With
    /// `active`, copy `b` steps with participation `active[b]` (inactive agents play φ and their
    /// action entries are ignored). A finished copy is reset at once: `out.final_obs` keeps its
    /// last observation and `out.obs` shows the new episode's first one.
    /// All inputs are checked before any copy moves, so an error leaves no copy half-stepped.
    fn step_batch(
        &mut self,
        actions: &[Vec<f32>],
        active: Option<&[Participation]>,
        out: &mut BatchBuffers,
    ) -> Result<(), GameError>;
}

/// The generic [`BatchedGame`]: B clones of any [`MarkovGame`], each with its own random stream
/// `stream_rng(seed, index)`, split over worker threads in contiguous shards.
///
/// Copies never interact, so the results do not depend on the number of threads.
#[derive(Debug)]
pub struct VecGame<G> {
    envs: Vec<G>,
    rngs: Vec<StreamRng>,
    spec: GameSpec,
    threads: usize,
    /// Per shard: a joint-action and a reward scratch buffer, reused every step.
    scratch: Vec<(Vec<f32>, Vec<f64>)>,
    /// A pool of our own (not rayon's global one, which `RAYON_NUM_THREADS=1` pins to one thread
    /// for candle's sake): persistent workers cost microseconds a step where spawning threads
    /// cost tens of microseconds.
    pool: Option<rayon::ThreadPool>,
}

impl<G: MarkovGame + Clone> VecGame<G> {
    /// `batch` copies of `game`; copy `b` draws its resets from `stream_rng(seed, b)`.
    pub fn new(game: G, batch: usize, seed: u64) -> Result<Self, GameError> {
        if batch == 0 {
            return Err(GameError::BufferSize {
                what: "batch size",
                expected: 1,
                got: 0,
            });
        }
        let spec = game.spec().clone();
        let mut v = Self {
            envs: vec![game; batch],
            rngs: (0..batch as u64).map(|b| stream_rng(seed, b)).collect(),
            spec,
            threads: 1,
            scratch: Vec::new(),
            pool: None,
        };
        v.set_threads(1);
        Ok(v)
    }

    /// Uses `threads` worker threads (at least 1, at most B).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.set_threads(threads);
        self
    }

    /// Changes the number of worker threads.
    /// If the operating system refuses to start worker threads, stepping stays on one thread.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.clamp(1, self.envs.len());
        self.pool = None;
        if self.threads > 1 {
            // Every shard runs on the pool; measured faster here than stepping one shard on the
            // calling thread (`in_place_scope`), whose single worker then sleeps between steps.
            self.pool = rayon::ThreadPoolBuilder::new()
                .num_threads(self.threads)
                .thread_name(|i| format!("vecgame-{i}"))
                .build()
                .ok();
            if self.pool.is_none() {
                self.threads = 1;
            }
        }
        let n = self.spec.n_agents();
        let w = self.spec.joint_action_width();
        self.scratch = vec![(vec![0.0; w], vec![0.0; n]); self.threads];
    }

    /// Number of worker threads in use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The copies, for inspection (rendering, tests).
    pub fn envs(&self) -> &[G] {
        &self.envs
    }

    fn shard_len(&self) -> usize {
        self.envs.len().div_ceil(self.threads)
    }
}

/// One shard's slices of the output buffers.
struct ShardOut<'a> {
    obs: Vec<&'a mut [f32]>,
    final_obs: Vec<&'a mut [f32]>,
    rewards: Vec<&'a mut [f64]>,
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
}

fn split_shards<'a>(out: &'a mut BatchBuffers, spec: &GameSpec, shard: usize) -> Vec<ShardOut<'a>> {
    let n = spec.n_agents();
    let BatchBuffers {
        obs,
        final_obs,
        rewards,
        terminated,
        truncated,
    } = out;
    let mut res: Vec<ShardOut<'a>> = terminated
        .chunks_mut(shard)
        .zip(truncated.chunks_mut(shard))
        .map(|(terminated, truncated)| ShardOut {
            obs: Vec::with_capacity(n),
            final_obs: Vec::with_capacity(n),
            rewards: Vec::with_capacity(n),
            terminated,
            truncated,
        })
        .collect();
    let agents = obs
        .iter_mut()
        .zip(final_obs.iter_mut())
        .zip(rewards.iter_mut());
    for (i, ((o, fo), r)) in agents.enumerate() {
        let d = spec.obs_dim(i);
        // A zero-width observation yields no chunks: give every shard an empty slice instead.
        let mut o_chunks = o.chunks_mut((shard * d).max(1));
        let mut fo_chunks = fo.chunks_mut((shard * d).max(1));
        for (s, rc) in res.iter_mut().zip(r.chunks_mut(shard)) {
            s.obs.push(o_chunks.next().unwrap_or_default());
            s.final_obs.push(fo_chunks.next().unwrap_or_default());
            s.rewards.push(rc);
        }
    }
    res
}

#[allow(clippy::too_many_arguments)]
fn step_shard<G: MarkovGame>(
    spec: &GameSpec,
    offsets: &[usize],
    first: usize,
    envs: &mut [G],
    rngs: &mut [StreamRng],
    actions: &[Vec<f32>],
    active: Option<&[Participation]>,
    scratch: &mut (Vec<f32>, Vec<f64>),
    out: ShardOut<'_>,
) -> Result<(), GameError> {
    let n = spec.n_agents();
    let (joint, rew) = scratch;
    let ShardOut {
        mut obs,
        mut final_obs,
        mut rewards,
        terminated,
        truncated,
    } = out;
    for (k, (env, rng)) in envs.iter_mut().zip(rngs.iter_mut()).enumerate() {
        let b = first + k;
        for i in 0..n {
            let w = offsets[i + 1] - offsets[i];
            joint[offsets[i]..offsets[i + 1]].copy_from_slice(&actions[i][b * w..(b + 1) * w]);
        }
        let status = match active {
            Some(p) if !p[b].is_all() => env.step_partial(joint, p[b], rew)?,
            _ => env.step(joint, rew)?,
        };
        for i in 0..n {
            rewards[i][k] = rew[i];
        }
        terminated[k] = status.terminated;
        truncated[k] = status.truncated;
        if status.done() {
            for (i, fo) in final_obs.iter_mut().enumerate() {
                let d = spec.obs_dim(i);
                env.observe(i, &mut fo[k * d..(k + 1) * d]);
            }
            env.reset(rng);
        }
        for (i, o) in obs.iter_mut().enumerate() {
            let d = spec.obs_dim(i);
            env.observe(i, &mut o[k * d..(k + 1) * d]);
        }
    }
    Ok(())
}

impl<G: MarkovGame + Clone> BatchedGame for VecGame<G> {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }

    fn batch_size(&self) -> usize {
        self.envs.len()
    }

    fn reset_all(&mut self, out: &mut BatchBuffers) -> Result<(), GameError> {
        out.check(&self.spec, self.envs.len())?;
        for (b, (env, rng)) in self.envs.iter_mut().zip(self.rngs.iter_mut()).enumerate() {
            env.reset(rng);
            for i in 0..self.spec.n_agents() {
                let d = self.spec.obs_dim(i);
                env.observe(i, &mut out.obs[i][b * d..(b + 1) * d]);
            }
        }
        out.terminated.fill(false);
        out.truncated.fill(false);
        Ok(())
    }

    fn step_batch(
        &mut self,
        actions: &[Vec<f32>],
        active: Option<&[Participation]>,
        out: &mut BatchBuffers,
    ) -> Result<(), GameError> {
        let batch = self.envs.len();
        let spec = &self.spec;
        let n = spec.n_agents();
        out.check(spec, batch)?;
        if actions.len() != n {
            return Err(GameError::AgentCountMismatch {
                what: "batched actions",
                expected: n,
                got: actions.len(),
            });
        }
        if let Some(p) = active {
            if p.len() != batch {
                return Err(GameError::BufferSize {
                    what: "participation",
                    expected: batch,
                    got: p.len(),
                });
            }
            if let Some(bad) = p.iter().find(|p| p.n_agents() != n) {
                return Err(GameError::AgentCountMismatch {
                    what: "participation vector",
                    expected: n,
                    got: bad.n_agents(),
                });
            }
        }
        // Validate every action before any copy moves, so an error leaves nothing half-done.
        for (i, acts) in actions.iter().enumerate() {
            let space = spec.action_space(i);
            let w = space.width();
            if acts.len() != batch * w {
                return Err(GameError::BufferSize {
                    what: "actions[agent]",
                    expected: batch * w,
                    got: acts.len(),
                });
            }
            for b in 0..batch {
                if active.is_none_or(|p| p[b].is_active(i)) {
                    space.check(i, &acts[b * w..(b + 1) * w])?;
                }
            }
        }
        let offsets = spec.action_offsets();
        let shard = self.shard_len();
        let shards = split_shards(out, spec, shard);
        let envs = self.envs.chunks_mut(shard);
        let rngs = self.rngs.chunks_mut(shard);
        let work = envs.zip(rngs).zip(self.scratch.iter_mut()).zip(shards);
        let Some(pool) = self.pool.as_ref().filter(|_| self.threads > 1) else {
            for (((e, r), s), o) in work {
                step_shard(spec, &offsets, 0, e, r, actions, active, s, o)?;
            }
            return Ok(());
        };
        let offsets = &offsets;
        let mut results: Vec<Result<(), GameError>> = vec![Ok(()); self.threads];
        pool.scope(|scope| {
            for (k, ((((e, r), s), o), res)) in work.zip(results.iter_mut()).enumerate() {
                scope.spawn(move |_| {
                    *res = step_shard(spec, offsets, k * shard, e, r, actions, active, s, o);
                });
            }
        });
        // The first error in shard order, so the report does not depend on timing.
        results.into_iter().collect()
    }
}
