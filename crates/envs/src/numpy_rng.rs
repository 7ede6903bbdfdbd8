//! numpy's `Generator(PCG64(SeedSequence(seed)))`, so that `reset` from an integer seed draws the
//! same initial states as mpe2 (`shared/docs/mpe-spec.md`, appendix A).
//!
//! It implements [`rand::RngCore`] with numpy's semantics: `next_u64` is one PCG64 output and
//! `next_u32` serves the low half of an output, then the cached high half. Scenario resets draw
//! through [`uniform`] and [`integers`], which reproduce numpy's `uniform` and `integers` on this
//! generator and are ordinary uniform draws on any other RNG.

use rand::RngCore;

const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_L: u32 = 0xca01_f9dd;
const MIX_R: u32 = 0x4973_f715;
const PCG_MULT: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;

/// numpy's PCG64 bit generator seeded through `SeedSequence`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumpyRng {
    state: u128,
    inc: u128,
    cached_u32: Option<u32>,
}

fn hashmix(value: u32, h: &mut u32) -> u32 {
    let mut v = value ^ *h;
    *h = h.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*h);
    v ^ (v >> 16)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_L.wrapping_mul(x).wrapping_sub(MIX_R.wrapping_mul(y));
    r ^ (r >> 16)
}

impl NumpyRng {
    /// The generator numpy builds for `default_rng(seed)` / `reset(seed=seed)`.
    pub fn from_seed(seed: u128) -> Self {
        // Seed words, little-endian 32-bit; 0 is the single word [0].
        let mut words = Vec::new();
        let mut s = seed;
        loop {
            words.push(s as u32);
            s >>= 32;
            if s == 0 {
                break;
            }
        }
        let mut h = INIT_A;
        let mut pool = [0u32; 4];
        for (i, p) in pool.iter_mut().enumerate() {
            *p = hashmix(words.get(i).copied().unwrap_or(0), &mut h);
        }
        for src in 0..4 {
            for dst in 0..4 {
                if src != dst {
                    let hv = hashmix(pool[src], &mut h);
                    pool[dst] = mix(pool[dst], hv);
                }
            }
        }
        for &w in words.iter().skip(4) {
            for p in pool.iter_mut() {
                let hv = hashmix(w, &mut h);
                *p = mix(*p, hv);
            }
        }
        // generate_state(4, uint64).
        let mut h = INIT_B;
        let mut out = [0u32; 8];
        for (i, o) in out.iter_mut().enumerate() {
            let mut v = pool[i % 4] ^ h;
            h = h.wrapping_mul(MULT_B);
            v = v.wrapping_mul(h);
            *o = v ^ (v >> 16);
        }
        let w: Vec<u64> = out
            .chunks(2)
            .map(|p| u64::from(p[0]) | (u64::from(p[1]) << 32))
            .collect();
        let initstate = (u128::from(w[0]) << 64) | u128::from(w[1]);
        let initseq = (u128::from(w[2]) << 64) | u128::from(w[3]);
        let mut rng = Self {
            state: 0,
            inc: (initseq << 1) | 1,
            cached_u32: None,
        };
        rng.advance();
        rng.state = rng.state.wrapping_add(initstate);
        rng.advance();
        rng
    }

    fn advance(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }
}

impl RngCore for NumpyRng {
    fn next_u64(&mut self) -> u64 {
        self.advance();
        let hi = (self.state >> 64) as u64;
        let lo = self.state as u64;
        (hi ^ lo).rotate_right((self.state >> 122) as u32)
    }

    fn next_u32(&mut self) -> u32 {
        if let Some(v) = self.cached_u32.take() {
            return v;
        }
        let x = self.next_u64();
        self.cached_u32 = Some((x >> 32) as u32);
        x as u32
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// numpy's `random()`: 53 random bits from one 64-bit output, as a float in [0, 1).
pub fn unit(rng: &mut dyn RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// numpy's `uniform(lo, hi)`: `lo + (hi - lo) * random()`.
pub fn uniform(rng: &mut dyn RngCore, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// numpy's `integers(n)` for small `n`: Lemire's method on the 32-bit stream, without bias.
pub fn integers(rng: &mut dyn RngCore, n: u32) -> u32 {
    assert!(n > 0, "integers(n) needs n > 0");
    let mut m = u64::from(rng.next_u32()) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(n);
        }
    }
    (m >> 32) as u32
}
