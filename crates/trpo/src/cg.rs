//! Matrix-free conjugate gradient for `A x = b` with `A` symmetric positive definite, given only
//! the product `v ↦ A v` (the damped Fisher-vector product in TRPO).

use crate::error::{Result, TrpoError};

/// Settings of [`conjugate_gradient`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CgConfig {
    /// Maximum iterations (TRPO's classic 10 is enough for a useful direction).
    pub iters: usize,
    /// Stop once the squared residual norm falls below this.
    pub residual_tol: f64,
}

impl Default for CgConfig {
    fn default() -> Self {
        Self {
            iters: 10,
            residual_tol: 1e-10,
        }
    }
}

/// The approximate solution.
#[derive(Clone, Debug, PartialEq)]
pub struct CgSolution {
    /// x ≈ A⁻¹ b.
    pub x: Vec<f64>,
    /// Iterations run.
    pub iters: usize,
    /// Final squared residual norm ‖b − A x‖².
    pub residual_sq: f64,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `A x = b` from `x = 0`, calling `matvec` once per iteration.
/// Stops early on a tiny residual, or when `A` shows a non-positive curvature along the search
/// direction (then the iterate so far is returned, as sb3 and Spinning Up do).
pub fn conjugate_gradient(
    mut matvec: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    b: &[f64],
    cfg: &CgConfig,
) -> Result<CgSolution> {
    if b.iter().any(|v| !v.is_finite()) {
        return Err(TrpoError::NonFinite {
            what: "CG right-hand side",
        });
    }
    let mut x = vec![0.0; b.len()];
    let mut r = b.to_vec();
    let mut p = b.to_vec();
    let mut rr = dot(&r, &r);
    let mut it = 0;
    while it < cfg.iters && rr > cfg.residual_tol {
        let ap = matvec(&p)?;
        if ap.len() != b.len() {
            return Err(TrpoError::Size {
                what: "matrix-vector product",
                expected: b.len(),
                got: ap.len(),
            });
        }
        let pap = dot(&p, &ap);
        if !pap.is_finite() {
            return Err(TrpoError::NonFinite {
                what: "CG curvature pᵀAp",
            });
        }
        if pap <= 0.0 {
            break;
        }
        let alpha = rr / pap;
        for i in 0..x.len() {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        let rr_new = dot(&r, &r);
        let beta = rr_new / rr;
        for i in 0..p.len() {
            p[i] = r[i] + beta * p[i];
        }
        rr = rr_new;
        it += 1;
    }
    Ok(CgSolution {
        x,
        iters: it,
        residual_sq: rr,
    })
}
