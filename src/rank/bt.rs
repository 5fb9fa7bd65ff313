//! Bradley-Terry maximum likelihood with ties as half a win (spec 1.2), by damped Newton on pair totals, and the
//! sandwich covariance exactly as arena-rank computes it.
//!
//! The negative log-likelihood on the natural scale, with an optional ridge λ:
//!   L(θ) = −Σ_pairs [s_ij (θ_i − θ_j) − n_ij softplus(θ_i − θ_j)] + ½ λ ‖θ‖².
//! Without a ridge θ is defined up to a common shift; we keep Σθ = 0 (arena-rank and FastChat start from 0 and
//! their gradient sums to 0, so they keep it too).

use ndarray::Array2;

use super::rows::{Pair, Row};
use crate::linalg::{cholesky, cholesky_into, cholesky_inverse, cholesky_solve};

/// Stable log(1 + e^x).
pub(crate) fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Logistic sigmoid.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Result of a fit on the natural (log-odds) scale.
#[derive(Clone, Debug)]
pub struct Fit {
    pub theta: Vec<f64>,
    pub iterations: usize,
}

/// The loss (negative log-likelihood plus ridge).
fn loss(theta: &[f64], pairs: &[Pair], ridge: f64) -> f64 {
    let mut l = 0.5 * ridge * theta.iter().map(|t| t * t).sum::<f64>();
    for p in pairs {
        let d = theta[p.i as usize] - theta[p.j as usize];
        l -= p.s * d - p.n * softplus(d);
    }
    l
}

/// Gradient and Hessian in one pass. P(i ≻ j) = w_i / (w_i + w_j) with strengths w = exp(θ − max θ): one `exp`
/// per model instead of one per pair (the bootstrap's hot loop). When the ratings spread over more than 600 nats the
/// strengths could underflow, and the per-pair logistic is used instead.
fn derivatives(theta: &[f64], pairs: &[Pair], ridge: f64, w: &mut Vec<f64>, g: &mut [f64], h: &mut Array2<f64>) {
    let n = theta.len();
    h.fill(0.0);
    let hs = h.as_slice_mut().expect("standard layout");
    for (k, gk) in g.iter_mut().enumerate() {
        *gk = ridge * theta[k];
        hs[k * n + k] = ridge;
    }
    let top = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let bottom = theta.iter().copied().fold(f64::INFINITY, f64::min);
    let strengths = top - bottom < 600.0;
    if strengths {
        w.clear();
        w.extend(theta.iter().map(|t| (t - top).exp()));
    }
    for p in pairs {
        let (i, j) = (p.i as usize, p.j as usize);
        let (q, one_minus_q) = if strengths {
            let sum = w[i] + w[j];
            (w[i] / sum, w[j] / sum)
        } else {
            let q = sigmoid(theta[i] - theta[j]);
            (q, sigmoid(theta[j] - theta[i]))
        };
        let r = p.n * q - p.s;
        g[i] += r;
        g[j] -= r;
        let v = p.n * q * one_minus_q;
        hs[i * n + i] += v;
        hs[j * n + j] += v;
        hs[i * n + j] -= v;
        hs[j * n + i] -= v;
    }
}

/// Buffers reused across fits (the bootstrap runs a thousand of them).
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    g: Vec<f64>,
    h: Array2<f64>,
    step: Vec<f64>,
    previous: Vec<f64>,
    l: Array2<f64>,
    strengths: Vec<f64>,
}

/// Fits θ by damped Newton from `start` (zeros when `None`). See [`fit_in`].
pub fn fit(n: usize, pairs: &[Pair], ridge: f64, start: Option<&[f64]>, tolerance: f64) -> Fit {
    let mut theta = start.map_or_else(|| vec![0.0; n], <[f64]>::to_vec);
    let iterations = fit_in(&mut Workspace::default(), pairs, ridge, &mut theta, tolerance, 1e-7);
    Fit { theta, iterations }
}

/// Newton from `theta` in place until max |gradient| ≤ tolerance · N, or until a full step is smaller than
/// `step_tolerance` (the error left after it is of order its square). With `ridge == 0` the data must be strongly
/// connected (see [`super::graph`]); the caller guarantees it. Models without battles keep their value (their
/// Hessian row is empty, so they are pinned with a unit diagonal). A step that raises the loss is halved.
/// Returns the number of Newton iterations.
pub fn fit_in(
    ws: &mut Workspace,
    pairs: &[Pair],
    ridge: f64,
    theta: &mut [f64],
    tolerance: f64,
    step_tolerance: f64,
) -> usize {
    let n = theta.len();
    let total: f64 = pairs.iter().map(|p| p.n).sum::<f64>().max(1.0);
    ws.g.resize(n, 0.0);
    ws.step.resize(n, 0.0);
    ws.previous.resize(n, 0.0);
    if ws.h.nrows() != n {
        ws.h = Array2::zeros((n, n));
        ws.l = Array2::zeros((n, n));
    }
    let (mut iterations, mut best, mut t) = (0, f64::INFINITY, 1.0);
    // The loss is only evaluated around large steps (a cold start, a far-off model): near the optimum a Newton
    // step on this convex loss always descends, and skipping the logarithms halves the cost of a bootstrap round.
    let mut check = false;
    for _ in 0..400 {
        if check {
            let current = loss(theta, pairs, ridge);
            if current > best + 1e-12 * best.abs().max(1.0) {
                t *= 0.5;
                if t < 1e-12 {
                    theta.copy_from_slice(&ws.previous);
                    break;
                }
                for ((x, p), d) in theta.iter_mut().zip(&ws.previous).zip(&ws.step) {
                    *x = p + t * d;
                }
                continue;
            }
            best = current;
        }
        t = 1.0;
        derivatives(theta, pairs, ridge, &mut ws.strengths, &mut ws.g, &mut ws.h);
        let gmax = ws.g.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        if gmax <= tolerance * total || iterations == 200 {
            break;
        }
        iterations += 1;
        condition(&mut ws.h, ridge);
        if !cholesky_into(&ws.h, &mut ws.l) {
            break;
        }
        for (s, gk) in ws.step.iter_mut().zip(&ws.g) {
            *s = -gk;
        }
        cholesky_solve(&ws.l, &mut ws.step);
        let largest = ws.step.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        let large = largest > 0.5;
        if large && !check {
            best = loss(theta, pairs, ridge);
        }
        check = large;
        ws.previous.copy_from_slice(theta);
        for (x, d) in theta.iter_mut().zip(&ws.step) {
            *x += d;
        }
        if ridge == 0.0 {
            let mean = theta.iter().sum::<f64>() / n as f64;
            let step_mean = ws.step.iter().sum::<f64>() / n as f64;
            for (x, d) in theta.iter_mut().zip(ws.step.iter_mut()) {
                *x -= mean;
                *d -= step_mean;
            }
        }
        // Newton converges quadratically: after a step of size s the error is of order s², so stop without
        // another evaluation.
        if largest < step_tolerance && iterations > 1 {
            break;
        }
    }
    iterations
}

/// Makes the Hessian invertible without changing the Newton step within the identified subspace: without a ridge
/// it adds c·11ᵀ (the gradient is orthogonal to 1, so the step is too); rows of models without battles get a unit
/// diagonal so they do not move.
fn condition(h: &mut Array2<f64>, ridge: f64) {
    let n = h.nrows();
    for k in 0..n {
        if h[[k, k]] == 0.0 {
            h[[k, k]] = 1.0;
        }
    }
    if ridge == 0.0 {
        let c = (0..n).map(|k| h[[k, k]]).sum::<f64>() / n as f64 / n as f64;
        h.iter_mut().for_each(|x| *x += c);
    }
}

/// The sandwich covariance H⁻¹ G H⁻¹ of θ, as arena-rank's `compute_ratings_and_cis(ci_method="sandwich")`:
/// H = Σ_rows w·count·p(1−p) x xᵀ + reg·I, G = Σ_rows w²·count·(y − p)² x xᵀ with x = e_a − e_b, and
/// reg = `hessian_reg`·N for unweighted data (N battles), `hessian_reg` otherwise. A fitting ridge λ adds λI to H.
pub fn sandwich(theta: &[f64], rows: &[Row], unweighted: bool, hessian_reg: f64, ridge: f64) -> Array2<f64> {
    let n = theta.len();
    let mut h = Array2::<f64>::zeros((n, n));
    let mut g = Array2::<f64>::zeros((n, n));
    let total: f64 = rows.iter().map(|r| r.count).sum();
    let reg = hessian_reg * if unweighted { total } else { 1.0 } + ridge;
    for r in rows {
        let (a, b) = (r.a as usize, r.b as usize);
        let p = sigmoid(theta[a] - theta[b]);
        let hv = r.w * r.count * p * (1.0 - p);
        let gv = r.w * r.w * r.count * (r.y - p) * (r.y - p);
        for (m, v) in [(&mut h, hv), (&mut g, gv)] {
            m[[a, a]] += v;
            m[[b, b]] += v;
            m[[a, b]] -= v;
            m[[b, a]] -= v;
        }
    }
    for k in 0..n {
        // A model without battles has an empty row; keep H invertible there (its variance comes out 0).
        h[[k, k]] += if reg > 0.0 { reg } else { 1e-12 };
    }
    let inv = match cholesky(&h) {
        Some(l) => cholesky_inverse(&l),
        None => return Array2::zeros((n, n)),
    };
    inv.dot(&g).dot(&inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(u32, u32, f64, f64)]) -> Vec<Pair> {
        list.iter().map(|&(i, j, n, s)| Pair { i, j, n, s }).collect()
    }

    #[test]
    fn two_models_three_wins_one_loss() {
        // spec 1.2: R_A − R_B = 400·log10(3)
        let f = fit(2, &pairs(&[(0, 1, 4.0, 3.0)]), 0.0, None, 1e-13);
        let diff = (f.theta[0] - f.theta[1]) * 400.0 / std::f64::consts::LN_10;
        assert!((diff - 400.0 * 3f64.log10()).abs() < 1e-9, "{diff}");
    }

    #[test]
    fn ties_count_half() {
        // 3 wins, 1 loss, 2 ties: A scores 4 of 6
        let f = fit(2, &pairs(&[(0, 1, 6.0, 4.0)]), 0.0, None, 1e-13);
        let diff = (f.theta[0] - f.theta[1]) * 400.0 / std::f64::consts::LN_10;
        assert!((diff - 120.411_998_265_592_47).abs() < 1e-9, "{diff}");
    }

    #[test]
    fn cycle_is_flat() {
        let f = fit(3, &pairs(&[(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0), (0, 2, 1.0, 0.0)]), 0.0, None, 1e-13);
        assert!(f.theta.iter().all(|t| t.abs() < 1e-12));
    }

    #[test]
    fn softplus_and_sigmoid_are_stable() {
        assert!((softplus(800.0) - 800.0).abs() < 1e-12);
        assert!(softplus(-800.0) >= 0.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
    }
}
