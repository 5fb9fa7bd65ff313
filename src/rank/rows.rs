//! The sufficient statistics of pairwise battles: unique (A, B, outcome, weight) rows with counts, as arena-rank's
//! `PairDataset` builds them, and the per-pair totals a Bradley-Terry fit needs.

use rustc_hash::FxHashMap as HashMap;

use crate::battles::{Battles, BothBad, Outcome};

/// One unique row: `count` battles of model `a` against model `b` with score `y` for A (1, ½ or 0), each of
/// weight `w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Side A's model id.
    pub a: u32,
    /// Side B's model id.
    pub b: u32,
    /// A's score: 1 win, 0.5 tie, 0 loss.
    pub y: f64,
    /// Number of battles.
    pub count: f64,
    /// Weight of each battle.
    pub w: f64,
}

/// Unique rows plus what the ranking needs about the models.
#[derive(Clone, Debug)]
pub struct Rows {
    /// Unique rows sorted by (a, b, y, w).
    pub rows: Vec<Row>,
    /// Number of models (ids index `Battles::models`).
    pub n_models: usize,
    /// True when every weight is 1.
    pub unweighted: bool,
}

/// Per-model tallies (battles counted, both-bad ties included as ties unless excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub battles: u64,
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
}

/// Options that shape the rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowOptions {
    /// How `tie (bothbad)` counts.
    pub both_bad: BothBad,
    /// arena-rank's `reweighted`: weight each battle by 1 / max(pair count, `min_pair_count`).
    pub reweighted: bool,
    /// arena-rank's `min_pair_count` (default 50).
    pub min_pair_count: f64,
}

impl Default for RowOptions {
    fn default() -> Self {
        Self { both_bad: BothBad::Tie, reweighted: false, min_pair_count: 50.0 }
    }
}

impl Rows {
    /// Aggregates battles into unique rows.
    pub fn new(battles: &Battles, options: &RowOptions) -> Self {
        let mut map: HashMap<(u32, u32, u8, u64), f64> = HashMap::default();
        for i in 0..battles.len() {
            let (a, b, outcome, count) = battles.record(i);
            if count == 0 || (outcome == Outcome::BothBad && options.both_bad == BothBad::Exclude) {
                continue;
            }
            let y = outcome.score();
            let key = (a as u32, b as u32, (y * 2.0) as u8, battles.weight(i).to_bits());
            *map.entry(key).or_insert(0.0) += f64::from(count);
        }
        let mut rows: Vec<Row> = map
            .into_iter()
            .map(|((a, b, y2, w), count)| Row { a, b, y: f64::from(y2) / 2.0, count, w: f64::from_bits(w) })
            .collect();
        rows.sort_by_key(|p| (p.a, p.b, p.y.to_bits(), p.w.to_bits()));
        if options.reweighted {
            let mut pair_total: HashMap<(u32, u32), f64> = HashMap::default();
            for r in &rows {
                *pair_total.entry(unordered(r.a, r.b)).or_insert(0.0) += r.count;
            }
            for r in &mut rows {
                r.w *= 1.0 / pair_total[&unordered(r.a, r.b)].max(options.min_pair_count);
            }
        }
        let unweighted = rows.iter().all(|r| r.w == 1.0);
        Self { rows, n_models: battles.models().len(), unweighted }
    }

    /// Total number of battles.
    pub fn total(&self) -> f64 {
        self.rows.iter().map(|r| r.count).sum()
    }

    /// Wins, losses, ties per model.
    pub fn tallies(&self) -> Vec<Tally> {
        let mut t = vec![Tally::default(); self.n_models];
        for r in &self.rows {
            let c = r.count as u64;
            let (a, b) = (r.a as usize, r.b as usize);
            t[a].battles += c;
            t[b].battles += c;
            if r.y == 1.0 {
                t[a].wins += c;
                t[b].losses += c;
            } else if r.y == 0.0 {
                t[b].wins += c;
                t[a].losses += c;
            } else {
                t[a].ties += c;
                t[b].ties += c;
            }
        }
        t
    }
}

fn unordered(a: u32, b: u32) -> (u32, u32) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Per unordered pair: total weight `n` and A-side score weight `s`, with `i < j`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    pub i: u32,
    pub j: u32,
    /// Σ w·count over battles of i and j.
    pub n: f64,
    /// Σ w·count·(score of i).
    pub s: f64,
}

/// Collapses rows, with per-row counts `counts` (the rows' own counts, or bootstrap counts), into pair totals.
/// `index` maps each row to its pair; build it once with [`pair_index`].
pub fn pair_totals(rows: &[Row], counts: impl Iterator<Item = f64>, index: &PairIndex, out: &mut Vec<Pair>) {
    out.clear();
    out.extend(index.pairs.iter().map(|&(i, j)| Pair { i, j, n: 0.0, s: 0.0 }));
    for ((r, c), &k) in rows.iter().zip(counts).zip(&index.row_pair) {
        let p = &mut out[k as usize];
        let wc = r.w * c;
        p.n += wc;
        p.s += wc * if r.a == p.i { r.y } else { 1.0 - r.y };
    }
}

/// Which unordered pair each row belongs to.
#[derive(Clone, Debug)]
pub struct PairIndex {
    /// The distinct unordered pairs (i < j), sorted.
    pub pairs: Vec<(u32, u32)>,
    /// Pair index of each row.
    pub row_pair: Vec<u32>,
}

/// Builds the row → pair index.
pub fn pair_index(rows: &[Row]) -> PairIndex {
    let mut pairs: Vec<(u32, u32)> = rows.iter().map(|r| unordered(r.a, r.b)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let lookup: HashMap<(u32, u32), u32> = pairs.iter().enumerate().map(|(k, &p)| (p, k as u32)).collect();
    let row_pair = rows.iter().map(|r| lookup[&unordered(r.a, r.b)]).collect();
    PairIndex { pairs, row_pair }
}
