//! Pair sampling for arena clients (spec 4): which two models meet next.
//!
//! Four strategies follow the arenas' code: uniform (compar:IA `random`), weighted unordered pairs (Music Arena
//! `BattleGenerator.sample_pair`), size buckets (compar:IA `pick_two`: big-vs-small, small-models) and FastChat's
//! `get_battle_pair` (per-model weights, boost ×5, outages, anonymous models that never meet, battle targets). A
//! fifth, [`Strategy::InformationGain`], is not used by any of the surveyed arenas: it picks the pair whose next vote
//! is expected to shrink the leaderboard's mean 95% interval width the most under the Bradley-Terry Laplace
//! posterior ([`Posterior`]; a greedy sequential design in the spirit of D/A-optimal experimental design).
//! Every strategy ends with a 50/50 side swap, and all randomness comes from one seeded [`Stream`], so a seed gives
//! the same pairs on every runtime.
//!
//! [`simulate`] measures how many votes a strategy needs before the mean 95% interval width falls below a target,
//! with votes drawn from Bradley-Terry under known ratings.

use ndarray::Array2;
use serde::Serialize;

use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::linalg::{cholesky, cholesky_inverse};
use crate::rank::bt;
use crate::rank::rows::Pair;
use crate::rng::Stream;

/// Prior standard deviation of each rating (natural log-odds scale) in [`simulate`]: a ridge of 1, the standard
/// normal prior the leaderboards fall back to.
pub const PRIOR_SD: f64 = 1.0;

/// [`simulate`] refits the ratings every this many votes (and when the running interval width reaches the target).
pub const REFIT_EVERY: usize = 50;

/// Natural log-odds to Elo points: 400 / ln 10.
const ELO: f64 = 400.0 / std::f64::consts::LN_10;

/// Which size buckets compar:IA's [`Strategy::Buckets`] draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketMode {
    /// One model of at least `big` parameters against one of at most `small` (compar:IA `big-vs-small`).
    BigVsSmall,
    /// Two models of at most `small` parameters (compar:IA `small-models`).
    Small,
}

/// How the next pair is chosen. Model indices are `0..n`.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Two distinct models, uniformly (compar:IA `random`).
    Uniform,
    /// Unordered pairs drawn with probability proportional to their weight (Music Arena). Pairs not listed weigh
    /// 1; a weight of 0 removes a pair. Weights must be finite, non-negative and not all zero; a pair may be
    /// listed once.
    Weighted { weights: Vec<(usize, usize, f64)> },
    /// compar:IA's size buckets: `sizes[m]` is model m's parameter count (billions), `big` the lower limit of the
    /// big bucket (compar:IA 100), `small` the upper limit of the small bucket (compar:IA 60; below `big`). Each
    /// model is drawn uniformly from its bucket; an empty pool (a bucket without models, or without any model but
    /// the one already drawn) falls back to the full list, so a model never meets itself. (compar:IA falls back to
    /// the bucket and raises on an empty one.)
    Buckets { sizes: Vec<f64>, big: f64, small: f64, mode: BucketMode },
    /// FastChat's anonymous arena. The first model is drawn ∝ its weight (`weights`, empty = all 1), ×5 if in
    /// `boost`, 0 if in `outage`; the rival from the others ∝ its weight (outage 0, no boost), where two
    /// `anonymous` models never meet and a rival listed in the first model's `targets` gets weight
    /// 0.5·(total first-draw weight)/(number of its targets) unless its weight is 0.
    FastChat {
        weights: Vec<f64>,
        boost: Vec<usize>,
        outage: Vec<usize>,
        anonymous: Vec<usize>,
        targets: Vec<(usize, Vec<usize>)>,
    },
    /// The pair whose next vote is expected to shrink the mean 95% interval width the most ([`Posterior::gain`])
    /// under the posterior given to [`PairSampler::next`] (the prior, where every pair is equal, without one); ties
    /// broken at random. Not used by the surveyed arenas.
    InformationGain,
}

/// A seeded pair sampler.
#[derive(Clone, Debug)]
pub struct PairSampler {
    n: usize,
    rule: Rule,
    rng: Stream,
}

/// A strategy validated and precomputed.
#[derive(Clone, Debug)]
enum Rule {
    Uniform,
    Weighted { pairs: Vec<(usize, usize)>, cumulative: Vec<f64> },
    Buckets { big: Vec<usize>, small: Vec<usize>, mode: BucketMode },
    FastChat(FastChat),
    InformationGain,
}

#[derive(Clone, Debug)]
struct FastChat {
    /// First-draw weight per model (outage 0, boost ×5).
    first: Vec<f64>,
    /// Rival weight per model (outage 0, no boost).
    rival: Vec<f64>,
    /// Their sum (FastChat's `total_weight`).
    total: f64,
    anonymous: Vec<bool>,
    /// Targets of each model, as a membership row (`targets[c][m]`) and their number.
    targets: Vec<Option<(Vec<bool>, usize)>>,
}

impl PairSampler {
    /// A sampler over `n` models, seeded by `seed` (stream 0 of [`Stream`]).
    ///
    /// # Errors
    /// `INVALID_OPTION` for fewer than two models, an index not below `n`, a self-pair, a pair or target listed
    /// twice, a weight or size that is not finite or is negative, weights that leave nothing to draw (all zero, or
    /// a FastChat model that can be drawn first but has no possible rival), `small` not below `big`.
    pub fn new(n: usize, strategy: Strategy, seed: u64) -> Result<Self> {
        if n < 2 {
            return Err(Error::option("n", format!("a pair needs at least two models (got {n})")));
        }
        if u32::try_from(n).is_err() {
            return Err(Error::option("n", "at most 4294967295 models"));
        }
        let rule = match strategy {
            Strategy::Uniform => Rule::Uniform,
            Strategy::Weighted { weights } => weighted(n, &weights)?,
            Strategy::Buckets { sizes, big, small, mode } => buckets(n, &sizes, big, small, mode)?,
            Strategy::FastChat { weights, boost, outage, anonymous, targets } => {
                Rule::FastChat(fastchat(n, &weights, &boost, &outage, &anonymous, &targets)?)
            }
            Strategy::InformationGain => Rule::InformationGain,
        };
        Ok(Self { n, rule, rng: Stream::new(seed, 0) })
    }

    /// The number of models.
    pub fn models(&self) -> usize {
        self.n
    }

    /// The next pair (a, b), a ≠ b, after a 50/50 side swap. `state` is read only by
    /// [`Strategy::InformationGain`] (`None` = the prior: every pair is equally informative).
    ///
    /// # Errors
    /// `INVALID_OPTION` when `state` has a different number of models.
    pub fn next(&mut self, state: Option<&Posterior>) -> Result<(usize, usize)> {
        let (a, b) = match &self.rule {
            Rule::Uniform => uniform_pair(&mut self.rng, self.n),
            Rule::Weighted { pairs, cumulative } => pairs[draw_cumulative(&mut self.rng, cumulative)],
            Rule::Buckets { big, small, mode } => {
                let first = if *mode == BucketMode::BigVsSmall { big } else { small };
                let a = pick_one(&mut self.rng, first, None, self.n);
                (a, pick_one(&mut self.rng, small, Some(a), self.n))
            }
            Rule::FastChat(f) => f.draw(&mut self.rng),
            Rule::InformationGain => match state {
                Some(p) if p.n != self.n => {
                    return Err(Error::option("state", format!("has {} models, the sampler {}", p.n, self.n)))
                }
                Some(p) => most_informative(&mut self.rng, p),
                None => uniform_pair(&mut self.rng, self.n),
            },
        };
        Ok(if self.rng.below(2) == 1 { (b, a) } else { (a, b) })
    }
}

/// Two distinct models, uniformly.
fn uniform_pair(rng: &mut Stream, n: usize) -> (usize, usize) {
    let a = rng.below(n as u32) as usize;
    let b = rng.below(n as u32 - 1) as usize;
    (a, if b >= a { b + 1 } else { b })
}

/// An index drawn ∝ the increments of `cumulative` (non-decreasing, last > 0); zero-width entries are never drawn.
fn draw_cumulative(rng: &mut Stream, cumulative: &[f64]) -> usize {
    let total = cumulative[cumulative.len() - 1];
    let x = rng.uniform() * total;
    let k = cumulative.partition_point(|&c| c <= x);
    // x < total, but guard against rounding: the last entry with positive width.
    k.min(cumulative.len() - 1 - cumulative.iter().rev().skip(1).take_while(|&&c| c == total).count())
}

/// A uniform draw from `pool` without `except`; the full list `0..n` (without `except`) when that is empty.
fn pick_one(rng: &mut Stream, pool: &[usize], except: Option<usize>, n: usize) -> usize {
    let available: Vec<usize> = pool.iter().copied().filter(|&m| Some(m) != except).collect();
    if available.is_empty() {
        let all: Vec<usize> = (0..n).filter(|&m| Some(m) != except).collect();
        return all[rng.below(all.len() as u32) as usize];
    }
    available[rng.below(available.len() as u32) as usize]
}

fn check_index(m: usize, n: usize, option: &'static str) -> Result<()> {
    if m >= n {
        return Err(Error::option(option, format!("model index {m} is not below the number of models {n}")));
    }
    Ok(())
}

fn check_weight(w: f64, option: &'static str) -> Result<()> {
    if !(w.is_finite() && w >= 0.0) {
        return Err(Error::option(option, format!("weight {w} is not a finite non-negative number")));
    }
    Ok(())
}

/// Unordered pair index of i < j in the row-major upper triangle.
fn triangle(i: usize, j: usize, n: usize) -> usize {
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

fn weighted(n: usize, weights: &[(usize, usize, f64)]) -> Result<Rule> {
    let mut pairs = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            pairs.push((i, j));
        }
    }
    let mut w = vec![1.0; pairs.len()];
    let mut seen = vec![false; pairs.len()];
    for &(a, b, x) in weights {
        check_index(a, n, "weights")?;
        check_index(b, n, "weights")?;
        check_weight(x, "weights")?;
        if a == b {
            return Err(Error::option("weights", format!("pair ({a}, {b}) is a self-pair")));
        }
        let k = triangle(a.min(b), a.max(b), n);
        if std::mem::replace(&mut seen[k], true) {
            return Err(Error::option("weights", format!("pair ({a}, {b}) is listed twice")));
        }
        w[k] = x;
    }
    let mut cumulative = Vec::with_capacity(w.len());
    let mut total = 0.0;
    for x in w {
        total += x;
        cumulative.push(total);
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::option("weights", "the pair weights must have a positive, finite sum"));
    }
    Ok(Rule::Weighted { pairs, cumulative })
}

fn buckets(n: usize, sizes: &[f64], big: f64, small: f64, mode: BucketMode) -> Result<Rule> {
    if sizes.len() != n {
        return Err(Error::option("sizes", format!("has {} entries for {n} models", sizes.len())));
    }
    if let Some(k) = sizes.iter().position(|s| !(s.is_finite() && *s >= 0.0)) {
        return Err(Error::option("sizes", format!("size of model {k} is not a finite non-negative number")));
    }
    if !(big.is_finite() && small.is_finite() && small < big) {
        return Err(Error::option("small", format!("must be below big (small {small}, big {big})")));
    }
    let big_pool = (0..n).filter(|&m| sizes[m] >= big).collect();
    let small_pool = (0..n).filter(|&m| sizes[m] <= small).collect();
    Ok(Rule::Buckets { big: big_pool, small: small_pool, mode })
}

fn fastchat(
    n: usize,
    weights: &[f64],
    boost: &[usize],
    outage: &[usize],
    anonymous: &[usize],
    targets: &[(usize, Vec<usize>)],
) -> Result<FastChat> {
    if !weights.is_empty() && weights.len() != n {
        return Err(Error::option("weights", format!("has {} entries for {n} models", weights.len())));
    }
    let mut rival: Vec<f64> = if weights.is_empty() { vec![1.0; n] } else { weights.to_vec() };
    for &w in &rival {
        check_weight(w, "weights")?;
    }
    for (&m, option) in
        boost.iter().zip(std::iter::repeat("boost")).chain(outage.iter().zip(std::iter::repeat("outage")))
    {
        check_index(m, n, option)?;
    }
    for &m in outage {
        rival[m] = 0.0;
    }
    let mut first = rival.clone();
    let mut boosted = vec![false; n];
    for &m in boost {
        // A model listed twice is boosted once (FastChat tests membership).
        if !std::mem::replace(&mut boosted[m], true) {
            first[m] *= 5.0;
        }
    }
    let total: f64 = first.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::option("weights", "the first-draw weights must have a positive, finite sum"));
    }
    let mut anon = vec![false; n];
    for &m in anonymous {
        check_index(m, n, "anonymous")?;
        anon[m] = true;
    }
    let mut target_rows: Vec<Option<(Vec<bool>, usize)>> = vec![None; n];
    for (c, list) in targets {
        check_index(*c, n, "targets")?;
        if target_rows[*c].is_some() {
            return Err(Error::option("targets", format!("model {c} is listed twice")));
        }
        let mut row = vec![false; n];
        for &m in list {
            check_index(m, n, "targets")?;
            row[m] = true;
        }
        // FastChat's targets are a set: duplicates count once.
        let count = row.iter().filter(|&&t| t).count();
        if count > 0 {
            target_rows[*c] = Some((row, count));
        }
    }
    let f = FastChat { first, rival, total, anonymous: anon, targets: target_rows };
    for c in 0..n {
        if f.first[c] > 0.0 && f.rival_weights(c).iter().all(|&w| w <= 0.0) {
            return Err(Error::option("weights", format!("model {c} can be drawn first but has no possible rival")));
        }
    }
    Ok(f)
}

impl FastChat {
    /// Rival weights given the first model `c` (0 for `c` itself and for a forbidden meeting).
    fn rival_weights(&self, c: usize) -> Vec<f64> {
        let n = self.first.len();
        (0..n)
            .map(|m| {
                if m == c || (self.anonymous[m] && self.anonymous[c]) {
                    return 0.0;
                }
                let w = self.rival[m];
                match &self.targets[c] {
                    Some((row, count)) if w != 0.0 && row[m] => 0.5 * self.total / *count as f64,
                    _ => w,
                }
            })
            .collect()
    }

    fn draw(&self, rng: &mut Stream) -> (usize, usize) {
        // Validation guarantees both draws have a positive total; the fallbacks (never taken) keep a ≠ b.
        let c = rng.weighted(&self.first).unwrap_or(0);
        let r = rng.weighted(&self.rival_weights(c)).unwrap_or(usize::from(c == 0));
        (c, r)
    }
}

/// The pair with the largest [`Posterior::gain`]; pairs within a relative 1e-9 of the best are tied and one of them
/// is drawn uniformly. O(n³) per draw (n² pairs, O(n) each).
fn most_informative(rng: &mut Stream, posterior: &Posterior) -> (usize, usize) {
    let n = posterior.n;
    let sd = posterior.centred_sd();
    let mut scratch = Vec::with_capacity(n);
    let mut gains = Vec::with_capacity(n * (n - 1) / 2);
    let mut best = f64::NEG_INFINITY;
    for i in 0..n {
        for j in i + 1..n {
            let g = posterior.gain_given(i, j, &sd, &mut scratch);
            best = best.max(g);
            gains.push((i, j, g));
        }
    }
    let tied: Vec<(usize, usize)> =
        gains.iter().filter(|(_, _, g)| *g >= best - 1e-9 * best.abs()).map(|&(i, j, _)| (i, j)).collect();
    tied[rng.below(tied.len() as u32) as usize]
}

/// The Bradley-Terry Laplace posterior of the ratings: a N(0, σ₀²) prior on each θ (a ridge λ = 1/σ₀²), the
/// votes' pair totals, the MAP θ̂ and Σ = H⁻¹ with H = Σ_pairs n_ij p_ij(1 − p_ij) x xᵀ + λI at θ̂ (x = e_i − e_j).
/// [`Posterior::observe`] adds a vote's Fisher information to Σ at once (Sherman-Morrison, O(n²)), leaving θ̂;
/// [`Posterior::refit`] re-estimates θ̂ and rebuilds Σ.
#[derive(Clone, Debug)]
pub struct Posterior {
    n: usize,
    ridge: f64,
    /// Battles and score of the lower index per unordered pair, row-major upper triangle.
    count: Vec<f64>,
    score: Vec<f64>,
    theta: Vec<f64>,
    covariance: Array2<f64>,
}

impl Posterior {
    /// The prior of `n` models: θ = 0, Σ = σ₀²I.
    ///
    /// # Errors
    /// `INVALID_OPTION` for fewer than two models or a prior sd that is not finite and positive.
    pub fn new(n: usize, prior_sd: f64) -> Result<Self> {
        if n < 2 {
            return Err(Error::option("n", format!("a posterior needs at least two models (got {n})")));
        }
        if !(prior_sd.is_finite() && prior_sd > 0.0) {
            return Err(Error::option("prior_sd", format!("must be finite and positive (got {prior_sd})")));
        }
        let ridge = 1.0 / (prior_sd * prior_sd);
        if !ridge.is_finite() {
            return Err(Error::option("prior_sd", format!("is too small (got {prior_sd})")));
        }
        let pairs = n * (n - 1) / 2;
        Ok(Self {
            n,
            ridge,
            count: vec![0.0; pairs],
            score: vec![0.0; pairs],
            theta: vec![0.0; n],
            covariance: Array2::from_diag_elem(n, prior_sd * prior_sd),
        })
    }

    /// The posterior after `battles` (ties and both-bad as half a win, weight × count per record), fitted.
    ///
    /// # Errors
    /// As [`Posterior::new`] (with n = the number of models); `INVALID_OPTION` for a record weight that is not
    /// finite and non-negative.
    pub fn from_battles(battles: &Battles, prior_sd: f64) -> Result<Self> {
        let mut p = Self::new(battles.models().len(), prior_sd)?;
        for r in 0..battles.len() {
            let (a, b, outcome, count) = battles.record(r);
            let w = battles.weight(r) * f64::from(count);
            if !(w.is_finite() && w >= 0.0) {
                return Err(Error::option("weight", format!("record {} has weight {w}", r + 1)));
            }
            let s = outcome.score();
            p.add(a, b, s, w);
        }
        p.refit();
        Ok(p)
    }

    /// The number of models.
    pub fn models(&self) -> usize {
        self.n
    }

    /// The MAP ratings θ̂ (natural log-odds) as of the last refit.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// The covariance Σ of θ.
    pub fn covariance(&self) -> &Array2<f64> {
        &self.covariance
    }

    /// Records one vote: `score` is a's result (1 win, 0 loss, ½ tie). Σ takes the vote's information at the
    /// current θ̂ at once; θ̂ changes at the next [`Posterior::refit`].
    ///
    /// # Errors
    /// `INVALID_OPTION` for an index not below the number of models, a = b, or a score outside [0, 1].
    pub fn observe(&mut self, a: usize, b: usize, score: f64) -> Result<()> {
        check_index(a, self.n, "a")?;
        check_index(b, self.n, "b")?;
        if a == b {
            return Err(Error::option("b", format!("a model cannot meet itself ({a})")));
        }
        if !(0.0..=1.0).contains(&score) {
            return Err(Error::option("score", format!("must be in [0, 1] (got {score})")));
        }
        self.add(a, b, score, 1.0);
        let w = self.information(a, b);
        let n = self.n;
        let u: Vec<f64> = (0..n).map(|k| self.covariance[[k, a]] - self.covariance[[k, b]]).collect();
        let denominator = 1.0 + w * (u[a] - u[b]);
        let c = w / denominator;
        for i in 0..n {
            for j in 0..n {
                self.covariance[[i, j]] -= c * u[i] * u[j];
            }
        }
        Ok(())
    }

    fn add(&mut self, a: usize, b: usize, score: f64, weight: f64) {
        let (i, j, s) = if a < b { (a, b, score) } else { (b, a, 1.0 - score) };
        let k = triangle(i, j, self.n);
        self.count[k] += weight;
        self.score[k] += weight * s;
    }

    /// p(1 − p) of a vote between a and b at θ̂.
    fn information(&self, a: usize, b: usize) -> f64 {
        let p = bt::sigmoid(self.theta[a] - self.theta[b]);
        p * (1.0 - p)
    }

    /// Re-estimates θ̂ (ridge-regularised Bradley-Terry on the pair totals, warm-started) and rebuilds Σ there.
    pub fn refit(&mut self) {
        let n = self.n;
        let mut pairs = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                let k = triangle(i, j, n);
                if self.count[k] > 0.0 {
                    pairs.push(Pair { i: i as u32, j: j as u32, n: self.count[k], s: self.score[k] });
                }
            }
        }
        let fit = bt::fit(n, &pairs, self.ridge, Some(&self.theta), 1e-10);
        if fit.theta.iter().all(|t| t.is_finite()) {
            self.theta = fit.theta;
        }
        let mut h = Array2::from_diag_elem(n, self.ridge);
        for p in &pairs {
            let (i, j) = (p.i as usize, p.j as usize);
            let v = p.n * self.information(i, j);
            h[[i, i]] += v;
            h[[j, j]] += v;
            h[[i, j]] -= v;
            h[[j, i]] -= v;
        }
        // H ⪰ λI, so the factorisation cannot fail short of overflow; keep the old Σ if it does.
        if let Some(l) = cholesky(&h) {
            self.covariance = cholesky_inverse(&l);
        }
    }

    /// How much one more vote between i and j is expected to shrink the mean 95% interval width
    /// ([`Posterior::mean_width`], Elo points), to first order in the Laplace approximation. The vote adds
    /// w·x xᵀ to H (x = e_i − e_j, w = p(1−p), p = σ(θ̂_i − θ̂_j)), whatever its outcome, so Σ becomes
    /// Σ − c·u uᵀ with u = Σx and c = w/(1 + w·xᵀΣx) (Sherman-Morrison), and each centred variance drops by
    /// c·(u_m − ū)². The gain is the resulting drop of the mean width. It favours close pairs (large w) of uncertain
    /// models (large xᵀΣx), like the D-optimal p(1−p)·xᵀΣx, but weighs the decrease of every model's interval,
    /// which is the quantity an arena displays.
    ///
    /// # Errors
    /// `INVALID_OPTION` for an index not below the number of models or i = j.
    pub fn gain(&self, i: usize, j: usize) -> Result<f64> {
        check_index(i, self.n, "i")?;
        check_index(j, self.n, "j")?;
        if i == j {
            return Err(Error::option("j", format!("a model cannot meet itself ({i})")));
        }
        Ok(self.gain_given(i, j, &self.centred_sd(), &mut Vec::new()))
    }

    /// [`Posterior::gain`] given the centred sds and a scratch vector.
    fn gain_given(&self, i: usize, j: usize, sd: &[f64], u: &mut Vec<f64>) -> f64 {
        let n = self.n;
        // Σ is symmetric: column i is row i, contiguous in the row-major storage.
        let c = self.covariance.as_slice().expect("standard layout");
        u.clear();
        u.extend(c[i * n..(i + 1) * n].iter().zip(&c[j * n..(j + 1) * n]).map(|(x, y)| x - y));
        let mean = u.iter().sum::<f64>() / n as f64;
        let w = self.information(i, j);
        let shrink = w / (1.0 + w * (u[i] - u[j]).max(0.0));
        let mut drop = 0.0;
        for (&s, &uk) in sd.iter().zip(u.iter()) {
            let d = shrink * (uk - mean) * (uk - mean);
            // s − √(s² − d), written without cancellation.
            let after = (s * s - d).max(0.0).sqrt();
            if s + after > 0.0 {
                drop += d.min(s * s) / (s + after);
            }
        }
        2.0 * 1.96 * ELO * drop / n as f64
    }

    /// Standard deviation of each centred rating θ_m − mean(θ) (natural scale): the uncertainty of a leaderboard
    /// identified by its mean, free of the common shift that no vote informs.
    pub fn centred_sd(&self) -> Vec<f64> {
        let n = self.n;
        let c = &self.covariance;
        let row_mean: Vec<f64> = (0..n).map(|i| (0..n).map(|j| c[[i, j]]).sum::<f64>() / n as f64).collect();
        let grand = row_mean.iter().sum::<f64>() / n as f64;
        (0..n).map(|m| (c[[m, m]] - 2.0 * row_mean[m] + grand).max(0.0).sqrt()).collect()
    }

    /// The mean width of the 95% intervals of the centred ratings, in Elo points: mean of 2·1.96·sd·400/ln 10.
    pub fn mean_width(&self) -> f64 {
        let sd = self.centred_sd();
        2.0 * 1.96 * ELO * sd.iter().sum::<f64>() / sd.len() as f64
    }
}

/// The result of [`simulate`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Simulation {
    /// Votes drawn.
    pub votes: usize,
    /// Whether the mean interval width reached the target within `max_votes`.
    pub reached: bool,
    /// (votes so far, mean 95% interval width in Elo points) at the prior and at each refit.
    pub widths: Vec<(usize, f64)>,
}

/// Simulates an arena: pairs from `strategy` (stream 0 of `seed`), outcomes from Bradley-Terry with `true_theta`
/// (natural log-odds; no ties; stream 1 of `seed`), a [`Posterior`] with prior sd [`PRIOR_SD`] updated after each
/// vote and refitted every [`REFIT_EVERY`] votes, when its running width reaches the target, and after the last
/// vote. Stops at the first refit whose mean 95% interval width ([`Posterior::mean_width`], Elo points) is at most
/// `target_width`, or after `max_votes` votes.
///
/// # Errors
/// `INVALID_OPTION` for fewer than two models, a rating that is not finite, a target that is not finite and
/// positive, and the strategy's errors ([`PairSampler::new`]).
pub fn simulate(
    true_theta: &[f64],
    strategy: Strategy,
    target_width: f64,
    max_votes: usize,
    seed: u64,
) -> Result<Simulation> {
    let n = true_theta.len();
    if let Some(k) = true_theta.iter().position(|t| !t.is_finite()) {
        return Err(Error::option("true_theta", format!("rating {k} is not finite")));
    }
    if !(target_width.is_finite() && target_width > 0.0) {
        return Err(Error::option("target_width", format!("must be finite and positive (got {target_width})")));
    }
    let mut sampler = PairSampler::new(n, strategy, seed)?;
    let mut posterior = Posterior::new(n, PRIOR_SD)?;
    let mut outcomes = Stream::new(seed, 1);
    let mut widths = vec![(0, posterior.mean_width())];
    let mut reached = widths[0].1 <= target_width;
    let mut votes = 0;
    while !reached && votes < max_votes {
        let (a, b) = sampler.next(Some(&posterior))?;
        let p = bt::sigmoid(true_theta[a] - true_theta[b]);
        let score = if outcomes.uniform() < p { 1.0 } else { 0.0 };
        posterior.observe(a, b, score)?;
        votes += 1;
        if votes.is_multiple_of(REFIT_EVERY) || votes == max_votes || posterior.mean_width() <= target_width {
            posterior.refit();
            let width = posterior.mean_width();
            widths.push((votes, width));
            reached = width <= target_width;
        }
    }
    Ok(Simulation { votes, reached, widths })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangle_indexes_every_pair_once() {
        let n = 5;
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                assert_eq!(triangle(i, j, n), k);
                k += 1;
            }
        }
    }

    #[test]
    fn cumulative_skips_zero_widths() {
        let mut rng = Stream::new(3, 0);
        let cumulative = [0.0, 1.0, 1.0, 3.0, 3.0];
        for _ in 0..2000 {
            let k = draw_cumulative(&mut rng, &cumulative);
            assert!(k == 1 || k == 3, "drew {k}");
        }
    }

    #[test]
    fn sherman_morrison_matches_a_rebuild() {
        let mut p = Posterior::new(4, 1.0).unwrap();
        for (a, b, s) in [(0, 1, 1.0), (1, 2, 0.0), (2, 3, 0.5), (0, 3, 1.0), (1, 3, 1.0)] {
            p.observe(a, b, s).unwrap();
        }
        let updated = p.covariance.clone();
        // θ̂ is still 0 (no refit): H = I + Σ 0.25·x xᵀ.
        let mut h = Array2::from_diag_elem(4, 1.0);
        for (a, b) in [(0, 1), (1, 2), (2, 3), (0, 3), (1, 3)] {
            h[[a, a]] += 0.25;
            h[[b, b]] += 0.25;
            h[[a, b]] -= 0.25;
            h[[b, a]] -= 0.25;
        }
        let inverse = cholesky_inverse(&cholesky(&h).unwrap());
        for (x, y) in updated.iter().zip(inverse.iter()) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}
