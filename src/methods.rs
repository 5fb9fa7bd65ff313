//! One entry point for the ranking methods beyond Bradley-Terry, shaped for callers (the JS API and the examples
//! share it, so both print the same JSON): battles and a JSON options object in, a leaderboard-like plain object out.
//!
//! Every board has `method`, `battles` and `models` (best first, each with `model`, `rating` and the model's tallies);
//! the method adds its own fields (`tie`, `exploitability`, `groups`, `annotators`, ...). Ratings of log-strength
//! models are on the Elo scale, `init + scale / ln(base) · θ` with θ centred (mean `init`); Weng-Lin's is its
//! ordinal μ − 3σ; Nash's is the win rate against the equilibrium lottery.

use serde::Serialize;
use serde_json::Value;

use crate::annotators::{lcpo, mixture};
use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::rank::rows::{RowOptions, Rows, Tally};
use crate::rank::{gpm, nash, pl, ties, wenglin};
use crate::sampling;

/// The methods [`run`] knows, as named in options and on the command line.
pub const METHODS: &[&str] = &["davidson", "rao-kupper", "pl", "weng-lin", "nash", "gpm", "mixture", "lcpo"];

/// One model's row.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub model: String,
    pub rating: f64,
    /// The model's mass in the equilibrium lottery (Nash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Weng-Lin's skill mean and uncertainty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// GPM: the mean predicted win rate against every other model (SPO's batch win-rate score).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub win_rate: Option<f64>,
    /// GPM: the model's embedding in R^2k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f64>>,
    /// False where the data cannot pin the rating.
    pub identified: bool,
    pub battles: u64,
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
}

/// One annotator group of a mixture: its share, its members and its own leaderboard.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupBoard {
    pub weight: f64,
    pub annotators: Vec<String>,
    pub battles: f64,
    pub models: Vec<Row>,
}

/// An annotator's estimated correctness (LCPO) and the battles it rests on.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnotatorRow {
    pub judge: String,
    pub eta: f64,
    pub battles: u64,
}

/// The result of [`run`]. Fields a method does not produce are left out of the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    pub method: String,
    /// Number of battles used.
    pub battles: u64,
    pub models: Vec<Row>,
    /// Davidson's ν or Rao-Kupper's θ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tie: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_likelihood: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Nash: the equilibrium's exploitability, its margin convention and whether it is certified unique.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exploitability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margins: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    /// Nash: the exploitability of playing the top Bradley-Terry model alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bt_top_exploitability: Option<f64>,
    /// GPM: half the embedding dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// Plackett-Luce: tied battles left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<usize>,
    /// Mixture: one leaderboard per annotator group (`models` is then the egalitarian min over groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupBoard>>,
    /// LCPO: per-annotator correctness, and the battle-weighted mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotators: Option<Vec<AnnotatorRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    pub warnings: Vec<String>,
}

/// Runs `method` (one of [`METHODS`]) on `battles` with a JSON options object (camelCase keys; `Value::Null` for
/// the defaults). Unknown keys are errors.
///
/// # Errors
/// `INVALID_OPTION` for an unknown method, key or value; the method's own errors (`EMPTY`, `MISSING_FIELD`, ...).
pub fn run(battles: &Battles, method: &str, options: &Value) -> Result<Board> {
    let mut o = Options::new(options)?;
    let scale = Scale::read(&mut o)?;
    let tallies = Rows::new(battles, &RowOptions::default()).tallies();
    let ctx = Context { battles, tallies: &tallies, scale };
    let board = match method {
        "davidson" | "rao-kupper" => ctx.ties(method, &mut o)?,
        "pl" => ctx.plackett_luce(&mut o)?,
        "weng-lin" => ctx.weng_lin(&mut o)?,
        "nash" => ctx.nash(&mut o)?,
        "gpm" => ctx.gpm(&mut o)?,
        "mixture" => ctx.mixture(&mut o)?,
        "lcpo" => ctx.lcpo(&mut o)?,
        _ => return Err(Error::option("method", format!("`{method}` is not one of {}", METHODS.join(", ")))),
    };
    o.finish(method)?;
    Ok(board)
}

#[derive(Clone, Copy)]
struct Scale {
    /// Rating points per natural log-odds unit: scale / ln(base).
    per_nat: f64,
    init: f64,
}

impl Scale {
    /// The defaults: 400 points per factor of 10 in the odds, mean 1000.
    const ELO: Scale = Scale { per_nat: 400.0 / std::f64::consts::LN_10, init: 1000.0 };

    /// The `scale`, `base` and `init` options (defaults 400, 10, 1000).
    fn read(o: &mut Options) -> Result<Self> {
        let (points, base, init) = (o.f64("scale", 400.0)?, o.f64("base", 10.0)?, o.f64("init", 1000.0)?);
        if points <= 0.0 || base <= 1.0 {
            return Err(Error::option("scale", "scale must be positive and base above 1"));
        }
        Ok(Scale { per_nat: points / base.ln(), init })
    }

    /// Elo-scale ratings of log-strengths, centred to mean `init`.
    fn ratings(self, theta: &[f64]) -> Vec<f64> {
        let mean = theta.iter().sum::<f64>() / theta.len().max(1) as f64;
        theta.iter().map(|t| self.init + self.per_nat * (t - mean)).collect()
    }
}

struct Context<'a> {
    battles: &'a Battles,
    tallies: &'a [Tally],
    scale: Scale,
}

impl Context<'_> {
    /// Rows for every model with `rating`, sorted best first (ties by name).
    fn rows(&self, rating: &[f64], identified: Option<&[bool]>) -> Vec<Row> {
        let models = self.battles.models();
        let mut rows: Vec<Row> = (0..models.len())
            .map(|m| {
                let t = self.tallies.get(m).copied().unwrap_or_default();
                Row {
                    model: models[m].clone(),
                    rating: rating[m],
                    identified: identified.is_none_or(|i| i[m]),
                    battles: t.battles,
                    wins: t.wins,
                    losses: t.losses,
                    ties: t.ties,
                    ..Row::default()
                }
            })
            .collect();
        sort(&mut rows, |r| r.rating);
        rows
    }

    fn board(&self, method: &str, models: Vec<Row>) -> Board {
        Board { method: method.to_owned(), battles: self.battles.total(), models, ..Board::default() }
    }

    fn ties(&self, method: &str, o: &mut Options) -> Result<Board> {
        let model = if method == "davidson" { ties::TieModel::Davidson } else { ties::TieModel::RaoKupper };
        let options = ties::TieOptions { model, ridge: o.f64("ridge", 0.0)?, ..ties::TieOptions::default() };
        let fit = ties::fit(self.battles, &options)?;
        let mut board = self.board(method, self.rows(&self.scale.ratings(&fit.theta), Some(&fit.identified)));
        board.tie = Some(fit.tie);
        board.log_likelihood = Some(fit.log_likelihood);
        board.iterations = Some(fit.iterations);
        if fit.ridge > 0.0 && options.ridge == 0.0 {
            board.warnings.push(not_connected(fit.ridge));
        }
        Ok(board)
    }

    fn plackett_luce(&self, o: &mut Options) -> Result<Board> {
        let options = pl::PlOptions { alpha: o.f64("alpha", 0.0)?, ..pl::PlOptions::default() };
        let (observations, dropped) = pl::from_battles(self.battles);
        let fit = pl::fit(self.battles.models().len(), &observations, &options)?;
        let mut board = self.board("pl", self.rows(&self.scale.ratings(&fit.theta), Some(&fit.identified)));
        board.battles = observations.len() as u64;
        board.log_likelihood = Some(fit.log_likelihood);
        board.iterations = Some(fit.iterations);
        board.dropped = Some(dropped);
        if fit.alpha > options.alpha {
            board.warnings.push(not_connected(fit.alpha));
        }
        Ok(board)
    }

    fn weng_lin(&self, o: &mut Options) -> Result<Board> {
        let mut options = wenglin::WengLinOptions::default();
        if let Some(model) = o.str("model")? {
            options.model = serde_json::from_value(Value::String(model.clone())).map_err(|_| {
                let known = "plackett-luce, bradley-terry-full, bradley-terry-part, thurstone-mosteller-full, \
                             thurstone-mosteller-part";
                Error::option("model", format!("`{model}` is not one of {known}"))
            })?;
        }
        options.mu = o.f64("mu", options.mu)?;
        options.sigma = o.f64("sigma", options.sigma)?;
        options.beta = o.f64("beta", options.beta)?;
        options.tau = o.f64("tau", options.tau)?;
        options.validate()?;
        let fit = wenglin::rate_battles(self.battles, &options)?;
        let ordinal: Vec<f64> = fit.ratings.iter().map(wenglin::Rating::ordinal).collect();
        let mut rows = self.rows(&ordinal, None);
        for row in &mut rows {
            let r = fit.ratings[self.battles.model_id(&row.model).unwrap_or(0)];
            (row.mu, row.sigma) = (Some(r.mu), Some(r.sigma));
        }
        Ok(self.board("weng-lin", rows))
    }

    fn nash(&self, o: &mut Options) -> Result<Board> {
        let mut options = nash::NashBattleOptions { matrix: matrix_options(o)?, ..nash::NashBattleOptions::default() };
        options.nash.beta = o.f64("beta", 0.0)?;
        let payoff = nash::payoff(self.battles, &options.matrix)?;
        options.nash.mu = reference(o, &payoff.models)?;
        self.nash_board(payoff, &options)
    }

    /// The Nash board of a payoff over (some of) these battles' models, matched by name.
    fn nash_board(&self, payoff: nash::Payoff, options: &nash::NashBattleOptions) -> Result<Board> {
        let (n, matrix, names) = (payoff.n, payoff.matrix.clone(), payoff.models.clone());
        let result = nash::solve_payoff(payoff, options)?;
        let id = |name: &str| names.iter().position(|m| m == name).unwrap_or(0);
        // Win rate against the lottery: ½ + (A x)_i on NLHF margins (≤ ½, = ½ on the support at β = 0); the
        // expected vote margin on Fishburn's.
        let against: Vec<f64> = self
            .battles
            .models()
            .iter()
            .map(|m| (0..n).map(|j| matrix[id(m) * n + j] * result.probabilities[j]).sum::<f64>())
            .map(|v| if options.matrix.margins == nash::Margins::Nlhf { 0.5 + v } else { v })
            .collect();
        let mut rows = self.rows(&against, None);
        for row in &mut rows {
            row.probability = Some(result.probabilities[id(&row.model)]);
        }
        sort(&mut rows, |r| r.probability.unwrap_or(0.0) + 1e-6 * r.rating.clamp(-1e5, 1e5) / 1e5);
        let bt = crate::rank::rank(self.battles, &crate::RankOptions::default())?;
        let mut board = self.board("nash", rows);
        board.exploitability = Some(result.exploitability);
        board.margins = Some(if options.matrix.margins == nash::Margins::Nlhf { "nlhf" } else { "fishburn" }.into());
        board.unique = Some(result.unique);
        board.iterations = Some(result.iterations);
        board.bt_top_exploitability = bt.models.first().map(|m| result.pure_exploitability[id(&m.model)]);
        board.warnings = result.warnings;
        Ok(board)
    }

    fn gpm(&self, o: &mut Options) -> Result<Board> {
        let defaults = gpm::GpmOptions::default();
        let options = gpm::GpmOptions {
            k: o.usize("k", defaults.k)?,
            hybrid: o.bool("hybrid", defaults.hybrid)?,
            l2: o.f64("l2", defaults.l2)?,
            seed: o.usize("seed", 0)? as u64,
            ..defaults
        };
        let fit = gpm::fit(self.battles, &options)?;
        let n = fit.n();
        let p = fit.probabilities();
        let mut rows = self.rows(&self.scale.ratings(&fit.theta), None);
        for row in &mut rows {
            let m = self.battles.model_id(&row.model).unwrap_or(0);
            row.win_rate = Some((0..n).filter(|&j| j != m).map(|j| p[m * n + j]).sum::<f64>() / (n - 1).max(1) as f64);
            row.embedding = Some(fit.embeddings[m * 2 * fit.k..(m + 1) * 2 * fit.k].to_vec());
        }
        sort(&mut rows, |r| r.win_rate.unwrap_or(0.0));
        let mut board = self.board("gpm", rows);
        board.k = Some(fit.k);
        board.log_likelihood = Some(fit.log_likelihood);
        board.iterations = Some(fit.iterations);
        Ok(board)
    }

    fn mixture(&self, o: &mut Options) -> Result<Board> {
        let defaults = mixture::MixtureOptions::default();
        let options = mixture::MixtureOptions {
            groups: o.usize("groups", defaults.groups)?,
            soft: o.bool("soft", defaults.soft)?,
            seed: o.usize("seed", 0)? as u64,
            ..defaults
        };
        let fit = mixture::fit(self.battles, &options)?;
        let groups = fit
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| GroupBoard {
                weight: group.weight,
                annotators: fit.annotators.iter().filter(|a| a.group == g).map(|a| a.judge.clone()).collect(),
                battles: group.battles,
                models: self.rows(&self.scale.ratings(&group.theta), None),
            })
            .collect();
        let egalitarian: Vec<f64> = fit.egalitarian.iter().map(|t| self.scale.init + self.scale.per_nat * t).collect();
        let mut board = self.board("mixture", self.rows(&egalitarian, None));
        board.groups = Some(groups);
        board.log_likelihood = Some(fit.log_likelihood);
        board.iterations = Some(fit.iterations);
        Ok(board)
    }

    fn lcpo(&self, o: &mut Options) -> Result<Board> {
        let defaults = lcpo::LcpoOptions::default();
        let options = lcpo::LcpoOptions { per_annotator: o.bool("perAnnotator", defaults.per_annotator)?, ..defaults };
        let fit = lcpo::fit(self.battles, &options)?;
        let mut board = self.board("lcpo", self.rows(&self.scale.ratings(&fit.theta), None));
        board.eta = Some(fit.eta);
        board.annotators = Some(
            fit.annotators
                .iter()
                .map(|a| AnnotatorRow { judge: a.judge.clone(), eta: a.eta, battles: a.battles })
                .collect(),
        );
        board.log_likelihood = Some(fit.log_likelihood);
        board.iterations = Some(fit.iterations);
        Ok(board)
    }
}

/// The Nash equilibrium against a weighted population of judges (MNPO): `judges` pairs each judge's battles with
/// its weight; the payoff is the weighted mean of the judges' payoffs on the union of their models (by name), and
/// the rows' tallies and the Bradley-Terry #1 come from all the judges' battles together. Options as `nash`.
///
/// # Errors
/// `EMPTY` without judges or battles; bad weights or options (`INVALID_OPTION`).
pub fn nash_population(judges: &[(&Battles, f64)], options: &Value) -> Result<Board> {
    let mut o = Options::new(options)?;
    let mut nash_options = nash::NashBattleOptions { matrix: matrix_options(&mut o)?, ..Default::default() };
    nash_options.nash.beta = o.f64("beta", 0.0)?;
    let payoff = nash::population_payoff(judges, &nash_options.matrix)?;
    nash_options.nash.mu = reference(&mut o, &payoff.models)?;
    o.finish("nash")?;
    let mut all = Battles::new();
    for (battles, _) in judges {
        for r in 0..battles.len() {
            let (a, b, outcome, count) = battles.record(r);
            all.push(&battles.models()[a], &battles.models()[b], outcome, count)?;
        }
    }
    let tallies = Rows::new(&all, &RowOptions::default()).tallies();
    let ctx = Context { battles: &all, tallies: &tallies, scale: Scale::ELO };
    ctx.nash_board(payoff, &nash_options)
}

/// The KL reference μ of the regularised game, `mu`: {model: weight} (positive; normalised; every model named).
fn reference(o: &mut Options, models: &[String]) -> Result<Option<Vec<f64>>> {
    let Some(value) = o.take("mu") else { return Ok(None) };
    let Value::Object(map) = value else {
        return Err(Error::option("mu", "expected an object {model: weight}"));
    };
    let mut mu = vec![f64::NAN; models.len()];
    for (name, w) in &map {
        let m = models
            .iter()
            .position(|x| x == name)
            .ok_or_else(|| Error::UnknownModel { model: name.clone(), option: "mu" })?;
        mu[m] = w.as_f64().ok_or_else(|| Error::option("mu", format!("`{name}` has no numeric weight")))?;
    }
    if let Some(m) = mu.iter().position(|w| w.is_nan()) {
        return Err(Error::option("mu", format!("no weight for model `{}`", models[m])));
    }
    Ok(Some(mu))
}

/// The payoff options: `margins` nlhf | fishburn, `alpha` (Jeffreys ½), `impute` bt | half.
fn matrix_options(o: &mut Options) -> Result<nash::MatrixOptions> {
    let mut options = nash::MatrixOptions::default();
    options.margins = match o.str("margins")?.as_deref() {
        None | Some("nlhf") => nash::Margins::Nlhf,
        Some("fishburn") => nash::Margins::Fishburn,
        Some(other) => return Err(Error::option("margins", format!("`{other}` is not one of nlhf, fishburn"))),
    };
    options.alpha = o.f64("alpha", options.alpha)?;
    // Arena data leave most pairs unobserved; margin 0 there makes the equilibrium non-unique (LLMFAO: any of
    // 31 models can carry mass), so unobserved pairs take Bradley-Terry's prediction unless asked otherwise.
    options.impute = match o.str("impute")?.as_deref() {
        None | Some("bt") => nash::Impute::Bt,
        Some("half") => nash::Impute::Half,
        Some(other) => return Err(Error::option("impute", format!("`{other}` is not one of bt, half"))),
    };
    Ok(options)
}

/// The skew-symmetric payoff matrix of the battles that [`run`]'s `nash` solves (same options, same defaults).
///
/// # Errors
/// `INVALID_OPTION` for unknown keys or values; the payoff's own errors.
pub fn payoff(battles: &Battles, options: &Value) -> Result<nash::Payoff> {
    let mut o = Options::new(options)?;
    let matrix = matrix_options(&mut o)?;
    o.finish("a payoff matrix")?;
    nash::payoff(battles, &matrix)
}

fn not_connected(ridge: f64) -> String {
    format!("the comparison graph is not strongly connected (an undefeated or winless model, or separate groups): a ridge of {ridge} keeps every rating finite; models it cannot pin are marked identified: false")
}

/// Sorts rows by `key` descending, ties by model name.
fn sort(rows: &mut [Row], key: impl Fn(&Row) -> f64) {
    rows.sort_by(|p, q| key(q).total_cmp(&key(p)).then_with(|| p.model.cmp(&q.model)));
}

/// Plackett-Luce on observations given by model name: each is a ranking (names best first) or a top-1 choice
/// `{"chosen": name, "among": [the other names offered]}`. Models are numbered in order of first appearance.
///
/// # Errors
/// `INVALID_OPTION` for an observation of another shape (named by index), unknown option keys; PL's own errors
/// (duplicates, fewer than two items, `EMPTY`).
pub fn plackett_luce(observations: &Value, options: &Value) -> Result<Board> {
    let mut o = Options::new(options)?;
    let pl_options = pl::PlOptions { alpha: o.f64("alpha", 0.0)?, ..pl::PlOptions::default() };
    let scale = Scale::read(&mut o)?;
    o.finish("pl")?;
    let Value::Array(list) = observations else {
        return Err(Error::option("observations", "expected an array of rankings or choices"));
    };
    let mut names: Vec<String> = Vec::new();
    let mut id = |name: &str| {
        if let Some(i) = names.iter().position(|n| n == name) {
            return i;
        }
        names.push(name.to_owned());
        names.len() - 1
    };
    let mut parsed = Vec::with_capacity(list.len());
    let mut seen: Vec<(usize, usize)> = Vec::new(); // (model, first place) per appearance
    for (k, v) in list.iter().enumerate() {
        let bad =
            || Error::option("observations", format!("observation {k} is not a list of names or {{chosen, among}}"));
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
        };
        let observation = if let Some(ranking) = strings(v) {
            let ids: Vec<usize> = ranking.iter().map(|s| id(s)).collect();
            seen.extend(ids.iter().enumerate().map(|(place, &m)| (m, usize::from(place == 0))));
            pl::Observation::Ranking(ids)
        } else {
            let chosen = v.get("chosen").and_then(Value::as_str).ok_or_else(bad)?;
            let among = v.get("among").and_then(strings).ok_or_else(bad)?;
            let chosen = id(chosen);
            let among: Vec<usize> = among.iter().map(|s| id(s)).collect();
            seen.push((chosen, 1));
            seen.extend(among.iter().map(|&m| (m, 0)));
            pl::Observation::Choice { chosen, among }
        };
        parsed.push(observation);
    }
    let fit = pl::fit(names.len(), &parsed, &pl_options)?;
    let rating = scale.ratings(&fit.theta);
    let mut rows: Vec<Row> = names
        .iter()
        .enumerate()
        .map(|(m, name)| Row {
            model: name.clone(),
            rating: rating[m],
            identified: fit.identified[m],
            battles: seen.iter().filter(|s| s.0 == m).count() as u64,
            wins: seen.iter().filter(|s| s.0 == m && s.1 == 1).count() as u64,
            ..Row::default()
        })
        .collect();
    sort(&mut rows, |r| r.rating);
    let mut board = Board { method: "pl".into(), battles: parsed.len() as u64, models: rows, ..Board::default() };
    board.log_likelihood = Some(fit.log_likelihood);
    board.iterations = Some(fit.iterations);
    if fit.alpha > pl_options.alpha {
        board.warnings.push(not_connected(fit.alpha));
    }
    Ok(board)
}

/// An annotator's accuracy under Dawid-Skene: the prior-weighted mean of its confusion matrix's diagonal.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnotatorAccuracy {
    pub judge: String,
    pub accuracy: f64,
    pub votes: u64,
}

/// One item's consensus under Dawid-Skene.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemLabel {
    pub id: String,
    pub model_a: String,
    pub model_b: String,
    /// The most probable true label: `model_a`, `model_b` or `tie`.
    pub label: &'static str,
    /// P(A better), P(B better), P(tie).
    pub posterior: Vec<f64>,
    pub votes: u64,
}

/// Dawid-Skene on battles judged several times.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consensus {
    /// Class priors: A, B, tie.
    pub priors: Vec<f64>,
    pub annotators: Vec<AnnotatorAccuracy>,
    pub items: Vec<ItemLabel>,
    pub iterations: usize,
    pub log_likelihood: f64,
}

/// Dawid-Skene over the battles' items (`id` and pair; sides aligned) and annotators (`judge`).
///
/// # Errors
/// As [`crate::annotators::dawid_skene::from_battles`] and `fit`.
pub fn dawid_skene(battles: &Battles) -> Result<Consensus> {
    use crate::annotators::dawid_skene;
    let (items, judges, keys) = dawid_skene::from_battles(battles)?;
    let fit = dawid_skene::fit(&items, judges.len(), 3, &dawid_skene::DawidSkeneOptions::default())?;
    let accuracies = fit.accuracies();
    let mut votes = vec![0u64; judges.len()];
    for &(k, _) in items.iter().flatten() {
        votes[k] += 1;
    }
    let models = battles.models();
    let labels = fit.labels();
    Ok(Consensus {
        priors: fit.priors.clone(),
        annotators: judges
            .into_iter()
            .zip(accuracies)
            .zip(votes)
            .map(|((judge, accuracy), votes)| AnnotatorAccuracy { judge, accuracy, votes })
            .collect(),
        items: keys
            .into_iter()
            .zip(&fit.posteriors)
            .zip(labels)
            .zip(&items)
            .map(|(((key, posterior), label), votes)| ItemLabel {
                id: key.id,
                model_a: models[key.model_a].clone(),
                model_b: models[key.model_b].clone(),
                label: ["model_a", "model_b", "tie"][label.min(2)],
                posterior: posterior.clone(),
                votes: votes.len() as u64,
            })
            .collect(),
        iterations: fit.iterations,
        log_likelihood: fit.log_likelihood,
    })
}

/// One item's preference strength across its votes (Secrets of RLHF II).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrengthRow {
    pub id: String,
    pub model_a: String,
    pub model_b: String,
    /// Mean vote: +1 all for A, −1 all for B, ties 0.
    pub mean: f64,
    /// Population standard deviation of the votes: the judges' disagreement.
    pub spread: f64,
    pub votes: u64,
}

/// Preference strength of every item (`id` and pair, sides aligned to the first vote).
///
/// # Errors
/// As [`crate::annotators::strength::from_battles`].
pub fn strength(battles: &Battles) -> Result<Vec<StrengthRow>> {
    let models = battles.models();
    Ok(crate::annotators::strength::from_battles(battles)?
        .into_iter()
        .map(|s| StrengthRow {
            id: s.id,
            model_a: models[s.model_a].clone(),
            model_b: models[s.model_b].clone(),
            mean: s.mean,
            spread: s.spread,
            votes: s.votes,
        })
        .collect())
}

/// The strategy named in `options` (`strategy`: uniform, weighted, buckets, fastchat, information-gain; default
/// uniform) with its keys, models given by name: `weights` [[a, b, w], ...] (weighted); `sizes` {model: billions},
/// `big` (100), `small` (60), `mode` big-vs-small | small (buckets); `modelWeights` {model: w}, `boost`, `outage`,
/// `anonymous` [models], `targets` {model: [models]} (fastchat).
fn strategy(models: &[String], o: &mut Options) -> Result<sampling::Strategy> {
    let index = |name: &Value, option: &'static str| -> Result<usize> {
        let name = name.as_str().ok_or_else(|| Error::option(option, format!("`{name}` is not a model name")))?;
        models.iter().position(|m| m == name).ok_or_else(|| Error::UnknownModel { model: name.to_owned(), option })
    };
    let names = |o: &mut Options, option: &'static str| -> Result<Vec<usize>> {
        match o.take(option) {
            None => Ok(Vec::new()),
            Some(Value::Array(list)) => list.iter().map(|v| index(v, option)).collect(),
            Some(v) => Err(Error::option(option, format!("`{v}` is not a list of model names"))),
        }
    };
    let per_model = |o: &mut Options, option: &'static str| -> Result<Vec<(usize, Value)>> {
        match o.take(option) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => {
                map.into_iter().map(|(k, v)| Ok((index(&Value::String(k), option)?, v))).collect()
            }
            Some(v) => Err(Error::option(option, format!("`{v}` is not an object keyed by model name"))),
        }
    };
    let number = |v: &Value, option: &'static str| {
        v.as_f64().ok_or_else(|| Error::option(option, format!("`{v}` is not a number")))
    };
    Ok(match o.str("strategy")?.as_deref() {
        None | Some("uniform") => sampling::Strategy::Uniform,
        Some("information-gain") => sampling::Strategy::InformationGain,
        Some("weighted") => {
            let list = match o.take("weights") {
                None => Vec::new(),
                Some(Value::Array(list)) => list,
                Some(v) => return Err(Error::option("weights", format!("`{v}` is not a list of [a, b, weight]"))),
            };
            let weights = list
                .iter()
                .map(|t| match t.as_array().map(Vec::as_slice) {
                    Some([a, b, w]) => Ok((index(a, "weights")?, index(b, "weights")?, number(w, "weights")?)),
                    _ => Err(Error::option("weights", format!("`{t}` is not [a, b, weight]"))),
                })
                .collect::<Result<_>>()?;
            sampling::Strategy::Weighted { weights }
        }
        Some("buckets") => {
            let mut sizes = vec![f64::NAN; models.len()];
            for (m, v) in per_model(o, "sizes")? {
                sizes[m] = number(&v, "sizes")?;
            }
            if let Some(m) = sizes.iter().position(|s| s.is_nan()) {
                return Err(Error::option("sizes", format!("no size for model `{}`", models[m])));
            }
            let mode = match o.str("mode")?.as_deref() {
                None | Some("big-vs-small") => sampling::BucketMode::BigVsSmall,
                Some("small") => sampling::BucketMode::Small,
                Some(other) => return Err(Error::option("mode", format!("`{other}` is not big-vs-small or small"))),
            };
            sampling::Strategy::Buckets { sizes, big: o.f64("big", 100.0)?, small: o.f64("small", 60.0)?, mode }
        }
        Some("fastchat") => {
            let mut weights = vec![1.0; models.len()];
            for (m, v) in per_model(o, "modelWeights")? {
                weights[m] = number(&v, "modelWeights")?;
            }
            let targets = per_model(o, "targets")?
                .into_iter()
                .map(|(m, v)| match v {
                    Value::Array(list) => Ok((m, list.iter().map(|t| index(t, "targets")).collect::<Result<_>>()?)),
                    v => Err(Error::option("targets", format!("`{v}` is not a list of model names"))),
                })
                .collect::<Result<_>>()?;
            sampling::Strategy::FastChat {
                weights,
                boost: names(o, "boost")?,
                outage: names(o, "outage")?,
                anonymous: names(o, "anonymous")?,
                targets,
            }
        }
        Some(other) => {
            let known = "uniform, weighted, buckets, fastchat, information-gain";
            return Err(Error::option("strategy", format!("`{other}` is not one of {known}")));
        }
    })
}

/// A pair sampler for an arena client over named models. The information-gain strategy keeps a Bradley-Terry
/// Laplace posterior of the votes reported with [`ArenaSampler::observe`] (refitted every
/// [`sampling::REFIT_EVERY`] votes).
#[derive(Clone, Debug)]
pub struct ArenaSampler {
    sampler: sampling::PairSampler,
    posterior: Option<sampling::Posterior>,
    since_refit: usize,
}

impl ArenaSampler {
    /// A sampler over `models` with `{strategy, seed, ...}` (see the strategy keys above).
    ///
    /// # Errors
    /// `INVALID_OPTION` for unknown keys or bad values, `UNKNOWN_MODEL` for a name not in `models`, and the
    /// strategy's own checks.
    pub fn new(models: &[String], options: &Value) -> Result<Self> {
        let mut o = Options::new(options)?;
        let seed = o.usize("seed", 0)? as u64;
        let strategy = strategy(models, &mut o)?;
        o.finish("a pair sampler")?;
        let posterior = if strategy == sampling::Strategy::InformationGain {
            Some(sampling::Posterior::new(models.len(), sampling::PRIOR_SD)?)
        } else {
            None
        };
        Ok(Self { sampler: sampling::PairSampler::new(models.len(), strategy, seed)?, posterior, since_refit: 0 })
    }

    /// The next pair (model indices, sides already swapped at random).
    ///
    /// # Errors
    /// The sampler's (none for a validated strategy).
    pub fn next_pair(&mut self) -> Result<(usize, usize)> {
        self.sampler.next(self.posterior.as_ref())
    }

    /// Reports a vote: `score` is a's result (1 win, ½ tie, 0 loss). Only the information-gain strategy uses it.
    ///
    /// # Errors
    /// `INVALID_OPTION` for an index out of range, a = b or a score outside [0, 1].
    pub fn observe(&mut self, a: usize, b: usize, score: f64) -> Result<()> {
        let n = self.sampler.models();
        if a >= n || b >= n || a == b || !(0.0..=1.0).contains(&score) {
            return Err(Error::option(
                "observe",
                format!("needs two different models below {n} and a score in [0, 1]"),
            ));
        }
        if let Some(p) = &mut self.posterior {
            p.observe(a, b, score)?;
            self.since_refit += 1;
            if self.since_refit >= sampling::REFIT_EVERY {
                p.refit();
                self.since_refit = 0;
            }
        }
        Ok(())
    }
}

/// Simulates an arena with known ratings (`ratings`: {model: Elo}) and a strategy, until the mean 95% interval
/// width is at most `targetWidth` Elo points (default 100) or `maxVotes` (default 100000) votes. See
/// [`sampling::simulate`].
///
/// # Errors
/// As [`ArenaSampler::new`]; `INVALID_OPTION` for missing or non-finite ratings.
pub fn simulate(options: &Value) -> Result<sampling::Simulation> {
    let mut o = Options::new(options)?;
    let Some(Value::Object(ratings)) = o.take("ratings") else {
        return Err(Error::option("ratings", "expected an object {model: Elo rating}"));
    };
    let models: Vec<String> = ratings.keys().cloned().collect();
    let elo: Vec<f64> = ratings
        .iter()
        .map(|(m, v)| v.as_f64().ok_or_else(|| Error::option("ratings", format!("`{m}` has no numeric rating"))))
        .collect::<Result<_>>()?;
    let per_nat = 400.0 / std::f64::consts::LN_10;
    let theta: Vec<f64> = elo.iter().map(|r| r / per_nat).collect();
    let target = o.f64("targetWidth", 100.0)?;
    let max_votes = o.usize("maxVotes", 100_000)?;
    let seed = o.usize("seed", 0)? as u64;
    let strategy = strategy(&models, &mut o)?;
    o.finish("a simulation")?;
    sampling::simulate(&theta, strategy, target, max_votes, seed)
}

/// One Weng-Lin match from JSON: `teams` [[{mu, sigma}, ...], ...] and `{ranks, scores, weights}` plus the model's
/// options (`model`, `mu`, `sigma`, `beta`, `kappa`, `tau`, `margin`, `limitSigma`, `balance`, `windowSize`,
/// `epsilon`, `weightBounds`). Returns the updated teams.
///
/// # Errors
/// `INVALID_OPTION` for unknown keys or values of the wrong shape; Weng-Lin's own checks.
pub fn weng_lin_match(teams: &Value, options: &Value) -> Result<Vec<Vec<wenglin::Rating>>> {
    const MODEL_KEYS: &[&str] = &[
        "model",
        "mu",
        "sigma",
        "beta",
        "kappa",
        "tau",
        "margin",
        "limitSigma",
        "balance",
        "windowSize",
        "epsilon",
        "weightBounds",
    ];
    let teams: Vec<Vec<wenglin::Rating>> = serde_json::from_value(teams.clone())
        .map_err(|e| Error::option("teams", format!("expected arrays of {{mu, sigma}}: {e}")))?;
    let mut o = Options::new(options)?;
    let list = |o: &mut Options, key: &'static str| -> Result<Option<Vec<f64>>> {
        o.take(key)
            .map(|v| serde_json::from_value(v).map_err(|_| Error::option(key, "expected a list of numbers")))
            .transpose()
    };
    let ranks = list(&mut o, "ranks")?;
    let scores = list(&mut o, "scores")?;
    let weights: Option<Vec<Vec<f64>>> = o
        .take("weights")
        .map(|v| {
            serde_json::from_value(v).map_err(|_| Error::option("weights", "expected one list of numbers per team"))
        })
        .transpose()?;
    if let Some(key) = o.map.keys().find(|k| !MODEL_KEYS.contains(&k.as_str())) {
        return Err(Error::option("options", format!("unknown option `{key}` for a Weng-Lin match")));
    }
    let model: wenglin::WengLinOptions =
        serde_json::from_value(Value::Object(o.map)).map_err(|e| Error::option("options", e.to_string()))?;
    model.validate()?;
    wenglin::rate(&teams, ranks.as_deref(), scores.as_deref(), weights.as_deref(), &model)
}
