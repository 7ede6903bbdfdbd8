//! A discriminator's parameters by name, staged loading, and its optimizer state (what a
//! checkpoint holds).

use super::*;

impl Discriminator {
    /// Every parameter by name: `{prefix}.l{j}.weight` `(out, in)` and `{prefix}.l{j}.bias`. A
    /// snapshot: copies, since a variable's own tensor changes in place as it trains.
    pub fn tensors(&self, prefix: &str) -> Result<Vec<(String, Tensor)>, GailError> {
        let mut out = Vec::with_capacity(2 * self.mlp.layers().len());
        for (j, (w, b)) in self.mlp.layers().iter().enumerate() {
            out.push((format!("{prefix}.l{j}.weight"), w.as_tensor().copy()?));
            out.push((format!("{prefix}.l{j}.bias"), b.as_tensor().copy()?));
        }
        Ok(out)
    }

    /// Loads parameters saved by [`tensors`](Self::tensors): every name must be there with the
    /// same shape and finite values, or nothing changes. The optimizer's moments start afresh
    /// (Adam's state belongs to the parameters it was accumulated on).
    pub fn load_tensors(
        &mut self,
        m: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
    ) -> Result<(), GailError> {
        let staged = self.stage_tensors(m, prefix)?;
        self.set_staged(staged)
    }

    /// The first half of [`load_tensors`](Self::load_tensors): checks every tensor and keeps
    /// them, changing nothing, so a caller loading several networks can check them all before
    /// it sets any.
    pub fn stage_tensors(
        &self,
        m: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
    ) -> Result<StagedTensors, GailError> {
        let mut staged = Vec::new();
        for (j, (w, b)) in self.mlp.layers().iter().enumerate() {
            for (kind, var) in [("weight", w), ("bias", b)] {
                let key = format!("{prefix}.l{j}.{kind}");
                staged.push((var.clone(), checkpoint_tensor(m, &key, var.as_tensor())?));
            }
        }
        Ok(StagedTensors(staged))
    }

    /// The second half of [`load_tensors`](Self::load_tensors): sets tensors staged by
    /// [`stage_tensors`](Self::stage_tensors) on this discriminator and restarts Adam.
    pub fn set_staged(&mut self, staged: StagedTensors) -> Result<(), GailError> {
        for (var, t) in staged.0 {
            var.set(&t)?;
        }
        self.opt.restart();
        Ok(())
    }

    /// What besides the parameters the discriminator carries from one step to the next (Adam's
    /// moments, the gradient penalty's stream), for a checkpoint that resumes exactly.
    pub fn state(&self) -> DiscState {
        DiscState {
            adam: self.opt.state(),
            gp_rng: self.gp_rng.as_ref().map(mg_core::RngState::of),
        }
    }

    /// Restores a [`state`](Self::state) (after the parameters it was accumulated on are
    /// loaded). Nothing changes when it is refused.
    pub fn set_state(&mut self, s: &DiscState) -> Result<(), GailError> {
        if s.gp_rng.is_some() != self.gp_rng.is_some() {
            return Err(GailError::Checkpoint(
                "the saved state is of a discriminator with the other gradient-penalty setting"
                    .into(),
            ));
        }
        self.opt.set_state(s.adam.clone())?;
        self.gp_rng = s.gp_rng.as_ref().map(mg_core::RngState::rng);
        Ok(())
    }
}
