//! The error type of the optimizer.

use thiserror::Error;

/// What went wrong in a TRPO computation.
#[derive(Debug, Error)]
pub enum TrpoError {
    /// A tensor operation failed (shapes, devices, dtypes).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// Inputs of the wrong size.
    #[error("`{what}` has {got} values, expected {expected}")]
    Size {
        /// Which input.
        what: &'static str,
        /// Expected count.
        expected: usize,
        /// Given count.
        got: usize,
    },
    /// A NaN or infinity where a number is required.
    #[error("`{what}` is not finite")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
    },
    /// A bad configuration value.
    #[error("invalid configuration `{field}`: {reason}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint that cannot be used.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrpoError>;
