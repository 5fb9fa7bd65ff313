//! Best-of-N selection rules (spec 2.9), pure functions over candidate score data. Every argmax breaks ties by the
//! lowest index. Rewards are `candidates × attributes` tables; pairwise judges are K×K row-major matrices
//! P_ij = P(i ≻ j) with entries in [0, 1].

use serde::Serialize;

use super::heads::unit_direction;
use super::math::{check_finite, check_table, dot};
use crate::error::{Error, Result};
use crate::rank::nash;
use crate::rng::Stream;

/// Probabilities of the Nash mixture closer than this to the largest tie for its argmax.
pub const TIE: f64 = 1e-9;

/// The first index of the largest value (values finite, at least one).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Max scalar reward: argmax_i s_i.
pub fn best_score(scores: &[f64]) -> Result<usize> {
    if scores.is_empty() {
        return Err(Error::Empty(" (no candidates)".into()));
    }
    check_finite("scores", scores)?;
    Ok(argmax(scores))
}

/// DPA (spec 2.2): argmax_i vᵀr_i with v normalised.
pub fn best_direction(rewards: &[Vec<f64>], direction: &[f64]) -> Result<usize> {
    let v = unit_direction(direction)?;
    best_score(&linear_rewards(rewards, &v)?)
}

/// MAP (spec 2.4): argmax_i λᵀr_i, λ ≥ 0 (e.g. [`super::map::solve_map`]'s λ).
pub fn best_weighted(rewards: &[Vec<f64>], lambda: &[f64]) -> Result<usize> {
    check_finite("lambda", lambda)?;
    if lambda.iter().any(|l| *l < 0.0) {
        return Err(Error::option("lambda", "MAP's λ is non-negative"));
    }
    best_score(&linear_rewards(rewards, lambda)?)
}

/// wᵀr_i for each candidate, after checking the table's width against w.
fn linear_rewards(rewards: &[Vec<f64>], w: &[f64]) -> Result<Vec<f64>> {
    let k = check_table("rewards", rewards)?;
    if k != w.len() {
        return Err(Error::option("rewards", format!("{k} attributes for {} weights", w.len())));
    }
    Ok(rewards.iter().map(|r| dot(r, w)).collect())
}

/// MaxMin (spec 1.9, 2.9): argmax_i min_k r_ik.
pub fn best_maxmin(rewards: &[Vec<f64>]) -> Result<usize> {
    check_table("rewards", rewards)?;
    let worst: Vec<f64> = rewards.iter().map(|r| r.iter().copied().fold(f64::INFINITY, f64::min)).collect();
    Ok(argmax(&worst))
}

/// How a batch win rate averages a candidate's row of P (spec 1.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WinRate {
    /// SPO: (1/(K−1)) Σ_{j≠i} P_ij (½ for a single candidate).
    #[default]
    Spo,
    /// SPPO's P̂: (1/K) Σ_j P_ij including the self term P_ii = ½ (whatever the diagonal holds).
    Sppo,
}

/// Checks a K×K matrix of probabilities.
fn check_matrix(preferences: &[f64], n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Empty(" (no candidates)".into()));
    }
    if preferences.len() != n * n {
        return Err(Error::option("preferences", format!("{} values for {n}×{n}", preferences.len())));
    }
    match preferences.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(k) => {
            Err(Error::option("preferences", format!("P[{}][{}] = {} is not in [0, 1]", k / n, k % n, preferences[k])))
        }
        None => Ok(()),
    }
}

/// Batch win rates of the candidates under P (spec 1.7, 2.8), SPO or SPPO.
pub fn win_rates(preferences: &[f64], n: usize, rule: WinRate) -> Result<Vec<f64>> {
    check_matrix(preferences, n)?;
    let others = |i: usize| -> f64 { (0..n).filter(|&j| j != i).map(|j| preferences[i * n + j]).sum() };
    Ok((0..n)
        .map(|i| match rule {
            WinRate::Spo if n == 1 => 0.5,
            WinRate::Spo => others(i) / (n - 1) as f64,
            WinRate::Sppo => (others(i) + 0.5) / n as f64,
        })
        .collect())
}

/// The candidate with the highest batch win rate.
pub fn best_win_rate(preferences: &[f64], n: usize, rule: WinRate) -> Result<usize> {
    Ok(argmax(&win_rates(preferences, n, rule)?))
}

/// The Nash mixture over candidates (spec 1.6, 2.9).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mixture {
    /// The equilibrium lottery x over the candidates.
    pub probabilities: Vec<f64>,
    /// Its argmax: the lowest index within [`TIE`] of the largest probability (the simplex leaves ~1e-16 of noise).
    pub best: usize,
    /// max_i (A x)_i: 0 at an exact equilibrium.
    pub exploitability: f64,
}

impl Mixture {
    /// A candidate drawn from the mixture.
    pub fn sample(&self, stream: &mut Stream) -> usize {
        stream.weighted(&self.probabilities).unwrap_or(self.best)
    }
}

/// The Nash equilibrium of the candidate game A = P − ½ by the exact simplex of [`nash::solve_exact`]. A is
/// built as (P − Pᵀ)/2, which is P − ½ when P_ij + P_ji = 1 and the nearest skew-symmetric matrix otherwise (a judge
/// with position bias); the diagonal is ignored.
pub fn nash_mixture(preferences: &[f64], n: usize) -> Result<Mixture> {
    check_matrix(preferences, n)?;
    let a: Vec<f64> = (0..n * n).map(|k| (preferences[k] - preferences[(k % n) * n + k / n]) / 2.0).collect();
    let e = nash::solve_exact(&a, n)?;
    let top = e.probabilities.iter().copied().fold(0.0, f64::max);
    let best = e.probabilities.iter().position(|p| *p >= top - TIE).unwrap_or(0);
    Ok(Mixture { best, exploitability: e.exploitability, probabilities: e.probabilities })
}

/// An RPS candidate (spec 2.3): the direction its policy was conditioned on and its reward vector.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tagged {
    /// The conditioning direction v_j.
    pub direction: Vec<f64>,
    /// r(y).
    pub rewards: Vec<f64>,
}

/// RPS's pick.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpsChoice {
    /// The chosen candidate: argmax over all candidates of v*ᵀr.
    pub index: usize,
    /// Its v*ᵀr.
    pub score: f64,
    /// The best baseline candidate (one whose direction is v* to 1e-12), when the pool has any.
    pub baseline: Option<usize>,
}

/// Robust Preference Selection (spec 2.3): every candidate, whatever direction it was generated for, is judged by
/// the target v* (normalised); the argmax of v*ᵀr is returned with the best baseline candidate for comparison.
pub fn select_rps(candidates: &[Tagged], target: &[f64]) -> Result<RpsChoice> {
    let v = unit_direction(target)?;
    let rewards: Vec<Vec<f64>> = candidates.iter().map(|c| c.rewards.clone()).collect();
    let scores = linear_rewards(&rewards, &v)?;
    let index = best_score(&scores)?;
    let mut baseline: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if c.direction.len() != v.len() {
            return Err(Error::option(
                "direction",
                format!("candidate {i}'s has {} values, v* {}", c.direction.len(), v.len()),
            ));
        }
        let u = unit_direction(&c.direction)?;
        let same = u.iter().zip(&v).all(|(a, b)| (a - b).abs() <= 1e-12);
        if same && baseline.is_none_or(|b| scores[i] > scores[b]) {
            baseline = Some(i);
        }
    }
    Ok(RpsChoice { index, score: scores[index], baseline })
}

/// RPS's neighbourhood (spec 2.3): `k` directions in the 2-D plane at angles θ* + U(−θ_max, θ_max) around the
/// target's angle θ* (θ_max in radians, in [0, π]), drawn from `stream`.
pub fn sample_directions(target: [f64; 2], k: usize, theta_max: f64, stream: &mut Stream) -> Result<Vec<[f64; 2]>> {
    let v = unit_direction(&target)?;
    if !(0.0..=std::f64::consts::PI).contains(&theta_max) {
        return Err(Error::option("theta_max", format!("{theta_max} is not in [0, π]")));
    }
    let centre = v[1].atan2(v[0]);
    Ok((0..k)
        .map(|_| {
            let theta = centre + theta_max * (2.0 * stream.uniform() - 1.0);
            if theta == centre {
                [v[0], v[1]]
            } else {
                super::heads::angle_direction(theta)
            }
        })
        .collect())
}
