//! Preference strength across several judges (spec 1.10; "Secrets of RLHF in Large Language Models Part II:
//! Reward Modeling", Wang et al. 2024, §2.2–2.5).
//!
//! M judges (reward models, LLM judges, crowd workers) give each battle b a margin d_{b,m} (chosen minus rejected,
//! or +1 / −1 / 0 for a vote). The strength is the mean μ̂_b = mean_m d_{b,m} and the disagreement the population
//! standard deviation σ̂_b = sqrt(mean_m (d_{b,m} − μ̂_b)²). A low or negative μ̂ flags a likely wrong label; μ̂ can
//! weight a battle (adaptive margin) and σ̂ flags disagreement.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::battles::{Battles, Outcome};
use crate::error::{Error, Location, Result};

/// Strength of one battle.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strength {
    /// Mean margin μ̂.
    pub mean: f64,
    /// Population standard deviation σ̂ of the margins.
    pub spread: f64,
}

/// Strength of one battle item from the votes on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStrength {
    /// The records' `id`.
    pub id: String,
    /// Side A's model id (the item's first-seen orientation).
    pub model_a: usize,
    /// Side B's model id.
    pub model_b: usize,
    /// Mean vote: +1 for A, −1 for B, 0 for a tie (both-bad too).
    pub mean: f64,
    /// Population standard deviation of the votes.
    pub spread: f64,
    /// Number of votes (sum of counts).
    pub votes: u64,
}

/// Mean and population standard deviation of each battle's margins; `margins` is row-major, `judges` per battle.
/// No margins give no battles.
///
/// # Errors
/// `INVALID_OPTION` for `judges = 0` or a length that is not a multiple of `judges`; `INVALID_NUMBER` (row =
/// 1-based battle, field `margins`) for a margin that is NaN or infinite.
pub fn strength(margins: &[f64], judges: usize) -> Result<Vec<Strength>> {
    if judges == 0 {
        return Err(Error::option("judges", "must be at least 1"));
    }
    if !margins.len().is_multiple_of(judges) {
        return Err(Error::option(
            "judges",
            format!("{} margins are not a whole number of battles of {judges} judges", margins.len()),
        ));
    }
    margins
        .chunks(judges)
        .enumerate()
        .map(|(b, row)| {
            if let Some(x) = row.iter().find(|x| !x.is_finite()) {
                return Err(Error::InvalidNumber {
                    at: Location { row: b + 1, field: Some("margins".into()) },
                    value: x.to_string(),
                    why: "a margin must be finite",
                });
            }
            let mean = row.iter().sum::<f64>() / judges as f64;
            let spread = (row.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / judges as f64).sqrt();
            Ok(Strength { mean, spread })
        })
        .collect()
}

/// The strength of each item: records grouped by (`id`, unordered pair) in order of first appearance, votes +1 for
/// A, −1 for B, 0 for a tie, aligned to the item's first-seen orientation. A record of count c is c votes; weights
/// are not used. Items whose records all have count 0 have mean and spread 0.
///
/// # Errors
/// `EMPTY` without battles; `MISSING_FIELD` (row, `id`) for a record without an item id.
pub fn from_battles(battles: &Battles) -> Result<Vec<ItemStrength>> {
    if battles.is_empty() {
        return Err(Error::Empty(String::new()));
    }
    // Per item: votes, sum, sum of squares (votes are ±1 or 0, so Σd² counts the decisive ones).
    let mut items: Vec<(ItemStrength, f64, f64)> = Vec::new();
    let mut index: FxHashMap<(&str, usize, usize), usize> = FxHashMap::default();
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let id = battles
            .id(r)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::MissingField { at: Location { row: r + 1, field: Some("id".into()) } })?;
        let k = *index.entry((id, a.min(b), a.max(b))).or_insert_with(|| {
            let item = ItemStrength { id: id.to_owned(), model_a: a, model_b: b, mean: 0.0, spread: 0.0, votes: 0 };
            items.push((item, 0.0, 0.0));
            items.len() - 1
        });
        let (item, sum, squares) = &mut items[k];
        let sign = if item.model_a == a { 1.0 } else { -1.0 };
        let vote = match outcome {
            Outcome::A => sign,
            Outcome::B => -sign,
            Outcome::Tie | Outcome::BothBad => 0.0,
        };
        let c = f64::from(count);
        item.votes += u64::from(count);
        *sum += c * vote;
        *squares += c * vote * vote;
    }
    Ok(items
        .into_iter()
        .map(|(mut item, sum, squares)| {
            if item.votes > 0 {
                let n = item.votes as f64;
                item.mean = sum / n;
                item.spread = (squares / n - item.mean * item.mean).max(0.0).sqrt();
            }
            item
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_example() {
        // margins 1, 2, 3, 6: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5
        let s = strength(&[1.0, 2.0, 3.0, 6.0, -1.0, -1.0, -1.0, -1.0], 4).unwrap();
        assert_eq!(s[0].mean, 3.0);
        assert!((s[0].spread - 3.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(s[1], Strength { mean: -1.0, spread: 0.0 });
    }

    #[test]
    fn bad_input() {
        assert!(strength(&[], 3).unwrap().is_empty());
        assert_eq!(strength(&[1.0], 0).unwrap_err().code(), "INVALID_OPTION");
        assert_eq!(strength(&[1.0, 2.0, 3.0], 2).unwrap_err().code(), "INVALID_OPTION");
        let e = strength(&[1.0, 2.0, f64::NAN, 0.0], 2).unwrap_err();
        assert_eq!((e.code(), e.row()), ("INVALID_NUMBER", Some(2)));
        assert_eq!(from_battles(&Battles::new()).unwrap_err().code(), "EMPTY");
    }
}
