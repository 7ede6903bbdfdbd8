//! Per-episode returns, kept in every cell's result so that intervals can resample episodes as
//! well as seeds. In memory a [`Series`] is a list of numbers; in a result file it is the
//! base64 of their little-endian `f32` bytes (about 5.3 kB for 1,000 episodes, against some
//! 10 kB as JSON numbers). `f32` holds a return to about seven significant digits, far finer
//! than any interval drawn from it; the cell's means are kept beside the series in full.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value per episode, in the order the episodes were played (episode `k` of one series
/// met the same start, and in asynchronous games the same participation draws, as episode `k`
/// of any other series played on the same seed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series(pub Vec<f64>);

impl Series {
    /// The values.
    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// Their mean (NaN for none).
    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    /// The values as they are stored: rounded to `f32`.
    pub fn stored(values: &[f64]) -> Self {
        Series(values.iter().map(|&v| f64::from(v as f32)).collect())
    }
}

impl Serialize for Series {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self
            .0
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect();
        s.serialize_str(&STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|e| D::Error::custom(format!("per-episode returns: not base64 ({e})")))?;
        if bytes.len() % 4 != 0 {
            return Err(D::Error::custom(format!(
                "per-episode returns: {} bytes, expected a multiple of 4 (little-endian f32)",
                bytes.len()
            )));
        }
        let values: Vec<f64> = bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(D::Error::custom(format!(
                "per-episode returns: episode {k} is {}, expected a finite number",
                values[k]
            )));
        }
        Ok(Series(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_round_trips_at_f32_precision_and_bad_text_is_refused() {
        let s = Series::stored(&[-12.345_678_9, 0.0, 24.5, -93.2]);
        let text = serde_json::to_string(&s).expect("serializes");
        assert!(text.starts_with('"'), "{text}");
        let back: Series = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, s);
        assert!((back.0[0] - -12.345_678_9).abs() < 1e-5);
        let e = serde_json::from_str::<Series>("\"AAA\"").expect_err("3 bytes");
        assert!(e.to_string().contains("not base64") || e.to_string().contains("multiple of 4"));
        let nan = STANDARD.encode(f32::NAN.to_le_bytes());
        let e = serde_json::from_str::<Series>(&format!("\"{nan}\"")).expect_err("NaN");
        assert!(e.to_string().contains("episode 0"), "{e}");
    }
}
