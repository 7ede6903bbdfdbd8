//! The discriminator's training step: labelled sets, the loss and its gradient (by the MLP
//! core's hand-written backward pass, or by autograd with the gradient penalty on), the Adam step.

use super::*;

impl Discriminator {
    /// `cfg.steps` gradient steps telling `expert` inputs (label 1) from `policy` inputs (label 0).
    /// Returns the statistics measured before the first step.
    pub fn train_step(&mut self, expert: &[f32], policy: &[f32]) -> Result<DiscStats, GailError> {
        self.train_step_labelled(&[(expert, 1.0), (policy, 0.0)])
    }

    /// `cfg.steps` gradient steps on sets of inputs with a target each (the zero-sum prior's
    /// paired labelling uses 1, ½ and 0), every set weighing the same; label smoothing ε maps a
    /// target y to y(1 − 2ε) + ε. The statistics report the first set as "expert" (logit > 0)
    /// and the last as "policy" (logit < 0); the gradient penalty interpolates between them.
    pub fn train_step_labelled(&mut self, sets: &[(&[f32], f64)]) -> Result<DiscStats, GailError> {
        let sets: Vec<LabelledSet> = sets
            .iter()
            .map(|&(inputs, target)| LabelledSet {
                inputs,
                target,
                mask: None,
            })
            .collect();
        self.train_sets(&sets)
    }

    /// [`train_step_labelled`](Self::train_step_labelled) with optional per-logit weights
    /// ([`LabelledSet::mask`]); the accuracies then count the logits of nonzero weight. The
    /// gradient penalty, when on, still constrains every output on interpolates of the first
    /// and last sets.
    pub fn train_sets(&mut self, sets: &[LabelledSet]) -> Result<DiscStats, GailError> {
        if sets.len() < 2 {
            return Err(GailError::Config {
                field: "sets",
                reason: format!("need at least two labelled sets, got {}", sets.len()),
            });
        }
        let eps = self.cfg.label_smoothing;
        let mut xs = Vec::with_capacity(sets.len());
        for (k, set) in sets.iter().enumerate() {
            let (x, y) = (set.inputs, &set.target);
            if !(0.0..=1.0).contains(y) {
                return Err(GailError::Config {
                    field: "target",
                    reason: format!("set {k} has target {y}, expected a value in [0, 1]"),
                });
            }
            let what = match k {
                0 => "expert inputs",
                _ if k + 1 == sets.len() => "policy inputs",
                _ => "labelled inputs",
            };
            let t = self.rows(x, what)?;
            // An empty set would weigh nothing without the penalty and be NaN with it: refused
            // on both paths alike.
            if t.dim(0)? == 0 {
                return Err(GailError::Config {
                    field: "sets",
                    reason: format!("set {k} ({what}) is empty; every set needs a row"),
                });
            }
            let mask = match set.mask {
                None => None,
                Some(m) => {
                    let want = t.dim(0)? * self.outputs;
                    if m.len() != want {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!(
                                "set {k} ({what}): {} weights, expected {want} (rows × outputs)",
                                m.len()
                            ),
                        });
                    }
                    if m.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!("set {k} ({what}): weights must be finite and ≥ 0"),
                        });
                    }
                    if !m.iter().any(|w| *w > 0.0) {
                        return Err(GailError::Config {
                            field: "mask",
                            reason: format!("set {k} ({what}): every logit is masked out"),
                        });
                    }
                    Some(m.to_vec())
                }
            };
            xs.push((t, y * (1.0 - 2.0 * eps) + eps, mask));
        }
        let mut first = None;
        // The rows a minibatch may draw from, per set: all of them, or with a mask those with
        // some weight, so that no minibatch of a set is weighted out entirely (its loss would
        // be 0/0).
        let outputs = self.outputs;
        let live: Vec<Vec<u32>> = xs
            .iter()
            .map(|(x, _, mask)| -> Result<Vec<u32>, GailError> {
                let n = x.dim(0)?;
                Ok(match mask {
                    None => (0..n as u32).collect(),
                    Some(w) => (0..n)
                        .filter(|&r| w[r * outputs..(r + 1) * outputs].iter().any(|&v| v > 0.0))
                        .map(|r| r as u32)
                        .collect(),
                })
            })
            .collect::<Result<_, _>>()?;
        let min_rows = live.iter().map(Vec::len).min().unwrap_or(1);
        let m = self.cfg.minibatches.clamp(1, min_rows.max(1));
        let dev = self.dev.clone();
        let minibatch = |step: usize| -> Result<Vec<Set>, GailError> {
            if m == 1 {
                return Ok(xs.clone());
            }
            xs.iter()
                .zip(&live)
                .map(|((x, y, mask), live)| {
                    let rows: Vec<u32> = live.iter().skip(step % m).step_by(m).copied().collect();
                    let ids = Tensor::from_slice(&rows, rows.len(), &dev)?;
                    let mask = mask.as_ref().map(|w| {
                        rows.iter()
                            .flat_map(|&r| {
                                let r = r as usize;
                                w[r * outputs..(r + 1) * outputs].iter().copied()
                            })
                            .collect()
                    });
                    Ok((x.index_select(&ids, 0)?, *y, mask))
                })
                .collect()
        };
        if self.gp_rng.is_none() {
            // The whole batch is the same at every step: stacked once.
            let whole = (m == 1).then(|| stack(&xs)).transpose()?;
            for step in 0..self.cfg.steps.max(1) {
                let (l, stats, grads) = match &whole {
                    Some(x) => self.loss_and_grads(x, &xs)?,
                    None => {
                        let sets = minibatch(step)?;
                        self.loss_and_grads(&stack(&sets)?, &sets)?
                    }
                };
                if !l.is_finite() {
                    return Err(GailError::NonFinite);
                }
                first.get_or_insert(stats);
                self.apply(grads)?;
            }
            return Ok(first.unwrap_or_default());
        }
        for step in 0..self.cfg.steps.max(1) {
            let xs = minibatch(step)?;
            let (bce, logits) = self.graph_loss(&xs)?;
            let l = f64::from(bce.to_scalar::<f32>()?);
            if !l.is_finite() {
                return Err(GailError::NonFinite);
            }
            let (xe, xp) = (&xs[0].0, &xs[xs.len() - 1].0);
            let (loss, gp) = match self.penalty(xe, xp)? {
                Some(gp) => {
                    let v = f64::from(gp.to_scalar::<f32>()?);
                    if !v.is_finite() {
                        return Err(GailError::NonFinite);
                    }
                    ((bce + (gp * self.cfg.gradient_penalty)?)?, v)
                }
                None => (bce, 0.0),
            };
            if first.is_none() {
                let frac = |k: usize, expert: bool| -> Result<f64, GailError> {
                    let v: Vec<f32> = logits[k].flatten_all()?.to_vec1()?;
                    Ok(accuracy(&v, xs[k].2.as_deref(), expert))
                };
                first = Some(DiscStats {
                    loss: l,
                    acc_expert: frac(0, true)?,
                    acc_policy: frac(logits.len() - 1, false)?,
                    gradient_penalty: gp,
                });
            }
            self.opt.step_store(&self.mlp.vars(), &loss.backward()?)?;
        }
        Ok(first.unwrap_or_default())
    }

    /// The loss of [`masked_loss`] on `sets` as a candle graph (differentiable by autograd), and
    /// each set's logits.
    pub(super) fn graph_loss(&self, sets: &[Set]) -> Result<(Tensor, Vec<Tensor>), GailError> {
        let logits = sets
            .iter()
            .map(|(x, _, _)| self.forward(x))
            .collect::<Result<Vec<_>, _>>()?;
        let masks = sets
            .iter()
            .zip(&logits)
            .map(|((_, _, mask), l)| {
                mask.as_ref()
                    .map(|w| Tensor::from_slice(w, l.shape(), &self.dev))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let triples: Vec<(&Tensor, f64, Option<&Tensor>)> = logits
            .iter()
            .zip(sets)
            .zip(&masks)
            .map(|((l, (_, y, _)), w)| (l, *y, w.as_ref()))
            .collect();
        Ok((masked_loss(&triples)?, logits))
    }

    /// The loss of [`labelled_loss`] on `sets` (whose rows, stacked, are `x`: [`stack`]), the
    /// statistics of [`DiscStats`] and the gradient
    /// of the loss for every layer's weight and bias (in the order of `Mlp::vars`), by the MLP
    /// core's hand-written backward pass ([`Mlp::backward`]) over all sets at once: one matrix
    /// product per layer and direction on the stacked rows instead of one per set. candle's
    /// autograd gives the same gradients but built a zero tensor and an addition for every node
    /// and a strided reduction for every bias (`perf`: 58% of a MAGAIL iteration). Used whenever
    /// the gradient penalty is off (the penalty differentiates an input gradient, which stays
    /// with autograd).
    pub(super) fn loss_and_grads(
        &self,
        x: &Tensor,
        sets: &[Set],
    ) -> Result<(f64, DiscStats, Vec<Vec<f32>>), GailError> {
        let rows: Vec<usize> = sets
            .iter()
            .map(|(x, _, _)| x.dim(0))
            .collect::<Result<_, _>>()?;
        let outputs = self.outputs;
        let n_sets = sets.len() as f64;
        let mut loss = 0.0;
        let mut stats = DiscStats::default();
        let (_, grads) = self.mlp.backward(x, |logits: &[f32]| {
            // softplus(L) − y·L per logit, stable for large |L|; its derivative is σ(L) − y.
            // Each set weighs the same: its mean over its (weighted) logits.
            let mut dz: Vec<f32> = Vec::with_capacity(logits.len());
            let mut start = 0;
            for (si, ((_, y, mask), &n)) in sets.iter().zip(&rows).enumerate() {
                let set = &logits[start * outputs..(start + n) * outputs];
                start += n;
                // A logit's weight: its mask's, or 1 (and 1·x is x, so unmasked sets compute
                // what they did before weights existed, to the bit).
                let weight = |j: usize| mask.as_ref().map_or(1.0, |w| f64::from(w[j]));
                let count: f64 = match mask {
                    None => set.len() as f64,
                    Some(w) => w.iter().map(|&m| f64::from(m)).sum(),
                };
                let scale = 1.0 / (count * n_sets);
                let mut set_loss = 0.0;
                for (j, &v) in set.iter().enumerate() {
                    let (v, m) = (f64::from(v), weight(j));
                    set_loss += m * (v.max(0.0) + (-v.abs()).exp().ln_1p() - y * v);
                    let sig = 1.0 / (1.0 + (-v).exp());
                    dz.push((m * (sig - y) * scale) as f32);
                }
                loss += set_loss / count / n_sets;
                if si == 0 {
                    stats.acc_expert = accuracy(set, mask.as_deref(), true);
                }
                if si + 1 == sets.len() {
                    stats.acc_policy = accuracy(set, mask.as_deref(), false);
                }
            }
            Ok(dz)
        })?;
        stats.loss = loss;
        Ok((loss, stats, grads))
    }

    /// One optimizer step with the given gradients (in the order of `Mlp::vars`, as
    /// [`Self::loss_and_grads`] returns them).
    pub(super) fn apply(&mut self, grads: Vec<Vec<f32>>) -> Result<(), GailError> {
        self.opt.step(&self.mlp.vars(), &grads)?;
        Ok(())
    }
}
