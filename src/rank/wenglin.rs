//! Weng-Lin online ratings: Bayesian updates of a Gaussian skill (μ, σ) per player after each match of two or more
//! teams, as in Weng & Lin, "A Bayesian Approximation Method for Online Ranking" (JMLR 12, 2011).
//!
//! The five models and every detail of their updates follow openskill.py 6.2.0 (`openskill.models.weng_lin`):
//! Bradley-Terry with full and partial pairing (Algorithms 1 and 2), Thurstone-Mosteller with full and partial
//! pairing (Algorithm 3 and openskill's windowed variant) and Plackett-Luce (Algorithm 4). As openskill does, a
//! match first adds τ² to every σ², ranks (lower is better) or scores (higher is better) order the teams, ties
//! share a rank, per-player weights are rescaled to `weight_bounds` within each team, a score margin damps the
//! update of lopsided results, `limit_sigma` keeps σ from growing and `balance` weighs a team's weaker players up.
//!
//! Two places where openskill's code has no effect are left out on purpose: the averaging of μ changes over tied
//! teams (in openskill it compares each player with itself after the update, so it never changes anything), and a
//! per-call τ. Where openskill raises (`OverflowError`, `ZeroDivisionError`) this module either computes the limit
//! (Plackett-Luce works with log-sum-exp, logistic terms saturate) or returns an error; it never returns NaN.
//!
//! [`rate_battles`] runs a whole arena through one model: every record in input order is a 1-vs-1 match, repeated
//! `count` times, ties (both kinds) as draws.

use serde::{Deserialize, Serialize};

use crate::battles::{Battles, Outcome};
use crate::error::{Error, Result};
use crate::stats::normal_quantile;

/// The five Weng-Lin models of openskill.py.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WengLinModel {
    /// Bradley-Terry, every team against every other (Algorithm 1).
    BradleyTerryFull,
    /// Bradley-Terry, each team against its `window_size` neighbours in rank order, averaged (Algorithm 2).
    BradleyTerryPart,
    /// Plackett-Luce (Algorithm 4), openskill's default.
    #[default]
    PlackettLuce,
    /// Thurstone-Mosteller, every team against every other, draw margin `epsilon` (Algorithm 3).
    ThurstoneMostellerFull,
    /// Thurstone-Mosteller against the `window_size` neighbours in rank order, averaged (openskill's variant).
    ThurstoneMostellerPart,
}

/// Options of the Weng-Lin models. `Default` gives openskill's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WengLinOptions {
    /// The model (default Plackett-Luce).
    pub model: WengLinModel,
    /// μ of a new player (default 25).
    pub mu: f64,
    /// σ of a new player (default 25/3).
    pub sigma: f64,
    /// Performance noise β (default 25/6).
    pub beta: f64,
    /// Lower bound κ of the factor that shrinks σ² (default 1e-4).
    pub kappa: f64,
    /// Additive dynamics τ: τ² is added to every σ² before a match (default 25/300).
    pub tau: f64,
    /// Score margin: score differences above it damp the update by ln(1 + diff/margin) (default 0 = off).
    pub margin: f64,
    /// Never let a match increase σ (default false).
    pub limit_sigma: bool,
    /// Weigh the weaker players of a team up by their ordinal gap to the best (default false).
    pub balance: bool,
    /// Neighbours on each side a team is compared with in the partial-pairing models (default 4).
    pub window_size: usize,
    /// Draw margin ε of the Thurstone-Mosteller models (default 0.1).
    pub epsilon: f64,
    /// Per-team rescaling of player weights to [min, max] (default (1, 2); `None` uses the weights as given).
    pub weight_bounds: Option<(f64, f64)>,
}

impl Default for WengLinOptions {
    fn default() -> Self {
        Self {
            model: WengLinModel::PlackettLuce,
            mu: 25.0,
            sigma: 25.0 / 3.0,
            beta: 25.0 / 6.0,
            kappa: 1e-4,
            tau: 25.0 / 300.0,
            margin: 0.0,
            limit_sigma: false,
            balance: false,
            window_size: 4,
            epsilon: 0.1,
            weight_bounds: Some((1.0, 2.0)),
        }
    }
}

impl WengLinOptions {
    /// Options of `model` with openskill's defaults.
    pub fn new(model: WengLinModel) -> Self {
        Self { model, ..Self::default() }
    }

    /// The rating of a new player: (mu, sigma).
    pub fn rating(&self) -> Rating {
        Rating::new(self.mu, self.sigma)
    }

    /// Checks every option's range.
    pub fn validate(&self) -> Result<()> {
        let check =
            |ok: bool, option: &'static str, why: &str| if ok { Ok(()) } else { Err(Error::option(option, why)) };
        check(self.mu.is_finite(), "mu", "must be finite")?;
        check(self.sigma.is_finite() && self.sigma > 0.0, "sigma", "must be a finite number > 0")?;
        check(self.beta.is_finite() && self.beta > 0.0, "beta", "must be a finite number > 0")?;
        check(self.kappa.is_finite() && self.kappa >= 0.0, "kappa", "must be a finite number ≥ 0")?;
        check(self.tau.is_finite() && self.tau >= 0.0, "tau", "must be a finite number ≥ 0")?;
        check(self.margin.is_finite() && self.margin >= 0.0, "margin", "must be a finite number ≥ 0")?;
        check(self.epsilon.is_finite() && self.epsilon >= 0.0, "epsilon", "must be a finite number ≥ 0")?;
        if let Some((low, high)) = self.weight_bounds {
            check(
                low.is_finite() && high.is_finite() && low > 0.0 && low <= high,
                "weightBounds",
                "must be finite with 0 < min ≤ max",
            )?;
        }
        Ok(())
    }
}

/// A player's skill belief: mean μ and standard deviation σ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub mu: f64,
    pub sigma: f64,
}

impl Rating {
    /// A rating (μ, σ).
    pub fn new(mu: f64, sigma: f64) -> Self {
        Self { mu, sigma }
    }

    /// The conservative skill estimate μ − 3σ (openskill's `ordinal()`).
    pub fn ordinal(&self) -> f64 {
        self.mu - 3.0 * self.sigma
    }
}

/// The ratings after an arena's battles, indexed by model id.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WengLinFit {
    /// Each model's rating, by model id (models without battles keep the initial rating).
    pub ratings: Vec<Rating>,
    /// Matches played (the sum of the records' counts).
    pub matches: u64,
}

/// Rates one match, like openskill's `model.rate(teams, ranks, scores, weights)`: returns the teams' new ratings
/// in the input order.
///
/// `ranks`: lower is better, equal ranks tie; `scores`: higher is better (at most one of the two; with neither,
/// the input order is the finishing order). `weights`: one per player, rescaled to `weight_bounds` within each team.
///
/// # Errors
/// `INVALID_OPTION` for invalid options, fewer than two teams, an empty team, a non-finite μ, a negative or
/// non-finite σ, ranks/scores/weights of the wrong length or not finite, both ranks and scores, a team whose σ is
/// 0 (possible with τ = 0), or a result that overflows.
pub fn rate(
    teams: &[Vec<Rating>],
    ranks: Option<&[f64]>,
    scores: Option<&[f64]>,
    weights: Option<&[Vec<f64>]>,
    options: &WengLinOptions,
) -> Result<Vec<Vec<Rating>>> {
    options.validate()?;
    check_teams(teams)?;
    check_list("ranks", ranks, teams.len())?;
    check_list("scores", scores, teams.len())?;
    if ranks.is_some() && scores.is_some() {
        return Err(Error::option("ranks", "give ranks or scores, not both"));
    }
    if let Some(w) = weights {
        check_weights(teams, w, options.weight_bounds.is_none())?;
    }
    let result = rate_checked(teams, ranks, scores, weights, options)?;
    if result.iter().flatten().any(|r| !r.mu.is_finite() || !r.sigma.is_finite()) {
        return Err(Error::option("teams", "the ratings are too large: the update overflows"));
    }
    Ok(result)
}

/// The probability that each team wins, as openskill's `predict_win` (pairwise normal probabilities, normalised
/// to sum to 1).
///
/// # Errors
/// As [`rate`] for the options and the teams.
pub fn predict_win(teams: &[Vec<Rating>], options: &WengLinOptions) -> Result<Vec<f64>> {
    options.validate()?;
    check_teams(teams)?;
    let t = team_ratings(teams, None, options)?;
    let beta2 = options.beta * options.beta;
    let win = |a: &Team, b: &Team| phi((a.mu - b.mu) / (2.0 * beta2 + a.sigma_sq + b.sigma_sq).sqrt());
    let n = t.len();
    if n == 2 {
        let p = win(&t[0], &t[1]);
        return Ok(vec![p, 1.0 - p]);
    }
    let wins: Vec<f64> = (0..n)
        .map(|i| (0..n).filter(|&j| j != i).fold(0.0, |acc, j| acc + win(&t[i], &t[j])) / (n - 1) as f64)
        .collect();
    let total: f64 = wins.iter().sum();
    Ok(wins.iter().map(|p| p / total).collect())
}

/// The probability of a draw, as openskill's `predict_draw`: the mean over team pairs of the normal probability
/// that their performances differ by less than a draw margin set by the number of players.
///
/// # Errors
/// As [`rate`] for the options and the teams.
pub fn predict_draw(teams: &[Vec<Rating>], options: &WengLinOptions) -> Result<f64> {
    options.validate()?;
    check_teams(teams)?;
    let t = team_ratings(teams, None, options)?;
    let players = teams.iter().map(Vec::len).sum::<usize>() as f64;
    let draw = 1.0 / players;
    let margin = players.sqrt() * options.beta * normal_quantile(f64::midpoint(1.0, draw));
    let beta2 = options.beta * options.beta;
    let (mut sum, mut pairs) = (0.0, 0usize);
    for (i, a) in t.iter().enumerate() {
        for b in &t[i + 1..] {
            let s = (2.0 * beta2 + a.sigma_sq + b.sigma_sq).sqrt();
            sum += phi((margin - a.mu + b.mu) / s) - phi((b.mu - a.mu - margin) / s);
            pairs += 1;
        }
    }
    Ok(sum / pairs as f64)
}

/// Runs every battle, in input order, through the model as a 1-vs-1 match (`count` times each; a tie or a
/// both-bad tie is a draw). Every model starts at (`mu`, `sigma`). Record weights are not used: a Weng-Lin match
/// has no weight.
///
/// # Errors
/// `EMPTY` when there is no battle (no records or all counts 0), `INVALID_OPTION` for invalid options or a
/// rating that overflows.
pub fn rate_battles(battles: &Battles, options: &WengLinOptions) -> Result<WengLinFit> {
    options.validate()?;
    let matches = battles.total();
    if matches == 0 {
        return Err(Error::Empty(String::new()));
    }
    let mut ratings = vec![options.rating(); battles.models().len()];
    for i in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(i);
        let ranks = match outcome {
            Outcome::A => [1.0, 2.0],
            Outcome::B => [2.0, 1.0],
            Outcome::Tie | Outcome::BothBad => [1.0, 1.0],
        };
        for _ in 0..count {
            let teams = [vec![ratings[a]], vec![ratings[b]]];
            let next = rate_checked(&teams, Some(&ranks), None, None, options)?;
            let (ra, rb) = (next[0][0], next[1][0]);
            if !(ra.mu.is_finite() && ra.sigma.is_finite() && rb.mu.is_finite() && rb.sigma.is_finite()) {
                return Err(Error::option("mu", "the ratings overflow"));
            }
            ratings[a] = ra;
            ratings[b] = rb;
        }
    }
    Ok(WengLinFit { ratings, matches })
}

fn check_teams(teams: &[Vec<Rating>]) -> Result<()> {
    if teams.len() < 2 {
        return Err(Error::option("teams", format!("a match needs at least 2 teams, not {}", teams.len())));
    }
    if teams.iter().any(Vec::is_empty) {
        return Err(Error::option("teams", "every team needs at least one player"));
    }
    for r in teams.iter().flatten() {
        if !r.mu.is_finite() {
            return Err(Error::option("teams", format!("mu must be finite, not {}", r.mu)));
        }
        if !(r.sigma.is_finite() && r.sigma >= 0.0) {
            return Err(Error::option("teams", format!("sigma must be a finite number ≥ 0, not {}", r.sigma)));
        }
    }
    Ok(())
}

fn check_list(name: &'static str, values: Option<&[f64]>, n: usize) -> Result<()> {
    let Some(values) = values else { return Ok(()) };
    if values.len() != n {
        return Err(Error::option(name, format!("needs one value per team ({n}), not {}", values.len())));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::option(name, format!("must be finite, not {v}")));
    }
    Ok(())
}

fn check_weights(teams: &[Vec<Rating>], weights: &[Vec<f64>], raw: bool) -> Result<()> {
    if weights.len() != teams.len() {
        return Err(Error::option(
            "weights",
            format!("needs one list per team ({}), not {}", teams.len(), weights.len()),
        ));
    }
    for (team, w) in teams.iter().zip(weights) {
        if w.len() != team.len() {
            return Err(Error::option("weights", "needs one weight per player"));
        }
        if let Some(v) = w.iter().find(|v| !v.is_finite() || (raw && **v <= 0.0)) {
            let why = if raw { "must be finite and > 0 without weight bounds" } else { "must be finite" };
            return Err(Error::option("weights", format!("{why}, not {v}")));
        }
    }
    Ok(())
}

/// A team's combined rating in a match: summed μ and σ² (balance-weighted) and its rank.
struct Team {
    mu: f64,
    sigma_sq: f64,
    rank: f64,
}

/// `rate` on checked inputs (openskill's `rate`: τ, scores → ranks, weight rescaling, sorting by rank, the
/// model's update, the original order, `limit_sigma`).
fn rate_checked(
    teams: &[Vec<Rating>],
    ranks: Option<&[f64]>,
    scores: Option<&[f64]>,
    weights: Option<&[Vec<f64>]>,
    o: &WengLinOptions,
) -> Result<Vec<Vec<Rating>>> {
    let tau2 = o.tau * o.tau;
    let inflated: Vec<Vec<Rating>> = teams
        .iter()
        .map(|t| t.iter().map(|r| Rating::new(r.mu, (r.sigma * r.sigma + tau2).sqrt())).collect())
        .collect();
    let ranks: Option<Vec<f64>> = match (ranks, scores) {
        (Some(r), _) => Some(r.to_vec()),
        (None, Some(s)) => Some(positions(&s.iter().map(|x| -x).collect::<Vec<_>>())),
        (None, None) => None,
    };
    let weights: Option<Vec<Vec<f64>>> = weights.map(|w| match o.weight_bounds {
        Some((low, high)) => w.iter().map(|t| normalize(t, low, high)).collect(),
        None => w.to_vec(),
    });
    // Stable order by rank (openskill's `_unwind`); identity without ranks.
    let mut order: Vec<usize> = (0..teams.len()).collect();
    if let Some(r) = &ranks {
        order.sort_by(|&a, &b| r[a].partial_cmp(&r[b]).unwrap_or(std::cmp::Ordering::Equal));
    }
    let sorted: Vec<Vec<Rating>> = order.iter().map(|&i| inflated[i].clone()).collect();
    let sorted_ranks: Option<Vec<f64>> = ranks.as_ref().map(|r| order.iter().map(|&i| r[i]).collect());
    let sorted_scores: Option<Vec<f64>> = scores.map(|s| order.iter().map(|&i| s[i]).collect());
    let sorted_weights: Option<Vec<Vec<f64>>> = weights.map(|w| order.iter().map(|&i| w[i].clone()).collect());
    let t = team_ratings(&sorted, sorted_ranks.as_deref(), o)?;
    let updated = match o.model {
        WengLinModel::PlackettLuce => {
            plackett_luce(&sorted, &t, sorted_scores.as_deref(), sorted_weights.as_deref(), o)
        }
        _ => pairwise(&sorted, &t, sorted_scores.as_deref(), sorted_weights.as_deref(), o),
    };
    let mut result = vec![Vec::new(); teams.len()];
    for (team, &i) in updated.into_iter().zip(&order) {
        result[i] = team;
    }
    if o.limit_sigma {
        for (new, old) in result.iter_mut().zip(teams) {
            for (n, r) in new.iter_mut().zip(old) {
                n.sigma = n.sigma.min(r.sigma);
            }
        }
    }
    Ok(result)
}

/// The 0-based position of each value's first occurrence among the sorted values (openskill's
/// `_calculate_rankings`): equal values share a rank.
fn positions(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.iter().map(|v| sorted.partition_point(|x| x < v) as f64).collect()
}

/// Rescales weights linearly to [low, high] (openskill's `_normalize`): a lone weight becomes `high`, equal
/// weights `low`.
fn normalize(weights: &[f64], low: f64, high: f64) -> Vec<f64> {
    if weights.len() == 1 {
        return vec![high];
    }
    let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
    let max = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = if max - min == 0.0 { 0.0001 } else { max - min };
    weights.iter().map(|w| ((w - min) / range) * (high - low) + low).collect()
}

/// The teams' combined ratings (openskill's `_calculate_team_ratings`). Plackett-Luce keeps openskill's integer
/// truncation of the given ranks; the other models use [`positions`].
fn team_ratings(teams: &[Vec<Rating>], ranks: Option<&[f64]>, o: &WengLinOptions) -> Result<Vec<Team>> {
    let rank: Vec<f64> = match (ranks, o.model) {
        (Some(r), WengLinModel::PlackettLuce) => r.iter().map(|x| x.trunc()).collect(),
        (Some(r), _) => positions(r),
        (None, _) => (0..teams.len()).map(|i| i as f64).collect(),
    };
    teams
        .iter()
        .zip(rank)
        .map(|(team, rank)| {
            let mut by_ordinal: Vec<&Rating> = team.iter().collect();
            by_ordinal.sort_by(|a, b| b.ordinal().partial_cmp(&a.ordinal()).unwrap_or(std::cmp::Ordering::Equal));
            let best = by_ordinal[0].ordinal();
            let (mut mu, mut sigma_sq) = (0.0, 0.0);
            for r in by_ordinal {
                let weight = if o.balance { 1.0 + (best - r.ordinal()) / (best + o.kappa) } else { 1.0 };
                if !weight.is_finite() {
                    return Err(Error::option("balance", "undefined when the best ordinal of a team is −kappa"));
                }
                mu += r.mu * weight;
                sigma_sq += (r.sigma * weight).powi(2);
            }
            if !(sigma_sq > 0.0 && sigma_sq.is_finite() && mu.is_finite()) {
                return Err(Error::option("teams", "a team's sigma must be > 0 (all sigmas are 0 and tau is 0)"));
            }
            Ok(Team { mu, sigma_sq, rank })
        })
        .collect()
}

/// μ of team `i` moved by the score margin (openskill's Plackett-Luce margin adjustment).
fn adjusted_mu(i: usize, t: &[Team], scores: Option<&[f64]>, margin: f64) -> f64 {
    let Some(s) = scores else { return t[i].mu };
    let (mut adjustment, mut count) = (0.0, 0usize);
    for j in (0..t.len()).filter(|&j| j != i) {
        let diff = (s[i] - s[j]).abs();
        if diff > 0.0 {
            let factor = if diff > margin && margin > 0.0 { (diff / margin).ln_1p() } else { 1.0 };
            if s[i] > s[j] {
                adjustment -= (t[i].mu - t[j].mu) * (factor - 1.0);
            } else {
                adjustment += (t[j].mu - t[i].mu) * (factor - 1.0);
            }
            count += 1;
        }
    }
    t[i].mu + if count > 0 { adjustment / count as f64 } else { adjustment }
}

/// The divisor of μ differences for a pair with these scores (1 unless the margin applies).
fn margin_divisor(i: usize, q: usize, scores: Option<&[f64]>, margin: f64) -> f64 {
    let Some(s) = scores else { return 1.0 };
    let diff = (s[i] - s[q]).abs();
    if diff > 0.0 && diff > margin && margin > 0.0 {
        (diff / margin).ln_1p()
    } else {
        1.0
    }
}

/// Plackett-Luce (Algorithm 4). The choice probabilities e^{μ_i/c} / Σ_{s∈C_q} e^{μ_s/c} are computed with a
/// log-sum-exp per q, so large μ/c cannot overflow.
fn plackett_luce(
    teams: &[Vec<Rating>],
    t: &[Team],
    scores: Option<&[f64]>,
    weights: Option<&[Vec<f64>]>,
    o: &WengLinOptions,
) -> Vec<Vec<Rating>> {
    let beta2 = o.beta * o.beta;
    let c = t.iter().fold(0.0, |acc, team| acc + (team.sigma_sq + beta2)).sqrt();
    let x: Vec<f64> = (0..t.len()).map(|i| adjusted_mu(i, t, scores, o.margin) / c).collect();
    // log Σ_{i: rank_i ≥ rank_q} e^{x_i}, and A_q = |{s: rank_s = rank_q}|.
    let log_sum: Vec<f64> = t
        .iter()
        .map(|q| {
            let members = || x.iter().zip(t).filter(|(_, i)| i.rank >= q.rank).map(|(v, _)| *v);
            let top = members().fold(f64::NEG_INFINITY, f64::max);
            top + members().map(|v| (v - top).exp()).sum::<f64>().ln()
        })
        .collect();
    let ties: Vec<f64> = t.iter().map(|q| t.iter().filter(|s| s.rank == q.rank).count() as f64).collect();
    t.iter()
        .enumerate()
        .map(|(i, team)| {
            let (mut omega, mut delta) = (0.0, 0.0);
            for q in (0..t.len()).filter(|&q| t[q].rank <= team.rank) {
                let p = (x[i] - log_sum[q]).exp();
                delta += p * (1.0 - p) / ties[q];
                if q == i {
                    omega += (1.0 - p) / ties[q];
                } else {
                    omega -= p / ties[q];
                }
            }
            omega *= team.sigma_sq / c;
            delta *= team.sigma_sq / (c * c);
            delta *= team.sigma_sq.sqrt() / c;
            update(&teams[i], team.sigma_sq, omega, delta, weights.map(|w| w[i].as_slice()), o.kappa, true)
        })
        .collect()
}

/// The pairwise models: Bradley-Terry and Thurstone-Mosteller, full (all pairs, summed) or partial (the
/// `window_size` neighbours on each side, averaged).
fn pairwise(
    teams: &[Vec<Rating>],
    t: &[Team],
    scores: Option<&[f64]>,
    weights: Option<&[Vec<f64>]>,
    o: &WengLinOptions,
) -> Vec<Vec<Rating>> {
    use WengLinModel::{BradleyTerryPart, ThurstoneMostellerFull, ThurstoneMostellerPart};
    let partial = matches!(o.model, BradleyTerryPart | ThurstoneMostellerPart);
    let thurstone = matches!(o.model, ThurstoneMostellerFull | ThurstoneMostellerPart);
    let beta2 = o.beta * o.beta;
    let n = t.len();
    t.iter()
        .enumerate()
        .map(|(i, ti)| {
            let range = if partial { i.saturating_sub(o.window_size)..n.min(i + o.window_size + 1) } else { 0..n };
            let (mut omega, mut delta, mut comparisons) = (0.0, 0.0, 0usize);
            for q in range.filter(|&q| q != i) {
                let tq = &t[q];
                let mut c = (ti.sigma_sq + tq.sigma_sq + 2.0 * beta2).sqrt();
                if o.model == ThurstoneMostellerPart {
                    c *= 2.0;
                }
                let divisor = margin_divisor(i, q, scores, o.margin);
                let share = ti.sigma_sq / c;
                let gamma = ti.sigma_sq.sqrt() / c;
                let (dw, dd) = if thurstone {
                    let (d, e) = ((ti.mu - tq.mu) / c, o.epsilon / c);
                    if tq.rank > ti.rank {
                        (share * v(d / divisor, e), gamma * share / c * w(d / divisor, e))
                    } else if tq.rank < ti.rank {
                        (-share * v(-d / divisor, e), gamma * share / c * w(-d / divisor, e))
                    } else {
                        (share * vt(d / divisor, e), gamma * share / c * wt(d / divisor, e))
                    }
                } else {
                    let p = 1.0 / (1.0 + (((tq.mu - ti.mu) / divisor) / c).exp());
                    let s = if tq.rank > ti.rank {
                        1.0
                    } else if tq.rank == ti.rank {
                        0.5
                    } else {
                        0.0
                    };
                    (share * (s - p), ((gamma * share) / c) * p * (1.0 - p))
                };
                omega += dw;
                delta += dd;
                comparisons += 1;
            }
            if partial && comparisons > 0 {
                omega /= comparisons as f64;
                delta /= comparisons as f64;
            }
            // openskill's Thurstone-Mosteller Part multiplies by the weight only for ω > 0, the others for ω ≥ 0.
            let at_zero = o.model != ThurstoneMostellerPart;
            update(&teams[i], ti.sigma_sq, omega, delta, weights.map(|w| w[i].as_slice()), o.kappa, at_zero)
        })
        .collect()
}

/// Shares a team's (ω, δ) among its players in proportion to σ²: a weight multiplies a gain and divides a loss.
fn update(
    team: &[Rating],
    sigma_sq: f64,
    omega: f64,
    delta: f64,
    weights: Option<&[f64]>,
    kappa: f64,
    gain_at_zero: bool,
) -> Vec<Rating> {
    team.iter()
        .enumerate()
        .map(|(j, r)| {
            let weight = weights.map_or(1.0, |w| w[j]);
            let share = r.sigma * r.sigma / sigma_sq;
            let gain = omega > 0.0 || (gain_at_zero && omega >= 0.0);
            let (mu, shrink) = if gain {
                (r.mu + share * omega * weight, 1.0 - share * delta * weight)
            } else {
                (r.mu + share * omega / weight, 1.0 - share * delta / weight)
            };
            Rating::new(mu, r.sigma * shrink.max(kappa).sqrt())
        })
        .collect()
}

/// Weng & Lin's V(x, t) = φ(x − t) / Φ(x − t), with openskill's cut-off below machine epsilon.
fn v(x: f64, t: f64) -> f64 {
    let xt = x - t;
    let denominator = phi(xt);
    if denominator < f64::EPSILON {
        -xt
    } else {
        density(xt) / denominator
    }
}

/// Weng & Lin's W(x, t) = V(x, t)·(V(x, t) + x − t).
fn w(x: f64, t: f64) -> f64 {
    let xt = x - t;
    if phi(xt) < f64::EPSILON {
        return if x < 0.0 { 1.0 } else { 0.0 };
    }
    let vx = v(x, t);
    vx * (vx + xt)
}

/// Weng & Lin's Ṽ(x, t) for a draw, with openskill's cut-off.
fn vt(x: f64, t: f64) -> f64 {
    let xx = x.abs();
    let b = phi(t - xx) - phi(-t - xx);
    if b < 1e-5 {
        return if x < 0.0 { -x - t } else { -x + t };
    }
    let a = density(-t - xx) - density(t - xx);
    (if x < 0.0 { -a } else { a }) / b
}

/// Weng & Lin's W̃(x, t) for a draw, with openskill's cut-off.
fn wt(x: f64, t: f64) -> f64 {
    let xx = x.abs();
    let b = phi(t - xx) - phi(-t - xx);
    if b < f64::EPSILON {
        return 1.0;
    }
    let vx = vt(x, t);
    ((t - xx) * density(t - xx) + (t + xx) * density(-t - xx)) / b + vx * vx
}

/// The standard normal density.
fn density(x: f64) -> f64 {
    (x * x / -2.0).exp() / std::f64::consts::TAU.sqrt()
}

/// The standard normal distribution function Φ(x) = erfc(−x/√2)/2, accurate in both tails.
pub(crate) fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// erfc(x) to within about one ulp, by the rational approximations of Sun's fdlibm `s_erf.c`
/// ("Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved. Developed at SunPro, a Sun Microsystems,
/// Inc. business. Permission to use, copy, modify, and distribute this software is freely granted, provided that
/// this notice is preserved."): |x| < 0.84375 from erf's odd rational function, up to 1.25 around erf(1), then
/// exp(−x² − 0.5625 + R(1/x²)/S(1/x²))/x with the exponent split to keep x² exact.
pub(crate) fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    // fdlibm's interval tests on the high word of |x|.
    let high = (ax.to_bits() >> 32) as u32;
    if high < 0x3feb_0000 {
        // |x| < 0.84375
        if high < 0x3c70_0000 {
            return 1.0 - x;
        }
        let z = x * x;
        let y = horner(&ERF_P, z) / horner(&ERF_Q, z);
        return if x < 0.25 { 1.0 - (x + x * y) } else { 0.5 - (x - 0.5 + x * y) };
    }
    if high >= 0x403c_0000 {
        // |x| ≥ 28
        return if x > 0.0 { 0.0 } else { 2.0 };
    }
    let tail = if high < 0x3ff4_0000 {
        // |x| < 1.25
        let s = ax - 1.0;
        1.0 - ERX - horner(&ERX_P, s) / horner(&ERX_Q, s)
    } else {
        let s = 1.0 / (ax * ax);
        let ratio = if high < 0x4006_db6d {
            // |x| < 1/0.35
            horner(&TAIL_R1, s) / horner(&TAIL_S1, s)
        } else {
            horner(&TAIL_R2, s) / horner(&TAIL_S2, s)
        };
        // z = |x| with the low 32 bits cleared, so z·z is exact.
        let z = f64::from_bits(ax.to_bits() & 0xffff_ffff_0000_0000);
        (-z * z - 0.5625).exp() * ((z - ax) * (z + ax) + ratio).exp() / ax
    };
    if x > 0.0 {
        tail
    } else {
        2.0 - tail
    }
}

/// c0 + c1·x + c2·x² + …
fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

const ERX: f64 = 0.845_062_911_510_467_5;
const ERF_P: [f64; 5] = [
    0.128_379_167_095_512_56,
    -0.325_042_107_247_001_5,
    -0.028_481_749_575_598_51,
    -0.005_770_270_296_489_442,
    -2.376_301_665_665_016_3e-05,
];
const ERF_Q: [f64; 6] = [
    1.0,
    0.397_917_223_959_155_35,
    0.065_022_249_988_767_3,
    0.005_081_306_281_875_766,
    0.000_132_494_738_004_321_64,
    -3.960_228_278_775_368e-06,
];
const ERX_P: [f64; 7] = [
    -0.002_362_118_560_752_659_4,
    0.414_856_118_683_748_33,
    -0.372_207_876_035_701_3,
    0.318_346_619_901_161_75,
    -0.110_894_694_282_396_68,
    0.035_478_304_325_618_236,
    -0.002_166_375_594_868_791,
];
const ERX_Q: [f64; 7] = [
    1.0,
    0.106_420_880_400_844_23,
    0.540_397_917_702_171,
    0.071_828_654_414_196_27,
    0.126_171_219_808_761_64,
    0.013_637_083_912_029_05,
    0.011_984_499_846_799_107,
];
const TAIL_R1: [f64; 8] = [
    -0.009_864_944_034_847_148,
    -0.693_858_572_707_181_8,
    -10.558_626_225_323_291,
    -62.375_332_450_326_006,
    -162.396_669_462_573_47,
    -184.605_092_906_711_04,
    -81.287_435_506_306_6,
    -9.814_329_344_169_145,
];
const TAIL_S1: [f64; 9] = [
    1.0,
    19.651_271_667_439_257,
    137.657_754_143_519_04,
    434.565_877_475_229_23,
    645.387_271_733_267_9,
    429.008_140_027_567_83,
    108.635_005_541_779_44,
    6.570_249_770_319_282,
    -0.060_424_415_214_858_1,
];
const TAIL_R2: [f64; 7] = [
    -0.009_864_942_924_700_1,
    -0.799_283_237_680_523,
    -17.757_954_917_754_752,
    -160.636_384_855_821_92,
    -637.566_443_368_389_6,
    -1_025.095_131_611_077_2,
    -483.519_191_608_651_4,
];
const TAIL_S2: [f64; 8] = [
    1.0,
    30.338_060_743_482_46,
    325.792_512_996_573_9,
    1_536.729_586_084_437,
    3_199.858_219_508_595_5,
    2_553.050_406_433_164_4,
    474.528_541_206_955_37,
    -22.440_952_446_585_82,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // erfc at 0, ±0.5, 1, 2, 5, 10 (reference values to 17 digits).
        let cases = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (-0.5, 1.520_499_877_813_046_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (5.0, 1.537_459_794_428_034_8e-12),
            (10.0, 2.088_487_583_762_545e-45),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(((got - want) / want).abs() < 4e-16, "erfc({x}) = {got}, want {want}");
        }
        assert_eq!(erfc(40.0), 0.0);
        assert_eq!(erfc(-40.0), 2.0);
    }

    #[test]
    fn phi_tails_keep_precision() {
        // Φ(−10) = 7.6198530241605260e-24: a 1 + erf formula would give 0.
        assert!((phi(-10.0) / 7.619_853_024_160_526e-24 - 1.0).abs() < 1e-14);
        assert!((phi(0.0) - 0.5).abs() < 1e-16);
        assert!((phi(1.0) + phi(-1.0) - 1.0).abs() < 1e-16);
    }

    #[test]
    fn positions_share_ties() {
        assert_eq!(positions(&[2.0, 1.0, 4.0, 3.0]), vec![1.0, 0.0, 3.0, 2.0]);
        assert_eq!(positions(&[-10.0, -5.0, -5.0, -2.0, -1.0]), vec![0.0, 1.0, 1.0, 3.0, 4.0]);
    }

    #[test]
    fn normalize_as_openskill() {
        assert_eq!(normalize(&[2.0, 0.0, 0.0], 1.0, 2.0), vec![2.0, 1.0, 1.0]);
        assert_eq!(normalize(&[5.0], 1.0, 2.0), vec![2.0]);
        assert_eq!(normalize(&[3.0, 3.0], 1.0, 2.0), vec![1.0, 1.0]);
    }
}
