//! Behaviour cloning: the demonstrations' (observation, action) pairs of each policy group,
//! cloning itself, the digest of everything it depends on, and sharing one cloning between
//! trainers that would clone alike ([`ClonedPolicies`]).

use std::collections::HashMap;

use candle_core::Tensor;
use mg_core::{ActionSpace, MarkovGame, PlayerFunction, StreamRng};
use rand::Rng;

use super::{MagailError, MagailTrainer};
use crate::learner::LearnError;

/// What behaviour cloning left: the policies' parameters and the trainer's sampling stream after
/// it, tagged with the digest of everything the cloning depended on
/// ([`MagailTrainer::bc_key`]). Another trainer with the same digest — the same initial policies,
/// demonstration pairs, cloning settings and stream, whatever its discriminators and critics —
/// would clone to the same parameters, so it may [`adopt`](MagailTrainer::adopt_clone) them
/// instead: the comparisons of `cargo xtask reproduce` clone once per demonstration set.
#[derive(Clone, Debug)]
pub struct ClonedPolicies {
    key: u64,
    policies: HashMap<String, Tensor>,
    rng: StreamRng,
    loss: f64,
}

impl ClonedPolicies {
    /// The digest of the cloning's inputs.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The cloning's final minibatch loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// The cloned policies' parameters, named as in [`Learners::tensors`](crate::Learners::tensors).
    pub fn policies(&self) -> &HashMap<String, Tensor> {
        &self.policies
    }
}

impl<G, P> MagailTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    /// Group `g`'s demonstration (observation, action) pairs over the steps its agents acted, as
    /// tensors (φ is cloned too under φ-as-action, as its extra category); `None` when there
    /// are none.
    pub(super) fn demo_pairs(&self, g: usize) -> Result<Option<(Tensor, Tensor)>, MagailError> {
        let dev = self.learners.device().clone();
        let agents = &self.learners.groups()[g].agents;
        let d = self.collector.obs_dim(agents[0]);
        let space = self.spec.action_space(agents[0]);
        let w = space.width();
        let phi = self.cfg.phi;
        let (mut obs, mut acts) = (Vec::new(), Vec::new());
        // Episode by episode, then agent by agent: the rows' order is the cloning's shuffle's
        // input, so it is part of the result.
        for ep in self.demos.episode_ranges() {
            for &i in agents {
                let a = &self.demos.agents[i];
                for t in ep.clone().filter(|&t| phi.counts(a.acted[t])) {
                    obs.extend_from_slice(&a.obs[t * d..(t + 1) * d]);
                    acts.extend_from_slice(&a.actions[t * w..(t + 1) * w]);
                }
            }
        }
        let n = obs.len() / d.max(1);
        if n == 0 {
            return Ok(None);
        }
        let obs_t = Tensor::from_slice(&obs, (n, d), &dev)?;
        let act_t = match space {
            ActionSpace::Discrete { .. } => {
                Tensor::from_iter(acts.iter().map(|&a| a as u32), &dev)?
            }
            ActionSpace::Box { dim, .. } => Tensor::from_slice(&acts, (n, dim), &dev)?,
        };
        Ok(Some((obs_t, act_t)))
    }

    /// Behaviour cloning: `bc_epochs` epochs of cross-entropy (Gaussian: −log-likelihood) on the
    /// expert's own actions, in shuffled minibatches of `bc_batch`, per policy group. Returns the final loss.
    pub fn behaviour_clone(&mut self) -> Result<f64, MagailError> {
        let mut last = 0.0;
        let dev = self.learners.device().clone();
        for (gi, g) in self.learners.groups().iter().enumerate() {
            let Some((obs_t, act_t)) = self.demo_pairs(gi)? else {
                continue;
            };
            let n = obs_t.dim(0)?;
            let vars = g.policy.vars();
            let mut opt = trpo::Adam::for_vars(self.cfg.bc_lr, &vars).map_err(LearnError::from)?;
            let mut idx: Vec<u32> = (0..n as u32).collect();
            let size = self.cfg.bc_batch.clamp(1, n);
            for _ in 0..self.cfg.bc_epochs {
                for k in (1..n).rev() {
                    let j = self.rng.random_range(0..=k);
                    idx.swap(k, j);
                }
                for chunk in idx.chunks(size) {
                    let ids = Tensor::from_slice(chunk, chunk.len(), &dev)?;
                    let dist = g
                        .policy
                        .dist(&obs_t.index_select(&ids, 0)?)
                        .map_err(LearnError::from)?;
                    let lp = g
                        .policy
                        .log_prob(&dist, &act_t.index_select(&ids, 0)?)
                        .map_err(LearnError::from)?;
                    let loss = lp.mean_all()?.neg()?;
                    last = f64::from(loss.to_scalar::<f32>()?);
                    if !last.is_finite() {
                        return Err(MagailError::Config(format!(
                            "behaviour cloning: the loss of policy group {gi} is not finite \
                             ({last}); try a smaller bc_lr"
                        )));
                    }
                    opt.step_store(&vars, &loss.backward()?)
                        .map_err(LearnError::from)?;
                }
            }
        }
        Ok(last)
    }

    /// A digest of everything [`behaviour_clone`](Self::behaviour_clone) depends on, taken
    /// before it: the policies' parameters, each group's demonstration pairs, the cloning
    /// settings and the state of the sampling stream. Equal digests clone to equal parameters.
    pub fn bc_key(&self) -> Result<u64, MagailError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            self.cfg.bc_epochs,
            self.cfg.bc_batch,
            self.cfg.bc_lr.to_bits(),
        )
            .hash(&mut h);
        (
            self.rng.get_seed(),
            self.rng.get_stream(),
            self.rng.get_word_pos(),
        )
            .hash(&mut h);
        let bits = |t: &Tensor, h: &mut std::collections::hash_map::DefaultHasher| {
            t.dims().hash(h);
            t.flatten_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .map(|v| v.iter().for_each(|x| x.to_bits().hash(h)))
        };
        for (gi, g) in self.learners.groups().iter().enumerate() {
            g.agents.hash(&mut h);
            for (name, var) in g.policy.names().into_iter().zip(g.policy.vars()) {
                name.hash(&mut h);
                bits(var.as_tensor(), &mut h)?;
            }
            if let Some((obs, acts)) = self.demo_pairs(gi)? {
                bits(&obs, &mut h)?;
                bits(&acts.to_dtype(candle_core::DType::F32)?, &mut h)?;
            }
        }
        Ok(h.finish())
    }

    /// [`behaviour_clone`](Self::behaviour_clone), returning what it left for other trainers
    /// with the same [`bc_key`](Self::bc_key) to adopt.
    pub fn behaviour_clone_shared(&mut self) -> Result<ClonedPolicies, MagailError> {
        let key = self.bc_key()?;
        let loss = self.behaviour_clone()?;
        let policies = self.learners.policy_tensors()?;
        Ok(ClonedPolicies {
            key,
            policies,
            rng: self.rng.clone(),
            loss,
        })
    }

    /// Takes another trainer's cloning instead of cloning: afterwards this trainer is exactly as
    /// if it had run [`behaviour_clone`](Self::behaviour_clone) itself. Refused when its
    /// [`bc_key`](Self::bc_key) differs (the cloning would not have been the same). Returns the
    /// cloning's final loss.
    pub fn adopt_clone(&mut self, c: &ClonedPolicies) -> Result<f64, MagailError> {
        let key = self.bc_key()?;
        if key != c.key {
            return Err(MagailError::Config(format!(
                "cloned policies from another start (digest {:016x}, this trainer's {key:016x}): \
                 different initial policies, demonstrations, cloning settings or stream",
                c.key
            )));
        }
        self.learners.load_tensors(&c.policies, true)?;
        self.rng = c.rng.clone();
        Ok(c.loss)
    }
}
