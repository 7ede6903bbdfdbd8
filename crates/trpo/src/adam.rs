//! Adam on candle variables in plain Rust: the one optimizer of the critics, the discriminators
//! and behaviour cloning, with a state that checkpoints whole.

use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrpoError};

/// Adam (Kingma & Ba), without weight decay, in f32 with the arithmetic of candle's `AdamW` (and
/// PyTorch's `Adam`): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − lr·m̂ / (√v̂ + ε).
///
/// Plain Rust instead of candle tensor ops: for networks this small, candle's per-op overhead over
/// a dozen tensor ops per parameter tensor cost more than the arithmetic (measured: the critic fit
/// of `cargo xtask bench trpo`). Constants are rounded to f32 as candle's scalar ops round them,
/// so a step equals a candle `AdamW` step with `weight_decay = 0` bit for bit (tested).
///
/// The whole state (moments and step count) is serializable, so a checkpointed run resumes with
/// the moments it had ([`Adam::state`], [`Adam::set_state`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    lr: f64,
    m: Vec<f32>,
    v: Vec<f32>,
    t: u64,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// Adam at learning rate `lr` over `n` parameters (moments zero).
    pub fn new(lr: f64, n: usize) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(TrpoError::Config {
                field: "learning rate",
                reason: format!("must be a positive number, got {lr}"),
            });
        }
        Ok(Self {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        })
    }

    /// Adam over every element of `vars`.
    pub fn for_vars(lr: f64, vars: &[Var]) -> Result<Self> {
        Self::new(lr, vars.iter().map(|v| v.elem_count()).sum())
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Forgets the moments and the step count (new parameters).
    pub fn restart(&mut self) {
        self.m.iter_mut().for_each(|x| *x = 0.0);
        self.v.iter_mut().for_each(|x| *x = 0.0);
        self.t = 0;
    }

    /// A copy of the whole state, for a checkpoint.
    pub fn state(&self) -> Adam {
        self.clone()
    }

    /// Takes a state saved by [`state`](Self::state) from an optimizer of the same size and
    /// learning rate.
    pub fn set_state(&mut self, s: Adam) -> Result<()> {
        if s.m.len() != self.m.len() || s.v.len() != self.v.len() {
            return Err(TrpoError::Size {
                what: "Adam moments",
                expected: self.m.len(),
                got: s.m.len().min(s.v.len()),
            });
        }
        if s.lr.to_bits() != self.lr.to_bits() {
            return Err(TrpoError::Config {
                field: "learning rate",
                reason: format!(
                    "the saved optimizer ran at {}, this one at {}",
                    s.lr, self.lr
                ),
            });
        }
        if s.m.iter().chain(&s.v).any(|x| !x.is_finite()) {
            return Err(TrpoError::NonFinite {
                what: "saved Adam moments",
            });
        }
        *self = s;
        Ok(())
    }

    /// One step with `grads`, flattened per variable in the order of `vars`.
    pub fn step(&mut self, vars: &[Var], grads: &[Vec<f32>]) -> Result<()> {
        let total: usize = vars.iter().map(|v| v.elem_count()).sum();
        if total != self.m.len() || grads.len() != vars.len() {
            return Err(TrpoError::Size {
                what: "parameters for Adam",
                expected: self.m.len(),
                got: total,
            });
        }
        // A gradient whose square overflows f32 would leave an infinite second moment behind a
        // zero step: the parameters look fine, the state can never be resumed. Refuse it first.
        if grads.iter().flatten().any(|g| !(g * g).is_finite()) {
            return Err(TrpoError::NonFinite {
                what: "gradient for Adam (a value not finite, or too large to square in f32)",
            });
        }
        self.t += 1;
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        // As candle's scalar ops: every constant computed in f64, then rounded to f32.
        let f = |x: f64| x as f32;
        let (b1, c1) = (f(Self::BETA1), f(1.0 - Self::BETA1));
        let (b2, c2) = (f(Self::BETA2), f(1.0 - Self::BETA2));
        let scale_m = f(1.0 / (1.0 - Self::BETA1.powi(t)));
        let scale_v = f(1.0 / (1.0 - Self::BETA2.powi(t)));
        let (eps, lr) = (f(Self::EPS), f(self.lr));
        let mut off = 0;
        for (var, g) in vars.iter().zip(grads) {
            let th = var.as_tensor();
            let n = th.elem_count();
            if g.len() != n {
                return Err(TrpoError::Size {
                    what: "parameter gradient",
                    expected: n,
                    got: g.len(),
                });
            }
            let mut p: Vec<f32> = th.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
            let (m, v) = (&mut self.m[off..off + n], &mut self.v[off..off + n]);
            for k in 0..n {
                m[k] = m[k] * b1 + g[k] * c1;
                v[k] = v[k] * b2 + (g[k] * g[k]) * c2;
                let step = (m[k] * scale_m) / ((v[k] * scale_v).sqrt() + eps);
                p[k] -= step * lr;
            }
            var.set(&Tensor::from_vec(p, th.shape(), th.device())?.to_dtype(th.dtype())?)?;
            off += n;
        }
        Ok(())
    }

    /// One step with the gradients of a candle backward pass (a variable without a gradient
    /// steps with zeros, as it would in a flat gradient).
    pub fn step_store(
        &mut self,
        vars: &[Var],
        store: &candle_core::backprop::GradStore,
    ) -> Result<()> {
        let grads = vars
            .iter()
            .map(|v| match store.get(v.as_tensor()) {
                Some(g) => Ok(g.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?),
                None => Ok(vec![0.0; v.elem_count()]),
            })
            .collect::<Result<Vec<_>>>()?;
        self.step(vars, &grads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gradient too large to square in f32 is refused before it touches the state, which
    /// stays resumable.
    #[test]
    fn a_gradient_that_overflows_its_square_is_refused() -> Result<()> {
        let dev = candle_core::Device::Cpu;
        let v = Var::from_tensor(&Tensor::from_vec(vec![0.5f32, -0.5], 2, &dev)?)?;
        let mut a = Adam::for_vars(1e-3, std::slice::from_ref(&v))?;
        let before = a.state();
        let e = a
            .step(std::slice::from_ref(&v), &[vec![1.0, 2e19]])
            .expect_err("2e19 squared overflows f32");
        assert!(e.to_string().contains("too large to square"), "{e}");
        assert_eq!(a.state(), before);
        a.set_state(a.state())?;
        a.step(std::slice::from_ref(&v), &[vec![1.0, 2e18]])?;
        Ok(())
    }
    use candle_core::Device;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    /// Twenty steps on a quadratic equal candle's AdamW bit for bit, and the state restores.
    #[test]
    fn steps_equal_candles_adamw_and_the_state_round_trips() -> Result<()> {
        let dev = Device::Cpu;
        let init: Vec<f32> = (0..12).map(|k| (k as f32 * 0.37).sin()).collect();
        let ours = Var::from_tensor(&Tensor::from_vec(init.clone(), (3, 4), &dev)?)?;
        let theirs = Var::from_tensor(&Tensor::from_vec(init, (3, 4), &dev)?)?;
        let mut a = Adam::for_vars(1e-2, std::slice::from_ref(&ours))?;
        let mut b = AdamW::new(
            vec![theirs.clone()],
            ParamsAdamW {
                lr: 1e-2,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        let mut saved = None;
        for step in 0..20 {
            // Loss Σ (θ − 0.3)² · (k + 1): distinct gradients per element.
            let w = Tensor::from_vec((1..=12).map(|k| k as f32).collect(), (3, 4), &dev)?;
            let loss = |v: &Var| -> Result<Tensor> {
                Ok(((v.as_tensor() - 0.3)?.sqr()? * &w)?.sum_all()?)
            };
            a.step_store(std::slice::from_ref(&ours), &loss(&ours)?.backward()?)?;
            b.step(&loss(&theirs)?.backward()?)?;
            if step == 9 {
                saved = Some((a.state(), ours.as_tensor().copy()?));
            }
        }
        let bits = |v: &Tensor| -> Result<Vec<u32>> {
            Ok(v.flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .map(|x| x.to_bits())
                .collect())
        };
        assert_eq!(bits(ours.as_tensor())?, bits(theirs.as_tensor())?);
        assert_eq!(a.steps(), 20);
        // From the state after ten steps, ten more steps end where the uninterrupted run did.
        let (state, params) = saved.expect("saved at step 10");
        let again = Var::from_tensor(&params)?;
        let mut c = Adam::for_vars(1e-2, std::slice::from_ref(&again))?;
        c.set_state(state)?;
        for _ in 10..20 {
            let w = Tensor::from_vec((1..=12).map(|k| k as f32).collect(), (3, 4), &dev)?;
            let loss = ((again.as_tensor() - 0.3)?.sqr()? * &w)?.sum_all()?;
            c.step_store(std::slice::from_ref(&again), &loss.backward()?)?;
        }
        assert_eq!(bits(again.as_tensor())?, bits(ours.as_tensor())?);
        // A state of another size or rate is refused.
        let mut small = Adam::new(1e-2, 3)?;
        assert!(small.set_state(a.state()).is_err());
        let mut other = Adam::new(1e-3, 12)?;
        assert!(other.set_state(a.state()).is_err());
        assert!(Adam::new(0.0, 3).is_err() && Adam::new(f64::NAN, 3).is_err());
        Ok(())
    }
}
