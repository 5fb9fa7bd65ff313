//! Leaderboards: Bradley-Terry or online Elo ratings, with sandwich or bootstrap confidence intervals.
//!
//! [`Ranking`] does the work in steps so a caller (the JS API) can run the bootstrap in chunks, report progress and
//! cancel; [`rank`] runs it all at once.

pub mod bt;
pub mod contextual;
pub mod elo;
pub mod gpm;
pub mod graph;
pub mod matrix;
pub mod nash;
pub mod pl;
pub mod rows;
pub mod ties;
pub mod wenglin;

use serde::Serialize;

use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::rng::Draws;
use crate::stats::{normal_quantile, quantile_sorted, variance};
pub use contextual::Convention;
use contextual::Design;
use elo::{EloParams, Game};
use graph::{Components, Reach};
use rows::{pair_index, pair_totals, Pair, PairIndex, RowOptions, Rows, Tally};

/// The rating method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Bradley-Terry maximum likelihood, ties as half a win.
    #[default]
    Bt,
    /// Online Elo in input order.
    Elo,
}

/// How confidence intervals are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ci {
    /// No intervals (lower = upper = rating).
    #[default]
    None,
    /// The sandwich (robust) covariance, as arena-rank. Bradley-Terry only.
    Sandwich,
    /// Percentiles of a seeded bootstrap over battles.
    Bootstrap,
}

/// How the scale's free constant is fixed.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Identify {
    /// Mean rating = `init` (arena-rank).
    #[default]
    Mean,
    /// One model's rating = value (FastChat: `mixtral-8x7b-instruct-v0.1` = 1114).
    Anchor { model: String, value: f64 },
    /// Ratings become the predicted win rate in % against this model (Arena-Hard).
    Baseline { model: String },
}

/// Options of a ranking. `Default` gives LMArena's conventions.
#[derive(Clone, Debug, PartialEq)]
pub struct RankOptions {
    pub method: Method,
    pub ci: Ci,
    /// Bootstrap rounds (default 1000).
    pub rounds: u32,
    /// Bootstrap seed (default 0).
    pub seed: u64,
    /// Confidence level of the intervals (default 0.95).
    pub level: f64,
    /// Rating = init + (scale / ln base)·θ: defaults 400, 10, 1000.
    pub scale: f64,
    pub base: f64,
    pub init: f64,
    pub identify: Identify,
    /// L2 ridge λ on θ (natural scale), ½λ‖θ‖²; default 0.
    pub ridge: f64,
    /// arena-rank's `hessian_reg` for the sandwich (default 1e-5, times N for unweighted data).
    pub hessian_reg: f64,
    /// Stop when max |gradient| ≤ tolerance · N (default 1e-12).
    pub tolerance: f64,
    /// Elo K-factor (default 4).
    pub k: f64,
    /// Row shaping: both-bad ties, arena-rank reweighting.
    pub rows: RowOptions,
    /// Style control: fit a contextual Bradley-Terry model on the battles' covariates with this convention's
    /// regularisation (`None`: plain Bradley-Terry, covariates ignored).
    pub style: Option<Convention>,
}

impl Default for RankOptions {
    fn default() -> Self {
        Self {
            method: Method::Bt,
            ci: Ci::None,
            rounds: 1000,
            seed: 0,
            level: 0.95,
            scale: 400.0,
            base: 10.0,
            init: 1000.0,
            identify: Identify::Mean,
            ridge: 0.0,
            hessian_reg: 1e-5,
            tolerance: 1e-12,
            k: 4.0,
            rows: RowOptions::default(),
            style: None,
        }
    }
}

/// The ridge used when the comparison graph is not strongly connected and the caller asked for none: a standard
/// normal prior on θ (Music Arena's ½‖θ‖²). It keeps every rating finite; the models it cannot pin are marked.
pub const FALLBACK_RIDGE: f64 = 1.0;

/// Step tolerance of a style-control bootstrap refit (CPU and GPU alike).
pub const STYLE_ROUND_STEP_TOL: f64 = 1e-5;

/// One leaderboard row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelRating {
    pub model: String,
    pub rating: f64,
    pub lower: f64,
    pub upper: f64,
    /// Variance of the rating (sandwich or bootstrap), 0 without intervals.
    pub variance: f64,
    /// FastChat's displayed rank: 1 + number of models whose lower bound is above this model's upper bound.
    pub rank: u32,
    pub battles: u64,
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
    /// False where the data cannot pin the rating (undefeated, winless, cut off, or no battles).
    pub identified: bool,
}

/// A covariate's coefficient in a style-controlled fit: the change in log-odds of A winning per standard deviation
/// of the covariate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coefficient {
    pub name: String,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    pub variance: f64,
}

/// A leaderboard, models sorted by rating (best first).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leaderboard {
    pub method: Method,
    pub ci: Ci,
    pub level: f64,
    /// Bootstrap rounds run (0 without a bootstrap).
    pub rounds: u32,
    pub seed: u64,
    /// The ridge the fit used (0 unless asked for, or [`FALLBACK_RIDGE`] for data without a finite MLE).
    pub ridge: f64,
    /// Newton iterations of the point fit (0 for Elo).
    pub iterations: usize,
    /// Number of battles ranked.
    pub battles: u64,
    pub models: Vec<ModelRating>,
    /// Facts the caller should know (fallback ridge, unidentified models).
    pub warnings: Vec<String>,
    /// The style-control convention, when the fit had covariates.
    pub style: Option<Convention>,
    /// The covariates' coefficients (empty without style control).
    pub coefficients: Vec<Coefficient>,
    /// Where the work ran: "cpu" (the GPU path reports its own).
    pub device: String,
}

/// A ranking in progress: the point estimate is done; bootstrap rounds run on demand.
pub struct Ranking {
    options: RankOptions,
    models: Vec<String>,
    tallies: Vec<Tally>,
    rows: Rows,
    identified: Vec<bool>,
    warnings: Vec<String>,
    /// Rating-scale point estimate (α·θ for BT, R − init for Elo), by model id.
    raw: Vec<f64>,
    ridge: f64,
    iterations: usize,
    total: f64,
    variance: Option<Vec<f64>>,
    work: Work,
    /// Bootstrap samples after identification: `samples[round * n + model]`.
    samples: Vec<f64>,
    /// Style control: coefficients, their sandwich variances and bootstrap samples (`[round * k + j]`).
    coefficients: Vec<f64>,
    coefficient_variance: Option<Vec<f64>>,
    coefficient_samples: Vec<f64>,
    done: u32,
    device: String,
}

enum Work {
    Bt {
        index: PairIndex,
        /// Row of each battle (counts expanded), so a drawn battle finds its row in O(1).
        battle_row: Vec<u32>,
        theta: Vec<f64>,
    },
    Elo {
        games: Vec<Game>,
    },
    Contextual {
        design: Box<Design>,
        /// The full-data fit [θ; β], the warm start of every round.
        params: Vec<f64>,
        lambda: (f64, f64),
        /// Unordered pair of each design row, and the pairs, for the connectivity check of a resample.
        row_pair: Vec<u32>,
        pairs: Vec<(u32, u32)>,
    },
}

impl Ranking {
    /// Validates options and computes the point estimate (and sandwich intervals).
    ///
    /// # Errors
    /// `EMPTY` without battles, `UNKNOWN_MODEL` for an anchor or baseline not in the data, `INVALID_OPTION`.
    pub fn new(battles: &Battles, options: &RankOptions) -> Result<Self> {
        let mut ranking = Self::build(battles, options)?;
        ranking.fit_style_on_cpu();
        Ok(ranking)
    }

    /// A style-controlled ranking whose point fit is left to the caller (the GPU path): everything but the fit is
    /// done; [`Ranking::style_state`] gives the problem, [`Ranking::set_style_fit`] takes the solution.
    ///
    /// # Errors
    /// As [`Ranking::new`]; `INVALID_OPTION` without style control.
    pub fn deferred_style(battles: &Battles, options: &RankOptions) -> Result<Self> {
        if options.style.is_none() || options.method != Method::Bt {
            return Err(Error::option("style", "a deferred fit needs style control with method bt"));
        }
        Self::build(battles, options)
    }

    /// Fits the style-control point estimate on the CPU (a no-op without style control).
    pub fn fit_style_on_cpu(&mut self) {
        let gtol = self.style_tolerance(false);
        let Work::Contextual { design, lambda, .. } = &self.work else { return };
        let (params, iterations) = contextual::fit(design, *lambda, None, None, gtol, 1e-7);
        self.set_style_fit(params, iterations);
    }

    /// The gradient tolerance of a style-control fit, max |gradient| ≤ tolerance · N: of the point fit, or of a
    /// bootstrap refit (at least 1e-10 · N). 0 without style control.
    pub fn style_tolerance(&self, bootstrap: bool) -> f64 {
        let Work::Contextual { design, .. } = &self.work else { return 0.0 };
        let tolerance = if bootstrap { self.options.tolerance.max(1e-10) } else { self.options.tolerance };
        tolerance * design.battles
    }

    /// Sets the style-control point fit [θ; β] (and recomputes what depends on it: ratings, coefficients, sandwich).
    pub fn set_style_fit(&mut self, params: Vec<f64>, iterations: usize) {
        let work = std::mem::replace(&mut self.work, Work::Elo { games: Vec::new() });
        let Work::Contextual { design, lambda, .. } = work else {
            self.work = work;
            return;
        };
        let problem = StyleProblem { design: *design, lambda };
        let fitted = Contextual::from_fit(&self.models, &self.options, problem, Some((params, iterations)));
        (self.raw, self.iterations, self.variance, self.work) =
            (fitted.raw, fitted.iterations, fitted.variance, fitted.work);
        (self.coefficients, self.coefficient_variance) = (fitted.coefficients, fitted.coefficient_variance);
    }

    /// Everything but a style-control fit, which [`Ranking::new`] adds and [`Ranking::deferred_style`] leaves.
    fn build(battles: &Battles, options: &RankOptions) -> Result<Self> {
        validate(options)?;
        for name in reference_model(&options.identify) {
            if battles.model_id(name).is_none() {
                let option = if matches!(options.identify, Identify::Baseline { .. }) { "baseline" } else { "anchor" };
                return Err(Error::UnknownModel { model: name.to_owned(), option });
            }
        }
        let rows = Rows::new(battles, &options.rows);
        let total = rows.total();
        if options.ci == Ci::Bootstrap && total > f64::from(u32::MAX) {
            return Err(Error::option("ci", "the bootstrap supports at most 4294967295 battles"));
        }
        if total == 0.0 {
            let why = if battles.is_empty() { "" } else { " (every battle was excluded or had count 0)" };
            return Err(Error::Empty(why.into()));
        }
        let n = rows.n_models;
        let index = pair_index(&rows.rows);
        let mut pairs = Vec::new();
        pair_totals(&rows.rows, rows.rows.iter().map(|r| r.count), &index, &mut pairs);
        let components = Components::new(n, &pairs);
        let identified: Vec<bool> = (0..n).map(|m| components.identified(m)).collect();
        let mut warnings = Vec::new();
        let unidentified: Vec<&str> =
            (0..n).filter(|&m| !identified[m]).map(|m| battles.models()[m].as_str()).collect();
        if !unidentified.is_empty() {
            warnings.push(format!(
                "the comparison graph is not strongly connected: the data cannot pin the ratings of {} ({}){}",
                plural(unidentified.len(), "model"),
                preview(&unidentified),
                if options.method == Method::Bt && options.ridge == 0.0 && options.style != Some(Convention::FastChat) {
                    format!(
                        "; fitted with ridge {FALLBACK_RIDGE} (a standard normal prior on θ) to keep ratings finite"
                    )
                } else {
                    String::new()
                }
            ));
        }
        let tallies = rows.tallies();
        let models = battles.models().to_vec();
        let mut coefficients = (Vec::new(), None);
        let (raw, ridge, iterations, variance, work) = match options.method {
            Method::Bt if options.style.is_some() => {
                let problem = style_problem_given(battles, options, components.strongly_connected())?;
                let fitted = Contextual::from_fit(battles.models(), options, problem, None);
                coefficients = (fitted.coefficients, fitted.coefficient_variance);
                (fitted.raw, fitted.ridge, fitted.iterations, fitted.variance, fitted.work)
            }
            Method::Bt => fit_bt(battles, options, &rows, &pairs, &components, index),
            Method::Elo => {
                let games = elo::games(battles, options.rows.both_bad);
                let mut r = Vec::new();
                elo::run(n, &games, 0..games.len(), &elo_params(options), &mut r);
                let raw = r.iter().map(|x| x - options.init).collect();
                (raw, 0.0, 0, None, Work::Elo { games })
            }
        };
        Ok(Self {
            options: options.clone(),
            models,
            tallies,
            rows,
            identified,
            warnings,
            raw,
            ridge,
            iterations,
            total,
            variance,
            work,
            samples: Vec::new(),
            coefficients: coefficients.0,
            coefficient_variance: coefficients.1,
            coefficient_samples: Vec::new(),
            done: 0,
            device: "cpu".into(),
        })
    }

    /// Bootstrap rounds still to run (0 unless `ci` is bootstrap).
    pub fn remaining(&self) -> u32 {
        if self.options.ci == Ci::Bootstrap {
            self.options.rounds - self.done
        } else {
            0
        }
    }

    /// Rounds run so far.
    pub fn done(&self) -> u32 {
        self.done
    }

    /// Runs up to `k` more bootstrap rounds. Round r always draws the same resample for the same seed, so the
    /// result does not depend on how the rounds are chunked.
    pub fn run_rounds(&mut self, k: u32) {
        let end = self.done + k.min(self.remaining());
        let mut scratch = Scratch::default();
        while self.done < end {
            let draws = Draws::new(self.options.seed, self.done);
            let raw = self.resample(&draws, &mut scratch);
            let params = std::mem::take(&mut scratch.theta);
            self.push_round(&raw, &params);
            scratch.theta = params;
        }
    }

    fn resample(&self, draws: &Draws, s: &mut Scratch) -> Vec<f64> {
        let n = self.models.len();
        match &self.work {
            Work::Bt { battle_row, .. } => {
                s.idx.resize(battle_row.len(), 0);
                draws.fill_below(battle_row.len() as u32, &mut s.idx);
                s.counts.clear();
                s.counts.resize(self.rows.rows.len(), 0.0);
                for &u in &s.idx {
                    s.counts[battle_row[u as usize] as usize] += 1.0;
                }
                self.bt_round(s)
            }
            Work::Contextual { design, params, lambda, row_pair, pairs } => {
                let total = design.battles as u32;
                s.idx.resize(total as usize, 0);
                draws.fill_below(total, &mut s.idx);
                let multiplicity = contextual_multiplicity(design, &s.idx, &mut s.battle_start);
                // Without a penalty on θ a resample must still connect the models; with one it needs not.
                let connected = lambda.0 > 0.0 || {
                    s.pairs.clear();
                    s.pairs.extend(pairs.iter().map(|&(i, j)| Pair { i, j, n: 0.0, s: 0.0 }));
                    for (r, &c) in multiplicity.iter().enumerate() {
                        let p = &mut s.pairs[row_pair[r] as usize];
                        let cw = f64::from(c) * design.weight(r);
                        p.n += cw;
                        let y = f64::from(design.y2[r]) * 0.5;
                        p.s += cw * if design.a[r] == p.i { y } else { 1.0 - y };
                    }
                    s.reach.get_or_insert_with(|| Reach::new(n, pairs)).strongly_connected(&s.pairs)
                };
                let lambda = if connected { *lambda } else { (FALLBACK_RIDGE, lambda.1) };
                // Warm start from the full-data fit unless the resample needed the fallback ridge (as the GPU path).
                let start = connected.then_some(params.as_slice());
                let gtol = self.style_tolerance(true);
                // Refits stop after a step below 1e-5 (the GPU path's resolution, so both paths stop converged): a
                // resample can leave a model nearly undefeated, where a looser stop leaves errors of 0.01 Elo.
                let (fit, _) = contextual::fit(design, lambda, start, Some(&multiplicity), gtol, STYLE_ROUND_STEP_TOL);
                s.multiplicity = multiplicity;
                let alpha = self.options.scale / self.options.base.ln();
                let raw = fit[..n].iter().map(|t| t * alpha).collect();
                s.theta = fit;
                raw
            }
            Work::Elo { games } => {
                s.idx.resize(games.len(), 0);
                draws.fill_below(games.len() as u32, &mut s.idx);
                let mut r = Vec::new();
                elo::run(n, games, s.idx.iter().map(|&i| i as usize), &elo_params(&self.options), &mut r);
                r.iter().map(|x| x - self.options.init).collect()
            }
        }
    }

    /// One BT bootstrap round from the rows' resampled counts in `s.counts`: rating-scale values.
    fn bt_round(&self, s: &mut Scratch) -> Vec<f64> {
        let Work::Bt { index, theta, .. } = &self.work else { unreachable!("a BT round of a BT ranking") };
        let n = self.models.len();
        pair_totals(&self.rows.rows, s.counts.iter().copied(), index, &mut s.pairs);
        let connected = s.reach.get_or_insert_with(|| Reach::new(n, &index.pairs)).strongly_connected(&s.pairs);
        let ridge = if self.ridge == 0.0 && !connected { FALLBACK_RIDGE } else { self.ridge };
        // Warm start from the full-data fit when the problem is the same kind; from zero otherwise.
        s.theta.clear();
        if ridge == self.ridge {
            s.theta.extend_from_slice(theta);
        } else {
            s.theta.resize(n, 0.0);
        }
        // Stop after a step below 1e-3: the error left is of order 1e-6 (measured on LLMFAO: bounds within 3e-7 Elo
        // of fully converged refits), far below the bootstrap's own noise, and it saves a Newton iteration per round.
        bt::fit_in(&mut s.workspace, &s.pairs, ridge, &mut s.theta, self.options.tolerance.max(1e-10), 1e-3);
        let alpha = self.options.scale / self.options.base.ln();
        s.theta.iter().map(|t| t * alpha).collect()
    }

    /// Records one finished bootstrap round from its rating-scale values (and [θ; β] for style control).
    fn push_round(&mut self, raw: &[f64], params: &[f64]) {
        let n = self.models.len();
        self.coefficient_samples.extend(params.iter().skip(n).copied().take(self.coefficients.len()));
        let start = self.samples.len();
        self.samples.resize(start + n, 0.0);
        identify(raw, &self.options, &self.models, &mut self.samples[start..]);
        self.done += 1;
    }

    // --- Hooks for accelerated paths (the GPU resamples and fits; the ranking keeps the statistics) ----------------

    /// The options this ranking was made with.
    pub fn options(&self) -> &RankOptions {
        &self.options
    }

    /// BT bootstrap: the battle → row map that resampled draws count into, and the number of rows.
    pub fn battle_rows(&self) -> Option<(&[u32], usize)> {
        match &self.work {
            Work::Bt { battle_row, .. } => Some((battle_row, self.rows.rows.len())),
            _ => None,
        }
    }

    /// Style control: the design, the full-data fit [θ; β] (every round's warm start) and the penalties.
    pub fn style_state(&self) -> Option<(&Design, &[f64], (f64, f64))> {
        match &self.work {
            Work::Contextual { design, params, lambda, .. } => Some((design, params, *lambda)),
            _ => None,
        }
    }

    /// Runs the next BT bootstrap round from its per-row counts (as [`Ranking::battle_rows`] maps the draws of
    /// `Draws::new(seed, round)`); the fit and the statistics are the CPU's.
    pub fn push_bt_counts(&mut self, counts: &[u32]) {
        let mut s = Scratch::default();
        s.counts.extend(counts.iter().map(|&c| f64::from(c)));
        let raw = self.bt_round(&mut s);
        self.push_round(&raw, &[]);
    }

    /// Records the next style-control bootstrap round from its fitted [θ; β].
    pub fn push_style_round(&mut self, params: &[f64]) {
        let alpha = self.options.scale / self.options.base.ln();
        let raw: Vec<f64> = params[..self.models.len()].iter().map(|t| t * alpha).collect();
        self.push_round(&raw, params);
    }

    /// Names where the work ran, for [`Leaderboard::device`].
    pub fn set_device(&mut self, device: impl Into<String>) {
        self.device = device.into();
    }

    /// Reported ratings (after identification), by model id.
    fn ratings(&self) -> Vec<f64> {
        let mut rating = vec![0.0; self.models.len()];
        identify(&self.raw, &self.options, &self.models, &mut rating);
        rating
    }

    /// Model ids in leaderboard order: best rating first, ties by name.
    pub fn order(&self) -> Vec<usize> {
        let rating = self.ratings();
        let mut order: Vec<usize> = (0..self.models.len()).collect();
        order.sort_by(|&p, &q| rating[q].total_cmp(&rating[p]).then_with(|| self.models[p].cmp(&self.models[q])));
        order
    }

    /// Rating-scale values before identification (α·θ, or Elo − init) in leaderboard order: the input of the
    /// predicted-probability kernels.
    pub fn rating_scale(&self) -> Vec<f64> {
        self.order().into_iter().map(|m| self.raw[m]).collect()
    }

    /// The leaderboard from the point estimate and whatever intervals are done.
    pub fn leaderboard(&self) -> Leaderboard {
        let rating = self.ratings();
        let (lower, upper, var) = self.intervals(&rating);
        let mut models: Vec<ModelRating> = self
            .order()
            .into_iter()
            .map(|m| ModelRating {
                model: self.models[m].clone(),
                rating: rating[m],
                lower: lower[m],
                upper: upper[m],
                variance: var[m],
                rank: 0,
                battles: self.tallies[m].battles,
                wins: self.tallies[m].wins,
                losses: self.tallies[m].losses,
                ties: self.tallies[m].ties,
                identified: self.identified[m],
            })
            .collect();
        let ranks: Vec<u32> =
            models.iter().map(|m| 1 + models.iter().filter(|o| o.lower > m.upper).count() as u32).collect();
        for (m, rank) in models.iter_mut().zip(ranks) {
            m.rank = rank;
        }
        Leaderboard {
            method: self.options.method,
            ci: self.options.ci,
            level: self.options.level,
            rounds: self.done,
            seed: self.options.seed,
            ridge: self.ridge,
            iterations: self.iterations,
            battles: self.total as u64,
            models,
            warnings: self.warnings.clone(),
            style: self.options.style,
            coefficients: self.coefficient_rows(),
            device: self.device.clone(),
        }
    }

    fn coefficient_rows(&self) -> Vec<Coefficient> {
        let Work::Contextual { design, .. } = &self.work else { return Vec::new() };
        let k = self.coefficients.len();
        let tail = (1.0 - self.options.level) / 2.0;
        (0..k)
            .map(|j| {
                let value = self.coefficients[j];
                let (lower, upper, variance) = match self.options.ci {
                    Ci::Sandwich => {
                        let var = self.coefficient_variance.as_ref().map_or(0.0, |v| v[j]);
                        let half = normal_quantile(1.0 - tail) * var.sqrt();
                        (value - half, value + half, var)
                    }
                    Ci::Bootstrap if self.done > 0 => {
                        let mut column: Vec<f64> =
                            self.coefficient_samples.iter().skip(j).step_by(k).copied().collect();
                        let var = variance(&column);
                        column.sort_by(f64::total_cmp);
                        (quantile_sorted(&column, tail), quantile_sorted(&column, 1.0 - tail), var)
                    }
                    _ => (value, value, 0.0),
                };
                Coefficient { name: design.names[j].clone(), value, lower, upper, variance }
            })
            .collect()
    }

    fn intervals(&self, rating: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = rating.len();
        let tail = (1.0 - self.options.level) / 2.0;
        match self.options.ci {
            Ci::None => (rating.to_vec(), rating.to_vec(), vec![0.0; n]),
            Ci::Sandwich => {
                let var = self.variance.clone().unwrap_or_else(|| vec![0.0; n]);
                let z = normal_quantile(1.0 - tail);
                let bounds: Vec<(f64, f64)> =
                    (0..n).map(|m| self.sandwich_bounds(m, rating[m], z * var[m].sqrt())).collect();
                (bounds.iter().map(|b| b.0).collect(), bounds.iter().map(|b| b.1).collect(), var)
            }
            Ci::Bootstrap if self.done == 0 => (rating.to_vec(), rating.to_vec(), vec![0.0; n]),
            Ci::Bootstrap => {
                let rounds = self.done as usize;
                let mut lower = vec![0.0; n];
                let mut upper = vec![0.0; n];
                let mut var = vec![0.0; n];
                let mut column = vec![0.0; rounds];
                for m in 0..n {
                    for (r, c) in column.iter_mut().enumerate() {
                        *c = self.samples[r * n + m];
                    }
                    var[m] = variance(&column);
                    column.sort_by(f64::total_cmp);
                    lower[m] = quantile_sorted(&column, tail);
                    upper[m] = quantile_sorted(&column, 1.0 - tail);
                }
                (lower, upper, var)
            }
        }
    }

    /// Counts, observed win rates and predicted probabilities, in leaderboard order.
    pub fn matrices(&self) -> matrix::Matrices {
        matrix::matrices(&self.order(), &self.rows, &self.models, &self.raw, self.options.scale, self.options.base)
    }

    /// rating ± half-width for mean and anchor identification; for a baseline, the win-rate transform of the
    /// contrast's bounds.
    fn sandwich_bounds(&self, m: usize, rating: f64, half: f64) -> (f64, f64) {
        match &self.options.identify {
            Identify::Mean | Identify::Anchor { .. } => (rating - half, rating + half),
            Identify::Baseline { model } => {
                let r = self.models.iter().position(|x| x == model).map_or(0.0, |i| self.raw[i]);
                let c = self.raw[m] - r;
                let (o, base) = (&self.options, self.options.base);
                let win = |x: f64| 100.0 / (1.0 + base.powf(-x / o.scale));
                (win(c - half), win(c + half))
            }
        }
    }
}

#[derive(Default)]
struct Scratch {
    idx: Vec<u32>,
    counts: Vec<f64>,
    pairs: Vec<Pair>,
    theta: Vec<f64>,
    workspace: bt::Workspace,
    reach: Option<Reach>,
    multiplicity: Vec<u32>,
    battle_start: Vec<u64>,
}

/// The Bradley-Terry point fit on pair totals, its sandwich variances, and the bootstrap's state.
fn fit_bt(
    battles: &Battles,
    options: &RankOptions,
    rows: &Rows,
    pairs: &[Pair],
    components: &Components,
    index: PairIndex,
) -> (Vec<f64>, f64, usize, Option<Vec<f64>>, Work) {
    let n = rows.n_models;
    let total = rows.total();
    let alpha = options.scale / options.base.ln();
    let ridge = if options.ridge == 0.0 && !components.strongly_connected() { FALLBACK_RIDGE } else { options.ridge };
    let fit = bt::fit(n, pairs, ridge, None, options.tolerance);
    let variance = (options.ci == Ci::Sandwich).then(|| {
        let cov = bt::sandwich(&fit.theta, &rows.rows, rows.unweighted, options.hessian_reg, ridge);
        rating_variances(&cov, n, battles.models(), options)
    });
    let raw = fit.theta.iter().map(|t| t * alpha).collect();
    // Only the bootstrap draws battles.
    let mut battle_row = Vec::new();
    if options.ci == Ci::Bootstrap {
        battle_row.reserve(total as usize);
        for (k, r) in rows.rows.iter().enumerate() {
            battle_row.extend(std::iter::repeat_n(k as u32, r.count as usize));
        }
    }
    let work = Work::Bt { index, battle_row, theta: fit.theta };
    (raw, ridge, fit.iterations, variance, work)
}

/// Rating-scale variances of the first `n` parameters of a natural-scale covariance: of θ_i, or of the contrast
/// θ_i − θ_ref when an anchor or baseline fixes the scale.
fn rating_variances(cov: &ndarray::Array2<f64>, n: usize, models: &[String], o: &RankOptions) -> Vec<f64> {
    let alpha = o.scale / o.base.ln();
    let reference = reference_model(&o.identify).next().and_then(|m| models.iter().position(|x| x == m));
    (0..n)
        .map(|i| {
            let v = match reference {
                Some(r) => cov[[i, i]] + cov[[r, r]] - 2.0 * cov[[i, r]],
                None => cov[[i, i]],
            };
            v.max(0.0) * alpha * alpha
        })
        .collect()
}

/// Bootstrap multiplicity of each design row from battle draws: with unit counts a draw is a row; otherwise it is
/// located by binary search in the rows' cumulative counts.
pub(crate) fn contextual_multiplicity(design: &Design, draws: &[u32], start: &mut Vec<u64>) -> Vec<u32> {
    let mut m = vec![0u32; design.len()];
    if design.count.iter().all(|&c| c == 1) {
        for &u in draws {
            m[u as usize] += 1;
        }
        return m;
    }
    if start.len() != design.len() {
        start.clear();
        let mut acc = 0u64;
        for &c in &design.count {
            start.push(acc);
            acc += u64::from(c);
        }
    }
    for &u in draws {
        let r = start.partition_point(|&s| s <= u64::from(u)) - 1;
        m[r] += 1;
    }
    m
}

/// The style-controlled point fit, its sandwich and the bootstrap's state.
struct Contextual {
    raw: Vec<f64>,
    ridge: f64,
    iterations: usize,
    variance: Option<Vec<f64>>,
    coefficients: Vec<f64>,
    coefficient_variance: Option<Vec<f64>>,
    work: Work,
}

/// A style-control problem ready to fit: the design and the penalties (λ_θ, λ_β) of the convention (λ_θ = the
/// fallback ridge when the comparison graph is not strongly connected and the convention has none).
struct StyleProblem {
    design: Design,
    lambda: (f64, f64),
}

fn style_problem_given(battles: &Battles, o: &RankOptions, connected: bool) -> Result<StyleProblem> {
    let design = Design::new(battles, &o.rows, true)?;
    let mut lambda = o.style.unwrap_or_default().penalty(design.battles, o.base);
    if lambda.0 == 0.0 {
        lambda.0 = if o.ridge == 0.0 && !connected { FALLBACK_RIDGE } else { o.ridge };
    }
    Ok(StyleProblem { design, lambda })
}

impl Contextual {
    /// The ranking's style-control state from the fitted [θ; β] and its iteration count; `None` (a fit still to
    /// come) gives zeros and skips the sandwich and the bootstrap's pair index, which need the fit.
    fn from_fit(models: &[String], o: &RankOptions, problem: StyleProblem, fit: Option<(Vec<f64>, usize)>) -> Self {
        let convention = o.style.unwrap_or_default();
        let StyleProblem { design, lambda } = problem;
        let (n, k) = (design.n, design.k());
        let fitted = fit.is_some();
        let (params, iterations) = fit.unwrap_or_else(|| (vec![0.0; n + k], 0));
        let alpha = o.scale / o.base.ln();
        let (mut variance, mut coefficient_variance) = (None, None);
        if fitted && o.ci == Ci::Sandwich {
            let cov = contextual::sandwich(&design, &params, convention, lambda, o.hessian_reg);
            variance = Some(rating_variances(&cov, n, models, o));
            coefficient_variance = Some((n..n + k).map(|j| cov[[j, j]].max(0.0)).collect());
        }
        let (mut row_pair, mut pairs) = (Vec::new(), Vec::new());
        if fitted && o.ci == Ci::Bootstrap {
            let mut lookup: rustc_hash::FxHashMap<(u32, u32), u32> = rustc_hash::FxHashMap::default();
            for r in 0..design.len() {
                let key = (design.a[r].min(design.b[r]), design.a[r].max(design.b[r]));
                let next = pairs.len() as u32;
                let p = *lookup.entry(key).or_insert_with(|| {
                    pairs.push(key);
                    next
                });
                row_pair.push(p);
            }
        }
        Self {
            raw: params[..n].iter().map(|t| t * alpha).collect(),
            ridge: lambda.0,
            iterations,
            variance,
            coefficients: params[n..].to_vec(),
            coefficient_variance,
            work: Work::Contextual { design: Box::new(design), params, lambda, row_pair, pairs },
        }
    }
}

fn elo_params(o: &RankOptions) -> EloParams {
    EloParams { k: o.k, scale: o.scale, base: o.base, init: o.init }
}

fn reference_model(identify: &Identify) -> impl Iterator<Item = &str> {
    match identify {
        Identify::Mean => None,
        Identify::Anchor { model, .. } | Identify::Baseline { model } => Some(model.as_str()),
    }
    .into_iter()
}

/// Maps rating-scale values (before identification) to reported ratings.
fn identify(raw: &[f64], o: &RankOptions, models: &[String], out: &mut [f64]) {
    let position = |name: &str| models.iter().position(|m| m == name).unwrap_or(0);
    match &o.identify {
        Identify::Mean => {
            let mean = raw.iter().sum::<f64>() / raw.len() as f64;
            for (y, x) in out.iter_mut().zip(raw) {
                *y = o.init + (x - mean);
            }
        }
        Identify::Anchor { model, value } => {
            let r = raw[position(model)];
            for (y, x) in out.iter_mut().zip(raw) {
                *y = value + (x - r);
            }
        }
        Identify::Baseline { model } => {
            let r = raw[position(model)];
            for (y, x) in out.iter_mut().zip(raw) {
                *y = 100.0 / (1.0 + o.base.powf((r - x) / o.scale));
            }
        }
    }
}

fn validate(o: &RankOptions) -> Result<()> {
    let check = |ok: bool, option: &'static str, why: &str| {
        if ok {
            Ok(())
        } else {
            Err(Error::option(option, why))
        }
    };
    check(o.level > 0.0 && o.level < 1.0, "level", "must be strictly between 0 and 1")?;
    check(o.scale.is_finite() && o.scale > 0.0, "scale", "must be a finite number > 0")?;
    check(o.base.is_finite() && o.base > 1.0, "base", "must be a finite number > 1")?;
    check(o.init.is_finite(), "init", "must be finite")?;
    check(o.ridge.is_finite() && o.ridge >= 0.0, "ridge", "must be a finite number ≥ 0")?;
    check(o.hessian_reg.is_finite() && o.hessian_reg >= 0.0, "hessianReg", "must be a finite number ≥ 0")?;
    check(o.tolerance.is_finite() && o.tolerance > 0.0, "tolerance", "must be a finite number > 0")?;
    check(o.k.is_finite() && o.k > 0.0, "k", "must be a finite number > 0")?;
    check(o.rows.min_pair_count.is_finite() && o.rows.min_pair_count >= 0.0, "minPairCount", "must be ≥ 0")?;
    check(o.ci != Ci::Bootstrap || o.rounds > 0, "rounds", "must be ≥ 1 for a bootstrap")?;
    check(!(o.ci == Ci::Sandwich && o.method == Method::Elo), "ci", "the sandwich needs method bt")?;
    check(!(o.style.is_some() && o.method == Method::Elo), "style", "style control needs method bt")?;
    if let Identify::Anchor { value, .. } = &o.identify {
        check(value.is_finite(), "anchor", "the anchor value must be finite")?;
    }
    Ok(())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn preview(names: &[&str]) -> String {
    let shown: Vec<&str> = names.iter().take(5).copied().collect();
    let more = names.len().saturating_sub(5);
    if more > 0 {
        format!("{}, and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Ranks battles in one call (all bootstrap rounds included).
///
/// # Errors
/// As [`Ranking::new`].
pub fn rank(battles: &Battles, options: &RankOptions) -> Result<Leaderboard> {
    let mut ranking = Ranking::new(battles, options)?;
    ranking.run_rounds(ranking.remaining());
    Ok(ranking.leaderboard())
}
