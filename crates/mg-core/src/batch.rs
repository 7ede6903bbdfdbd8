//! Batched stepping: B independent copies of a game stepped together into caller-owned buffers.
//!
//! Buffers are laid out per agent (`obs[i]` holds B × obs_dim(i) values, copy after copy), so a
//! learner can run one batched policy call per agent on a contiguous slice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;

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

    /// Buffers for no agents and no copies (a placeholder while buffers are moved around).
    fn empty() -> Self {
        Self {
            obs: Vec::new(),
            final_obs: Vec::new(),
            rewards: Vec::new(),
            terminated: Vec::new(),
            truncated: Vec::new(),
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
    /// All inputs (sizes, actions, participations) are checked before any copy moves, so an
    /// error about them leaves every copy as it was. An error raised by a game itself while
    /// stepping (for instance a game that cannot play φ given a partial participation) can
    /// come after other copies stepped: the batch then refuses to step until
    /// [`reset_all`](Self::reset_all).
    fn step_batch(
        &mut self,
        actions: &[Vec<f32>],
        active: Option<&[Participation]>,
        out: &mut BatchBuffers,
    ) -> Result<(), GameError>;
}

/// One contiguous range of copies with everything needed to step them: owned by a worker
/// thread (or by the caller for shard 0), so no borrowed data crosses threads.
#[derive(Debug)]
struct Shard<G> {
    /// Index of the shard's first copy in the batch.
    first: usize,
    envs: Vec<G>,
    rngs: Vec<StreamRng>,
    /// The shard's own slice of the inputs, copied in before each step.
    actions: Vec<Vec<f32>>,
    active: Vec<Participation>,
    use_active: bool,
    /// The shard's outputs, copied out after each step.
    out: BatchBuffers,
    joint: Vec<f32>,
    rew: Vec<f64>,
    result: Result<(), GameError>,
}

impl<G: MarkovGame> Shard<G> {
    fn step(&mut self, spec: &GameSpec, offsets: &[usize]) {
        let mut out = std::mem::replace(&mut self.out, BatchBuffers::empty());
        self.result = self.step_into(spec, offsets, &mut out);
        self.out = out;
    }

    /// Steps the shard, writing copy `k`'s results at position `k` of `out` (the shard's own
    /// buffers, or the caller's for shard 0, which starts at copy 0 and so needs no copying).
    fn step_into(
        &mut self,
        spec: &GameSpec,
        offsets: &[usize],
        out: &mut BatchBuffers,
    ) -> Result<(), GameError> {
        let n = spec.n_agents();
        for (k, (env, rng)) in self.envs.iter_mut().zip(self.rngs.iter_mut()).enumerate() {
            for i in 0..n {
                let w = offsets[i + 1] - offsets[i];
                self.joint[offsets[i]..offsets[i + 1]]
                    .copy_from_slice(&self.actions[i][k * w..(k + 1) * w]);
            }
            // Every action was checked in `step_batch` before any copy moved.
            let active = self.use_active.then(|| self.active[k]);
            let status = env.step_prechecked(&self.joint, active, &mut self.rew)?;
            for i in 0..n {
                out.rewards[i][k] = self.rew[i];
            }
            out.terminated[k] = status.terminated;
            out.truncated[k] = status.truncated;
            if status.done() {
                for i in 0..n {
                    let d = spec.obs_dim(i);
                    env.observe(i, &mut out.final_obs[i][k * d..(k + 1) * d]);
                }
                env.reset(rng);
            }
            for i in 0..n {
                let d = spec.obs_dim(i);
                env.observe(i, &mut out.obs[i][k * d..(k + 1) * d]);
            }
        }
        Ok(())
    }
}

/// A shard shared with its worker thread: the data behind a mutex (uncontended: the caller and
/// the worker take turns), and two counters that say whose turn it is.
#[derive(Debug)]
struct Cell<G> {
    shard: Mutex<Shard<G>>,
    /// Bumped by the caller when new inputs are in place. Each counter sits on its own cache
    /// line: a spinning reader must not share a line with data the other thread writes.
    go: CachePadded<AtomicU64>,
    /// Set by the worker to the `go` value it finished.
    done: CachePadded<AtomicU64>,
    stop: AtomicBool,
}

#[derive(Debug)]
struct Worker<G> {
    cell: Arc<Cell<G>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// How long a worker spins for the next step before it sleeps. Waking a sleeping thread costs
/// tens of microseconds on a virtual machine; a step of 1024 copies costs a few hundred.
const SPIN: Duration = Duration::from_micros(200);

fn lock<G>(m: &Mutex<Shard<G>>) -> std::sync::MutexGuard<'_, Shard<G>> {
    // A panic inside a game poisons the lock; the data is still consistent enough to report.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn worker_loop<G: MarkovGame>(cell: Arc<Cell<G>>, spec: GameSpec) {
    let offsets = spec.action_offsets();
    let mut seen = 0u64;
    loop {
        let t0 = Instant::now();
        loop {
            if cell.stop.load(Ordering::Acquire) {
                return;
            }
            if cell.go.load(Ordering::Acquire) != seen {
                break;
            }
            if t0.elapsed() < SPIN {
                // No `spin_loop()` (PAUSE): on virtual machines PAUSE loops make the hypervisor
                // deschedule the vCPU, which measured slower and erratic here.
                std::sync::atomic::compiler_fence(Ordering::SeqCst);
            } else {
                std::thread::park_timeout(Duration::from_millis(5));
            }
        }
        seen = cell.go.load(Ordering::Acquire);
        {
            let mut sh = lock(&cell.shard);
            sh.step(&spec, &offsets);
        }
        cell.done.store(seen, Ordering::Release);
    }
}

/// The generic [`BatchedGame`]: B clones of any [`MarkovGame`], each with its own random stream
/// `stream_rng(seed, index)`, split into contiguous shards stepped by persistent worker threads.
///
/// Copies never interact, so the results do not depend on the number of threads.
#[derive(Debug)]
pub struct VecGame<G: MarkovGame + Clone + 'static> {
    spec: GameSpec,
    offsets: Vec<usize>,
    batch: usize,
    /// Shard 0, stepped by the calling thread.
    local: Shard<G>,
    /// Shards 1.., each with its worker thread.
    workers: Vec<Worker<G>>,
    epoch: u64,
    /// A game failed part-way through a batched step: some copies moved, others did not, so
    /// the batch steps no more until it is reset.
    broken: bool,
}

fn make_shard<G: MarkovGame + Clone>(
    spec: &GameSpec,
    first: usize,
    envs: Vec<G>,
    rngs: Vec<StreamRng>,
) -> Shard<G> {
    let len = envs.len();
    let n = spec.n_agents();
    Shard {
        first,
        actions: (0..n)
            .map(|i| vec![0.0; len * spec.action_space(i).width()])
            .collect(),
        active: vec![Participation::all(n); len],
        use_active: false,
        out: BatchBuffers::new(spec, len),
        joint: vec![0.0; spec.joint_action_width()],
        rew: vec![0.0; n],
        result: Ok(()),
        envs,
        rngs,
    }
}

impl<G: MarkovGame + Clone + 'static> VecGame<G> {
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
        let envs = vec![game; batch];
        let rngs = (0..batch as u64).map(|b| stream_rng(seed, b)).collect();
        Ok(Self {
            offsets: spec.action_offsets(),
            local: make_shard(&spec, 0, envs, rngs),
            spec,
            batch,
            workers: Vec::new(),
            epoch: 0,
            broken: false,
        })
    }

    /// Uses `threads` threads (at least 1, at most B): the caller's and `threads − 1` workers.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.set_threads(threads);
        self
    }

    /// Gathers every copy and its stream back in order (stopping the workers).
    fn take_all(&mut self) -> (Vec<G>, Vec<StreamRng>) {
        let mut envs = std::mem::take(&mut self.local.envs);
        let mut rngs = std::mem::take(&mut self.local.rngs);
        for mut w in self.workers.drain(..) {
            w.cell.stop.store(true, Ordering::Release);
            if let Some(h) = w.handle.take() {
                h.thread().unpark();
                let _ = h.join();
            }
            let mut sh = lock(&w.cell.shard);
            envs.append(&mut sh.envs);
            rngs.append(&mut sh.rngs);
        }
        (envs, rngs)
    }

    /// Changes the number of threads (copies keep their state and streams). If the operating
    /// system refuses to start a worker, its shard is stepped by the caller instead.
    pub fn set_threads(&mut self, threads: usize) {
        let threads = threads.clamp(1, self.batch);
        let (mut envs, mut rngs) = self.take_all();
        let per = self.batch.div_ceil(threads);
        let mut shards = Vec::new();
        let mut first = 0;
        while !envs.is_empty() {
            let take = per.min(envs.len());
            let rest_e = envs.split_off(take);
            let rest_r = rngs.split_off(take);
            shards.push(make_shard(&self.spec, first, envs, rngs));
            first += take;
            envs = rest_e;
            rngs = rest_r;
        }
        let mut it = shards.into_iter();
        if let Some(s0) = it.next() {
            self.local = s0;
        }
        for sh in it {
            let cell = Arc::new(Cell {
                shard: Mutex::new(sh),
                go: CachePadded::new(AtomicU64::new(0)),
                done: CachePadded::new(AtomicU64::new(0)),
                stop: AtomicBool::new(false),
            });
            let c2 = Arc::clone(&cell);
            let spec = self.spec.clone();
            let handle = std::thread::Builder::new()
                .name("vecgame".into())
                .spawn(move || worker_loop(c2, spec))
                .ok();
            self.workers.push(Worker { cell, handle });
        }
        self.epoch = 0;
    }

    /// Number of threads in use (the caller's included).
    pub fn threads(&self) -> usize {
        1 + self.workers.len()
    }

    /// A copy of game `b`'s current state, for inspection (rendering, tests).
    pub fn env(&self, b: usize) -> Option<G> {
        if b < self.local.envs.len() {
            return Some(self.local.envs[b].clone());
        }
        self.workers.iter().find_map(|w| {
            let sh = lock(&w.cell.shard);
            b.checked_sub(sh.first)
                .and_then(|k| sh.envs.get(k))
                .cloned()
        })
    }

    fn load_inputs(
        sh: &mut Shard<G>,
        spec: &GameSpec,
        actions: &[Vec<f32>],
        active: Option<&[Participation]>,
    ) {
        let len = sh.envs.len();
        for (i, a) in sh.actions.iter_mut().enumerate() {
            let w = spec.action_space(i).width();
            a.copy_from_slice(&actions[i][sh.first * w..(sh.first + len) * w]);
        }
        sh.use_active = active.is_some();
        if let Some(p) = active {
            sh.active.copy_from_slice(&p[sh.first..sh.first + len]);
        }
    }

    fn store_outputs(sh: &Shard<G>, spec: &GameSpec, out: &mut BatchBuffers) {
        let (f, len) = (sh.first, sh.envs.len());
        for i in 0..spec.n_agents() {
            let d = spec.obs_dim(i);
            out.obs[i][f * d..(f + len) * d].copy_from_slice(&sh.out.obs[i]);
            out.rewards[i][f..f + len].copy_from_slice(&sh.out.rewards[i]);
            for k in (0..len).filter(|&k| sh.out.done(k)) {
                out.final_obs[i][(f + k) * d..(f + k + 1) * d]
                    .copy_from_slice(&sh.out.final_obs[i][k * d..(k + 1) * d]);
            }
        }
        out.terminated[f..f + len].copy_from_slice(&sh.out.terminated);
        out.truncated[f..f + len].copy_from_slice(&sh.out.truncated);
    }
}

impl<G: MarkovGame + Clone + 'static> Drop for VecGame<G> {
    fn drop(&mut self) {
        let _ = self.take_all();
    }
}

impl<G: MarkovGame + Clone + 'static> BatchedGame for VecGame<G> {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn reset_all(&mut self, out: &mut BatchBuffers) -> Result<(), GameError> {
        out.check(&self.spec, self.batch)?;
        let spec = &self.spec;
        let mut reset = |sh: &mut Shard<G>| {
            for (k, (env, rng)) in sh.envs.iter_mut().zip(sh.rngs.iter_mut()).enumerate() {
                env.reset(rng);
                let b = sh.first + k;
                for i in 0..spec.n_agents() {
                    let d = spec.obs_dim(i);
                    env.observe(i, &mut out.obs[i][b * d..(b + 1) * d]);
                }
            }
        };
        reset(&mut self.local);
        for w in &self.workers {
            reset(&mut lock(&w.cell.shard));
        }
        out.terminated.fill(false);
        out.truncated.fill(false);
        self.broken = false;
        Ok(())
    }

    fn step_batch(
        &mut self,
        actions: &[Vec<f32>],
        active: Option<&[Participation]>,
        out: &mut BatchBuffers,
    ) -> Result<(), GameError> {
        let batch = self.batch;
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
            match active {
                None => space.check_many(i, acts)?,
                Some(p) => {
                    for b in 0..batch {
                        if p[b].is_active(i) {
                            space.check(i, &acts[b * w..(b + 1) * w])?;
                        }
                    }
                }
            }
        }
        if self.broken {
            return Err(GameError::Other(
                "a game failed part-way through the last batched step; reset the batch \
                 (reset_all) before stepping again"
                    .into(),
            ));
        }
        // Hand the workers their inputs, step our own shard meanwhile, then collect.
        self.epoch += 1;
        for w in &self.workers {
            Self::load_inputs(&mut lock(&w.cell.shard), spec, actions, active);
            w.cell.go.store(self.epoch, Ordering::Release);
            if let Some(h) = &w.handle {
                h.thread().unpark();
            }
        }
        Self::load_inputs(&mut self.local, spec, actions, active);
        let local_result = self.local.step_into(spec, &self.offsets, out);
        for w in &self.workers {
            if let Some(h) = &w.handle {
                while w.cell.done.load(Ordering::Acquire) != self.epoch {
                    if h.is_finished() {
                        self.broken = true;
                        return Err(GameError::Other(
                            "a game panicked in a worker thread; this batch cannot continue".into(),
                        ));
                    }
                    // No `spin_loop()` (PAUSE): on virtual machines PAUSE loops make the hypervisor
                    // deschedule the vCPU, which measured slower and erratic here.
                    std::sync::atomic::compiler_fence(Ordering::SeqCst);
                }
            } else {
                // No thread could be started for this shard: step it here.
                lock(&w.cell.shard).step(spec, &self.offsets);
            }
        }
        // Report the first error in shard order, so it does not depend on timing.
        let mut first_err = local_result.err();
        for w in &self.workers {
            let r = std::mem::replace(&mut lock(&w.cell.shard).result, Ok(()));
            if let (None, Err(e)) = (&first_err, r) {
                first_err = Some(e);
            }
        }
        if let Some(e) = first_err {
            self.broken = true;
            return Err(e);
        }
        for w in &self.workers {
            Self::store_outputs(&lock(&w.cell.shard), spec, out);
        }
        Ok(())
    }
}
