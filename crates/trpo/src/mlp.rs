//! A multilayer perceptron with explicit parameters, seeded initialisation and a forward-mode
//! JVP, which candle (without second-order autograd) needs for exact Fisher-vector products.

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrpoError};

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// max(0, x): about 170× cheaper than tanh in candle on CPU (tanh is scalar libm there).
    Relu,
    /// tanh, the classic TRPO choice.
    Tanh,
}

/// `h Wᵀ + b`, with the bias entering through a matmul with a column of ones: its gradient is
/// then one more matrix product instead of candle's strided reduction over the batch, which
/// took about a third of a value-function fit (measured with perf on `cargo xtask bench trpo`).
fn affine(h: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let n = h.dim(0)?;
    let ones = Tensor::ones((n, 1), h.dtype(), h.device())?;
    let out = b.dim(0)?;
    Ok((h.matmul(&w.t()?)? + ones.matmul(&b.reshape((1, out))?)?)?)
}

/// What [`Mlp::jvp_trace`] keeps: the output, its tangent, every layer's input and every hidden
/// activation's derivative.
struct JvpTrace {
    out: Tensor,
    jv: Tensor,
    inputs: Vec<Tensor>,
    derivs: Vec<Tensor>,
}

/// Layers `dims[0] → dims[1] → … → dims[L]`, the activation after every layer but the last.
#[derive(Clone, Debug)]
pub struct Mlp {
    dims: Vec<usize>,
    act: Activation,
    /// Per layer: weight `(out, in)` and bias `(out,)`.
    layers: Vec<(Var, Var)>,
}

/// `f` of a matrix product's values in row-major order. On the CPU it reads the product's own
/// storage: copying it out first (`to_vec1`) was a tenth of a discriminator step, for values that
/// are read once (to add the bias, or to mask by the activation's derivative) and dropped.
fn host_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    if t.dtype() == DType::F32 && t.is_contiguous() {
        let (storage, layout) = t.storage_and_layout();
        if let candle_core::Storage::Cpu(cpu) = &*storage {
            let all = cpu.as_slice::<f32>()?;
            let start = layout.start_offset();
            return Ok(f(&all[start..start + t.elem_count()]));
        }
    }
    Ok(f(&t.flatten_all()?.to_vec1::<f32>()?))
}

impl Mlp {
    /// Initialises every layer uniformly in ±1/√fan_in (PyTorch's `Linear` default), the last
    /// layer scaled by `last_scale` (a small scale starts a policy near uniform), all from `rng`.
    pub fn new(
        dims: &[usize],
        act: Activation,
        last_scale: f64,
        rng: &mut impl Rng,
        dtype: DType,
        dev: &Device,
    ) -> Result<Self> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(TrpoError::Config {
                field: "dims",
                reason: format!(
                    "need at least an input and an output size, all positive: {dims:?}"
                ),
            });
        }
        let mut layers = Vec::new();
        for l in 0..dims.len() - 1 {
            let (i, o) = (dims[l], dims[l + 1]);
            let bound = 1.0 / (i as f64).sqrt();
            let scale = if l + 2 == dims.len() { last_scale } else { 1.0 };
            let w: Vec<f64> = (0..i * o)
                .map(|_| rng.random_range(-bound..bound) * scale)
                .collect();
            let b: Vec<f64> = (0..o)
                .map(|_| rng.random_range(-bound..bound) * scale)
                .collect();
            let w = Tensor::from_vec(w, (o, i), dev)?.to_dtype(dtype)?;
            let b = Tensor::from_vec(b, o, dev)?.to_dtype(dtype)?;
            layers.push((Var::from_tensor(&w)?, Var::from_tensor(&b)?));
        }
        Ok(Self {
            dims: dims.to_vec(),
            act,
            layers,
        })
    }

    /// An MLP on given parameters, one `(weight (out, in), bias (out,))` per layer, for a network
    /// initialised its own way (the discriminator draws its weights in f32). The shapes must
    /// chain.
    pub fn from_layers(act: Activation, layers: Vec<(Var, Var)>) -> Result<Self> {
        let mut dims = Vec::with_capacity(layers.len() + 1);
        for (l, (w, b)) in layers.iter().enumerate() {
            let (o, i) = w.as_tensor().dims2()?;
            if l == 0 {
                dims.push(i);
            }
            if dims[l] != i || b.as_tensor().dims() != [o] {
                return Err(TrpoError::Config {
                    field: "layers",
                    reason: format!(
                        "layer {l} has weight {:?} and bias {:?}, expected ({o}, {}) and ({o},)",
                        w.as_tensor().dims(),
                        b.as_tensor().dims(),
                        dims[l]
                    ),
                });
            }
            dims.push(o);
        }
        if layers.is_empty() {
            return Err(TrpoError::Config {
                field: "layers",
                reason: "no layers".into(),
            });
        }
        Ok(Self { dims, act, layers })
    }

    /// Every layer's `(weight, bias)`.
    pub fn layers(&self) -> &[(Var, Var)] {
        &self.layers
    }

    /// A copy on `dev` (new variables: later training of either leaves the other as it is).
    pub fn to_device(&self, dev: &Device) -> Result<Self> {
        let copy = |v: &Var| -> Result<Var> {
            let t = v.as_tensor();
            let t = if t.device().same_device(dev) {
                t.copy()?
            } else {
                t.to_device(dev)?
            };
            Ok(Var::from_tensor(&t)?)
        };
        let layers = self
            .layers
            .iter()
            .map(|(w, b)| Ok((copy(w)?, copy(b)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            dims: self.dims.clone(),
            act: self.act,
            layers,
        })
    }

    /// Layer sizes.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.act
    }

    /// The parameters in a fixed order: w0, b0, w1, b1, ….
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// Parameter names matching [`vars`](Self::vars), for checkpoints.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        (0..self.layers.len())
            .flat_map(|l| {
                [
                    format!("{prefix}.l{l}.weight"),
                    format!("{prefix}.l{l}.bias"),
                ]
            })
            .collect()
    }

    fn activate(&self, z: &Tensor) -> Result<Tensor> {
        Ok(match self.act {
            Activation::Relu => z.relu()?,
            Activation::Tanh => z.tanh()?,
        })
    }

    /// The output for a batch `x` of shape `(N, dims[0])`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let z = affine(&h, w.as_tensor(), b.as_tensor())?;
            h = if l + 1 < self.layers.len() {
                self.activate(&z)?
            } else {
                z
            };
        }
        Ok(h)
    }

    /// Forward-mode JVP: the output and its directional derivative along the parameter tangent
    /// `tangent` (one `(dW, db)` per layer, shaped like the parameters). Carries `(h, dh)`:
    /// `z = h Wᵀ + b`, `dz = h dWᵀ + dh Wᵀ + db`, then `da = f'(z) ⊙ dz`.
    pub fn jvp(&self, x: &Tensor, tangent: &[(Tensor, Tensor)]) -> Result<(Tensor, Tensor)> {
        let t = self.jvp_trace(x, tangent)?;
        Ok((t.out, t.jv))
    }

    /// `Jᵀ u` with `u = seed(output, J v)`: one forward-mode pass along the tangent `v` (as in
    /// [`jvp`](Self::jvp)), then one reverse pass through the same layers with `u` as the
    /// output gradient. Returns the gradient of every parameter, shaped like it, in the order
    /// of [`vars`](Self::vars). This is a Fisher-vector product's whole network part
    /// (`seed` applies the output distribution's Fisher); it runs in the network's float type
    /// on detached tensors, so candle builds no autograd graph (whose zero tensor and addition
    /// per node cost more than these small products; docs/benchmarks.md).
    pub fn jvp_vjp(
        &self,
        x: &Tensor,
        tangent: &[(Tensor, Tensor)],
        seed: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor>,
    ) -> Result<Vec<Tensor>> {
        let t = self.jvp_trace(x, tangent)?;
        let n = x.dim(0)?;
        let mut g = seed(&t.out, &t.jv)?;
        if g.dims() != t.out.dims() {
            return Err(TrpoError::Size {
                what: "output gradient elements",
                expected: t.out.elem_count(),
                got: g.elem_count(),
            });
        }
        // Bias gradients as a product with a row of ones: candle's reduction over the batch
        // dimension is strided and slower (see `affine`).
        let ones = Tensor::ones((1, n), x.dtype(), x.device())?;
        let depth = self.layers.len();
        let mut grads = vec![None; 2 * depth];
        for l in (0..depth).rev() {
            let width = self.dims[l + 1];
            grads[2 * l] = Some(g.t()?.matmul(&t.inputs[l])?);
            grads[2 * l + 1] = Some(ones.matmul(&g)?.reshape(width)?);
            if l == 0 {
                break;
            }
            let w = self.layers[l].0.as_tensor().detach();
            g = (g.matmul(&w)? * &t.derivs[l - 1])?;
        }
        grads
            .into_iter()
            .map(|g| {
                g.ok_or(TrpoError::Config {
                    field: "dims",
                    reason: "no layers".into(),
                })
            })
            .collect()
    }

    /// The forward-mode pass of [`jvp`](Self::jvp), keeping what a reverse pass needs: each
    /// layer's input and each hidden activation's derivative at the pre-activation.
    fn jvp_trace(&self, x: &Tensor, tangent: &[(Tensor, Tensor)]) -> Result<JvpTrace> {
        if tangent.len() != self.layers.len() {
            return Err(TrpoError::Size {
                what: "tangent layers",
                expected: self.layers.len(),
                got: tangent.len(),
            });
        }
        let mut h = x.clone();
        let mut dh: Option<Tensor> = None;
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut derivs = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (l, ((w, b), (dw, db))) in self.layers.iter().zip(tangent).enumerate() {
            let w = w.as_tensor().detach();
            let z = affine(&h, &w, &b.as_tensor().detach())?;
            let mut dz = h.matmul(&dw.t()?)?.broadcast_add(db)?;
            if let Some(dh) = &dh {
                dz = (dz + dh.matmul(&w.t()?)?)?;
            }
            inputs.push(h);
            if l < last {
                let (a, d) = match self.act {
                    Activation::Relu => (z.relu()?, z.gt(0.0)?.to_dtype(z.dtype())?),
                    Activation::Tanh => {
                        let a = z.tanh()?;
                        let d = (1.0 - a.sqr()?)?;
                        (a, d)
                    }
                };
                dh = Some((dz * &d)?);
                derivs.push(d);
                h = a;
            } else {
                h = z;
                dh = Some(dz);
            }
        }
        let jv = dh.ok_or(TrpoError::Config {
            field: "dims",
            reason: "no layers".into(),
        })?;
        Ok(JvpTrace {
            out: h,
            jv,
            inputs,
            derivs,
        })
    }

    /// The output for `x` and a function of it, and the gradient of Σ dout ⊙ output with
    /// respect to every parameter, in the order of [`vars`](Self::vars), flattened (`f32`), where
    /// `dout = seed(output)` (row-major `(N, dims[L])`): a hand-written backward pass. candle's
    /// autograd computes the same gradients but allocates a zero tensor and an addition for
    /// every node, which for these small networks costs more than the arithmetic (the critic
    /// fit; docs/benchmarks.md).
    pub fn backward(
        &self,
        x: &Tensor,
        seed: impl FnOnce(&[f32]) -> Result<Vec<f32>>,
    ) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let n = x.dim(0)?;
        let depth = self.layers.len();
        // Each layer's input (a tensor, for the weight gradient) and its activation's derivative
        // information (the pre-activation for ReLU, 1 − tanh² for tanh). The bias and the
        // activation are applied to the product's values in one pass over plain memory: as
        // tensor ops they were two more passes and allocations per layer (a broadcast sum and
        // the activation), at the same values (x + b is the same f32 addition either way).
        let mut inputs = vec![x.to_dtype(DType::F32)?];
        let mut derivs: Vec<Vec<f32>> = Vec::with_capacity(depth);
        let mut out = Vec::new();
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let w = w.as_tensor().to_dtype(DType::F32)?;
            let bias = b.as_tensor().to_dtype(DType::F32)?.to_vec1::<f32>()?;
            let z = host_values(&inputs[l].matmul(&w.t()?)?, |p| {
                let mut z = Vec::with_capacity(p.len());
                for row in p.chunks_exact(bias.len()) {
                    z.extend(row.iter().zip(&bias).map(|(v, b)| v + b));
                }
                z
            })?;
            if l + 1 < depth {
                let width = bias.len();
                match self.act {
                    Activation::Relu => {
                        let a: Vec<f32> = z.iter().map(|&v| v.max(0.0)).collect();
                        inputs.push(Tensor::from_vec(a, (n, width), x.device())?);
                        derivs.push(z);
                    }
                    Activation::Tanh => {
                        let a: Vec<f32> = z.iter().map(|&v| v.tanh()).collect();
                        derivs.push(a.iter().map(|&v| 1.0 - v * v).collect());
                        inputs.push(Tensor::from_vec(a, (n, width), x.device())?);
                    }
                }
            } else {
                out = z;
            }
        }
        let mut dz = seed(&out)?;
        if dz.len() != out.len() {
            return Err(TrpoError::Size {
                what: "output gradient",
                expected: out.len(),
                got: dz.len(),
            });
        }
        let mut grads = vec![Vec::new(); 2 * depth];
        for l in (0..depth).rev() {
            let width = self.dims[l + 1];
            let mut gb = vec![0.0f32; width];
            for row in dz.chunks_exact(width) {
                for (acc, v) in gb.iter_mut().zip(row) {
                    *acc += v;
                }
            }
            let dzt = Tensor::from_vec(dz, (n, width), x.device())?;
            grads[2 * l] = dzt
                .t()?
                .matmul(&inputs[l])?
                .flatten_all()?
                .to_vec1::<f32>()?;
            grads[2 * l + 1] = gb;
            if l == 0 {
                break;
            }
            let w = self.layers[l].0.as_tensor().to_dtype(DType::F32)?;
            let d = &derivs[l - 1];
            dz = host_values(&dzt.matmul(&w)?, |p| match self.act {
                // A select, not a branch, so that it vectorises.
                Activation::Relu => p
                    .iter()
                    .zip(d)
                    .map(|(&g, &z)| if z > 0.0 { g } else { 0.0 })
                    .collect(),
                Activation::Tanh => p.iter().zip(d).map(|(&g, &v)| g * v).collect(),
            })?;
        }
        Ok((out, grads))
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        self.layers
            .iter()
            .map(|(w, b)| w.as_tensor().elem_count() + b.as_tensor().elem_count())
            .sum()
    }
}

/// All parameters flattened into one vector (in the order of `vars`).
pub fn flatten(vars: &[Var]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for v in vars {
        out.extend(
            v.as_tensor()
                .flatten_all()?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?,
        );
    }
    Ok(out)
}

/// Splits a flat vector into tensors shaped like `vars`.
pub fn unflatten(vars: &[Var], flat: &[f64]) -> Result<Vec<Tensor>> {
    let total: usize = vars.iter().map(|v| v.as_tensor().elem_count()).sum();
    if flat.len() != total {
        return Err(TrpoError::Size {
            what: "flat parameters",
            expected: total,
            got: flat.len(),
        });
    }
    let mut off = 0;
    let mut out = Vec::with_capacity(vars.len());
    for v in vars {
        let t = v.as_tensor();
        let n = t.elem_count();
        out.push(
            Tensor::from_slice(&flat[off..off + n], t.shape(), t.device())?.to_dtype(t.dtype())?,
        );
        off += n;
    }
    Ok(out)
}

/// Sets every parameter from a flat vector.
pub fn set_flat(vars: &[Var], flat: &[f64]) -> Result<()> {
    for (v, t) in vars.iter().zip(unflatten(vars, flat)?) {
        v.set(&t)?;
    }
    Ok(())
}
