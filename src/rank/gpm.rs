//! GPM: skew-symmetric preference embeddings fitted on battles (spec 1.8), alone or as a "BT + GPM" hybrid.
//!
//! Follows the General Preference Model (Zhang et al., `general-preference/general-preference-model`,
//! `general_preference/models/loss.py`) with λ_l = 1: each model m has an embedding v_m ∈ R^{2k} and
//!   s(i, j) = Σ_l (v_i[2l]·v_j[2l+1] − v_i[2l+1]·v_j[2l]),   P(i ≻ j) = σ(θ_i − θ_j + s(i, j)/τ),
//! where θ (the Bradley-Terry part) is present only in the hybrid. s is skew-symmetric (s(i, j) = −s(j, i),
//! s(i, i) = 0), so a k = 1 embedding can represent a rock-paper-scissors cycle that BT flattens to ½.
//!
//! **Parametrisation.** The paper L2-normalises v and fixes τ = 0.1 (or learns it): that caps every logit at 1/τ,
//! so the confidence of the fit is a hyperparameter, not an estimate. On battles we want the maximum-likelihood
//! logits, so v is left unnormalised and the scale is learnt. The loss alone does not pin v: every symplectic map
//! M (det M = 1 for k = 1) sends v to Mv without changing any s, a non-compact set of optima, and on undefeated
//! cycles the logits run to infinity. An L2 penalty ½·l2·‖v‖² (a Gaussian prior N(0, 1/l2) on each coordinate,
//! on the sum scale, so it weighs less as data grow) picks the smallest embedding among them, keeps everything
//! finite and leaves only rotations (U(k)) free. It also acts as a threshold: a residual intransitivity weaker than
//! l2 leaves v at 0. τ only rescales v (v/√τ with penalty l2·τ is the same model); it is kept at 1 by default.
//!
//! **Default l2 = 10**, a prior N(0, 0.1) on each coordinate: a priori an intransitive logit s(i, j) has a spread of
//! about √(2k)/10, small next to typical rating gaps, while a strong cycle still shows (on 9999 : 1 cycle votes the
//! fit gives P = 0.9993; the penalty costs about 0.58·l2/votes per pair). On LLMFAO crowd votes, held out by item,
//! l2 = 1 overfits (k = 4: log-loss 0.697 against BT's 0.651), l2 = 10 is at or below BT for k = 1, 2, 4, and from
//! l2 ≈ 30 the hybrid keeps v = 0 (it is BT).
//!
//! **Fit.** The ½-win binary cross-entropy is summed on pair totals (n_ij, s_ij as in [`super::bt`]), so one
//! evaluation costs O(pairs · k). The loss is non-convex (v = 0 is a saddle point), so v starts from small seeded
//! normal draws ([`crate::rng::Stream`]); the hybrid's θ starts from the Bradley-Terry fit, so it starts at BT's
//! likelihood (up to the tiny initial v) and descends from there. The optimiser is the crate's L-BFGS (memory 10,
//! backtracking Armijo line search) on the full-batch objective divided by the number of battles; it stops when
//! max |gradient| ≤ `tolerance`. θ is unpenalised when the comparison graph is strongly connected and gets
//! [`super::FALLBACK_RIDGE`] otherwise, as the leaderboard does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bt::{self, sigmoid, softplus};
use super::graph::Components;
use super::rows::Pair;
use super::FALLBACK_RIDGE;
use crate::battles::Battles;
use crate::error::{Error, Location, Result};
use crate::optim::minimise;
use crate::rng::Stream;

/// Largest embedding half-dimension accepted (2k = 512 coordinates per model).
pub const MAX_K: usize = 256;

/// Standard deviation of the seeded initial embedding coordinates.
const INIT_SCALE: f64 = 0.1;

/// Options of a GPM fit.
#[derive(Clone, Debug, PartialEq)]
pub struct GpmOptions {
    /// Number of 2-D blocks: embeddings live in R^{2k} (default 1, at least 1).
    pub k: usize,
    /// Add a Bradley-Terry rating θ to the logit, θ_i − θ_j + s(i, j)/τ (default true).
    pub hybrid: bool,
    /// Temperature dividing s (default 1; finite and > 0).
    pub tau: f64,
    /// L2 penalty ½·l2·‖v‖² on the embeddings, on the sum-of-battles scale (default 10; finite and > 0).
    pub l2: f64,
    /// Seed of the initial embeddings (default 0).
    pub seed: u64,
    /// Most L-BFGS iterations (default 3000).
    pub max_iterations: usize,
    /// Stop when max |gradient| of the per-battle objective ≤ tolerance (default 1e-7).
    pub tolerance: f64,
}

impl Default for GpmOptions {
    fn default() -> Self {
        Self { k: 1, hybrid: true, tau: 1.0, l2: 10.0, seed: 0, max_iterations: 3000, tolerance: 1e-7 }
    }
}

/// A fitted GPM.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GpmFit {
    /// Number of 2-D blocks.
    pub k: usize,
    /// Embeddings, n × 2k row-major (model m's are `embeddings[m * 2k..(m + 1) * 2k]`).
    pub embeddings: Vec<f64>,
    /// Bradley-Terry part on the log-odds scale (mean 0 without a ridge); zeros without the hybrid.
    pub theta: Vec<f64>,
    /// Temperature dividing s.
    pub tau: f64,
    /// ½-win log-likelihood Σ_pairs [s_ij·x_ij − n_ij·softplus(x_ij)] at the fit (without the penalties).
    pub log_likelihood: f64,
    /// The ridge put on θ: 0, or [`FALLBACK_RIDGE`] when the comparison graph is not strongly connected.
    pub ridge: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
}

impl GpmFit {
    /// Number of models.
    pub fn n(&self) -> usize {
        self.theta.len()
    }

    fn embedding(&self, m: usize) -> &[f64] {
        &self.embeddings[m * 2 * self.k..(m + 1) * 2 * self.k]
    }

    /// The skew-symmetric score s(i, j) (before dividing by τ). Panics if a model id is out of range.
    pub fn score(&self, i: usize, j: usize) -> f64 {
        skew(self.embedding(i), self.embedding(j))
    }

    /// The logit of i beating j: θ_i − θ_j + s(i, j)/τ.
    pub fn logit(&self, i: usize, j: usize) -> f64 {
        self.theta[i] - self.theta[j] + self.score(i, j) / self.tau
    }

    /// P(i ≻ j) = σ(logit); ½ for i = j.
    pub fn probability(&self, i: usize, j: usize) -> f64 {
        sigmoid(self.logit(i, j))
    }

    /// All probabilities, n × n row-major: `[i * n + j]` = P(i ≻ j), ½ on the diagonal.
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.n();
        (0..n * n).map(|c| self.probability(c / n, c % n)).collect()
    }
}

/// Σ_l (a[2l]·b[2l+1] − a[2l+1]·b[2l]).
fn skew(a: &[f64], b: &[f64]) -> f64 {
    a.chunks_exact(2).zip(b.chunks_exact(2)).map(|(p, q)| p[0] * q[1] - p[1] * q[0]).sum()
}

/// Held-out log-loss of one method.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldOut {
    /// "bt" or "gpm k=K".
    pub label: String,
    /// Mean binary log-loss −[y ln p + (1 − y) ln(1 − p)], y ∈ {1, ½, 0}, weighted by weight × count.
    pub log_loss: f64,
    /// Held-out battles scored (sum of counts).
    pub battles: u64,
    /// Held-out battles skipped because a model had no training battles.
    pub skipped: u64,
}

fn validate(options: &GpmOptions) -> Result<()> {
    if options.k == 0 || options.k > MAX_K {
        return Err(Error::option("k", format!("must be between 1 and {MAX_K}, got {}", options.k)));
    }
    if !(options.tau.is_finite() && options.tau > 0.0) {
        return Err(Error::option("tau", format!("must be finite and > 0, got {}", options.tau)));
    }
    if !(options.l2.is_finite() && options.l2 > 0.0) {
        let why = format!("must be finite and > 0 (the penalty is what pins the embeddings), got {}", options.l2);
        return Err(Error::option("l2", why));
    }
    if !(options.tolerance.is_finite() && options.tolerance >= 0.0) {
        return Err(Error::option("tolerance", format!("must be finite and ≥ 0, got {}", options.tolerance)));
    }
    Ok(())
}

/// Fits a GPM on battles (ties and both-bad as half a win, each record weighted by weight × count).
///
/// # Errors
/// `INVALID_OPTION` for a bad option, `EMPTY` without battles of positive weight, `INVALID_NUMBER` for a
/// non-finite or negative weight.
pub fn fit(battles: &Battles, options: &GpmOptions) -> Result<GpmFit> {
    validate(options)?;
    let pairs = totals(battles, |_| true)?;
    fit_totals(battles.models().len(), &pairs, options)
}

/// Fits a GPM on pair totals of `n` models ([`Pair`]: i < j < n, n_ij ≥ 0 the total weight, 0 ≤ s_ij ≤ n_ij the
/// weight of i's score).
///
/// # Errors
/// `INVALID_OPTION` for a bad option or a pair with i ≥ j or j ≥ n, `INVALID_NUMBER` (row = pair index + 1) for a
/// non-finite or out-of-range n or s, `EMPTY` when the total weight is 0.
pub fn fit_totals(n: usize, pairs: &[Pair], options: &GpmOptions) -> Result<GpmFit> {
    validate(options)?;
    check_pairs(n, pairs)?;
    let total: f64 = pairs.iter().map(|p| p.n).sum();
    if total <= 0.0 {
        return Err(Error::Empty(" (no pair has a positive weight)".into()));
    }
    let pairs: Vec<Pair> = pairs.iter().copied().filter(|p| p.n > 0.0).collect();
    let ridge = if Components::new(n, &pairs).strongly_connected() { 0.0 } else { FALLBACK_RIDGE };
    let problem = Problem { n, k: options.k, hybrid: options.hybrid, tau: options.tau, l2: options.l2, ridge, total };
    let mut x = problem.start(&pairs, options.seed);
    let run = minimise(
        |x, g| problem.evaluate(&pairs, x, Some(g)),
        &mut x,
        options.max_iterations,
        options.tolerance,
        |_, _| false,
    );
    let offset = if options.hybrid { n } else { 0 };
    let mut theta = if options.hybrid { x[..n].to_vec() } else { vec![0.0; n] };
    if ridge == 0.0 {
        let mean = theta.iter().sum::<f64>() / n as f64;
        for t in &mut theta {
            *t -= mean;
        }
    }
    let log_likelihood = -problem.evaluate(&pairs, &x, None) * total + problem.penalty(&x);
    Ok(GpmFit {
        k: options.k,
        embeddings: x[offset..].to_vec(),
        theta,
        tau: options.tau,
        log_likelihood,
        ridge,
        iterations: run.iterations,
        converged: run.converged,
    })
}

fn check_pairs(n: usize, pairs: &[Pair]) -> Result<()> {
    for (index, p) in pairs.iter().enumerate() {
        if p.i >= p.j || p.j as usize >= n {
            return Err(Error::option("pairs", format!("pair {index} is ({}, {}): need i < j < {n}", p.i, p.j)));
        }
        let at = |field: &str| Location { row: index + 1, field: Some(field.to_owned()) };
        if !(p.n.is_finite() && p.n >= 0.0) {
            return Err(Error::InvalidNumber { at: at("n"), value: p.n.to_string(), why: "must be finite and ≥ 0" });
        }
        if !(p.s.is_finite() && p.s >= 0.0 && p.s <= p.n * (1.0 + 1e-12)) {
            let why = "must be finite and between 0 and n";
            return Err(Error::InvalidNumber { at: at("s"), value: p.s.to_string(), why });
        }
    }
    Ok(())
}

/// Pair totals (i < j, sorted) of the records `keep` selects: n = Σ weight·count, s = Σ weight·count·score of i.
fn totals(battles: &Battles, keep: impl Fn(usize) -> bool) -> Result<Vec<Pair>> {
    let mut map: BTreeMap<(u32, u32), (f64, f64)> = BTreeMap::new();
    for r in 0..battles.len() {
        if !keep(r) {
            continue;
        }
        let (a, b, outcome, count) = battles.record(r);
        let w = battles.weight(r);
        if !(w.is_finite() && w >= 0.0) {
            let at = Location { row: r + 1, field: Some("weight".into()) };
            return Err(Error::InvalidNumber { at, value: w.to_string(), why: "must be finite and ≥ 0" });
        }
        let wc = w * f64::from(count);
        if wc == 0.0 {
            continue;
        }
        let y = outcome.score();
        let (key, y) = if a < b { ((a as u32, b as u32), y) } else { ((b as u32, a as u32), 1.0 - y) };
        let e = map.entry(key).or_insert((0.0, 0.0));
        e.0 += wc;
        e.1 += wc * y;
    }
    Ok(map.into_iter().map(|((i, j), (n, s))| Pair { i, j, n, s }).collect())
}

/// The objective: parameters x = [θ (hybrid only); v (n × 2k)].
struct Problem {
    n: usize,
    k: usize,
    hybrid: bool,
    tau: f64,
    l2: f64,
    ridge: f64,
    total: f64,
}

impl Problem {
    fn offset(&self) -> usize {
        if self.hybrid {
            self.n
        } else {
            0
        }
    }

    /// θ from Bradley-Terry (hybrid), v from seeded normals (zero for models without battles).
    fn start(&self, pairs: &[Pair], seed: u64) -> Vec<f64> {
        let d = 2 * self.k;
        let mut x = vec![0.0; self.offset() + self.n * d];
        if self.hybrid {
            x[..self.n].copy_from_slice(&bt::fit(self.n, pairs, self.ridge, None, 1e-10).theta);
        }
        let mut active = vec![false; self.n];
        for p in pairs {
            active[p.i as usize] = true;
            active[p.j as usize] = true;
        }
        let mut stream = Stream::new(seed, 0);
        let offset = self.offset();
        for (m, v) in x[offset..].chunks_exact_mut(d).enumerate() {
            for c in v {
                let draw = stream.normal();
                *c = if active[m] { INIT_SCALE * draw } else { 0.0 };
            }
        }
        x
    }

    /// ½·ridge·‖θ‖² + ½·l2·‖v‖² (sum scale).
    fn penalty(&self, x: &[f64]) -> f64 {
        let (theta, v) = x.split_at(self.offset());
        0.5 * self.ridge * theta.iter().map(|t| t * t).sum::<f64>()
            + 0.5 * self.l2 * v.iter().map(|c| c * c).sum::<f64>()
    }

    /// The penalised negative log-likelihood divided by the number of battles, and its gradient into `g`.
    fn evaluate(&self, pairs: &[Pair], x: &[f64], mut g: Option<&mut [f64]>) -> f64 {
        let d = 2 * self.k;
        let offset = self.offset();
        let (theta, v) = x.split_at(offset);
        if let Some(g) = g.as_deref_mut() {
            let (gt, gv) = g.split_at_mut(offset);
            for (gk, t) in gt.iter_mut().zip(theta) {
                *gk = self.ridge * t;
            }
            for (gk, c) in gv.iter_mut().zip(v) {
                *gk = self.l2 * c;
            }
        }
        let mut loss = self.penalty(x);
        for p in pairs {
            let (i, j) = (p.i as usize, p.j as usize);
            let (vi, vj) = (&v[i * d..(i + 1) * d], &v[j * d..(j + 1) * d]);
            let bt_part = if self.hybrid { theta[i] - theta[j] } else { 0.0 };
            let logit = bt_part + skew(vi, vj) / self.tau;
            loss += p.n * softplus(logit) - p.s * logit;
            let Some(g) = g.as_deref_mut() else { continue };
            let r = p.n * sigmoid(logit) - p.s;
            if self.hybrid {
                g[i] += r;
                g[j] -= r;
            }
            let r = r / self.tau;
            for l in 0..self.k {
                let (a0, a1, b0, b1) = (vi[2 * l], vi[2 * l + 1], vj[2 * l], vj[2 * l + 1]);
                let gi = offset + i * d + 2 * l;
                let gj = offset + j * d + 2 * l;
                g[gi] += r * b1;
                g[gi + 1] -= r * b0;
                g[gj] -= r * a1;
                g[gj + 1] += r * a0;
            }
        }
        if let Some(g) = g {
            for x in g.iter_mut() {
                *x /= self.total;
            }
        }
        loss / self.total
    }
}

/// A fitted model's logit of a beating b.
type Logit = Box<dyn Fn(usize, usize) -> f64>;

/// Held-out log-loss of Bradley-Terry and of GPM for each k in `ks` (default options otherwise), trained on the
/// records where `test` is false and scored on those where it is true. See [`held_out_with`].
///
/// # Errors
/// As [`held_out_with`].
pub fn held_out(battles: &Battles, test: &[bool], ks: &[usize]) -> Result<Vec<HeldOut>> {
    held_out_with(battles, test, ks, &GpmOptions::default())
}

/// Held-out log-loss: Bradley-Terry (½-win, [`super::bt`], [`FALLBACK_RIDGE`] when the training graph is not
/// strongly connected) as "bt", then a GPM fit with `options` and `k` = each of `ks` as "gpm k=K". A held-out
/// record whose model has no training battles is skipped and counted in `skipped`; records of weight 0 are ignored.
///
/// # Errors
/// `INVALID_OPTION` when `test` does not have one entry per record or an option (or a k) is invalid; `EMPTY` when
/// nothing is left to train on or no held-out battle can be scored; `INVALID_NUMBER` for a bad weight.
pub fn held_out_with(battles: &Battles, test: &[bool], ks: &[usize], options: &GpmOptions) -> Result<Vec<HeldOut>> {
    if test.len() != battles.len() {
        return Err(Error::option("test", format!("has {} entries for {} records", test.len(), battles.len())));
    }
    for &k in ks {
        validate(&GpmOptions { k, ..options.clone() })?;
    }
    let n = battles.models().len();
    let train = totals(battles, |r| !test[r])?;
    if train.is_empty() {
        return Err(Error::Empty(" (no training battles)".into()));
    }
    let mut seen = vec![false; n];
    for p in &train {
        seen[p.i as usize] = true;
        seen[p.j as usize] = true;
    }
    let ridge = if Components::new(n, &train).strongly_connected() { 0.0 } else { FALLBACK_RIDGE };
    let bt_theta = bt::fit(n, &train, ridge, None, 1e-10).theta;
    let mut logits: Vec<(String, Logit)> = vec![("bt".into(), Box::new(move |a, b| bt_theta[a] - bt_theta[b]))];
    for &k in ks {
        let gpm = fit_totals(n, &train, &GpmOptions { k, ..options.clone() })?;
        logits.push((format!("gpm k={k}"), Box::new(move |a, b| gpm.logit(a, b))));
    }
    let (mut losses, mut weight, mut scored, mut skipped) = (vec![0.0; logits.len()], 0.0, 0_u64, 0_u64);
    for r in (0..battles.len()).filter(|&r| test[r]) {
        let (a, b, outcome, count) = battles.record(r);
        let wc = battles.weight(r) * f64::from(count);
        if !(wc.is_finite() && wc > 0.0) {
            continue;
        }
        if !(seen[a] && seen[b]) {
            skipped += u64::from(count);
            continue;
        }
        let y = outcome.score();
        for (loss, (_, logit)) in losses.iter_mut().zip(&logits) {
            let x = logit(a, b);
            *loss += wc * (y * softplus(-x) + (1.0 - y) * softplus(x));
        }
        weight += wc;
        scored += u64::from(count);
    }
    if weight == 0.0 {
        return Err(Error::Empty(" (no held-out battle between models seen in training)".into()));
    }
    Ok(logits
        .into_iter()
        .zip(losses)
        .map(|((label, _), loss)| HeldOut { label, log_loss: loss / weight, battles: scored, skipped })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(win: f64, lose: f64) -> Vec<Pair> {
        // A ≻ B, B ≻ C, C ≻ A: pairs (0,1) s = win, (1,2) s = win, (0,2) s = lose (A's score against C).
        let n = win + lose;
        vec![Pair { i: 0, j: 1, n, s: win }, Pair { i: 1, j: 2, n, s: win }, Pair { i: 0, j: 2, n, s: lose }]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let pairs = vec![
            Pair { i: 0, j: 1, n: 7.0, s: 5.0 },
            Pair { i: 0, j: 3, n: 3.0, s: 0.5 },
            Pair { i: 1, j: 2, n: 10.0, s: 2.5 },
            Pair { i: 2, j: 3, n: 4.0, s: 4.0 },
            Pair { i: 1, j: 3, n: 2.0, s: 1.0 },
        ];
        for hybrid in [false, true] {
            for ridge in [0.0, 1.0] {
                let problem = Problem { n: 4, k: 2, hybrid, tau: 0.7, l2: 0.3, ridge, total: 26.0 };
                let mut x = problem.start(&pairs, 3);
                let mut stream = Stream::new(9, 1);
                for c in &mut x {
                    *c += stream.normal();
                }
                let mut g = vec![0.0; x.len()];
                problem.evaluate(&pairs, &x, Some(&mut g));
                for c in 0..x.len() {
                    let h = 1e-6;
                    let (mut up, mut down) = (x.clone(), x.clone());
                    up[c] += h;
                    down[c] -= h;
                    let fd = (problem.evaluate(&pairs, &up, None) - problem.evaluate(&pairs, &down, None)) / (2.0 * h);
                    assert!((fd - g[c]).abs() < 1e-7, "coordinate {c}: analytic {} vs numeric {fd}", g[c]);
                }
            }
        }
    }

    #[test]
    fn pure_gpm_fits_a_cycle() {
        let options = GpmOptions { hybrid: false, ..GpmOptions::default() };
        let fit = fit_totals(3, &cycle(999.0, 1.0), &options).unwrap();
        assert!(fit.converged);
        for (i, j) in [(0, 1), (1, 2), (2, 0)] {
            let p = fit.probability(i, j);
            // The empirical 0.999 less the l2 = 10 shrinkage, about 0.58·10/1000.
            assert!((p - (0.999 - 0.0058)).abs() < 5e-4, "P({i}≻{j}) = {p}");
        }
    }
}
