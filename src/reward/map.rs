//! MAP, the multi-value alignment palette (spec 2.4), solved exactly.
//!
//! With m reward functions evaluated on N base samples (R ∈ R^{m×N}) and a palette c ∈ R^m, the dual
//! g(λ) = −log((1/N) Σ_j exp(λᵀR_j)) + λᵀc is concave on λ ≥ 0. Instead of the reference's 150 Adam steps on
//! λ = exp(τ), [`solve_map`] runs projected Newton (Bertsekas 1982) on f = −g: the gradient is E_w[R] − c and the
//! Hessian Cov_w(R) for the importance weights w_j ∝ exp(λᵀR_j) (log-sum-exp taken stably). Variables at 0 whose
//! gradient pushes them below stay at 0; Newton acts on the rest, with an Armijo search along the projection arc.
//! Convergence is quadratic near the optimum, so the KKT conditions hold to ~1e-12 in a few dozen steps.
//!
//! Infeasible palettes (no reweighting of the samples reaches c, so λ diverges) are detected by a Farkas
//! certificate: a direction u ≥ 0 with uᵀc > max_j uᵀR_j. It is tried for each unit vector before solving
//! (c_i above the largest r_i) and for λ/Σλ at every step, and gives `INVALID_OPTION` on `palette`.

use ndarray::Array2;
use serde::Serialize;

use super::math::{check_finite, check_table, dot};
use crate::error::{Error, Result};
use crate::linalg::{cholesky, cholesky_solve};

/// Options of [`solve_map`].
#[derive(Clone, Debug, PartialEq)]
pub struct MapOptions {
    /// Stop when every KKT violation is ≤ tolerance × max(1, max |R_ij|) (default 1e-10).
    pub tolerance: f64,
    /// Most Newton steps (default 200).
    pub max_iterations: usize,
}

impl Default for MapOptions {
    fn default() -> Self {
        Self { tolerance: 1e-10, max_iterations: 200 }
    }
}

/// The KKT conditions at the returned λ: for λ_i > 0, |E_w[r_i] − c_i| ≤ tol; for λ_i = 0, E_w[r_i] ≥ c_i − tol.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kkt {
    /// Which λ_i are positive.
    pub active: Vec<bool>,
    /// The largest violation (0 when all hold exactly).
    pub violation: f64,
    /// The tolerance used (options.tolerance × max(1, max |R_ij|)).
    pub tolerance: f64,
    /// violation ≤ tolerance.
    pub satisfied: bool,
}

/// MAP's solution.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MapSolution {
    /// λ ≥ 0, the maximiser of the dual.
    pub lambda: Vec<f64>,
    /// The importance weights w_j ∝ exp(λᵀR_j) of the N samples (sum 1).
    pub weights: Vec<f64>,
    /// E_w[r], one per reward function.
    pub expected: Vec<f64>,
    /// g(λ) at the solution.
    pub dual: f64,
    /// The KKT report.
    pub kkt: Kkt,
    /// Newton steps taken.
    pub iterations: usize,
}

/// The objective's pieces at a λ.
struct State {
    f: f64,
    weights: Vec<f64>,
    mean: Vec<f64>,
}

fn state(rewards: &[Vec<f64>], palette: &[f64], lambda: &[f64]) -> State {
    let n = rewards[0].len();
    let z: Vec<f64> = (0..n).map(|j| rewards.iter().zip(lambda).map(|(r, l)| l * r[j]).sum()).collect();
    let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - top).exp()).collect();
    let sum: f64 = e.iter().sum();
    let weights: Vec<f64> = e.iter().map(|v| v / sum).collect();
    let mean = rewards.iter().map(|r| dot(r, &weights)).collect();
    State { f: top + sum.ln() - (n as f64).ln() - dot(lambda, palette), weights, mean }
}

/// The KKT violation of coordinate i at gradient g_i = E_w[r_i] − c_i.
fn violation(lambda: f64, g: f64) -> f64 {
    if lambda > 0.0 {
        g.abs()
    } else {
        (-g).max(0.0)
    }
}

/// Solves MAP (spec 2.4) for `rewards` (m rows of N samples) and `palette` c (m values).
pub fn solve_map(rewards: &[Vec<f64>], palette: &[f64], options: &MapOptions) -> Result<MapSolution> {
    check_table("rewards", rewards)?;
    check_finite("palette", palette)?;
    if palette.len() != rewards.len() {
        return Err(Error::option(
            "palette",
            format!("{} values for {} reward functions", palette.len(), rewards.len()),
        ));
    }
    if !(options.tolerance > 0.0 && options.tolerance.is_finite()) {
        return Err(Error::option("tolerance", "must be positive and finite"));
    }
    let scale = rewards.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = options.tolerance * scale;
    let m = rewards.len();
    for i in 0..m {
        certify(rewards, palette, &unit(m, i), tol)?;
    }
    let mut lambda = vec![0.0; m];
    let mut s = state(rewards, palette, &lambda);
    let mut iterations = 0;
    while iterations < options.max_iterations && worst(&lambda, &s, palette) > tol {
        let Some(next) = newton_step(rewards, palette, &lambda, &s) else { break };
        lambda = next;
        s = state(rewards, palette, &lambda);
        iterations += 1;
        let total: f64 = lambda.iter().sum();
        if total > 0.0 {
            certify(rewards, palette, &lambda.iter().map(|l| l / total).collect::<Vec<_>>(), tol)?;
        }
    }
    let kkt_violation = worst(&lambda, &s, palette);
    let kkt = Kkt {
        active: lambda.iter().map(|l| *l > 0.0).collect(),
        violation: kkt_violation,
        tolerance: tol,
        satisfied: kkt_violation <= tol,
    };
    Ok(MapSolution { dual: -s.f, weights: s.weights, expected: s.mean, lambda, kkt, iterations })
}

fn unit(m: usize, i: usize) -> Vec<f64> {
    (0..m).map(|k| f64::from(u8::from(k == i))).collect()
}

fn worst(lambda: &[f64], s: &State, palette: &[f64]) -> f64 {
    lambda.iter().zip(s.mean.iter().zip(palette)).map(|(l, (e, c))| violation(*l, e - c)).fold(0.0, f64::max)
}

/// Errors when u ≥ 0 proves the palette unreachable: uᵀc > max_j uᵀR_j + tol.
fn certify(rewards: &[Vec<f64>], palette: &[f64], u: &[f64], tol: f64) -> Result<()> {
    let target = dot(u, palette);
    let reach = (0..rewards[0].len())
        .map(|j| rewards.iter().zip(u).map(|(r, w)| w * r[j]).sum::<f64>())
        .fold(f64::NEG_INFINITY, f64::max);
    if target > reach + tol {
        let why = format!(
            "unreachable: along u = {u:?}, uᵀc = {target} exceeds the largest uᵀr of any sample ({reach}), so no \
             reweighting reaches c (λ would diverge)"
        );
        return Err(Error::option("palette", why));
    }
    Ok(())
}

/// One projected-Newton step from λ, or `None` when the line search fails (no decrease left at rounding level).
fn newton_step(rewards: &[Vec<f64>], palette: &[f64], lambda: &[f64], s: &State) -> Option<Vec<f64>> {
    let m = lambda.len();
    let g: Vec<f64> = s.mean.iter().zip(palette).map(|(e, c)| e - c).collect();
    let residual = lambda.iter().zip(&g).map(|(l, gi)| if *gi <= *l { gi.abs() } else { *l }).fold(0.0, f64::max);
    let eps = residual.min(1e-3);
    // Bertsekas' ε-active set: at (or within ε of) 0 with the gradient pushing below 0.
    let free: Vec<usize> = (0..m).filter(|&i| lambda[i] > eps || g[i] < 0.0).collect();
    let mut d: Vec<f64> = lambda.iter().map(|l| -l).collect();
    for (k, dk) in newton_direction(rewards, s, &free, &g).into_iter().enumerate() {
        d[free[k]] = dk;
    }
    let mut t = 1.0;
    while t > 1e-20 {
        let next: Vec<f64> = lambda.iter().zip(&d).map(|(l, di)| (l + t * di).max(0.0)).collect();
        let moved: f64 = g.iter().zip(next.iter().zip(lambda)).map(|(gi, (a, b))| gi * (a - b)).sum();
        let f = state(rewards, palette, &next).f;
        // The slack admits steps whose decrease is below f's rounding (the last Newton steps near the optimum).
        let slack = 8.0 * f64::EPSILON * s.f.abs().max(1.0);
        if f.is_finite() && f <= s.f + 1e-4 * moved + slack && next != lambda {
            return Some(next);
        }
        t *= 0.5;
    }
    None
}

/// −H_FF⁻¹ g_F with H = Cov_w(R) on the free set, by Cholesky with a ridge raised until it factorises (−g_F if it
/// never does).
fn newton_direction(rewards: &[Vec<f64>], s: &State, free: &[usize], g: &[f64]) -> Vec<f64> {
    let k = free.len();
    let mut h = Array2::<f64>::zeros((k, k));
    let centred: Vec<Vec<f64>> = free.iter().map(|&i| rewards[i].iter().map(|r| r - s.mean[i]).collect()).collect();
    for a in 0..k {
        for b in 0..=a {
            let c: f64 = centred[a].iter().zip(&centred[b]).zip(&s.weights).map(|((x, y), w)| w * x * y).sum();
            h[[a, b]] = c;
            h[[b, a]] = c;
        }
    }
    let top = (0..k).map(|a| h[[a, a]]).fold(0.0, f64::max).max(1e-300);
    let mut d: Vec<f64> = free.iter().map(|&i| -g[i]).collect();
    let mut ridge = 1e-14 * top;
    for _ in 0..40 {
        let mut shifted = h.clone();
        (0..k).for_each(|a| shifted[[a, a]] += ridge);
        if let Some(l) = cholesky(&shifted) {
            cholesky_solve(&l, &mut d);
            break;
        }
        ridge *= 100.0;
    }
    d
}
