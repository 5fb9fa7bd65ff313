//! Mixtures of Bradley-Terry models over annotator groups, fitted by EM, and egalitarian (MaxMin) aggregation
//! (spec 1.9, MaxMin-RLHF, Chakraborty et al., arXiv 2402.08925).
//!
//! Each annotator u belongs to one of K groups; group k has its own ratings θ⁽ᵏ⁾. The log-likelihood of u's votes
//! under group k is ℓ_uk = Σ_pairs [s log σ(θ_i − θ_j) + (n − s) log σ(θ_j − θ_i)] on u's pair totals (ties as half a
//! win, as plain Bradley-Terry).
//! - E-step, hard (default, as the paper): u goes to argmax_k ℓ_uk (the lowest k on a tie). Soft: responsibilities
//!   r_uk ∝ ρ_k exp(ℓ_uk) with ρ_k = mean_u r_uk.
//! - M-step: θ⁽ᵏ⁾ = Bradley-Terry on the pair totals Σ_u r_uk · (u's totals), with the ridge ½λ‖θ‖² of
//!   [`MixtureOptions::ridge`] (default 0.01) so that a group whose votes leave a model undefeated, or cut the graph
//!   in two, still has finite ratings. With `ridge = 0` a group whose data are not strongly connected falls back to
//!   a ridge of 1, as the ranking does.
//! - Stops when the hard assignments stop changing (soft: when no responsibility moves by more than 1e-6), or after
//!   `max_iterations`.
//! - Initialisation: k-means++ (then Lloyd's iterations) on per-annotator win-rate vectors (a model's score share in
//!   the annotator's votes, ½ when the annotator never saw it), once per restart with the seeded stream
//!   `Stream::new(seed, restart)`; the restart with the best log-likelihood is kept (hard: Σ_u max_k ℓ_uk; soft: the
//!   mixture likelihood Σ_u log Σ_k ρ_k exp ℓ_uk).
//!
//! Ratings are reported mean-centred over the models that have votes in the group (others are 0). The egalitarian
//! rating of a model is its minimum over the non-empty groups in which it has votes (0 when it has none).

use serde::Serialize;

use super::{log_sigmoid, tally, Tallies};
use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::rank::bt;
use crate::rank::graph::Components;
use crate::rank::rows::Pair;
use crate::rng::Stream;

/// Options of [`fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct MixtureOptions {
    /// Number of groups K (default 2), at least 1 and at most the number of annotators.
    pub groups: usize,
    /// Soft responsibilities instead of hard assignments (default false, as the paper).
    pub soft: bool,
    /// Initialisations tried, the best log-likelihood kept (default 4, at least 1).
    pub restarts: usize,
    /// Seed of the initialisations (default 0).
    pub seed: u64,
    /// Most EM iterations per restart (default 100, at least 1).
    pub max_iterations: usize,
    /// Ridge λ of each group's Bradley-Terry fit, ½λ‖θ‖² on the summed loss (default 0.01; finite, ≥ 0).
    pub ridge: f64,
}

impl Default for MixtureOptions {
    fn default() -> Self {
        Self { groups: 2, soft: false, restarts: 4, seed: 0, max_iterations: 100, ridge: 0.01 }
    }
}

/// One group of annotators.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Mixing weight ρ_k: the mean responsibility (hard: the share of annotators).
    pub weight: f64,
    /// Mean-centred ratings on the natural log-odds scale, by model id.
    pub theta: Vec<f64>,
    /// Annotators whose most likely group this is.
    pub annotators: usize,
    /// Battles (weighted) of the group: Σ_u r_uk × u's battles.
    pub battles: f64,
}

/// The group of one annotator.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The annotator's name.
    pub judge: String,
    /// Most likely group.
    pub group: usize,
    /// Responsibilities r_uk (one-hot for hard assignments).
    pub responsibilities: Vec<f64>,
}

/// A fitted mixture.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mixture {
    /// The K groups.
    pub groups: Vec<Group>,
    /// Annotators in order of first appearance.
    pub annotators: Vec<Assignment>,
    /// Per model, the minimum over groups of its mean-centred rating (MaxMin).
    pub egalitarian: Vec<f64>,
    /// Log-likelihood of the kept restart (hard: classification likelihood; soft: mixture likelihood).
    pub log_likelihood: f64,
    /// EM iterations of the kept restart.
    pub iterations: usize,
}

/// Fits a mixture of K Bradley-Terry models over the annotators (`battles.judge(i)`).
///
/// # Errors
/// `MISSING_FIELD` (row, `judge`) for a record without an annotator; `EMPTY` without battles; `INVALID_OPTION` for
/// K = 0, K larger than the number of annotators, zero restarts or iterations, or a negative or non-finite ridge.
pub fn fit(battles: &Battles, options: &MixtureOptions) -> Result<Mixture> {
    if options.groups == 0 {
        return Err(Error::option("groups", "must be at least 1"));
    }
    if options.restarts == 0 {
        return Err(Error::option("restarts", "must be at least 1"));
    }
    if options.max_iterations == 0 {
        return Err(Error::option("maxIterations", "must be at least 1"));
    }
    if !options.ridge.is_finite() || options.ridge < 0.0 {
        return Err(Error::option("ridge", "must be finite and non-negative"));
    }
    let data = tally(battles, true)?;
    if options.groups > data.judges.len() {
        return Err(Error::option("groups", format!("{} groups for {} annotators", options.groups, data.judges.len())));
    }
    let rates = win_rates(&data);
    let mut best: Option<Run> = None;
    for restart in 0..options.restarts {
        let mut stream = Stream::new(options.seed, restart as u32);
        let start = kmeans(&rates, options.groups, &mut stream);
        let run = em(&data, &start, options);
        if best.as_ref().is_none_or(|b| run.log_likelihood > b.log_likelihood) {
            best = Some(run);
        }
    }
    Ok(finish(&data, best.expect("at least one restart")))
}

/// The state of one EM run.
struct Run {
    /// Responsibilities per annotator.
    r: Vec<Vec<f64>>,
    /// Raw ratings per group.
    theta: Vec<Vec<f64>>,
    log_likelihood: f64,
    iterations: usize,
}

fn em(data: &Tallies, start: &[usize], options: &MixtureOptions) -> Run {
    let k = options.groups;
    let mut r: Vec<Vec<f64>> =
        start.iter().map(|&g| (0..k).map(|c| if c == g { 1.0 } else { 0.0 }).collect()).collect();
    let mut theta = vec![vec![0.0; data.models]; k];
    let (mut log_likelihood, mut iterations) = (f64::NEG_INFINITY, 0);
    while iterations < options.max_iterations {
        iterations += 1;
        for (g, t) in theta.iter_mut().enumerate() {
            let pairs = data.pooled(|u| r[u][g]);
            m_step(data.models, &pairs, options.ridge, t);
        }
        let ll = loglik(data, &theta);
        let (next, total) = if options.soft {
            let rho: Vec<f64> = (0..k).map(|g| r.iter().map(|row| row[g]).sum::<f64>() / r.len() as f64).collect();
            soft(&ll, &rho)
        } else {
            hard(&ll)
        };
        log_likelihood = total;
        let done = if options.soft {
            r.iter().flatten().zip(next.iter().flatten()).all(|(a, b)| (a - b).abs() <= 1e-6)
        } else {
            r == next
        };
        r = next;
        if done {
            break;
        }
        reseed_empty(&mut r, &ll, options.soft);
    }
    Run { r, theta, log_likelihood, iterations }
}

/// Bradley-Terry of one group, warm-started from `theta`.
fn m_step(n: usize, pairs: &[Pair], ridge: f64, theta: &mut [f64]) {
    if pairs.iter().all(|p| p.n <= 0.0) {
        theta.fill(0.0);
        return;
    }
    let ridge = if ridge == 0.0 && !Components::new(n, pairs).strongly_connected() { 1.0 } else { ridge };
    let fit = bt::fit(n, pairs, ridge, Some(theta), 1e-10);
    if fit.theta.iter().all(|t| t.is_finite()) {
        theta.copy_from_slice(&fit.theta);
    } else {
        theta.copy_from_slice(&bt::fit(n, pairs, ridge.max(1.0), None, 1e-10).theta);
    }
}

/// ℓ_uk for every annotator and group.
fn loglik(data: &Tallies, theta: &[Vec<f64>]) -> Vec<Vec<f64>> {
    // log σ(θ_i − θ_j) and log σ(θ_j − θ_i) per pair and group, once.
    let logs: Vec<Vec<(f64, f64)>> = theta
        .iter()
        .map(|t| {
            data.pairs
                .iter()
                .map(|&(i, j)| {
                    let d = t[i as usize] - t[j as usize];
                    (log_sigmoid(d), log_sigmoid(-d))
                })
                .collect()
        })
        .collect();
    data.cells
        .iter()
        .map(|cells| {
            logs.iter()
                .map(|l| {
                    cells
                        .iter()
                        .map(|c| {
                            let (win, loss) = l[c.pair as usize];
                            let s = c.s();
                            s * win + (c.n() - s) * loss
                        })
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// Hard assignments and the classification log-likelihood.
fn hard(ll: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let mut total = 0.0;
    let r = ll
        .iter()
        .map(|row| {
            let g = argmax(row);
            total += row[g];
            (0..row.len()).map(|c| if c == g { 1.0 } else { 0.0 }).collect()
        })
        .collect();
    (r, total)
}

/// Soft responsibilities r_uk ∝ ρ_k exp ℓ_uk with the mixing weights ρ_k of the previous responsibilities, and
/// the mixture log-likelihood Σ_u log Σ_k ρ_k exp ℓ_uk.
fn soft(ll: &[Vec<f64>], rho: &[f64]) -> (Vec<Vec<f64>>, f64) {
    let mut total = 0.0;
    let r = ll
        .iter()
        .map(|row| {
            let logs: Vec<f64> = row.iter().zip(rho).map(|(l, p)| l + p.max(1e-300).ln()).collect();
            let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = logs.iter().map(|x| (x - top).exp()).sum();
            total += top + sum.ln();
            logs.iter().map(|x| (x - top).exp() / sum).collect()
        })
        .collect();
    (r, total)
}

/// Gives each empty group (hard) the annotator with the lowest log-likelihood under its own group, taken from a
/// group with more than one annotator (as k-means re-seeds an empty cluster); soft groups are never empty.
fn reseed_empty(r: &mut [Vec<f64>], ll: &[Vec<f64>], soft: bool) {
    if soft || r.is_empty() {
        return;
    }
    let k = r[0].len();
    for g in 0..k {
        let sizes: Vec<usize> = (0..k).map(|c| r.iter().filter(|row| row[c] == 1.0).count()).collect();
        if sizes[g] > 0 {
            continue;
        }
        let worst = (0..r.len())
            .filter(|&u| sizes[argmax(&r[u])] > 1)
            .min_by(|&u, &v| ll[u][argmax(&r[u])].total_cmp(&ll[v][argmax(&r[v])]));
        if let Some(u) = worst {
            r[u].fill(0.0);
            r[u][g] = 1.0;
        }
    }
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (g, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = g;
        }
    }
    best
}

/// Per annotator, each model's share of the score in the annotator's votes (½ when unseen).
fn win_rates(data: &Tallies) -> Vec<Vec<f64>> {
    data.cells
        .iter()
        .map(|cells| {
            let mut score = vec![0.0; data.models];
            let mut games = vec![0.0; data.models];
            for c in cells {
                let (i, j) = data.pairs[c.pair as usize];
                let (n, s) = (c.n(), c.s());
                score[i as usize] += s;
                score[j as usize] += n - s;
                games[i as usize] += n;
                games[j as usize] += n;
            }
            score.iter().zip(&games).map(|(s, g)| if *g > 0.0 { s / g } else { 0.5 }).collect()
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(point: &[f64], centres: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.iter().enumerate() {
        let d = distance(point, centre);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// k-means++ seeding, then up to 50 Lloyd iterations; returns each point's cluster.
fn kmeans(points: &[Vec<f64>], k: usize, stream: &mut Stream) -> Vec<usize> {
    let mut centres = vec![points[stream.below(points.len() as u32) as usize].clone()];
    while centres.len() < k {
        let d2: Vec<f64> = points.iter().map(|p| nearest(p, &centres).1).collect();
        let next = stream.weighted(&d2).unwrap_or_else(|| stream.below(points.len() as u32) as usize);
        centres.push(points[next].clone());
    }
    let mut assign: Vec<usize> = points.iter().map(|p| nearest(p, &centres).0).collect();
    for _ in 0..50 {
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> = points.iter().zip(&assign).filter(|(_, &a)| a == c).map(|(p, _)| p).collect();
            if members.is_empty() {
                continue;
            }
            for (m, x) in centre.iter_mut().enumerate() {
                *x = members.iter().map(|p| p[m]).sum::<f64>() / members.len() as f64;
            }
        }
        let next: Vec<usize> = points.iter().map(|p| nearest(p, &centres).0).collect();
        if next == assign {
            break;
        }
        assign = next;
    }
    assign
}

/// Mean-centres the ratings over present models and builds the output.
fn finish(data: &Tallies, run: Run) -> Mixture {
    let k = run.theta.len();
    let users = data.judges.len() as f64;
    let battles_of: Vec<f64> = data.cells.iter().map(|cells| cells.iter().map(super::Cell::n).sum()).collect();
    let mut groups = Vec::with_capacity(k);
    let mut present = vec![vec![false; data.models]; k];
    for g in 0..k {
        let pairs = data.pooled(|u| run.r[u][g]);
        for p in pairs.iter().filter(|p| p.n > 0.0) {
            present[g][p.i as usize] = true;
            present[g][p.j as usize] = true;
        }
        let count = present[g].iter().filter(|&&x| x).count();
        let mean = if count > 0 {
            (0..data.models).filter(|&m| present[g][m]).map(|m| run.theta[g][m]).sum::<f64>() / count as f64
        } else {
            0.0
        };
        let theta = (0..data.models).map(|m| if present[g][m] { run.theta[g][m] - mean } else { 0.0 }).collect();
        groups.push(Group {
            weight: run.r.iter().map(|row| row[g]).sum::<f64>() / users,
            theta,
            annotators: run.r.iter().filter(|row| argmax(row) == g).count(),
            battles: run.r.iter().zip(&battles_of).map(|(row, b)| row[g] * b).sum(),
        });
    }
    let egalitarian = (0..data.models)
        .map(|m| {
            let min = (0..k)
                .filter(|&g| present[g][m] && groups[g].weight > 0.0)
                .map(|g| groups[g].theta[m])
                .fold(f64::INFINITY, f64::min);
            if min.is_finite() {
                min
            } else {
                0.0
            }
        })
        .collect();
    let annotators = data
        .judges
        .iter()
        .zip(run.r)
        .map(|(judge, responsibilities)| Assignment {
            judge: judge.clone(),
            group: argmax(&responsibilities),
            responsibilities,
        })
        .collect();
    Mixture { groups, annotators, egalitarian, log_likelihood: run.log_likelihood, iterations: run.iterations }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::battles::Outcome;

    fn battles(rows: &[(&str, &str, Outcome, &str)]) -> Battles {
        let mut b = Battles::new();
        for &(x, y, o, judge) in rows {
            let i = b.push(x, y, o, 1).unwrap();
            b.judge.get_or_insert_with(|| vec![None; i + 1]).resize(i + 1, None);
            b.judge.as_mut().unwrap()[i] = Some(judge.to_owned());
        }
        b
    }

    #[test]
    fn two_opposite_annotators_split() {
        let mut rows = Vec::new();
        for _ in 0..5 {
            rows.push(("x", "y", Outcome::A, "u"));
            rows.push(("y", "z", Outcome::A, "u"));
            rows.push(("x", "y", Outcome::B, "v"));
            rows.push(("y", "z", Outcome::B, "v"));
        }
        rows.push(("x", "y", Outcome::B, "u"));
        rows.push(("x", "y", Outcome::A, "v"));
        let m = fit(&battles(&rows), &MixtureOptions::default()).unwrap();
        assert_ne!(m.annotators[0].group, m.annotators[1].group);
        let g = m.annotators[0].group;
        assert!(m.groups[g].theta[0] > m.groups[g].theta[2]);
        assert!(m.egalitarian.iter().all(|t| t.is_finite()));
    }

    #[test]
    fn bad_options() {
        let b = battles(&[("x", "y", Outcome::A, "u")]);
        let code = |o: MixtureOptions| fit(&b, &o).unwrap_err().code();
        assert_eq!(code(MixtureOptions { groups: 0, ..MixtureOptions::default() }), "INVALID_OPTION");
        assert_eq!(code(MixtureOptions { groups: 2, ..MixtureOptions::default() }), "INVALID_OPTION");
        assert_eq!(code(MixtureOptions { ridge: f64::NAN, groups: 1, ..MixtureOptions::default() }), "INVALID_OPTION");
        assert_eq!(fit(&Battles::new(), &MixtureOptions::default()).unwrap_err().code(), "EMPTY");
    }
}
