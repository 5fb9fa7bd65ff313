//! Tie models (spec 1.3): Davidson (1970) and Rao-Kupper (1967) maximum likelihood on per-pair totals, and a
//! held-out comparison of both against Bradley-Terry with ties as half a win.
//!
//! With strengths π = e^θ and d = θ_i − θ_j:
//! - Davidson: P(i) = π_i/D, P(j) = π_j/D, P(tie) = ν√(π_iπ_j)/D, D = π_i + π_j + ν√(π_iπ_j), ν ≥ 0. With
//!   x = d/2 and φ = ln ν this is a softmax over (x, −x, φ), so the negative log-likelihood is convex in (θ, φ).
//! - Rao-Kupper: P(i) = π_i/(π_i + κπ_j), P(tie) = (κ² − 1)π_iπ_j/((π_i + κπ_j)(κπ_i + π_j)), κ ≥ 1. With
//!   η = ln κ ≥ 0 it is a cumulative-logit model, P(i) = σ(d − η), P(j) = σ(−d − η),
//!   P(tie) = σ(d + η)·σ(η − d)·(1 − e^{−2η}); the negative log-likelihood is convex in (θ, η).
//!
//! Both are fitted by damped Newton on (θ, ln ν) resp. (θ, η) over per-pair totals (wins of i, wins of j, ties;
//! weighted counts), starting from θ = 0 and the equal-players closed form ν = 2t/(1−t) resp.
//! κ = (1+t)/(1−t) of the overall tie fraction t. θ is centred to mean 0.
//!
//! Degenerate data (documented behaviour):
//! - no ties at all: the MLE of the tie parameter is on the boundary (ν̂ = 0, κ̂ = 1), where both models are
//!   Bradley-Terry; the fit returns exactly `tie = 0` (Davidson) or `tie = 1` (Rao-Kupper) and fits θ alone.
//! - every battle a tie: ν̂ and κ̂ are infinite; the fit returns [`Error::Empty`] (no decisive battle).
//! - an undefeated or winless model, or groups that never met: the "won or tied against" graph is not strongly
//!   connected (a tie pulls both ways, so it is the graph of [`Components`] on half-win totals), the log-strengths
//!   get the ridge [`FALLBACK_RIDGE`] (unless the caller set one) and the models outside the largest strongly
//!   connected component are marked `identified: false`. Models without battles keep θ = 0.

use ndarray::Array2;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::bt::{self, sigmoid, softplus};
use super::graph::Components;
use super::rows::Pair;
use super::FALLBACK_RIDGE;
use crate::battles::{Battles, Outcome};
use crate::error::{Error, Location, Result};
use crate::linalg::{cholesky, cholesky_solve};

/// Which tie model to fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieModel {
    /// Davidson (1970): tie parameter ν ≥ 0.
    #[default]
    Davidson,
    /// Rao-Kupper (1967): tie parameter θ (here κ) ≥ 1.
    RaoKupper,
}

/// Options of a tie-model fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TieOptions {
    /// The model (default Davidson).
    pub model: TieModel,
    /// L2 ridge λ on the log-strengths, ½λ‖θ‖² (default 0; [`FALLBACK_RIDGE`] is used when the data have no
    /// finite MLE and this is 0).
    pub ridge: f64,
    /// Stop when max |gradient| ≤ tolerance · (total weight) (default 1e-10).
    pub tolerance: f64,
    /// Newton iterations at most (default 100).
    pub max_iterations: usize,
}

impl Default for TieOptions {
    fn default() -> Self {
        Self { model: TieModel::Davidson, ridge: 0.0, tolerance: 1e-10, max_iterations: 100 }
    }
}

/// Totals of one pair of models: weighted wins of `i`, wins of `j` and ties.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TiePair {
    /// One model id.
    pub i: u32,
    /// The other model id (≠ `i`).
    pub j: u32,
    /// Weight of i's wins.
    pub wins_i: f64,
    /// Weight of j's wins.
    pub wins_j: f64,
    /// Weight of ties.
    pub ties: f64,
}

impl TiePair {
    fn total(&self) -> f64 {
        self.wins_i + self.wins_j + self.ties
    }
}

/// A fitted tie model.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TieFit {
    /// The model fitted.
    pub model: TieModel,
    /// Log-strengths (natural log-odds scale), indexed by model id, mean 0.
    pub theta: Vec<f64>,
    /// The tie parameter: ν (Davidson, ≥ 0) or θ of Rao-Kupper (≥ 1).
    pub tie: f64,
    /// Log-likelihood of the data at the fit (without the ridge).
    pub log_likelihood: f64,
    /// Newton iterations.
    pub iterations: usize,
    /// Whether the gradient criterion was met within `max_iterations`.
    pub converged: bool,
    /// False for models the data cannot pin (outside the largest strongly connected component, or no battles).
    pub identified: Vec<bool>,
    /// The ridge used (the caller's, or [`FALLBACK_RIDGE`]).
    pub ridge: f64,
}

impl TieFit {
    /// [P(i wins), P(tie), P(j wins)] for models `i` and `j`. An id out of range counts as a model with θ = 0.
    pub fn probabilities(&self, i: usize, j: usize) -> [f64; 3] {
        let at = |m: usize| self.theta.get(m).copied().unwrap_or(0.0);
        outcome_probabilities(self.model, self.tie_coordinate(), at(i) - at(j))
    }

    /// ln ν or ln κ; `None` on the boundary (no ties possible).
    fn tie_coordinate(&self) -> Option<f64> {
        match self.model {
            TieModel::Davidson if self.tie > 0.0 => Some(self.tie.ln()),
            TieModel::RaoKupper if self.tie > 1.0 => Some(self.tie.ln()),
            _ => None,
        }
    }
}

/// [P(i), P(tie), P(j)] for a strength difference `d` and tie coordinate `tau` (ln ν or ln κ; `None`: no ties).
fn outcome_probabilities(model: TieModel, tau: Option<f64>, d: f64) -> [f64; 3] {
    match (model, tau) {
        (TieModel::Davidson, tau) => {
            let x = 0.5 * d;
            let z = log_z(x, tau);
            [(x - z).exp(), tau.map_or(0.0, |phi| (phi - z).exp()), (-x - z).exp()]
        }
        (TieModel::RaoKupper, None) => [sigmoid(d), 0.0, sigmoid(-d)],
        (TieModel::RaoKupper, Some(eta)) => [
            sigmoid(d - eta),
            (ln_sigmoid(d + eta) + ln_sigmoid(eta - d) + ln_tie_factor(eta)).exp(),
            sigmoid(-d - eta),
        ],
    }
}

/// ln(e^x + e^−x + e^φ) (the last term absent without ties).
fn log_z(x: f64, phi: Option<f64>) -> f64 {
    let m = phi.map_or(x.abs(), |p| x.abs().max(p));
    let sum = (x - m).exp() + (-x - m).exp() + phi.map_or(0.0, |p| (p - m).exp());
    m + sum.ln()
}

fn ln_sigmoid(u: f64) -> f64 {
    -softplus(-u)
}

/// ln(1 − e^{−2η}), the Rao-Kupper tie factor (η > 0).
fn ln_tie_factor(eta: f64) -> f64 {
    (-(-2.0 * eta).exp_m1()).ln()
}

/// One pair's negative log-likelihood and its derivatives in (d, τ).
#[derive(Clone, Copy, Default)]
struct Terms {
    nll: f64,
    gd: f64,
    gt: f64,
    hdd: f64,
    hdt: f64,
    htt: f64,
}

fn pair_terms(model: TieModel, tau: Option<f64>, d: f64, p: &TiePair) -> Terms {
    let (wi, wj, t) = (p.wins_i, p.wins_j, p.ties);
    let n = p.total();
    match model {
        TieModel::Davidson => {
            let x = 0.5 * d;
            let z = log_z(x, tau);
            let (pi, pj) = ((x - z).exp(), (-x - z).exp());
            let pt = tau.map_or(0.0, |phi| (phi - z).exp());
            let tie_term = if t > 0.0 { t * tau.unwrap_or(0.0) } else { 0.0 };
            let diff = pi - pj;
            Terms {
                nll: -(wi * x - wj * x + tie_term - n * z),
                gd: -0.5 * (wi - wj - n * diff),
                gt: if tau.is_some() { -(t - n * pt) } else { 0.0 },
                hdd: 0.25 * n * ((pi + pj) - diff * diff),
                hdt: -0.5 * n * diff * pt,
                htt: n * pt * (1.0 - pt),
            }
        }
        TieModel::RaoKupper => {
            let eta = tau.unwrap_or(0.0);
            let (a, one_a) = (sigmoid(d - eta), sigmoid(eta - d));
            let (b, one_b) = (sigmoid(-d - eta), sigmoid(d + eta));
            let (va, vb) = (a * one_a, b * one_b);
            let mut terms = Terms {
                nll: -(wi * ln_sigmoid(d - eta) + wj * ln_sigmoid(-d - eta)),
                gd: -(wi * one_a - wj * one_b),
                gt: wi * one_a + wj * one_b,
                hdd: wi * va + wj * vb,
                hdt: -wi * va + wj * vb,
                htt: wi * va + wj * vb,
            };
            if tau.is_none() {
                terms.gt = 0.0;
                terms.hdt = 0.0;
                terms.htt = 0.0;
            } else if t > 0.0 {
                let sinh = eta.sinh();
                let g = 2.0 / (2.0 * eta).exp_m1();
                terms.nll -= t * (ln_sigmoid(d + eta) + ln_sigmoid(eta - d) + ln_tie_factor(eta));
                terms.gd -= t * (b - a);
                terms.gt -= t * (a + b + g);
                terms.hdd += t * (vb + va);
                terms.hdt += t * (vb - va);
                terms.htt += t * (vb + va + 1.0 / (sinh * sinh));
            }
            terms
        }
    }
}

/// The objective: negative log-likelihood plus ridge, as a function of x = [θ; τ].
struct Problem<'a> {
    model: TieModel,
    pairs: &'a [TiePair],
    n: usize,
    ridge: f64,
    /// False on the boundary (no ties in the data): τ is not a parameter and no tie is possible.
    free_tie: bool,
}

impl Problem<'_> {
    fn tau(&self, x: &[f64]) -> Option<f64> {
        self.free_tie.then(|| x[self.n])
    }

    fn nll(&self, x: &[f64]) -> f64 {
        self.pairs.iter().map(|p| pair_terms(self.model, self.tau(x), x[p.i as usize] - x[p.j as usize], p).nll).sum()
    }

    /// The loss; +∞ where Rao-Kupper's η leaves (0, ∞).
    fn loss(&self, x: &[f64]) -> f64 {
        if self.model == TieModel::RaoKupper && self.free_tie && x[self.n] <= 0.0 {
            return f64::INFINITY;
        }
        let l = self.nll(x) + 0.5 * self.ridge * x[..self.n].iter().map(|t| t * t).sum::<f64>();
        if l.is_nan() {
            f64::INFINITY
        } else {
            l
        }
    }

    /// Gradient and Hessian of the loss over n + 1 parameters (the last one τ).
    fn derivatives(&self, x: &[f64], g: &mut [f64], h: &mut Array2<f64>) {
        let n = self.n;
        g.fill(0.0);
        h.fill(0.0);
        for k in 0..n {
            g[k] = self.ridge * x[k];
            h[[k, k]] = self.ridge;
        }
        let tau = self.tau(x);
        for p in self.pairs {
            let (i, j) = (p.i as usize, p.j as usize);
            let t = pair_terms(self.model, tau, x[i] - x[j], p);
            g[i] += t.gd;
            g[j] -= t.gd;
            g[n] += t.gt;
            h[[i, i]] += t.hdd;
            h[[j, j]] += t.hdd;
            h[[i, j]] -= t.hdd;
            h[[j, i]] -= t.hdd;
            h[[i, n]] += t.hdt;
            h[[n, i]] += t.hdt;
            h[[j, n]] -= t.hdt;
            h[[n, j]] -= t.hdt;
            h[[n, n]] += t.htt;
        }
    }

    /// Makes the Hessian invertible without changing the step in the identified subspace: unit diagonal for
    /// parameters without data, and c·11ᵀ on the θ block without a ridge (the θ gradient sums to 0).
    fn condition(&self, h: &mut Array2<f64>) {
        let n = self.n;
        for k in 0..=n {
            if h[[k, k]] == 0.0 {
                h[[k, k]] = 1.0;
            }
        }
        if self.ridge == 0.0 {
            let c = (0..n).map(|k| h[[k, k]]).sum::<f64>() / (n * n) as f64;
            for a in 0..n {
                for b in 0..n {
                    h[[a, b]] += c;
                }
            }
        }
    }
}

/// Damped Newton from `x`. Returns (iterations, converged).
fn newton(problem: &Problem, x: &mut [f64], tolerance: f64, max_iterations: usize) -> (usize, bool) {
    let m = problem.n + 1;
    let total: f64 = problem.pairs.iter().map(TiePair::total).sum::<f64>().max(1.0);
    let mut g = vec![0.0; m];
    let mut h = Array2::<f64>::zeros((m, m));
    let mut step = vec![0.0; m];
    let mut trial = vec![0.0; m];
    let mut current = problem.loss(x);
    let mut iterations = 0;
    loop {
        problem.derivatives(x, &mut g, &mut h);
        let gmax = g.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        if gmax <= tolerance * total {
            return (iterations, true);
        }
        if iterations == max_iterations || !gmax.is_finite() {
            return (iterations, false);
        }
        iterations += 1;
        problem.condition(&mut h);
        let Some(l) = cholesky(&h) else { return (iterations, false) };
        for (s, v) in step.iter_mut().zip(&g) {
            *s = -v;
        }
        cholesky_solve(&l, &mut step);
        let mut t = 1.0;
        loop {
            for ((y, a), s) in trial.iter_mut().zip(x.iter()).zip(&step) {
                *y = a + t * s;
            }
            let next = problem.loss(&trial);
            if next <= current + 1e-12 * current.abs().max(1.0) {
                current = next;
                x.copy_from_slice(&trial);
                break;
            }
            t *= 0.5;
            if t < 1e-12 {
                return (iterations, false);
            }
        }
        let largest = step.iter().fold(0.0_f64, |a, v| a.max(v.abs())) * t;
        if largest < 1e-13 {
            return (iterations, true);
        }
    }
}

fn validate(n: usize, pairs: &[TiePair], options: &TieOptions) -> Result<()> {
    if !(options.ridge.is_finite() && options.ridge >= 0.0) {
        return Err(Error::option("ridge", "must be a finite number ≥ 0"));
    }
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(Error::option("tolerance", "must be a finite number > 0"));
    }
    if options.max_iterations == 0 {
        return Err(Error::option("maxIterations", "must be ≥ 1"));
    }
    for (k, p) in pairs.iter().enumerate() {
        let at = |field: &str| Location { row: k + 1, field: Some(field.to_owned()) };
        for (field, id) in [("i", p.i), ("j", p.j)] {
            if id as usize >= n {
                return Err(Error::InvalidNumber {
                    at: at(field),
                    value: id.to_string(),
                    why: "model id out of range",
                });
            }
        }
        if p.i == p.j {
            return Err(Error::InvalidNumber {
                at: at("j"),
                value: p.j.to_string(),
                why: "a model cannot play itself",
            });
        }
        for (field, v) in [("winsI", p.wins_i), ("winsJ", p.wins_j), ("ties", p.ties)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidNumber {
                    at: at(field),
                    value: v.to_string(),
                    why: "must be finite and ≥ 0",
                });
            }
        }
    }
    Ok(())
}

/// Half-win pair totals (i < j) of tie pairs, for [`Components`] and Bradley-Terry.
fn half_win_pairs(pairs: &[TiePair]) -> Vec<Pair> {
    pairs
        .iter()
        .filter(|p| p.total() > 0.0)
        .map(|p| {
            let (wi, wj) = if p.i < p.j { (p.wins_i, p.wins_j) } else { (p.wins_j, p.wins_i) };
            Pair { i: p.i.min(p.j), j: p.i.max(p.j), n: wi + wj + p.ties, s: wi + 0.5 * p.ties }
        })
        .collect()
}

/// Fits a tie model on per-pair totals of `n` models.
///
/// # Errors
/// `INVALID_OPTION` for bad options, `INVALID_NUMBER` (row = pair index + 1) for an id out of range, a self-pair or
/// a count that is negative or not finite, `EMPTY` when the total weight is 0 or every battle is a tie.
pub fn fit_totals(n: usize, pairs: &[TiePair], options: &TieOptions) -> Result<TieFit> {
    validate(n, pairs, options)?;
    let ties: f64 = pairs.iter().map(|p| p.ties).sum();
    let total: f64 = pairs.iter().map(TiePair::total).sum();
    if total <= 0.0 {
        return Err(Error::Empty(String::new()));
    }
    if !total.is_finite() {
        return Err(Error::option("pairs", "the total weight overflows"));
    }
    if ties >= total {
        return Err(Error::Empty(
            " with a decisive outcome (every battle is a tie: the tie parameter is infinite)".into(),
        ));
    }
    let half = half_win_pairs(pairs);
    let components = Components::new(n, &half);
    let ridge = if options.ridge == 0.0 && !components.strongly_connected() { FALLBACK_RIDGE } else { options.ridge };
    let free_tie = ties > 0.0;
    let rate = ties / total;
    let start = match options.model {
        TieModel::Davidson => (2.0 * rate / (1.0 - rate)).ln(),
        TieModel::RaoKupper => ((1.0 + rate) / (1.0 - rate)).ln(),
    };
    let problem = Problem { model: options.model, pairs, n, ridge, free_tie };
    let mut x = vec![0.0; n + 1];
    x[n] = if free_tie { start } else { 0.0 };
    let (iterations, converged) = newton(&problem, &mut x, options.tolerance, options.max_iterations);
    let mean = x[..n].iter().sum::<f64>() / n as f64;
    let theta: Vec<f64> = x[..n].iter().map(|t| t - mean).collect();
    let tie = match (options.model, free_tie) {
        (_, true) => x[n].exp(),
        (TieModel::Davidson, false) => 0.0,
        (TieModel::RaoKupper, false) => 1.0,
    };
    Ok(TieFit {
        model: options.model,
        theta,
        tie,
        log_likelihood: -problem.nll(&x),
        iterations,
        converged,
        identified: (0..n).map(|m| components.identified(m)).collect(),
        ridge,
    })
}

/// Per-pair totals of the battles whose `keep` is true (both-bad counted as ties), with i < j.
fn battle_totals(battles: &Battles, keep: impl Fn(usize) -> bool) -> Vec<TiePair> {
    let mut map: FxHashMap<(u32, u32), TiePair> = FxHashMap::default();
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        if count == 0 || !keep(r) {
            continue;
        }
        let w = battles.weight(r) * f64::from(count);
        let (i, j) = (a.min(b) as u32, a.max(b) as u32);
        let p = map.entry((i, j)).or_insert(TiePair { i, j, wins_i: 0.0, wins_j: 0.0, ties: 0.0 });
        match (outcome, a < b) {
            (Outcome::A, true) | (Outcome::B, false) => p.wins_i += w,
            (Outcome::A, false) | (Outcome::B, true) => p.wins_j += w,
            (Outcome::Tie | Outcome::BothBad, _) => p.ties += w,
        }
    }
    let mut pairs: Vec<TiePair> = map.into_values().collect();
    pairs.sort_by_key(|p| (p.i, p.j));
    pairs
}

/// Fits a tie model on battles (both-bad counted as a tie; weights times counts).
///
/// # Errors
/// As [`fit_totals`]; `EMPTY` without battles.
pub fn fit(battles: &Battles, options: &TieOptions) -> Result<TieFit> {
    fit_totals(battles.models().len(), &battle_totals(battles, |_| true), options)
}

/// Held-out scores of one model.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldOut {
    /// The fitted tie parameter (ν, Rao-Kupper's θ, or for Bradley-Terry the training tie rate).
    pub tie: f64,
    /// Mean per-battle log-probability of the observed outcome (win, tie, loss).
    pub log_likelihood: f64,
    /// Mean y·ln E + (1−y)·ln(1−E), y ∈ {1, ½, 0}, E = P(win) + ½P(tie): what the half-win convention optimises.
    pub score_log_likelihood: f64,
}

/// Davidson, Rao-Kupper and half-win Bradley-Terry scored on held-out battles.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TieComparison {
    /// Total weight of the training battles.
    pub train_battles: f64,
    /// Total weight of the test battles scored.
    pub test_battles: f64,
    /// Test records skipped because a model had no training battle.
    pub skipped: usize,
    /// Weighted tie fraction of the training battles.
    pub tie_rate: f64,
    /// Davidson.
    pub davidson: HeldOut,
    /// Rao-Kupper.
    pub rao_kupper: HeldOut,
    /// Bradley-Terry with ties as half a win; P(tie) = the training tie rate t, P(win) = (1−t)p.
    pub bradley_terry: HeldOut,
}

/// ln p, floored at the smallest normal number so that an impossible outcome scores −708 rather than −∞.
fn ln_floor(p: f64) -> f64 {
    p.max(f64::MIN_POSITIVE).ln()
}

#[derive(Default)]
struct Score {
    ll: f64,
    score: f64,
}

impl Score {
    /// Adds one test battle of weight `w` with outcome probabilities `[win, tie, loss]`, expected score `e` and
    /// A's result `y`.
    fn add(&mut self, w: f64, probs: [f64; 3], e: f64, y: f64) {
        let observed = if y == 1.0 {
            probs[0]
        } else if y == 0.0 {
            probs[2]
        } else {
            probs[1]
        };
        self.ll += w * ln_floor(observed);
        self.score += w * (y * ln_floor(e) + (1.0 - y) * ln_floor(1.0 - e));
    }

    fn mean(&self, tie: f64, total: f64) -> HeldOut {
        HeldOut { tie, log_likelihood: self.ll / total, score_log_likelihood: self.score / total }
    }
}

/// Fits Davidson, Rao-Kupper and half-win Bradley-Terry on the battles where `test[r]` is false and scores them
/// on the battles where it is true (weights times counts). Test records of a model without training battles are
/// skipped and counted.
///
/// # Errors
/// `INVALID_OPTION` when `test` has the wrong length; `EMPTY` when there is nothing to train on, every training
/// battle is a tie, or no test battle can be scored.
pub fn held_out(battles: &Battles, test: &[bool]) -> Result<TieComparison> {
    if test.len() != battles.len() {
        return Err(Error::option("test", format!("has {} entries for {} records", test.len(), battles.len())));
    }
    let n = battles.models().len();
    let train = battle_totals(battles, |r| !test[r]);
    let davidson = fit_totals(n, &train, &TieOptions::default())?;
    let rao_kupper = fit_totals(n, &train, &TieOptions { model: TieModel::RaoKupper, ..TieOptions::default() })?;
    let half = half_win_pairs(&train);
    let ridge = if Components::new(n, &half).strongly_connected() { 0.0 } else { FALLBACK_RIDGE };
    let bt = bt::fit(n, &half, ridge, None, 1e-12).theta;
    let train_total: f64 = train.iter().map(TiePair::total).sum();
    let rate = train.iter().map(|p| p.ties).sum::<f64>() / train_total;
    let mut seen = vec![false; n];
    for p in &half {
        seen[p.i as usize] = true;
        seen[p.j as usize] = true;
    }
    let (mut d, mut rk, mut b) = (Score::default(), Score::default(), Score::default());
    let (mut total, mut skipped) = (0.0, 0);
    for r in (0..battles.len()).filter(|&r| test[r]) {
        let (a, bm, outcome, count) = battles.record(r);
        if !(seen[a] && seen[bm]) {
            skipped += 1;
            continue;
        }
        let w = battles.weight(r) * f64::from(count);
        if w <= 0.0 {
            continue;
        }
        let y = outcome.score();
        total += w;
        for (score, fit) in [(&mut d, &davidson), (&mut rk, &rao_kupper)] {
            let probs = fit.probabilities(a, bm);
            score.add(w, probs, (probs[0] + 0.5 * probs[1]).clamp(0.0, 1.0), y);
        }
        let p = sigmoid(bt[a] - bt[bm]);
        b.add(w, [(1.0 - rate) * p, rate, (1.0 - rate) * (1.0 - p)], p, y);
    }
    if total <= 0.0 {
        return Err(Error::Empty(" in the test set (no test battle between models seen in training)".into()));
    }
    Ok(TieComparison {
        train_battles: train_total,
        test_battles: total,
        skipped,
        tie_rate: rate,
        davidson: d.mean(davidson.tie, total),
        rao_kupper: rk.mean(rao_kupper.tie, total),
        bradley_terry: b.mean(rate, total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: u32, j: u32, wins_i: f64, wins_j: f64, ties: f64) -> TiePair {
        TiePair { i, j, wins_i, wins_j, ties }
    }

    #[test]
    fn equal_players_give_thirds() {
        // spec 1.3 [V-run]: Davidson ν = 1 and Rao-Kupper θ = 2 give (1/3, 1/3, 1/3) for equal players.
        for (model, tau) in [(TieModel::Davidson, 0.0), (TieModel::RaoKupper, 2f64.ln())] {
            for p in outcome_probabilities(model, Some(tau), 0.0) {
                assert!((p - 1.0 / 3.0).abs() < 1e-15, "{model:?} {p}");
            }
        }
    }

    #[test]
    fn rao_kupper_tie_formula() {
        // P(tie) = (κ²−1)π_iπ_j/((π_i+κπ_j)(κπ_i+π_j)); the three probabilities sum to 1.
        let (ti, tj, kappa) = (0.7_f64, -0.4_f64, 1.8_f64);
        let (pi, pj) = (ti.exp(), tj.exp());
        let expected = (kappa * kappa - 1.0) * pi * pj / ((pi + kappa * pj) * (kappa * pi + pj));
        let p = outcome_probabilities(TieModel::RaoKupper, Some(kappa.ln()), ti - tj);
        assert!((p[1] - expected).abs() < 1e-15);
        assert!((p[0] - pi / (pi + kappa * pj)).abs() < 1e-15);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let pairs = [pair(0, 1, 3.0, 1.0, 2.0), pair(1, 2, 2.0, 2.5, 1.0), pair(0, 2, 1.0, 0.0, 3.0)];
        for model in [TieModel::Davidson, TieModel::RaoKupper] {
            let problem = Problem { model, pairs: &pairs, n: 3, ridge: 0.3, free_tie: true };
            let x = [0.4, -0.2, 0.1, 0.35];
            let mut g = vec![0.0; 4];
            let mut h = Array2::zeros((4, 4));
            problem.derivatives(&x, &mut g, &mut h);
            let eps = 1e-6;
            for k in 0..4 {
                let (mut up, mut down) = (x, x);
                up[k] += eps;
                down[k] -= eps;
                let fd = (problem.loss(&up) - problem.loss(&down)) / (2.0 * eps);
                assert!((fd - g[k]).abs() < 1e-7, "{model:?} g[{k}] {fd} {}", g[k]);
                let (mut gu, mut gd) = (vec![0.0; 4], vec![0.0; 4]);
                let mut scratch = Array2::zeros((4, 4));
                problem.derivatives(&up, &mut gu, &mut scratch);
                problem.derivatives(&down, &mut gd, &mut scratch);
                for m in 0..4 {
                    let fd = (gu[m] - gd[m]) / (2.0 * eps);
                    assert!((fd - h[[m, k]]).abs() < 1e-6, "{model:?} h[{m},{k}] {fd} {}", h[[m, k]]);
                }
            }
        }
    }

    #[test]
    fn boundary_probabilities_are_bradley_terry() {
        for model in [TieModel::Davidson, TieModel::RaoKupper] {
            let p = outcome_probabilities(model, None, 1.2);
            assert!((p[0] - sigmoid(1.2)).abs() < 1e-15 && p[1] == 0.0);
        }
    }

    #[test]
    fn bad_totals_are_errors() {
        let o = TieOptions::default();
        assert_eq!(fit_totals(2, &[pair(0, 2, 1.0, 1.0, 0.0)], &o).unwrap_err().code(), "INVALID_NUMBER");
        assert_eq!(fit_totals(2, &[pair(1, 1, 1.0, 1.0, 0.0)], &o).unwrap_err().code(), "INVALID_NUMBER");
        assert_eq!(fit_totals(2, &[pair(0, 1, f64::NAN, 1.0, 0.0)], &o).unwrap_err().code(), "INVALID_NUMBER");
        assert_eq!(fit_totals(2, &[pair(0, 1, -1.0, 1.0, 0.0)], &o).unwrap_err().code(), "INVALID_NUMBER");
        assert_eq!(fit_totals(2, &[], &o).unwrap_err().code(), "EMPTY");
        assert_eq!(fit_totals(2, &[pair(0, 1, 0.0, 0.0, 3.0)], &o).unwrap_err().code(), "EMPTY");
        let bad = TieOptions { ridge: f64::NAN, ..o };
        assert_eq!(fit_totals(2, &[pair(0, 1, 1.0, 1.0, 0.0)], &bad).unwrap_err().code(), "INVALID_OPTION");
    }
}
