//! Checkpoints: every parameter by name, and the trainer's state besides them, so that a run
//! continues exactly.

use std::collections::HashMap;

use candle_core::Tensor;
use gail::{DiscState, Discriminator};
use mg_core::{MarkovGame, PlayerFunction, RngState};
use serde::{Deserialize, Serialize};

use super::{MagailError, MagailTrainer};
use crate::checkpoint::{put_state, take_state};
use crate::learner::LearnerState;
use crate::rollout::CollectorState;

impl<G, P> MagailTrainer<G, P>
where
    G: MarkovGame + Clone + Send,
    P: PlayerFunction + Clone + Send,
{
    /// Every network parameter by name: the learners' (`group0.pi.l0.weight`, …) and the
    /// discriminators' (`disc0.l0.weight`, …).
    pub fn tensors(&self) -> Result<HashMap<String, Tensor>, MagailError> {
        let mut m = self.learners.tensors()?;
        for (k, d) in self.discs.iter().enumerate() {
            m.extend(
                d.tensors(&format!("disc{k}"))
                    .map_err(|source| MagailError::Disc {
                        iteration: self.iteration,
                        agent: k,
                        source,
                    })?,
            );
        }
        Ok(m)
    }

    /// Everything needed to continue exactly: the parameters ([`tensors`](Self::tensors)) and,
    /// under [`crate::STATE_KEY`], the iteration, every random stream, the critics' and
    /// discriminators' Adam moments and every game copy mid-episode.
    pub fn checkpoint(&self) -> Result<HashMap<String, Tensor>, MagailError> {
        let mut m = self.tensors()?;
        put_state(
            &mut m,
            &TrainerState {
                iteration: self.iteration,
                rng: RngState::of(&self.rng),
                learners: self.learners.state(),
                discs: self.discs.iter().map(Discriminator::state).collect(),
                collector: self.collector.state(),
            },
        )?;
        Ok(m)
    }

    /// The iteration a [`checkpoint`](Self::checkpoint) was taken after.
    pub fn checkpoint_iteration(m: &HashMap<String, Tensor>) -> Result<usize, MagailError> {
        Ok(take_state::<TrainerState>(m)?.iteration)
    }

    /// Continues from a [`checkpoint`](Self::checkpoint) of a trainer built the same way: the
    /// run goes on exactly as the one that wrote it would have. For a game that saves no state
    /// ([`MarkovGame::save_state`]) the rollouts restart from streams derived from (seed,
    /// iteration) with new episodes. Every part is checked before any is set, so a bad
    /// checkpoint changes nothing.
    pub fn resume(&mut self, m: &HashMap<String, Tensor>) -> Result<(), MagailError> {
        let s: TrainerState = take_state(m)?;
        let iteration = s.iteration;
        if s.discs.len() != self.discs.len() {
            return Err(MagailError::Config(format!(
                "a checkpoint of {} discriminators, this trainer has {}",
                s.discs.len(),
                self.discs.len()
            )));
        }
        let staged = self
            .discs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                d.stage_tensors(m, &format!("disc{k}"))
                    .map_err(|source| MagailError::Disc {
                        iteration,
                        agent: k,
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.learners.load_tensors(m, false)?;
        self.learners.set_state(&s.learners)?;
        for (k, ((d, st), ds)) in self.discs.iter_mut().zip(staged).zip(&s.discs).enumerate() {
            d.set_staged(st)
                .and_then(|()| d.set_state(ds))
                .map_err(|source| MagailError::Disc {
                    iteration,
                    agent: k,
                    source,
                })?;
        }
        match &s.collector {
            Some(c) => self.collector.set_state(c)?,
            None => self.collector.restart_stream(iteration),
        }
        self.iteration = iteration;
        self.rng = s.rng.rng();
        Ok(())
    }
}

/// A MAGAIL trainer's state besides its parameters.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    iteration: usize,
    rng: RngState,
    learners: LearnerState,
    discs: Vec<DiscState>,
    /// `None` for a game that saves no state.
    collector: Option<CollectorState>,
}
