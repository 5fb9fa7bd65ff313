//! Plackett-Luce (spec 1.4): maximum likelihood over full or partial rankings (best first) and top-1 choices, by
//! Hunter's (2004) minorization-maximization, with choix's conventions (`mm_rankings`, `mm_top1`).
//!
//! P(y_1 ≻ … ≻ y_k) = Π_{s<k} exp(θ_{y_s}) / Σ_{m≥s} exp(θ_{y_m}): a ranking of k items is k − 1 choices ("stages"),
//! each of one item among those still left, and a top-1 choice is a single stage. The likelihood is a product over
//! stages, so identical stages are aggregated with a count before fitting (a decisive battle is the stage "a chosen
//! among {a, b}", so LLMFAO's 5 400 decisive battles become 1 700 stages). One MM step is
//!   γ_i ← (w_i + α) / (Σ_{stages ∋ i} count / Σ_{m ∈ stage} γ_m + α),
//! w_i = the count of stages where i was chosen, γ normalised to mean 1 first, θ = ln γ centred to mean 0; α is
//! choix's regularisation (0: maximum likelihood). The fit stops when no θ moves by more than `tolerance`.
//!
//! The MLE exists iff the graph "i was chosen while j was still available" is strongly connected over all items
//! (Hunter 2004, Assumption 1). When it is not (an item never chosen, one always chosen, an item in no observation,
//! groups never compared) and α = 0, the fit uses α = [`FALLBACK_RIDGE`] (near θ = 0 choix's prior has curvature α,
//! so this matches Bradley-Terry's standard normal fallback), and marks the items outside the largest strongly
//! connected component `identified: false`.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::graph::Components;
use super::rows::Pair;
use super::FALLBACK_RIDGE;
use crate::battles::{Battles, Outcome};
use crate::error::{Error, Location, Result};

/// One observation over item ids `0..n`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Observation {
    /// A full or partial ranking, best first, of at least 2 distinct items (the items not listed take no part).
    Ranking(Vec<usize>),
    /// One item chosen among a set, as choix's top-1 format `[winner, [losers]]`: `among` lists the other items
    /// offered (at least one, `chosen` not included).
    Choice { chosen: usize, among: Vec<usize> },
}

/// Options of a Plackett-Luce fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlOptions {
    /// choix's regularisation α ≥ 0 (a pseudo-count added to wins and denominators; default 0: maximum likelihood).
    pub alpha: f64,
    /// Stop when max |Δθ| between two MM steps ≤ tolerance (default 1e-10).
    pub tolerance: f64,
    /// MM steps at most (default 10 000).
    pub max_iterations: usize,
}

impl Default for PlOptions {
    fn default() -> Self {
        Self { alpha: 0.0, tolerance: 1e-10, max_iterations: 10_000 }
    }
}

/// A Plackett-Luce fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlFit {
    /// Log-strengths, indexed by item id, mean 0.
    pub theta: Vec<f64>,
    /// Log-likelihood of the observations at `theta` (without the prior).
    pub log_likelihood: f64,
    /// MM steps taken.
    pub iterations: usize,
    /// Whether the step tolerance was reached within `max_iterations`.
    pub converged: bool,
    /// False for items the data cannot pin (outside the largest strongly connected component, or unobserved).
    pub identified: Vec<bool>,
    /// The α used: the caller's, or [`FALLBACK_RIDGE`] when the MLE does not exist and α was 0.
    pub alpha: f64,
}

/// Choice stages aggregated by (chosen, set): CSR storage of each stage's members (chosen included).
#[derive(Default)]
struct Stages {
    chosen: Vec<u32>,
    start: Vec<usize>,
    members: Vec<u32>,
    count: Vec<f64>,
}

impl Stages {
    fn len(&self) -> usize {
        self.chosen.len()
    }

    fn members(&self, s: usize) -> &[u32] {
        &self.members[self.start[s]..self.start[s + 1]]
    }
}

/// Checks the observations against `n` items and splits them into aggregated stages.
fn stages(n: usize, observations: &[Observation]) -> Result<Stages> {
    let mut map: FxHashMap<Vec<u32>, f64> = FxHashMap::default();
    let mut seen = vec![usize::MAX; n];
    let mut key = Vec::new();
    for (k, obs) in observations.iter().enumerate() {
        let bad = |field: &str, value: String, why: &'static str| Error::InvalidNumber {
            at: Location { row: k + 1, field: Some(field.to_owned()) },
            value,
            why,
        };
        let (field, items): (&str, Vec<usize>) = match obs {
            Observation::Ranking(r) => ("ranking", r.clone()),
            Observation::Choice { chosen, among } => {
                ("among", std::iter::once(*chosen).chain(among.iter().copied()).collect())
            }
        };
        if items.len() < 2 {
            return Err(bad(field, items.len().to_string(), "needs at least 2 items"));
        }
        for &x in &items {
            if x >= n {
                return Err(bad(field, x.to_string(), "item id out of range"));
            }
            if seen[x] == k {
                return Err(bad(field, x.to_string(), "item listed twice"));
            }
            seen[x] = k;
        }
        let stage_count = if matches!(obs, Observation::Ranking(_)) { items.len() - 1 } else { 1 };
        for s in 0..stage_count {
            key.clear();
            key.push(items[s] as u32);
            let start = key.len();
            key.extend(items[s..].iter().map(|&x| x as u32));
            key[start..].sort_unstable();
            *map.entry(key.clone()).or_insert(0.0) += 1.0;
        }
    }
    let mut list: Vec<(Vec<u32>, f64)> = map.into_iter().collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Stages::default();
    out.start.push(0);
    for (key, count) in list {
        out.chosen.push(key[0]);
        out.members.extend_from_slice(&key[1..]);
        out.start.push(out.members.len());
        out.count.push(count);
    }
    Ok(out)
}

/// Log-likelihood of aggregated stages at `theta`.
fn stage_log_likelihood(theta: &[f64], stages: &Stages) -> f64 {
    (0..stages.len())
        .map(|s| {
            let set = stages.members(s);
            let top = set.iter().map(|&m| theta[m as usize]).fold(f64::NEG_INFINITY, f64::max);
            let lse = top + set.iter().map(|&m| (theta[m as usize] - top).exp()).sum::<f64>().ln();
            stages.count[s] * (theta[stages.chosen[s] as usize] - lse)
        })
        .sum()
}

/// Strongly connected components of "chosen while the other was available", through [`Components`]: per unordered
/// pair, `s` > 0 when the lower id was chosen over the higher, `n − s` > 0 when the reverse happened.
fn components(n: usize, stages: &Stages) -> Components {
    let mut map: FxHashMap<(u32, u32), Pair> = FxHashMap::default();
    for s in 0..stages.len() {
        let c = stages.chosen[s];
        for &m in stages.members(s).iter().filter(|&&m| m != c) {
            let (i, j) = (c.min(m), c.max(m));
            let p = map.entry((i, j)).or_insert(Pair { i, j, n: 0.0, s: 0.0 });
            p.n += 1.0;
            if c == i {
                p.s += 1.0;
            }
        }
    }
    let pairs: Vec<Pair> = map.into_values().collect();
    Components::new(n, &pairs)
}

fn check_options(options: &PlOptions) -> Result<()> {
    if !(options.alpha.is_finite() && options.alpha >= 0.0) {
        return Err(Error::option("alpha", "must be a finite number ≥ 0"));
    }
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(Error::option("tolerance", "must be a finite number > 0"));
    }
    if options.max_iterations == 0 {
        return Err(Error::option("maxIterations", "must be ≥ 1"));
    }
    Ok(())
}

fn check_theta(theta: &[f64]) -> Result<()> {
    if theta.iter().all(|t| t.is_finite()) {
        Ok(())
    } else {
        Err(Error::option("theta", "must be finite"))
    }
}

/// One MM step from `theta` into `next` (centred; see the module doc).
fn mm_step(
    theta: &[f64],
    stages: &Stages,
    wins: &[f64],
    observed: &[bool],
    alpha: f64,
    buf: &mut Vec<f64>,
    next: &mut [f64],
) {
    let n = theta.len();
    // γ normalised to mean 1, as choix's exp_transform.
    let top = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    buf.clear();
    buf.extend(theta.iter().map(|t| (t - top).exp()));
    let scale = n as f64 / buf.iter().sum::<f64>();
    for g in buf.iter_mut() {
        *g *= scale;
    }
    next.fill(0.0);
    for s in 0..stages.len() {
        let set = stages.members(s);
        let v = stages.count[s] / set.iter().map(|&m| buf[m as usize]).sum::<f64>();
        for &m in set {
            next[m as usize] += v;
        }
    }
    let mut sum = 0.0;
    let mut k = 0usize;
    for i in 0..n {
        if observed[i] {
            next[i] = ((wins[i] + alpha) / (next[i] + alpha)).ln();
        } else {
            next[i] = 0.0;
        }
        if observed[i] || alpha > 0.0 {
            sum += next[i];
            k += 1;
        }
    }
    let mean = if k > 0 { sum / k as f64 } else { 0.0 };
    for i in 0..n {
        if observed[i] || alpha > 0.0 {
            next[i] -= mean;
        }
    }
}

/// Fits Plackett-Luce strengths of `n` items by MM.
///
/// # Errors
/// `EMPTY` without observations or items; `INVALID_OPTION` for bad options; `INVALID_NUMBER` (row = observation
/// index + 1) for an item id ≥ n, an item listed twice, or an observation of fewer than 2 items.
pub fn fit(n: usize, observations: &[Observation], options: &PlOptions) -> Result<PlFit> {
    check_options(options)?;
    if n == 0 || observations.is_empty() {
        return Err(Error::Empty(" (no rankings or choices)".into()));
    }
    let stages = stages(n, observations)?;
    let mut wins = vec![0.0; n];
    let mut observed = vec![false; n];
    for s in 0..stages.len() {
        wins[stages.chosen[s] as usize] += stages.count[s];
        for &m in stages.members(s) {
            observed[m as usize] = true;
        }
    }
    let components = components(n, &stages);
    let exists = components.strongly_connected() && observed.iter().all(|&o| o);
    let alpha = if options.alpha == 0.0 && !exists { FALLBACK_RIDGE } else { options.alpha };
    let mut theta = vec![0.0; n];
    let mut next = vec![0.0; n];
    let mut buf = Vec::with_capacity(n);
    let (mut iterations, mut converged) = (0, false);
    while iterations < options.max_iterations {
        mm_step(&theta, &stages, &wins, &observed, alpha, &mut buf, &mut next);
        iterations += 1;
        let change = theta.iter().zip(&next).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
        std::mem::swap(&mut theta, &mut next);
        if change <= options.tolerance {
            converged = true;
            break;
        }
    }
    Ok(PlFit {
        log_likelihood: stage_log_likelihood(&theta, &stages),
        theta,
        iterations,
        converged,
        identified: (0..n).map(|m| observed[m] && components.identified(m)).collect(),
        alpha,
    })
}

/// Log-likelihood of the observations under log-strengths `theta` (item ids index `theta`).
///
/// # Errors
/// `INVALID_OPTION` when `theta` is not finite; `INVALID_NUMBER` for observations as in [`fit`].
pub fn log_likelihood(theta: &[f64], observations: &[Observation]) -> Result<f64> {
    check_theta(theta)?;
    Ok(stage_log_likelihood(theta, &stages(theta.len(), observations)?))
}

/// Probability of one ranking (best first) under log-strengths `theta`.
///
/// # Errors
/// As [`log_likelihood`] (a ranking needs at least 2 distinct items).
pub fn probability(theta: &[f64], ranking: &[usize]) -> Result<f64> {
    Ok(log_likelihood(theta, &[Observation::Ranking(ranking.to_vec())])?.exp())
}

/// Decisive battles as 2-item rankings (winner first), one per battle (counts expanded; weights are not used:
/// Plackett-Luce observations are unweighted). Returns the observations and the number of tie battles dropped
/// (both-bad included).
pub fn from_battles(battles: &Battles) -> (Vec<Observation>, usize) {
    let mut out = Vec::new();
    let mut dropped = 0;
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let ranking = match outcome {
            Outcome::A => vec![a, b],
            Outcome::B => vec![b, a],
            Outcome::Tie | Outcome::BothBad => {
                dropped += count as usize;
                continue;
            }
        };
        out.extend(std::iter::repeat_n(Observation::Ranking(ranking), count as usize));
    }
    (out, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_split_into_aggregated_stages() {
        let obs = [
            Observation::Ranking(vec![2, 0, 1]),
            Observation::Choice { chosen: 0, among: vec![1] },
            Observation::Ranking(vec![0, 1]),
        ];
        let s = stages(3, &obs).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s.chosen[0], s.members(0), s.count[0]), (0, &[0, 1][..], 3.0));
        assert_eq!((s.chosen[1], s.members(1), s.count[1]), (2, &[0, 1, 2][..], 1.0));
    }
}
