//! The crate's one unconstrained minimiser: a deterministic, full-batch L-BFGS with a backtracking Armijo line
//! search, shared by the GPM fit ([`crate::rank::gpm`]) and the reward heads ([`crate::reward`]).

use std::collections::VecDeque;

/// L-BFGS memory: the number of correction pairs (s, y) kept.
const MEMORY: usize = 10;

/// Armijo sufficient-decrease constant c₁.
const ARMIJO: f64 = 1e-4;

/// The line search gives up once the step falls below this.
const MIN_STEP: f64 = 1e-20;

/// Σ a_i b_i.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// max_i |a_i| (NaNs ignored).
fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// One L-BFGS correction pair: s = x_{k+1} − x_k, y = g_{k+1} − g_k, rho = 1/(s·y).
struct Correction {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// The L-BFGS direction −H·g by the two-loop recursion, with the initial Hessian scaled by (s·y)/(y·y) of the
/// newest pair; without memory, −g scaled to a largest step of 1 (or −g itself when max |g| < 1).
fn direction(memory: &VecDeque<Correction>, g: &[f64]) -> Vec<f64> {
    let mut d = g.to_vec();
    let mut alphas = Vec::with_capacity(memory.len());
    for c in memory.iter().rev() {
        let alpha = c.rho * dot(&c.s, &d);
        d.iter_mut().zip(&c.y).for_each(|(q, y)| *q -= alpha * y);
        alphas.push(alpha);
    }
    let gamma = memory.back().map_or_else(|| 1.0 / max_abs(g).max(1.0), |c| dot(&c.s, &c.y) / dot(&c.y, &c.y));
    for q in &mut d {
        *q *= gamma;
    }
    for (c, alpha) in memory.iter().zip(alphas.iter().rev()) {
        let beta = c.rho * dot(&c.y, &d);
        d.iter_mut().zip(&c.s).for_each(|(r, s)| *r += (alpha - beta) * s);
    }
    for r in &mut d {
        *r = -*r;
    }
    d
}

/// The outcome of [`minimise`].
pub(crate) struct Minimised {
    /// Accepted steps.
    pub iterations: usize,
    /// True when max |gradient| ≤ tolerance held at the returned point.
    pub converged: bool,
}

/// Minimises a smooth `f: Rⁿ → R` from the starting point `x`, overwritten with the final iterate.
///
/// `f(x, g)` returns f(x) and writes ∇f(x) into `g` (every coordinate; `g` is not cleared beforehand). It may
/// return a non-finite value to reject a point: the line search then shortens the step.
///
/// - **Direction:** L-BFGS by the two-loop recursion over the last `MEMORY` = 10 correction pairs; a pair enters
///   the memory only when s·y > 1e-12·‖s‖·‖y‖ (curvature condition), so H stays positive definite. Without memory
///   (first step, or after a reset) the direction is −g scaled to a largest coordinate step of 1. A direction that
///   is not a descent direction (g·d ≥ 0 or NaN) drops the memory and falls back to that scaled −g.
/// - **Line search:** backtracking from the unit step t = 1, halving t until f(x + t·d) is finite and
///   ≤ f(x) + 1e-4·t·(g·d) (Armijo); it fails when t falls below 1e-20. A failed line search drops the memory and
///   retries along −g once; a failure with empty memory ends the run.
/// - **Stopping:** before each step, when max |gradient| ≤ `tolerance` (converged); after `max_iterations`
///   accepted steps; on a second consecutive line-search failure; or when `stop(iteration, x)` (called after each
///   accepted step with the 1-based step count and the new point, e.g. for early stopping on a validation loss)
///   returns true. `converged` reports the gradient test at the returned point whatever the reason.
///
/// Deterministic: the same `f`, start and options give bit-identical results.
pub(crate) fn minimise(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x: &mut [f64],
    max_iterations: usize,
    tolerance: f64,
    mut stop: impl FnMut(usize, &[f64]) -> bool,
) -> Minimised {
    let mut g = vec![0.0; x.len()];
    let mut fx = f(x, &mut g);
    let mut memory: VecDeque<Correction> = VecDeque::with_capacity(MEMORY);
    let mut iterations = 0;
    while iterations < max_iterations && max_abs(&g) > tolerance {
        let mut d = direction(&memory, &g);
        let mut slope = dot(&g, &d);
        if slope.is_nan() || slope >= 0.0 {
            memory.clear();
            d = direction(&memory, &g);
            slope = dot(&g, &d);
        }
        let Some((x_new, g_new, f_new)) = line_search(&mut f, x, fx, &d, slope) else {
            if memory.is_empty() {
                break;
            }
            memory.clear();
            continue;
        };
        iterations += 1;
        let s: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if memory.len() == MEMORY {
                memory.pop_front();
            }
            memory.push_back(Correction { s, y, rho: 1.0 / sy });
        }
        x.copy_from_slice(&x_new);
        g = g_new;
        fx = f_new;
        if stop(iterations, x) {
            break;
        }
    }
    Minimised { iterations, converged: max_abs(&g) <= tolerance }
}

/// Backtracking from a unit step until f(x + t·d) is finite and ≤ f(x) + [`ARMIJO`]·t·slope. Returns the point,
/// its gradient and value; `None` when t falls below [`MIN_STEP`].
fn line_search(
    f: &mut impl FnMut(&[f64], &mut [f64]) -> f64,
    x: &[f64],
    fx: f64,
    d: &[f64],
    slope: f64,
) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let (mut x_new, mut g_new) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    let mut t = 1.0;
    while t > MIN_STEP {
        x_new.iter_mut().zip(x.iter().zip(d)).for_each(|(xn, (xi, di))| *xn = xi + t * di);
        let value = f(&x_new, &mut g_new);
        if value.is_finite() && value <= fx + ARMIJO * t * slope {
            return Some((x_new, g_new, value));
        }
        t *= 0.5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbfgs_minimises_rosenbrock() {
        let mut x = vec![-1.2, 1.0];
        let run = minimise(
            |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            },
            &mut x,
            500,
            1e-9,
            |_, _| false,
        );
        assert!(run.converged, "{} iterations, x = {x:?}", run.iterations);
        assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6, "{x:?}");
    }
}
