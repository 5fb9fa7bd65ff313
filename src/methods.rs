//! One entry point for the ranking methods beyond Bradley-Terry, shaped for callers (the JS API and the examples
//! share it, so both print the same JSON): battles and a JSON options object in, a leaderboard-like plain object out.
//!
//! Every board has `method`, `battles` and `models` (best first, each with `model`, `rating` and the model's tallies);
//! the method adds its own fields (`tie`, `exploitability`, `groups`, `annotators`, ...). Ratings of log-strength
//! models are on the Elo scale, `init + scale / ln(base) · θ` with θ centred (mean `init`); Weng-Lin's is its
//! ordinal μ − 3σ; Nash's is the win rate against the equilibrium lottery.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::annotators::{lcpo, mixture};
use crate::battles::Battles;
use crate::error::{Error, Result};
use crate::rank::rows::{RowOptions, Rows, Tally};
use crate::rank::{gpm, nash, pl, ties, wenglin};

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
    let (points, base, init) = (o.f64("scale", 400.0)?, o.f64("base", 10.0)?, o.f64("init", 1000.0)?);
    if points <= 0.0 || base <= 1.0 {
        return Err(Error::option("scale", "scale must be positive and base above 1"));
    }
    let scale = Scale { per_nat: points / base.ln(), init };
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
        let mut options = nash::NashBattleOptions::default();
        options.matrix.margins = match o.str("margins")?.as_deref() {
            None | Some("nlhf") => nash::Margins::Nlhf,
            Some("fishburn") => nash::Margins::Fishburn,
            Some(other) => return Err(Error::option("margins", format!("`{other}` is not one of nlhf, fishburn"))),
        };
        options.matrix.alpha = o.f64("alpha", options.matrix.alpha)?;
        // Arena data leave most pairs unobserved; margin 0 there makes the equilibrium non-unique (LLMFAO: any of
        // 31 models can carry mass), so unobserved pairs take Bradley-Terry's prediction unless asked otherwise.
        options.matrix.impute = match o.str("impute")?.as_deref() {
            None | Some("bt") => nash::Impute::Bt,
            Some("half") => nash::Impute::Half,
            Some(other) => return Err(Error::option("impute", format!("`{other}` is not one of bt, half"))),
        };
        options.nash.beta = o.f64("beta", 0.0)?;
        let result = nash::nash(self.battles, &options)?;
        let payoff = nash::payoff(self.battles, &options.matrix)?;
        let n = result.probabilities.len();
        // Win rate against the lottery: ½ + (A x)_i on NLHF margins (≤ ½, = ½ on the support at β = 0).
        let against: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| payoff.matrix[i * n + j] * result.probabilities[j]).sum::<f64>())
            .map(|v| if options.matrix.margins == nash::Margins::Nlhf { 0.5 + v } else { v })
            .collect();
        let mut rows = self.rows(&against, None);
        for row in &mut rows {
            row.probability = Some(result.probabilities[self.battles.model_id(&row.model).unwrap_or(0)]);
        }
        sort(&mut rows, |r| r.probability.unwrap_or(0.0) + 1e-6 * r.rating.clamp(-1e5, 1e5) / 1e5);
        let bt = crate::rank::rank(self.battles, &crate::RankOptions::default())?;
        let mut board = self.board("nash", rows);
        board.exploitability = Some(result.exploitability);
        board.margins = Some(if options.matrix.margins == nash::Margins::Nlhf { "nlhf" } else { "fishburn" }.into());
        board.unique = Some(result.unique);
        board.iterations = Some(result.iterations);
        board.bt_top_exploitability =
            bt.models.first().and_then(|m| self.battles.model_id(&m.model)).map(|m| result.pure_exploitability[m]);
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

fn not_connected(ridge: f64) -> String {
    format!("the comparison graph is not strongly connected (an undefeated or winless model, or separate groups): a ridge of {ridge} keeps every rating finite; models it cannot pin are marked identified: false")
}

/// Sorts rows by `key` descending, ties by model name.
fn sort(rows: &mut [Row], key: impl Fn(&Row) -> f64) {
    rows.sort_by(|p, q| key(q).total_cmp(&key(p)).then_with(|| p.model.cmp(&q.model)));
}

/// A JSON options object read key by key; [`Options::finish`] rejects the keys nobody read.
struct Options {
    map: Map<String, Value>,
}

impl Options {
    fn new(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Ok(Self { map: Map::new() }),
            Value::Object(map) => Ok(Self { map: map.clone() }),
            _ => Err(Error::option("options", "expected an object")),
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    fn f64(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Error::option(key, format!("`{v}` is not a finite number"))),
        }
    }

    fn usize(&mut self, key: &'static str, default: usize) -> Result<usize> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 9e15).map(|x| x as u64))
                .map(|x| x as usize)
                .ok_or_else(|| Error::option(key, format!("`{v}` is not a whole number ≥ 0"))),
        }
    }

    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| Error::option(key, format!("`{v}` is not true or false"))),
        }
    }

    fn str(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::option(key, format!("`{v}` is not a string"))),
        }
    }

    fn finish(self, method: &str) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(Error::option("options", format!("unknown option `{key}` for method {method}"))),
        }
    }
}
