//! Judge evaluation (spec 3, CapArena): how well an automatic judge agrees with human votes, per verdict and per
//! leaderboard, and CapArena-Auto's net win score against fixed baselines.
//!
//! Follows `njucckevin/CapArena` (`vlm_as_a_judge.py::cal_agreement`, `caparena_metrics.py`,
//! `caparena_auto_scores.py`): a verdict agrees with a human vote when their labels are equal among
//! {A, B, tie} (`include_tie=True`), or, counting only the pairs where neither said tie, when they pick the same side
//! (`include_tie=False`). At the model level CapArena correlates the judge's leaderboard with the human one by
//! Spearman's ρ and Kendall's τ (scipy); here both leaderboards are [`crate::rank`]'s, restricted to the models they
//! share. The correlations follow scipy's defaults: Spearman on average ranks, Kendall's τ-b.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::battles::{Battles, Outcome};
use crate::error::{Error, Location, Result};
use crate::rank::{rank, RankOptions};

/// Spearman's rank correlation ρ of `x` and `y`: the Pearson correlation of their ranks, tied values sharing their
/// average rank (as `scipy.stats.spearmanr`).
///
/// # Errors
/// `INVALID_OPTION` when the lengths differ, there are fewer than two values, a value is not finite, or one side is
/// constant (the correlation is undefined; scipy returns NaN there).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair(x, y)?;
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let mean = f64::midpoint(x.len() as f64, 1.0);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        let (da, db) = (a - mean, b - mean);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    Ok((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Kendall's τ-b of `x` and `y` (scipy's default `kendalltau`): (concordant − discordant) /
/// √((n₀ − tied in x)(n₀ − tied in y)) over the n₀ = n(n−1)/2 pairs. O(n²), meant for leaderboards (n ≤ a few
/// hundred).
///
/// # Errors
/// As [`spearman`].
pub fn kendall(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair(x, y)?;
    let n = x.len();
    let (mut score, mut tied_x, mut tied_y, mut total) = (0i64, 0u64, 0u64, 0u64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = sign(x[i] - x[j]);
            let dy = sign(y[i] - y[j]);
            score += dx * dy;
            tied_x += u64::from(dx == 0);
            tied_y += u64::from(dy == 0);
            total += 1;
        }
    }
    let denominator = ((total - tied_x) as f64 * (total - tied_y) as f64).sqrt();
    Ok((score as f64 / denominator).clamp(-1.0, 1.0))
}

fn sign(d: f64) -> i64 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// Lengths equal, at least two values, all finite, neither side constant.
fn check_pair(x: &[f64], y: &[f64]) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::option("y", format!("has {} values, x has {}", y.len(), x.len())));
    }
    if x.len() < 2 {
        return Err(Error::option("x", "a correlation needs at least two values"));
    }
    for (name, v) in [("x", x), ("y", y)] {
        if let Some(k) = v.iter().position(|t| !t.is_finite()) {
            return Err(Error::option(name, format!("value {k} is not finite ({})", v[k])));
        }
        if v.iter().all(|&t| t == v[0]) {
            return Err(Error::option(name, "is constant: the correlation is undefined"));
        }
    }
    Ok(())
}

/// 1-based ranks, ties sharing the average of the ranks they span (scipy's `rankdata(method="average")`).
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        // Positions start..end hold equal values: ranks start+1 ..= end, average (start + 1 + end) / 2.
        let average = (start + 1 + end) as f64 / 2.0;
        for &k in &order[start..end] {
            ranks[k] = average;
        }
        start = end;
    }
    ranks
}

/// How far a judge agrees with human votes (CapArena's caption-level and model-level agreement).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Agreement {
    /// Items (ids) with at least one judge verdict compared with a human vote.
    pub items: usize,
    /// (judge verdict, human vote) comparisons, counts multiplied.
    pub votes: usize,
    /// Share of the comparisons whose labels are equal among {A, B, tie} (CapArena `include_tie=True`).
    pub agreement_with_ties: f64,
    /// Share of the decisive comparisons that pick the same side (CapArena `include_tie=False`); 0 when there are
    /// none (see `decisive_votes`).
    pub agreement_without_ties: f64,
    /// Comparisons where neither the judge nor the human said tie.
    pub decisive_votes: usize,
    /// Spearman's ρ between the human and the judge leaderboards on their common models; 0 when it is undefined
    /// (fewer than two common models, or a leaderboard with all ratings equal).
    pub spearman: f64,
    /// Kendall's τ-b between the same two rating vectors; 0 when undefined, as `spearman`.
    pub kendall: f64,
    /// Models in both leaderboards (the length of the correlated vectors).
    pub models: usize,
}

/// A verdict as a label from side A's point of view: 0 = A, 1 = B, 2 = tie (both-bad counts as a tie).
fn label(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::A => 0,
        Outcome::B => 1,
        Outcome::Tie | Outcome::BothBad => 2,
    }
}

/// The item id of every record, or `MISSING_FIELD` (row = record index + 1, field `id`) for the first without.
fn item_ids(battles: &Battles) -> Result<Vec<&str>> {
    (0..battles.len())
        .map(|i| {
            battles.id(i).ok_or_else(|| Error::MissingField { at: Location { row: i + 1, field: Some("id".into()) } })
        })
        .collect()
}

/// Compares a judge's verdicts with human votes on the same items (CapArena).
///
/// Items are matched by `id`. Each judge verdict is compared with every human vote on its item, sides aligned by
/// model name (a human vote on (b, a) is mirrored); a human vote on the same id but another pair of models is
/// skipped. Several judge verdicts on one item are each compared. Record counts multiply (a record of count 3 is
/// three votes); per-record weights are not used. Both-bad counts as a tie.
///
/// The model-level correlations compare `crate::rank(human, rank_options)` with `crate::rank(judge, rank_options)`
/// (all their battles, not only the matched items) on the models present in both.
///
/// # Errors
/// `MISSING_FIELD` (field `id`, the 1-based record) for a record without an item id, in `human` first;
/// `EMPTY` when either set is empty or no judge verdict shares an item and a model pair with a human vote; the
/// errors of [`crate::rank`] for the leaderboards.
pub fn agreement(human: &Battles, judge: &Battles, rank_options: &RankOptions) -> Result<Agreement> {
    if human.is_empty() || judge.is_empty() {
        return Err(Error::Empty(" (judge agreement needs human votes and judge verdicts)".into()));
    }
    let human_ids = item_ids(human)?;
    let judge_ids = item_ids(judge)?;
    let mut by_item: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in human_ids.iter().enumerate() {
        by_item.entry(id).or_default().push(i);
    }
    let (mut votes, mut equal, mut decisive, mut decisive_equal) = (0u64, 0u64, 0u64, 0u64);
    let mut items = HashSet::new();
    for (j, id) in judge_ids.iter().enumerate() {
        let Some(humans) = by_item.get(id) else { continue };
        let (ja, jb, jo, jc) = judge.record(j);
        let (ja, jb) = (judge.models()[ja].as_str(), judge.models()[jb].as_str());
        for &h in humans {
            let (ha, hb, ho, hc) = human.record(h);
            let (ha, hb) = (human.models()[ha].as_str(), human.models()[hb].as_str());
            let mut human_label = label(ho);
            if (ha, hb) == (jb, ja) {
                human_label = [1, 0, 2][usize::from(human_label)];
            } else if (ha, hb) != (ja, jb) {
                continue;
            }
            let k = u64::from(jc) * u64::from(hc);
            if k == 0 {
                continue;
            }
            items.insert(*id);
            let judge_label = label(jo);
            votes += k;
            equal += k * u64::from(judge_label == human_label);
            if judge_label != 2 && human_label != 2 {
                decisive += k;
                decisive_equal += k * u64::from(judge_label == human_label);
            }
        }
    }
    if votes == 0 {
        return Err(Error::Empty(" (no judge verdict shares an item id and a model pair with a human vote)".into()));
    }
    let (spearman, kendall, models) = model_agreement(human, judge, rank_options)?;
    Ok(Agreement {
        items: items.len(),
        votes: usize::try_from(votes).unwrap_or(usize::MAX),
        agreement_with_ties: equal as f64 / votes as f64,
        agreement_without_ties: if decisive == 0 { 0.0 } else { decisive_equal as f64 / decisive as f64 },
        decisive_votes: usize::try_from(decisive).unwrap_or(usize::MAX),
        spearman,
        kendall,
        models,
    })
}

/// Spearman's ρ, Kendall's τ and the number of common models of the two leaderboards (correlations 0 when
/// undefined).
fn model_agreement(human: &Battles, judge: &Battles, options: &RankOptions) -> Result<(f64, f64, usize)> {
    let human_board = rank(human, options)?;
    let judge_board = rank(judge, options)?;
    let judge_rating: HashMap<&str, f64> = judge_board.models.iter().map(|m| (m.model.as_str(), m.rating)).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for m in &human_board.models {
        if let Some(&r) = judge_rating.get(m.model.as_str()) {
            x.push(m.rating);
            y.push(r);
        }
    }
    let rho = spearman(&x, &y).unwrap_or(0.0);
    let tau = kendall(&x, &y).unwrap_or(0.0);
    Ok((rho, tau, x.len()))
}

/// CapArena-Auto's score of one model against fixed baselines.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetWin {
    /// Per baseline, in the order given: (wins − losses) / battles · 100, in [−100, 100]; 0 for the model itself.
    pub per_baseline: Vec<(String, f64)>,
    /// The mean over the baselines (the divisor is always the number of baselines, the model's own column
    /// included, as CapArena-Auto).
    pub average: f64,
}

/// CapArena-Auto's net win score of `model`: for each baseline, the battles between the two (either side),
/// (wins − losses)/battles·100 with ties (and both-bad) counting 0; then the average over the baselines. Record
/// counts multiply; weights are not used.
///
/// # Errors
/// `UNKNOWN_MODEL` for a model (option `model`) or baseline (option `baselines`) not in the battles;
/// `INVALID_OPTION` without baselines; `EMPTY` when the model never met a baseline (other than itself).
pub fn net_win_score(battles: &Battles, model: &str, baselines: &[String]) -> Result<NetWin> {
    let m = battles.model_id(model).ok_or_else(|| Error::UnknownModel { model: model.into(), option: "model" })?;
    if baselines.is_empty() {
        return Err(Error::option("baselines", "at least one baseline is needed"));
    }
    let mut ids = Vec::with_capacity(baselines.len());
    for name in baselines {
        let id =
            battles.model_id(name).ok_or_else(|| Error::UnknownModel { model: name.clone(), option: "baselines" })?;
        ids.push(id);
    }
    // (battles, wins − losses) of `model` against each opponent.
    let mut tally = vec![(0u64, 0i64); battles.models().len()];
    for i in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(i);
        let (opponent, sign) = if a == m {
            (b, 1)
        } else if b == m {
            (a, -1)
        } else {
            continue;
        };
        let net = match outcome {
            Outcome::A => sign,
            Outcome::B => -sign,
            Outcome::Tie | Outcome::BothBad => 0,
        };
        tally[opponent].0 += u64::from(count);
        tally[opponent].1 += net * i64::from(count);
    }
    let mut per_baseline = Vec::with_capacity(ids.len());
    for (name, &id) in baselines.iter().zip(&ids) {
        let score = if id == m {
            0.0
        } else {
            let (n, net) = tally[id];
            if n == 0 {
                return Err(Error::Empty(format!(" (`{model}` has no battles against baseline `{name}`)")));
            }
            net as f64 * 100.0 / n as f64
        };
        per_baseline.push((name.clone(), score));
    }
    let average = per_baseline.iter().map(|(_, s)| s).sum::<f64>() / per_baseline.len() as f64;
    Ok(NetWin { per_baseline, average })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_ranks_match_scipy() {
        // scipy.stats.rankdata([3, 1, 3, 2, 3]) = [4, 1, 4, 2, 4]
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]), vec![4.0, 1.0, 4.0, 2.0, 4.0]);
    }

    #[test]
    fn sign_handles_zero() {
        assert_eq!((sign(2.0), sign(-0.5), sign(0.0)), (1, -1, 0));
    }
}
