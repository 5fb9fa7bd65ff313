//! Numerical helpers of the reward module: the logistic pieces, small vector products and input checks. The
//! L-BFGS minimiser is [`crate::optim::minimise`].

use crate::error::{Error, Result};
pub(crate) use crate::rank::bt::{sigmoid, softplus};

/// Σ a_i b_i.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Σ a_i b_i with an f32 left side, in f64.
pub(crate) fn dot32(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

/// ‖a‖₂.
pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// An f32 row in f64.
pub(crate) fn widen(row: &[f32]) -> Vec<f64> {
    row.iter().map(|v| f64::from(*v)).collect()
}

/// softmax(x), stable (the largest logit is subtracted first).
pub(crate) fn softmax(x: &[f64]) -> Vec<f64> {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// The BT loss of a vote with score y ∈ [0, 1] at logit z = s_a − s_b: y·softplus(−z) + (1 − y)·softplus(z).
pub(crate) fn vote_loss(y: f64, z: f64) -> f64 {
    y * softplus(-z) + (1.0 - y) * softplus(z)
}

/// Rejects a non-finite value of `option`, naming its position.
pub(crate) fn check_finite(option: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::option(option, format!("value {i} is {}, not finite", values[i]))),
        None => Ok(()),
    }
}

/// Checks that a rows×columns table (`rows[i]` of equal lengths ≥ 1) is non-empty, rectangular and finite.
/// Returns the column count.
pub(crate) fn check_table(option: &'static str, rows: &[Vec<f64>]) -> Result<usize> {
    let Some(first) = rows.first() else {
        return Err(Error::Empty(format!(" (no rows in `{option}`)")));
    };
    let width = first.len();
    if width == 0 {
        return Err(Error::option(option, "row 0 is empty"));
    }
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(Error::option(option, format!("row {i} has {} values, row 0 has {width}", row.len())));
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::option(option, format!("row {i} has a non-finite value ({}) at {j}", row[j])));
        }
    }
    Ok(width)
}
