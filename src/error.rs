//! One error type for the whole library. Every variant has a stable `code` that JS sees as `error.code`,
//! and a message that names the row and field it concerns.

use std::fmt;

/// Where in an input file a problem was found. Lines and rows count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// 1-based line (JSONL, CSV) or element index + 1 (JSON array).
    pub row: usize,
    /// The field or column, when one is to blame.
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "row {}, field `{field}`", self.row),
            None => write!(f, "row {}", self.row),
        }
    }
}

/// Errors of arbiter. `code()` is stable across releases; messages may improve. The JS layer adds three codes of
/// its own: `CANCELLED` (an AbortSignal fired), `NOT_INITIALIZED` (no `init()` yet) and `FREED` (use after `free()`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input could not be parsed at all (bad JSON, bad CSV quoting, wrong top-level shape).
    #[error("{at}: {message}")]
    Parse { at: Location, message: String },
    /// A required field is absent or empty.
    #[error("{at}: missing value")]
    MissingField { at: Location },
    /// A winner label that the label mapping does not know.
    #[error("{at}: unknown winner label `{label}` (expected one of {expected})")]
    UnknownLabel { at: Location, label: String, expected: String },
    /// A number that is not finite or not in range (counts, weights).
    #[error("{at}: invalid number `{value}`: {why}")]
    InvalidNumber { at: Location, value: String, why: &'static str },
    /// A battle of a model against itself.
    #[error("{at}: self-battle of `{model}` (a model cannot play itself)")]
    SelfBattle { at: Location, model: String },
    /// No battles left to rank.
    #[error("no battles to rank{0}")]
    Empty(String),
    /// A model name given in options (anchor, baseline) that is not in the data.
    #[error("unknown model `{model}` in option `{option}`")]
    UnknownModel { model: String, option: &'static str },
    /// An option value out of its range.
    #[error("invalid option `{option}`: {why}")]
    InvalidOption { option: &'static str, why: String },
    /// The GPU could not run the work (no adapter, device lost, out of memory).
    #[error("gpu: {0}")]
    Gpu(String),
    /// Model files that are missing, malformed or unsupported (architecture, dtype, shape), named.
    #[error("model: {0}")]
    Model(String),
}

impl Error {
    /// The stable machine-readable code, e.g. `"UNKNOWN_LABEL"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "PARSE",
            Error::MissingField { .. } => "MISSING_FIELD",
            Error::UnknownLabel { .. } => "UNKNOWN_LABEL",
            Error::InvalidNumber { .. } => "INVALID_NUMBER",
            Error::SelfBattle { .. } => "SELF_BATTLE",
            Error::Empty(_) => "EMPTY",
            Error::UnknownModel { .. } => "UNKNOWN_MODEL",
            Error::InvalidOption { .. } => "INVALID_OPTION",
            Error::Gpu(_) => "GPU",
            Error::Model(_) => "MODEL",
        }
    }

    /// The row the error concerns, if any.
    pub fn row(&self) -> Option<usize> {
        match self {
            Error::Parse { at, .. }
            | Error::MissingField { at }
            | Error::UnknownLabel { at, .. }
            | Error::InvalidNumber { at, .. }
            | Error::SelfBattle { at, .. } => Some(at.row),
            _ => None,
        }
    }

    /// An `INVALID_OPTION` error.
    pub fn option(option: &'static str, why: impl Into<String>) -> Self {
        Error::InvalidOption { option, why: why.into() }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
