//! Nash equilibrium / maximal lottery of a preference matrix (spec 1.6, 1.7), as the NLHF papers define it
//! (Munos et al., Nash-MD; SPPO; EGPO; Nash-MP; MNPO) and as Fishburn's maximal lotteries.
//!
//! The game is symmetric and constant-sum: with the skew-symmetric payoff A (A = P − ½ for NLHF margins, raw
//! majority margins for Fishburn) a Nash equilibrium is a lottery x on the models with (A x)_i ≤ 0 for every i. Its
//! value is 0 and it is unbeatable: no model beats it in expectation. The KL-regularised game of strength β > 0
//! and reference μ (EGPO, Nash-MP) has the unique equilibrium x = softmax(log μ + A x / β).
//!
//! Solvers:
//! - [`solve`]: extragradient / mirror-prox with entropy (EGPO's tabular update in closed form)
//!   `x½ ∝ x^{1−ηβ} μ^{ηβ} exp(η A x)`, `x' ∝ x^{1−ηβ} μ^{ηβ} exp(η A x½)`, stopped on the duality gap
//!   ([`exploitability`]). For β = 0 the last iterate converges only slowly when some model is nearly in the support,
//!   so by default the solver also tries an exact finish on the support it has found (the simplex on the game
//!   restricted to that support) and keeps it only when no model outside beats it: a certified equilibrium.
//! - [`solve_exact`]: the linear program max Σw s.t. (A + c) w ≤ 1, w ≥ 0 by a dense simplex with Bland's rule;
//!   x = w / Σw. Exact to rounding; O(n³) in practice. It is the test oracle and, for β = 0, the default of [`nash`]
//!   (59 models take well under a millisecond, and the answer is exact with its exact support, where the
//!   extragradient's rate depends on how close the data is to a tie in the support).
//! - [`multiplicative_weights`]: plain MWU, whose last iterate cycles outward (only its average converges).
//!
//! Uniqueness: arena data rarely compares every pair, and an unobserved pair has margin 0; the β = 0 game then often
//! has a whole face of equilibria (LLMFAO crowd: 784 of 1711 pairs unobserved, 31 models can carry mass in some
//! equilibrium). [`Equilibrium::unique`] certifies uniqueness (strict losses off the support, a nonsingular support
//! system); [`nash`] warns when it fails. Imputing unobserved pairs from Bradley-Terry ([`Impute::Bt`]) or β > 0
//! selects one equilibrium.
//!
//! Degenerate inputs (documented behaviour): no battles → [`Error::Empty`]; one model → x = (1), exploitability 0;
//! pairs that never met get P = ½ (margin 0) unless imputed from Bradley-Terry; an undefeated model (a Condorcet
//! winner) is the pure equilibrium; a zero matrix gives the start point (μ, or uniform), exploitability 0; NaN or
//! infinite entries, a non-square or a non-skew-symmetric matrix → [`Error::InvalidOption`].

use ndarray::Array2;
use serde::Serialize;

use super::bt;
use super::graph::Components;
use super::rows::Pair;
use crate::battles::Battles;
use crate::error::{Error, Location, Result};
use crate::linalg::{cholesky, cholesky_solve};

/// Probabilities above this count as the support.
pub const SUPPORT_TOL: f64 = 1e-9;

/// How the payoff matrix is built from battles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Margins {
    /// NLHF probabilistic margins A = P̂ − ½ with P̂_ij = (wins_ij + ½ ties_ij + α)/(n_ij + 2α).
    #[default]
    Nlhf,
    /// Fishburn's majority margins A_ij = N_ij − N_ji (battle weights, ties counting ½ to each side).
    Fishburn,
}

/// What NLHF margins use for pairs that never met.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// P̂ = ½ (margin 0).
    #[default]
    Half,
    /// P̂ = σ(θ_i − θ_j) of a Bradley-Terry fit on all battles (with the fallback ridge when the comparison
    /// graph is not strongly connected).
    Bt,
}

/// Options of [`payoff`].
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixOptions {
    /// The margin convention (default NLHF).
    pub margins: Margins,
    /// NLHF smoothing α ≥ 0 added to each side's score (default ½, Jeffreys). Ignored by Fishburn margins.
    pub alpha: f64,
    /// Unobserved pairs under NLHF margins (default ½). Fishburn margins are 0 there.
    pub impute: Impute,
}

impl Default for MatrixOptions {
    fn default() -> Self {
        Self { margins: Margins::Nlhf, alpha: 0.5, impute: Impute::Half }
    }
}

/// A skew-symmetric payoff matrix built from battles.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payoff {
    /// Model names (row/column i is model id i).
    pub models: Vec<String>,
    /// Number of models.
    pub n: usize,
    /// A, row-major n×n: A_ij is i's margin over j, A_ji = −A_ij.
    pub matrix: Vec<f64>,
    /// The convention used.
    pub margins: Margins,
    /// Unordered pairs with at least one battle.
    pub observed_pairs: usize,
    /// Unordered pairs without battles (margin 0 or imputed).
    pub unobserved_pairs: usize,
}

/// Options of the equilibrium solvers.
#[derive(Clone, Debug, PartialEq)]
pub struct NashOptions {
    /// KL-regularisation strength β ≥ 0, in units of the payoff (default 0: the plain game).
    pub beta: f64,
    /// Reference policy μ (positive; normalised), default uniform. It is also the start point.
    pub mu: Option<Vec<f64>>,
    /// Step size η, relative: the update uses η / (max|A_ij| + β), so 1 (the default) is the mirror-prox step
    /// 1/L for every scale of A.
    pub eta: f64,
    /// Most extragradient iterations (default 100 000).
    pub iterations: usize,
    /// Stop when the duality gap (and, for β > 0, the fixed-point residual) is ≤ this (default 1e-6).
    pub tolerance: f64,
    /// For β = 0: try an exact finish on the support found (default true).
    pub polish: bool,
}

impl Default for NashOptions {
    fn default() -> Self {
        Self { beta: 0.0, mu: None, eta: 1.0, iterations: 100_000, tolerance: 1e-6, polish: true }
    }
}

/// An equilibrium (or the best point found).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Equilibrium {
    /// The lottery x over models (sums to 1).
    pub probabilities: Vec<f64>,
    /// What x guarantees against every pure opponent, min_j (xᵀA)_j = −max_i (A x)_i: 0 at an exact equilibrium
    /// (A units).
    pub value: f64,
    /// [`exploitability`] of x (β = 0: max_i (A x)_i; β > 0: the regularised game's duality gap).
    pub exploitability: f64,
    /// Model ids with probability > [`SUPPORT_TOL`], ascending.
    pub support: Vec<usize>,
    /// True when this is certified to be the only equilibrium (always for β > 0). With many pairs that never met
    /// (margin 0) the β = 0 game often has a whole face of equilibria, and x is one of them.
    pub unique: bool,
    /// Extragradient iterations (simplex pivots for the exact solver).
    pub iterations: usize,
    /// True when the stopping rule was met.
    pub converged: bool,
}

/// Which solver [`nash`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    /// The exact simplex for β = 0 up to [`EXACT_LIMIT`] models, the extragradient otherwise.
    #[default]
    Auto,
    /// [`solve_exact`] (β must be 0).
    Exact,
    /// [`solve`].
    Extragradient,
}

/// Largest number of models `Solver::Auto` sends to the simplex (an estimate, not measured: its ~n pivots of
/// O(n²) each stay around 100 ms there).
pub const EXACT_LIMIT: usize = 400;

/// Options of [`nash`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NashBattleOptions {
    /// How A is built.
    pub matrix: MatrixOptions,
    /// The solver's options (β, μ, η, iterations, tolerance).
    pub nash: NashOptions,
    /// The solver (default auto).
    pub solver: Solver,
}

/// The equilibrium of a set of battles.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NashResult {
    /// Model names, indexed by model id.
    pub models: Vec<String>,
    /// The equilibrium lottery, by model id.
    pub probabilities: Vec<f64>,
    /// Its exploitability (see [`exploitability`]).
    pub exploitability: f64,
    /// Model ids in the support, ascending.
    pub support: Vec<usize>,
    /// True when the equilibrium is certified unique (see [`Equilibrium::unique`]).
    pub unique: bool,
    /// min_j (xᵀA)_j: 0 at an exact equilibrium.
    pub value: f64,
    /// The margin convention.
    pub margins: Margins,
    /// The regularisation strength used.
    pub beta: f64,
    /// The solver that ran (never `Auto`).
    pub solver: Solver,
    /// Iterations (extragradient) or pivots (simplex).
    pub iterations: usize,
    /// True when the solver met its stopping rule.
    pub converged: bool,
    /// The β = 0 exploitability of each model's point mass, max_i A_im: how much the best reply beats model m.
    pub pure_exploitability: Vec<f64>,
    /// Unobserved pairs and whether the equilibrium may not be unique.
    pub warnings: Vec<String>,
}

/// Builds the payoff matrix of a set of battles. `tie (bothbad)` counts as a tie; each battle weighs
/// `weight × count`.
pub fn payoff(battles: &Battles, options: &MatrixOptions) -> Result<Payoff> {
    if !(options.alpha.is_finite() && options.alpha >= 0.0) {
        return Err(Error::option("alpha", "must be a finite number ≥ 0"));
    }
    let n = battles.models().len();
    // score[i*n+j]: weight of i's score against j (wins + ½ ties).
    let mut score = vec![0.0; n * n];
    let mut total = 0.0;
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let w = battles.weight(r);
        if !(w.is_finite() && w >= 0.0) {
            let at = Location { row: r + 1, field: Some("weight".into()) };
            return Err(Error::InvalidNumber { at, value: w.to_string(), why: "weights must be finite and ≥ 0" });
        }
        let wc = w * f64::from(count);
        let y = outcome.score();
        score[a * n + b] += wc * y;
        score[b * n + a] += wc * (1.0 - y);
        total += wc;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::Empty(" for an equilibrium".into()));
    }
    let mut pairs = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let games = score[i * n + j] + score[j * n + i];
            if games > 0.0 {
                pairs.push(Pair { i: i as u32, j: j as u32, n: games, s: score[i * n + j] });
            }
        }
    }
    let theta = (options.margins == Margins::Nlhf && options.impute == Impute::Bt).then(|| {
        let ridge = if Components::new(n, &pairs).strongly_connected() { 0.0 } else { super::FALLBACK_RIDGE };
        bt::fit(n, &pairs, ridge, None, 1e-12).theta
    });
    let mut matrix = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let (sij, sji) = (score[i * n + j], score[j * n + i]);
            let games = sij + sji;
            let m = match options.margins {
                Margins::Fishburn => sij - sji,
                Margins::Nlhf if games > 0.0 => (sij + options.alpha) / (games + 2.0 * options.alpha) - 0.5,
                Margins::Nlhf => theta.as_ref().map_or(0.0, |t| bt::sigmoid(t[i] - t[j]) - 0.5),
            };
            matrix[i * n + j] = m;
            matrix[j * n + i] = -m;
        }
    }
    let observed = pairs.len();
    Ok(Payoff {
        models: battles.models().to_vec(),
        n,
        matrix,
        margins: options.margins,
        observed_pairs: observed,
        unobserved_pairs: n * n.saturating_sub(1) / 2 - observed,
    })
}

/// MNPO's population opponent: the weighted mean of several judges' payoff (or preference) matrices, all n×n.
/// The equilibrium against the population is the equilibrium of this mean. Weights are normalised.
pub fn population(matrices: &[(f64, Vec<f64>)]) -> Result<Vec<f64>> {
    let Some((_, first)) = matrices.first() else {
        return Err(Error::Empty(": no matrices in the population".into()));
    };
    let len = first.len();
    let mut total = 0.0;
    for (w, m) in matrices {
        if !(w.is_finite() && *w >= 0.0) {
            return Err(Error::option("weight", "population weights must be finite and ≥ 0"));
        }
        if m.len() != len {
            return Err(Error::option("matrices", "all matrices must have the same size"));
        }
        if m.iter().any(|v| !v.is_finite()) {
            return Err(Error::option("matrices", "entries must be finite"));
        }
        total += w;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::option("weight", "population weights must not all be 0"));
    }
    let mut mean = vec![0.0; len];
    for (w, m) in matrices {
        for (o, v) in mean.iter_mut().zip(m) {
            *o += w / total * v;
        }
    }
    Ok(mean)
}

/// Checks A (n×n, finite, skew-symmetric) and returns max |A_ij|.
fn check_matrix(a: &[f64], n: usize) -> Result<f64> {
    if n == 0 {
        return Err(Error::Empty(": no models in the payoff matrix".into()));
    }
    if a.len() != n.saturating_mul(n) {
        return Err(Error::option("a", format!("must have n² = {} entries, got {}", n.saturating_mul(n), a.len())));
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(Error::option("a", "entries must be finite"));
    }
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..n {
        for j in i..n {
            if (a[i * n + j] + a[j * n + i]).abs() > 1e-9 * scale.max(1e-300) {
                return Err(Error::option("a", "must be skew-symmetric (A_ji = −A_ij; use A = P − ½)"));
            }
        }
    }
    Ok(scale)
}

/// Checks a point or reference on the simplex (length n, finite, ≥ 0 or > 0) and returns it normalised.
fn check_simplex(x: &[f64], n: usize, field: &'static str, positive: bool) -> Result<Vec<f64>> {
    if x.len() != n {
        return Err(Error::option(field, format!("must have {n} entries, got {}", x.len())));
    }
    let ok = |v: f64| v.is_finite() && if positive { v > 0.0 } else { v >= 0.0 };
    if !x.iter().all(|&v| ok(v)) {
        let why = if positive { "entries must be finite and > 0" } else { "entries must be finite and ≥ 0" };
        return Err(Error::option(field, why));
    }
    let sum: f64 = x.iter().sum();
    if !(sum > 0.0 && sum.is_finite()) {
        return Err(Error::option(field, "must have a positive finite sum"));
    }
    Ok(x.iter().map(|v| v / sum).collect())
}

fn matvec(a: &[f64], n: usize, x: &[f64], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = a[i * n..(i + 1) * n].iter().zip(x).map(|(p, q)| p * q).sum();
    }
}

fn max_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// log Σ exp(v), stable.
fn log_sum_exp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    m + v.map(|t| (t - m).exp()).sum::<f64>().ln()
}

/// KL(x ‖ μ), with 0·log 0 = 0.
fn kl(x: &[f64], mu: &[f64]) -> f64 {
    x.iter().zip(mu).filter(|(p, _)| **p > 0.0).map(|(p, q)| p * (p / q).ln()).sum()
}

/// The gap from g = A x: β = 0: max_i g_i (≥ 0); β > 0: 2β[log Σ μ_i exp(g_i/β) + KL(x‖μ)], EGPO's
/// f(BR₁(x), x) − f(x, BR₂(x)) for f(π₁, π₂) = π₁ᵀPπ₂ − βKL(π₁‖μ) + βKL(π₂‖μ).
fn gap(g: &[f64], x: &[f64], beta: f64, mu: &[f64]) -> f64 {
    if beta == 0.0 {
        return max_of(g).max(0.0);
    }
    let lse = log_sum_exp(g.iter().zip(mu).map(|(gi, m)| m.ln() + gi / beta));
    (2.0 * beta * (lse + kl(x, mu))).max(0.0)
}

/// ‖x − softmax(log μ + g/β)‖∞ from g = A x.
fn residual(g: &[f64], x: &[f64], beta: f64, mu: &[f64]) -> f64 {
    let logits: Vec<f64> = g.iter().zip(mu).map(|(gi, m)| m.ln() + gi / beta).collect();
    let lse = log_sum_exp(logits.iter().copied());
    logits.iter().zip(x).map(|(l, p)| ((l - lse).exp() - p).abs()).fold(0.0, f64::max)
}

fn reference(mu: Option<&[f64]>, n: usize) -> Result<Vec<f64>> {
    mu.map_or_else(|| Ok(vec![1.0 / n as f64; n]), |m| check_simplex(m, n, "mu", true))
}

/// The exploitability of a lottery x. β = 0: max_i (A x)_i, what the best pure reply wins against x (0 exactly at
/// an equilibrium). β > 0: EGPO's duality gap of the KL-regularised game with reference μ (default uniform),
/// 2β[log Σ μ_i exp((A x)_i/β) + KL(x‖μ)], which is 0 exactly at its equilibrium and tends to the two-sided gap
/// 2·max_i (A x)_i as β → 0. Always ≥ 0 and finite.
pub fn exploitability(a: &[f64], n: usize, x: &[f64], beta: f64, mu: Option<&[f64]>) -> Result<f64> {
    check_matrix(a, n)?;
    check_beta(beta)?;
    let x = check_simplex(x, n, "x", false)?;
    let mu = reference(mu, n)?;
    let mut g = vec![0.0; n];
    matvec(a, n, &x, &mut g);
    Ok(gap(&g, &x, beta, &mu))
}

/// The regularised equilibrium's fixed-point residual ‖x − softmax(log μ + A x/β)‖∞ (β > 0, μ default uniform).
/// For β = 0 there is no fixed-point form and this returns [`exploitability`].
pub fn fixed_point_residual(a: &[f64], n: usize, x: &[f64], beta: f64, mu: Option<&[f64]>) -> Result<f64> {
    check_matrix(a, n)?;
    check_beta(beta)?;
    let x = check_simplex(x, n, "x", false)?;
    let mu = reference(mu, n)?;
    let mut g = vec![0.0; n];
    matvec(a, n, &x, &mut g);
    Ok(if beta == 0.0 { gap(&g, &x, 0.0, &mu) } else { residual(&g, &x, beta, &mu) })
}

fn check_beta(beta: f64) -> Result<()> {
    if beta.is_finite() && beta >= 0.0 {
        Ok(())
    } else {
        Err(Error::option("beta", "must be a finite number ≥ 0"))
    }
}

/// Plain multiplicative weights x_{t+1} ∝ x_t exp(η A x_t) from x0 for `steps` steps (η on A as given). Returns the
/// last iterate and the average of the iterates played, x_0 … x_{steps−1}. With β = 0 only the average converges;
/// the last iterate cycles outward (spec 1.6).
pub fn multiplicative_weights(a: &[f64], n: usize, x0: &[f64], eta: f64, steps: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    check_matrix(a, n)?;
    if !(eta.is_finite() && eta > 0.0) {
        return Err(Error::option("eta", "must be a finite number > 0"));
    }
    let mut x = check_simplex(x0, n, "x0", false)?;
    // Kept in logs so that a vanishing strategy underflows to 0 rather than to NaN.
    let mut l: Vec<f64> = x.iter().map(|p| p.ln()).collect();
    let mut sum = vec![0.0; n];
    let mut g = vec![0.0; n];
    for _ in 0..steps {
        for (s, p) in sum.iter_mut().zip(&x) {
            *s += p;
        }
        matvec(a, n, &x, &mut g);
        for (li, gi) in l.iter_mut().zip(&g) {
            *li += eta * gi;
        }
        normalise_logs(&mut l, &mut x);
    }
    let average = if steps == 0 { x.clone() } else { sum.iter().map(|s| s / steps as f64).collect() };
    Ok((x, average))
}

/// Shifts logs so that x = exp(l) sums to 1.
fn normalise_logs(l: &mut [f64], x: &mut [f64]) {
    let lse = log_sum_exp(l.iter().copied());
    for (li, xi) in l.iter_mut().zip(x.iter_mut()) {
        *li -= lse;
        *xi = li.exp();
    }
}

fn support(x: &[f64]) -> Vec<usize> {
    (0..x.len()).filter(|&i| x[i] > SUPPORT_TOL).collect()
}

fn equilibrium(
    a: &[f64],
    n: usize,
    x: Vec<f64>,
    beta: f64,
    mu: &[f64],
    iterations: usize,
    converged: bool,
) -> Equilibrium {
    let mut g = vec![0.0; n];
    matvec(a, n, &x, &mut g);
    Equilibrium {
        value: 0.0 - max_of(&g),
        exploitability: gap(&g, &x, beta, mu),
        unique: beta > 0.0 || certified_unique(a, n, &x, &g),
        support: support(&x),
        probabilities: x,
        iterations,
        converged,
    }
}

/// The (regularised) equilibrium by extragradient / mirror-prox with entropy, from μ (uniform by default):
/// `x½ ∝ x^{1−ηβ} μ^{ηβ} exp(η A x)`, `x' ∝ x^{1−ηβ} μ^{ηβ} exp(η A x½)` with η = `eta` / (max|A| + β). Stops when
/// the duality gap is ≤ `tolerance` (and, for β > 0, the fixed-point residual too), when an iteration leaves x
/// unchanged, or after `iterations`. For β = 0 with `polish`, an exact finish on the support found is tried at
/// iterations 16, 32, 64, … and kept when it is within tolerance: the exact solution of the game restricted to the
/// support the iterates point at (see `polish`).
pub fn solve(a: &[f64], n: usize, options: &NashOptions) -> Result<Equilibrium> {
    let scale = check_matrix(a, n)?;
    check_beta(options.beta)?;
    if !(options.eta.is_finite() && options.eta > 0.0) {
        return Err(Error::option("eta", "must be a finite number > 0"));
    }
    if !(options.tolerance.is_finite() && options.tolerance >= 0.0) {
        return Err(Error::option("tolerance", "must be a finite number ≥ 0"));
    }
    let mu = reference(options.mu.as_deref(), n)?;
    let beta = options.beta;
    if scale == 0.0 || n == 1 {
        return Ok(equilibrium(a, n, mu.clone(), beta, &mu, 0, true));
    }
    let step = options.eta / (scale + beta);
    let keep = 1.0 - step * beta;
    let pull: Vec<f64> = mu.iter().map(|m| step * beta * m.ln()).collect();
    let mut x = mu.clone();
    let mut l: Vec<f64> = x.iter().map(|p| p.ln()).collect();
    let (mut lh, mut xh) = (vec![0.0; n], vec![0.0; n]);
    let mut g = vec![0.0; n];
    let mut next_polish = 16;
    for t in 0..options.iterations {
        matvec(a, n, &x, &mut g);
        let done = gap(&g, &x, beta, &mu) <= options.tolerance
            && (beta == 0.0 || residual(&g, &x, beta, &mu) <= options.tolerance);
        if done {
            return Ok(equilibrium(a, n, x, beta, &mu, t, true));
        }
        if beta == 0.0 && options.polish && t == next_polish {
            next_polish *= 2;
            if let Some(p) = polish(a, n, &x, options.tolerance) {
                return Ok(equilibrium(a, n, p, beta, &mu, t, true));
            }
        }
        for k in 0..n {
            lh[k] = keep * l[k] + pull[k] + step * g[k];
        }
        normalise_logs(&mut lh, &mut xh);
        matvec(a, n, &xh, &mut g);
        for k in 0..n {
            l[k] = keep * l[k] + pull[k] + step * g[k];
        }
        let lse = log_sum_exp(l.iter().copied());
        let mut moved = 0.0f64;
        for (li, xi) in l.iter_mut().zip(x.iter_mut()) {
            *li -= lse;
            let v = li.exp();
            moved = moved.max((v - *xi).abs());
            *xi = v;
        }
        if moved == 0.0 {
            return Ok(equilibrium(a, n, x, beta, &mu, t + 1, true));
        }
    }
    if beta == 0.0 && options.polish {
        if let Some(p) = polish(a, n, &x, options.tolerance) {
            return Ok(equilibrium(a, n, p, beta, &mu, options.iterations, true));
        }
    }
    let mut out = equilibrium(a, n, x, beta, &mu, options.iterations, false);
    out.converged = out.exploitability <= options.tolerance;
    Ok(out)
}

/// An exact finish for β = 0: for supports S guessed from x (entries ≥ 10^{-k}·max x), solves the game restricted
/// to S exactly ([`solve_exact`] on A_SS) and returns the first solution that no model outside S beats by more than
/// `tolerance` (it is then an equilibrium of the whole game).
fn polish(a: &[f64], n: usize, x: &[f64], tolerance: f64) -> Option<Vec<f64>> {
    let top = max_of(x);
    let mut tried: Vec<Vec<usize>> = Vec::new();
    let mut g = vec![0.0; n];
    for k in [2, 4, 6, 8, 10] {
        let cut = top * 10f64.powi(-k);
        let s: Vec<usize> = (0..n).filter(|&i| x[i] >= cut).collect();
        if s.is_empty() || tried.contains(&s) {
            continue;
        }
        let sub: Vec<f64> = s.iter().flat_map(|&r| s.iter().map(move |&i| a[r * n + i])).collect();
        if let Ok(eq) = solve_exact(&sub, s.len()) {
            let mut y = vec![0.0; n];
            for (&i, p) in s.iter().zip(&eq.probabilities) {
                y[i] = *p;
            }
            matvec(a, n, &y, &mut g);
            if max_of(&g) <= tolerance {
                return Some(y);
            }
        }
        tried.push(s);
    }
    None
}

/// The normal matrix A_SSᵀA_SS + 11ᵀ of the support equations (A x)_S = 0, Σ x_S = 1.
fn support_normal(a: &[f64], n: usize, s: &[usize]) -> Array2<f64> {
    let m = s.len();
    let sub: Vec<f64> = s.iter().flat_map(|&r| s.iter().map(move |&i| a[r * n + i])).collect();
    let mut normal = Array2::<f64>::ones((m, m));
    for row in sub.chunks_exact(m) {
        for p in 0..m {
            for q in 0..m {
                normal[[p, q]] += row[p] * row[q];
            }
        }
    }
    normal
}

/// Least-squares solution of (A x)_S = 0, Σ x = 1 with x zero off S; `None` when clearly negative. When the
/// equations do not pin x (several equilibria share the support) a ridge of 1e-12 × the mean diagonal picks the
/// least-norm one.
fn solve_on_support(a: &[f64], n: usize, s: &[usize]) -> Option<Vec<f64>> {
    let m = s.len();
    if m == 0 {
        return None;
    }
    let mut normal = support_normal(a, n, s);
    let l = cholesky(&normal).or_else(|| {
        let ridge = 1e-12 * (0..m).map(|k| normal[[k, k]]).sum::<f64>() / m as f64;
        for k in 0..m {
            normal[[k, k]] += ridge;
        }
        cholesky(&normal)
    })?;
    let mut y = vec![1.0; m];
    cholesky_solve(&l, &mut y);
    if y.iter().any(|v| !v.is_finite() || *v < -1e-9) {
        return None;
    }
    let mut x = vec![0.0; n];
    for (&i, v) in s.iter().zip(&y) {
        x[i] = v.max(0.0);
    }
    let sum: f64 = x.iter().sum();
    (sum > 0.0).then(|| x.iter().map(|v| v / sum).collect())
}

/// Whether x (an equilibrium of the β = 0 game with A x = g) is certified to be the only one: every model off
/// the support loses strictly to it ((A x)_i < −1e-9·max|A|) and the support's equations (A y)_S = 0, Σ y = 1 have
/// one solution (A_SSᵀA_SS + 11ᵀ well conditioned). Both together imply uniqueness: another equilibrium y would
/// have its support in S and solve the same equations. Failing them usually means a face of equilibria.
fn certified_unique(a: &[f64], n: usize, x: &[f64], g: &[f64]) -> bool {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let s = support(x);
    if s.iter().any(|&i| g[i].abs() > 1e-6 * scale.max(1e-300)) {
        return false;
    }
    let strict = (0..n).filter(|i| x[*i] <= SUPPORT_TOL).all(|i| g[i] < -1e-9 * scale);
    if !strict {
        return false;
    }
    let normal = support_normal(a, n, &s);
    let top = (0..s.len()).map(|k| normal[[k, k]]).fold(0.0, f64::max);
    cholesky(&normal).is_some_and(|l| (0..s.len()).all(|k| l[[k, k]] * l[[k, k]] > 1e-10 * top))
}

/// The exact equilibrium of the β = 0 game by linear programming: with B = A/max|A| + 2 (all entries in [1, 3]),
/// max Σw s.t. B w ≤ 1, w ≥ 0 by a dense simplex with Bland's rule (no cycling); x = w/Σw then satisfies
/// (A x)_i ≤ 0. The test oracle. `iterations` counts pivots.
pub fn solve_exact(a: &[f64], n: usize) -> Result<Equilibrium> {
    let scale = check_matrix(a, n)?;
    let uniform = vec![1.0 / n as f64; n];
    if scale == 0.0 || n == 1 {
        return Ok(equilibrium(a, n, uniform.clone(), 0.0, &uniform, 0, true));
    }
    let (w, pivots, ok) = simplex(a, n, scale);
    let sum: f64 = w.iter().sum();
    let x: Vec<f64> = if sum > 0.0 { w.iter().map(|v| v / sum).collect() } else { uniform.clone() };
    let mut best = equilibrium(a, n, x, 0.0, &uniform, pivots, ok);
    // Rounding of the tableau leaves ~1e-15; the support's equalities can only tighten it.
    if let Some(y) = solve_on_support(a, n, &best.support) {
        let polished = equilibrium(a, n, y, 0.0, &uniform, pivots, ok);
        if polished.exploitability < best.exploitability {
            best = polished;
        }
    }
    Ok(best)
}

/// The simplex on the tableau [B | I | 1] with slack basis. Returns w, the pivot count and whether it ended optimal.
fn simplex(a: &[f64], n: usize, scale: f64) -> (Vec<f64>, usize, bool) {
    let width = 2 * n + 1;
    let mut t = vec![0.0; (n + 1) * width];
    for i in 0..n {
        for j in 0..n {
            t[i * width + j] = a[i * n + j] / scale + 2.0;
        }
        t[i * width + n + i] = 1.0;
        t[i * width + 2 * n] = 1.0;
    }
    let obj = n * width;
    for j in 0..n {
        t[obj + j] = -1.0;
    }
    let mut basis: Vec<usize> = (n..2 * n).collect();
    let eps = 1e-12;
    let limit = 50 * (n + 1) * (n + 1);
    let mut pivots = 0;
    let mut optimal = false;
    while pivots < limit {
        // Dantzig's rule: the most negative reduced cost enters.
        let (col, cost) = (0..2 * n).map(|j| (j, t[obj + j])).fold((0, 0.0), |b, c| if c.1 < b.1 { c } else { b });
        if cost >= -eps {
            optimal = true;
            break;
        }
        // Lexicographic ratio test on (rhs, slack columns) / pivot column: no cycling on degenerate games.
        let mut row: Option<usize> = None;
        for i in 0..n {
            let v = t[i * width + col];
            if v > eps && row.is_none_or(|r| lex_less(&t, width, n, i, r, col)) {
                row = Some(i);
            }
        }
        // B > 0 bounds every column, so a pivot row always exists; stop safely if rounding says otherwise.
        let Some(r) = row else { break };
        pivot(&mut t, width, n + 1, r, col);
        basis[r] = col;
        pivots += 1;
    }
    let mut w = vec![0.0; n];
    for (i, &b) in basis.iter().enumerate() {
        if b < n {
            w[b] = t[i * width + 2 * n].max(0.0);
        }
    }
    (w, pivots, optimal)
}

/// Whether row i's (rhs, slack part) / t[i][col] is lexicographically smaller than row r's (to a relative 1e-11).
fn lex_less(t: &[f64], width: usize, n: usize, i: usize, r: usize, col: usize) -> bool {
    let (vi, vr) = (t[i * width + col], t[r * width + col]);
    let key = |row: usize, v: f64, k: usize| t[row * width + if k == 0 { 2 * n } else { n + k - 1 }] / v;
    for k in 0..=n {
        let (a, b) = (key(i, vi, k), key(r, vr, k));
        if (a - b).abs() > 1e-11 * (1.0 + a.abs().max(b.abs())) {
            return a < b;
        }
    }
    false
}

fn pivot(t: &mut [f64], width: usize, rows: usize, r: usize, c: usize) {
    let p = t[r * width + c];
    for v in &mut t[r * width..(r + 1) * width] {
        *v /= p;
    }
    let pivot_row: Vec<f64> = t[r * width..(r + 1) * width].to_vec();
    for i in 0..rows {
        if i == r {
            continue;
        }
        let f = t[i * width + c];
        if f != 0.0 {
            for (v, q) in t[i * width..(i + 1) * width].iter_mut().zip(&pivot_row) {
                *v -= f * q;
            }
        }
    }
}

/// The Nash equilibrium (maximal lottery) of a set of battles: builds A with [`payoff`] and solves it. `Solver::Auto`
/// uses the exact simplex when β = 0 and there are at most [`EXACT_LIMIT`] models (exact answer and support, under a
/// millisecond for 59 models), else the extragradient.
pub fn nash(battles: &Battles, options: &NashBattleOptions) -> Result<NashResult> {
    solve_payoff(payoff(battles, &options.matrix)?, options)
}

/// The payoff of a weighted population of judges (MNPO): each judge's battles give a payoff over its own models
/// (with `options`), placed on the union of the models by name (in order of first appearance, judge by judge; a
/// model a judge never saw has margin 0 against everyone in that judge's matrix), then averaged with the weights
/// ([`population`]).
///
/// # Errors
/// `EMPTY` without judges; the payoff's and [`population`]'s errors (bad weights).
pub fn population_payoff(judges: &[(&Battles, f64)], options: &MatrixOptions) -> Result<Payoff> {
    if judges.is_empty() {
        return Err(Error::Empty(" (no judges)".into()));
    }
    let mut models: Vec<String> = Vec::new();
    let mut each = Vec::with_capacity(judges.len());
    for &(battles, weight) in judges {
        let p = payoff(battles, options)?;
        for m in &p.models {
            if !models.contains(m) {
                models.push(m.clone());
            }
        }
        each.push((weight, p));
    }
    let n = models.len();
    let mut matrices = Vec::with_capacity(each.len());
    let (mut observed, mut unobserved) = (usize::MAX, 0);
    for (weight, p) in &each {
        let at: Vec<usize> = p.models.iter().map(|m| models.iter().position(|u| u == m).unwrap_or(0)).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..p.n {
            for j in 0..p.n {
                a[at[i] * n + at[j]] = p.matrix[i * p.n + j];
            }
        }
        observed = observed.min(p.observed_pairs);
        unobserved = unobserved.max(p.unobserved_pairs + (n * (n - 1) - p.n * (p.n - 1)) / 2);
        matrices.push((*weight, a));
    }
    let matrix = population(&matrices)?;
    Ok(Payoff { models, n, matrix, margins: options.margins, observed_pairs: observed, unobserved_pairs: unobserved })
}

/// The equilibrium of a payoff built from battles, with the solver `options` ask for (see [`nash`]).
///
/// # Errors
/// As [`nash`].
pub fn solve_payoff(p: Payoff, options: &NashBattleOptions) -> Result<NashResult> {
    let o = &options.nash;
    check_beta(o.beta)?;
    let solver = match options.solver {
        Solver::Auto if o.beta == 0.0 && p.n <= EXACT_LIMIT => Solver::Exact,
        Solver::Auto => Solver::Extragradient,
        Solver::Exact if o.beta > 0.0 => return Err(Error::option("solver", "the exact solver needs beta = 0")),
        s => s,
    };
    let eq = if solver == Solver::Exact { solve_exact(&p.matrix, p.n)? } else { solve(&p.matrix, p.n, o)? };
    let n = p.n;
    let mut warnings = Vec::new();
    if p.unobserved_pairs > 0 {
        let fill = match (p.margins, options.matrix.impute) {
            (Margins::Nlhf, Impute::Bt) => "imputed from Bradley-Terry",
            _ => "given margin 0",
        };
        warnings.push(format!("{} of {} model pairs never met and were {fill}", p.unobserved_pairs, n * (n - 1) / 2));
    }
    if !eq.unique {
        warnings.push(
            "the equilibrium is not certified unique: other lotteries are equilibria too (impute unobserved pairs \
             from Bradley-Terry, or set beta > 0, to select one)"
                .into(),
        );
    }
    let pure = (0..n).map(|m| (0..n).map(|i| p.matrix[i * n + m]).fold(0.0, f64::max)).collect();
    Ok(NashResult {
        models: p.models,
        probabilities: eq.probabilities,
        exploitability: eq.exploitability,
        support: eq.support,
        unique: eq.unique,
        value: eq.value,
        margins: p.margins,
        beta: o.beta,
        solver,
        iterations: eq.iterations,
        converged: eq.converged,
        pure_exploitability: pure,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A game with integer margins and many zeros (Fishburn-like): the simplex must end optimal, not cycle.
    #[test]
    fn simplex_ends_on_degenerate_games() {
        let n = 9;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let v = [0.0, 1.0, -1.0, 2.0, 0.0][(i * 7 + j * 3) % 5];
                a[i * n + j] = v;
                a[j * n + i] = -v;
            }
        }
        let (w, _, optimal) = simplex(&a, n, 2.0);
        assert!(optimal);
        let eq = solve_exact(&a, n).unwrap();
        assert!(eq.converged && eq.exploitability < 1e-12, "{eq:?}");
        assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn uniqueness_certificate() {
        // Weighted cycle: unique. Two models that never met: a segment of equilibria.
        let cycle = [0.0, 0.4, -0.2, -0.4, 0.0, 0.1, 0.2, -0.1, 0.0];
        let x = [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0];
        let mut g = vec![0.0; 3];
        matvec(&cycle, 3, &x, &mut g);
        assert!(certified_unique(&cycle, 3, &x, &g));
        let zero = [0.0; 4];
        assert!(!certified_unique(&zero, 2, &[0.5, 0.5], &[0.0, 0.0]));
    }
}
