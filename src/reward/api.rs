//! The caller-shaped entry to local reward scoring, as `methods` is to the rankings: heads as JSON text, votes and
//! options as JSON values (unknown keys rejected), results as serialisable structs. The JS layer and the examples
//! call these, so they behave alike.
//!
//! Votes are objects `{"a": row, "b": row, "score": 1 | 0.5 | 0, "weight"?: ω, "user"?: name}`: rows of the
//! embedding matrix, the score of `a` (1 a won, ½ tie, 0 b won).

use serde::Serialize;
use serde_json::Value;

use super::fit::{fit_pairwise, fit_pal, fit_personal, FitOptions, FitReport, PalOptions, PalReport, PersonalOptions};
use super::heads::{Activation, Context, Embeddings, Head};
use super::map::{solve_map, MapOptions, MapSolution};
use super::select::{self, Mixture, RpsChoice, Tagged, WinRate};
use super::Vote;
use crate::error::{Error, Result};
use crate::options::Options;

/// A fitted head (as a JSON value, ready to store) and what the fit did.
#[derive(Clone, Debug, Serialize)]
pub struct Fitted<R> {
    pub head: Value,
    pub report: R,
}

fn head_value(head: &Head) -> Result<Value> {
    serde_json::from_str(&head.to_json()).map_err(|e| Error::Model(e.to_string()))
}

/// The context object `{"prompt"?: [embedding], "user"?: name}`.
fn context(value: &Value) -> Result<(Option<Vec<f32>>, Option<String>)> {
    let mut o = Options::new(value)?;
    let prompt = match o.take("prompt") {
        None => None,
        Some(v) => Some(floats("prompt", &v)?.into_iter().map(|x| x as f32).collect()),
    };
    let user = o.str("user")?;
    o.finish("context")?;
    Ok((prompt, user))
}

fn floats(what: &'static str, v: &Value) -> Result<Vec<f64>> {
    let list = v.as_array().ok_or_else(|| Error::option(what, "expected an array of numbers"))?;
    list.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Error::option(what, format!("value {i} is not a finite number")))
        })
        .collect()
}

fn table(what: &'static str, v: &Value) -> Result<Vec<Vec<f64>>> {
    let rows = v.as_array().ok_or_else(|| Error::option(what, "expected an array of arrays of numbers"))?;
    rows.iter().map(|r| floats(what, r)).collect()
}

/// Votes with their optional users, read from a JSON array.
fn votes(what: &'static str, value: &Value) -> Result<Vec<(Option<String>, Vote)>> {
    let Some(list) = value.as_array() else {
        return Err(Error::option(what, "expected an array of {a, b, score} objects"));
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let bad = |why: &str| Error::option(what, format!("vote {i}: {why}"));
            let row = |k: &str| {
                let x = v.get(k).and_then(Value::as_f64).filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 4e9);
                x.map(|x| x as usize).ok_or_else(|| bad(&format!("`{k}` is not a row index")))
            };
            let number = |k: &str, default: Option<f64>| match v.get(k) {
                None | Some(Value::Null) => default.ok_or_else(|| bad(&format!("`{k}` is missing"))),
                Some(x) => x.as_f64().ok_or_else(|| bad(&format!("`{k}` is not a number"))),
            };
            let user = v.get("user").and_then(Value::as_str).map(str::to_owned);
            let vote = Vote {
                a: row("a")?,
                b: row("b")?,
                score: number("score", None)?,
                weight: number("weight", Some(1.0))?,
            };
            Ok((user, vote))
        })
        .collect()
}

fn plain(votes: Vec<(Option<String>, Vote)>) -> Vec<Vote> {
    votes.into_iter().map(|(_, v)| v).collect()
}

/// Each row's score under `head` (JSON), with the context `{prompt?, user?}`.
///
/// # Errors
/// `MODEL` for a head that does not parse or fit; `INVALID_OPTION` for bad embeddings or context.
pub fn score(head: &str, embeddings: &[f32], context_value: &Value) -> Result<Vec<f64>> {
    let head = Head::from_json(head)?;
    let e = Embeddings::new(embeddings, head.dim()?)?;
    let (prompt, user) = context(context_value)?;
    head.scores(&e, &Context { prompt: prompt.as_deref(), user: user.as_deref() })
}

/// The n × n matrix of P(row i ≻ row j) under `head` (row-major).
///
/// # Errors
/// As [`score`].
pub fn preferences(head: &str, embeddings: &[f32], context_value: &Value) -> Result<Vec<f64>> {
    let head = Head::from_json(head)?;
    let e = Embeddings::new(embeddings, head.dim()?)?;
    let (prompt, user) = context(context_value)?;
    head.preferences(&e, &Context { prompt: prompt.as_deref(), user: user.as_deref() })
}

/// Fits a linear head (or an MLP with `hidden` units) from votes on rows of `embeddings` (`dim` values each).
/// Options: `validation` (votes for early stopping), `l2`, `hidden`, `activation` ("relu" | "gelu"),
/// `maxIterations`, `patience`, `tolerance`, `seed`.
///
/// # Errors
/// `EMPTY` without votes; `INVALID_OPTION` for bad votes, embeddings or options.
pub fn fit(embeddings: &[f32], dim: usize, train: &Value, options: &Value) -> Result<Fitted<FitReport>> {
    let e = Embeddings::new(embeddings, dim)?;
    let mut o = Options::new(options)?;
    let validation = match o.take("validation") {
        None => Vec::new(),
        Some(v) => plain(votes("validation", &v)?),
    };
    let d = FitOptions::default();
    let activation = match o.str("activation")?.as_deref() {
        None | Some("relu") => Activation::Relu,
        Some("gelu") => Activation::Gelu,
        Some(other) => return Err(Error::option("activation", format!("`{other}` is not relu or gelu"))),
    };
    let options = FitOptions {
        l2: o.f64("l2", d.l2)?,
        hidden: o.usize("hidden", d.hidden)?,
        activation,
        max_iterations: o.usize("maxIterations", d.max_iterations)?,
        patience: o.usize("patience", d.patience)?,
        tolerance: o.f64("tolerance", d.tolerance)?,
        seed: o.usize("seed", d.seed as usize)? as u64,
    };
    o.finish("fit")?;
    let (head, report) = fit_pairwise(&e, &plain(votes("votes", train)?), &validation, &options)?;
    Ok(Fitted { head: head_value(&head)?, report })
}

/// PAL few-shot: adds (or refits) `user` on a PAL-A head from that user's votes; only the user's K weights move.
/// Options: `l2`, `maxIterations`.
///
/// # Errors
/// `MODEL` when the head is not PAL-A; as [`fit`] otherwise.
pub fn fit_user(
    head: &str,
    embeddings: &[f32],
    user: &str,
    votes_value: &Value,
    options: &Value,
) -> Result<Fitted<PalReport>> {
    let head = Head::from_json(head)?;
    let dim = head.dim()?;
    let Head::Pal(pal) = head else {
        return Err(Error::Model("a personal fit needs a PAL head (kind `pal`)".into()));
    };
    let e = Embeddings::new(embeddings, dim)?;
    let mut o = Options::new(options)?;
    let d = PersonalOptions::default();
    let options =
        PersonalOptions { l2: o.f64("l2", d.l2)?, max_iterations: o.usize("maxIterations", d.max_iterations)? };
    o.finish("fitUser")?;
    let (pal, report) = fit_personal(&pal, &e, user, &plain(votes("votes", votes_value)?), &options)?;
    Ok(Fitted { head: head_value(&Head::Pal(pal))?, report })
}

/// A whole PAL-A model (K prototypes and every user's weights) from votes that name their `user`.
/// Options: `prototypes`, `iterations`, `learningRate`, `prototypeL2`, `logitL2`, `seed`.
///
/// # Errors
/// `INVALID_OPTION` for a vote without a user, bad votes or options; `EMPTY` without votes.
pub fn fit_pal_model(
    embeddings: &[f32],
    dim: usize,
    votes_value: &Value,
    options: &Value,
) -> Result<Fitted<PalReport>> {
    let e = Embeddings::new(embeddings, dim)?;
    let mut o = Options::new(options)?;
    let d = PalOptions::default();
    let options = PalOptions {
        prototypes: o.usize("prototypes", d.prototypes)?,
        iterations: o.usize("iterations", d.iterations)?,
        learning_rate: o.f64("learningRate", d.learning_rate)?,
        prototype_l2: o.f64("prototypeL2", d.prototype_l2)?,
        logit_l2: o.f64("logitL2", d.logit_l2)?,
        seed: o.usize("seed", d.seed as usize)? as u64,
    };
    o.finish("fitPal")?;
    let mut users: Vec<String> = Vec::new();
    let mut tagged = Vec::new();
    for (i, (user, vote)) in votes("votes", votes_value)?.into_iter().enumerate() {
        let user = user.ok_or_else(|| Error::option("votes", format!("vote {i}: `user` is missing")))?;
        let k = users.iter().position(|u| *u == user).unwrap_or_else(|| {
            users.push(user);
            users.len() - 1
        });
        tagged.push((k, vote));
    }
    let (pal, report) = fit_pal(&e, &users, &tagged, &options)?;
    Ok(Fitted { head: head_value(&Head::Pal(pal))?, report })
}

/// A best-of-N pick: the chosen index and the rule's per-candidate values where it has them.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pick {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixture: Option<Mixture>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rps: Option<RpsChoice>,
}

impl Pick {
    fn index(index: usize) -> Self {
        Self { index, values: None, mixture: None, rps: None }
    }
}

/// Best-of-N (spec 2.9) by `rule`: `max` (`scores`), `direction` (`rewards` N × m, `direction` v), `weighted`
/// (`rewards`, `lambda`), `maxmin` (`rewards`), `spo` / `sppo` (`preferences`, n × n row-major), `nash`
/// (`preferences`), `rps` (`candidates` [{direction, rewards}], `target`). Ties go to the lowest index.
///
/// # Errors
/// `INVALID_OPTION` for an unknown rule, missing or malformed data; `EMPTY` without candidates.
pub fn best_of_n(request: &Value) -> Result<Pick> {
    let mut o = Options::new(request)?;
    let rule = o.str("rule")?.ok_or_else(|| Error::option("rule", "is required"))?;
    let mut need =
        |key: &'static str| o.take(key).ok_or_else(|| Error::option(key, format!("is required by rule `{rule}`")));
    let pick = match rule.as_str() {
        "max" => Pick::index(select::best_score(&floats("scores", &need("scores")?)?)?),
        "direction" => Pick::index(select::best_direction(
            &table("rewards", &need("rewards")?)?,
            &floats("direction", &need("direction")?)?,
        )?),
        "weighted" => Pick::index(select::best_weighted(
            &table("rewards", &need("rewards")?)?,
            &floats("lambda", &need("lambda")?)?,
        )?),
        "maxmin" => Pick::index(select::best_maxmin(&table("rewards", &need("rewards")?)?)?),
        "spo" | "sppo" => {
            let p = floats("preferences", &need("preferences")?)?;
            let n = square(&p)?;
            let rule = if rule == "spo" { WinRate::Spo } else { WinRate::Sppo };
            let values = select::win_rates(&p, n, rule)?;
            Pick { values: Some(values), ..Pick::index(select::best_win_rate(&p, n, rule)?) }
        }
        "nash" => {
            let p = floats("preferences", &need("preferences")?)?;
            let mixture = select::nash_mixture(&p, square(&p)?)?;
            Pick { mixture: Some(mixture.clone()), ..Pick::index(mixture.best) }
        }
        "rps" => {
            let list = need("candidates")?;
            let candidates = list
                .as_array()
                .ok_or_else(|| Error::option("candidates", "expected an array of {direction, rewards}"))?
                .iter()
                .map(|c| {
                    Ok(Tagged {
                        direction: floats("candidates", c.get("direction").unwrap_or(&Value::Null))?,
                        rewards: floats("candidates", c.get("rewards").unwrap_or(&Value::Null))?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let choice = select::select_rps(&candidates, &floats("target", &need("target")?)?)?;
            Pick { rps: Some(choice.clone()), ..Pick::index(choice.index) }
        }
        other => {
            return Err(Error::option(
                "rule",
                format!("`{other}` is not max, direction, weighted, maxmin, spo, sppo, nash or rps"),
            ))
        }
    };
    o.finish("bestOfN")?;
    Ok(pick)
}

fn square(p: &[f64]) -> Result<usize> {
    let n = (p.len() as f64).sqrt().round() as usize;
    if n * n == p.len() {
        Ok(n)
    } else {
        Err(Error::option("preferences", format!("{} values do not make a square matrix", p.len())))
    }
}

/// MAP's palette (spec 2.4): `rewards` (m reward functions × N samples), `palette` c (m targets); options
/// `tolerance`, `maxIterations`.
///
/// # Errors
/// `INVALID_OPTION` for malformed input or an unreachable palette.
pub fn map_palette(rewards: &Value, palette: &Value, options: &Value) -> Result<MapSolution> {
    let mut o = Options::new(options)?;
    let d = MapOptions::default();
    let options = MapOptions {
        tolerance: o.f64("tolerance", d.tolerance)?,
        max_iterations: o.usize("maxIterations", d.max_iterations)?,
    };
    o.finish("mapPalette")?;
    solve_map(&table("rewards", rewards)?, &floats("palette", palette)?, &options)
}
