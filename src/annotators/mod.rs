//! Annotators: who voted matters. Mixtures of Bradley-Terry over annotator groups (MaxMin-RLHF), noise-robust EM
//! with per-annotator correctness (LCPO), Dawid-Skene for items judged several times, and preference strength
//! across several judges (Secrets of RLHF II).
//!
//! The likelihood-based methods (mixture, LCPO) work on per-annotator pair totals built here: for every annotator
//! and unordered pair (i < j), the weighted wins of i, wins of j and ties. Both-bad votes count as ties.

pub mod dawid_skene;
pub mod lcpo;
pub mod mixture;
pub mod strength;

use rustc_hash::FxHashMap;

use crate::battles::{Battles, Outcome};
use crate::error::{Error, Location, Result};
use crate::rank::rows::Pair;

/// One annotator's votes on one unordered pair `(i, j)`, `i < j`, weighted by record weight × count.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cell {
    /// Index into [`Tallies::pairs`].
    pub pair: u32,
    /// Weighted wins of i.
    pub wins: f64,
    /// Weighted wins of j.
    pub losses: f64,
    /// Weighted ties (both-bad included).
    pub ties: f64,
    /// Battles (sum of counts, unweighted).
    pub battles: u64,
    /// Decisive battles (sum of counts of wins and losses, unweighted).
    pub decisive: u64,
}

impl Cell {
    /// Total weight.
    pub fn n(&self) -> f64 {
        self.wins + self.losses + self.ties
    }

    /// Score of i with ties as half a win.
    pub fn s(&self) -> f64 {
        self.wins + 0.5 * self.ties
    }
}

/// Per-annotator pair totals.
#[derive(Clone, Debug)]
pub(crate) struct Tallies {
    /// Number of models (`battles.models().len()`).
    pub models: usize,
    /// Annotator names in order of first appearance (one unnamed annotator `""` when not split by judge).
    pub judges: Vec<String>,
    /// The distinct unordered pairs (i < j), in order of first appearance.
    pub pairs: Vec<(u32, u32)>,
    /// Cells per annotator.
    pub cells: Vec<Vec<Cell>>,
}

impl Tallies {
    /// Pair totals over all annotators, annotator `u` weighted by `weight(u)`.
    pub fn pooled(&self, weight: impl Fn(usize) -> f64) -> Vec<Pair> {
        let mut out: Vec<Pair> = self.pairs.iter().map(|&(i, j)| Pair { i, j, n: 0.0, s: 0.0 }).collect();
        for (u, cells) in self.cells.iter().enumerate() {
            let w = weight(u);
            if w == 0.0 {
                continue;
            }
            for c in cells {
                let p = &mut out[c.pair as usize];
                p.n += w * c.n();
                p.s += w * c.s();
            }
        }
        out
    }
}

/// Builds per-annotator pair totals. With `by_judge`, every record must name its annotator (`MISSING_FIELD` with
/// the 1-based row and field `judge` otherwise); without it all records form one annotator.
pub(crate) fn tally(battles: &Battles, by_judge: bool) -> Result<Tallies> {
    let mut judges = Vec::new();
    let mut judge_index: FxHashMap<&str, usize> = FxHashMap::default();
    let mut pairs = Vec::new();
    let mut pair_index: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    let mut cells: Vec<Vec<Cell>> = Vec::new();
    let mut cell_index: FxHashMap<(usize, u32), usize> = FxHashMap::default();
    let mut total = 0.0;
    if !by_judge {
        judges.push(String::new());
        cells.push(Vec::new());
    }
    for r in 0..battles.len() {
        let (a, b, outcome, count) = battles.record(r);
        let weight = battles.weight(r);
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::InvalidNumber {
                at: Location { row: r + 1, field: Some("weight".into()) },
                value: weight.to_string(),
                why: "a weight must be finite and non-negative",
            });
        }
        let u = if by_judge {
            let name = battles
                .judge(r)
                .filter(|j| !j.is_empty())
                .ok_or_else(|| Error::MissingField { at: Location { row: r + 1, field: Some("judge".into()) } })?;
            *judge_index.entry(name).or_insert_with(|| {
                judges.push(name.to_owned());
                cells.push(Vec::new());
                judges.len() - 1
            })
        } else {
            0
        };
        let (i, j) = (a.min(b) as u32, a.max(b) as u32);
        let pair = *pair_index.entry((i, j)).or_insert_with(|| {
            pairs.push((i, j));
            (pairs.len() - 1) as u32
        });
        let k = *cell_index.entry((u, pair)).or_insert_with(|| {
            cells[u].push(Cell { pair, ..Cell::default() });
            cells[u].len() - 1
        });
        let c = &mut cells[u][k];
        let w = weight * f64::from(count);
        total += w;
        c.battles += u64::from(count);
        // `a` won ⇔ i won when a is the smaller id.
        let a_is_i = a as u32 == i;
        match outcome {
            Outcome::A | Outcome::B => {
                c.decisive += u64::from(count);
                if (outcome == Outcome::A) == a_is_i {
                    c.wins += w;
                } else {
                    c.losses += w;
                }
            }
            Outcome::Tie | Outcome::BothBad => c.ties += w,
        }
    }
    if total <= 0.0 {
        return Err(Error::Empty(if battles.is_empty() { String::new() } else { " (all weights are 0)".into() }));
    }
    Ok(Tallies { models: battles.models().len(), judges, pairs, cells })
}

/// log σ(x), stable.
pub(crate) fn log_sigmoid(x: f64) -> f64 {
    -crate::rank::bt::softplus(-x)
}
