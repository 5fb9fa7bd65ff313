//! JS options objects (camelCase) to core options. Unknown keys are errors, so a typo never passes silently.

use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

use super::js_error;
use crate::battles::{BothBad, Columns, Labels, ParseOptions};
use crate::rank::{Ci, Identify, Method, RankOptions};
use crate::Error;

fn from_js<T: for<'de> Deserialize<'de> + Default>(value: JsValue, what: &'static str) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| js_error(&Error::option(what, e.to_string())))
}

/// serde-wasm-bindgen reads only the fields a struct declares, so unknown keys are checked here: a typo such as
/// `{cii: 'bootstrap'}` must fail, not silently fall back to a default.
fn check_keys(value: &JsValue, allowed: &[&str], what: &'static str) -> Result<(), JsValue> {
    if !value.is_object() {
        return if value.is_undefined() || value.is_null() {
            Ok(())
        } else {
            Err(js_error(&Error::option(what, "expected an object")))
        };
    }
    let object: &js_sys::Object = value.unchecked_ref();
    for key in js_sys::Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            let why = format!("unknown option `{key}` (expected one of {})", allowed.join(", "));
            return Err(js_error(&Error::option(what, why)));
        }
        if let Some(nested) = nested_keys(&key) {
            let inner = js_sys::Reflect::get(value, &JsValue::from_str(&key)).unwrap_or(JsValue::UNDEFINED);
            check_keys(&inner, nested, what)?;
        }
    }
    Ok(())
}

fn nested_keys(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "columns" => Some(&["modelA", "modelB", "winner", "count", "weight", "id", "judge", "category", "tstamp"]),
        "labels" => Some(&["a", "b", "tie", "bothBad"]),
        "anchor" => Some(&["model", "value"]),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsParse {
    format: Option<String>,
    columns: Option<Columns>,
    labels: Option<Labels>,
    skip_invalid: Option<bool>,
    style: Option<bool>,
}

pub(super) fn parse_options(value: JsValue) -> Result<ParseOptions, JsValue> {
    check_keys(&value, &["format", "columns", "labels", "skipInvalid", "style"], "parse options")?;
    let js: JsParse = from_js(value, "parse options")?;
    let mut o = ParseOptions::default();
    if let Some(f) = js.format {
        o.format = f.parse().map_err(|e| js_error(&e))?;
    }
    o.columns = js.columns.unwrap_or_default();
    o.labels = js.labels.unwrap_or_default();
    o.skip_invalid = js.skip_invalid.unwrap_or(false);
    o.style = js.style.unwrap_or(false);
    Ok(o)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsRank {
    method: Option<String>,
    ci: Option<String>,
    rounds: Option<u32>,
    seed: Option<f64>,
    level: Option<f64>,
    scale: Option<f64>,
    base: Option<f64>,
    init: Option<f64>,
    anchor: Option<JsAnchor>,
    baseline: Option<String>,
    ridge: Option<f64>,
    hessian_reg: Option<f64>,
    tolerance: Option<f64>,
    k: Option<f64>,
    both_bad: Option<String>,
    reweighted: Option<bool>,
    min_pair_count: Option<f64>,
    style: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsAnchor {
    model: String,
    value: f64,
}

pub(super) fn rank_options(value: JsValue) -> Result<RankOptions, JsValue> {
    const KEYS: &[&str] = &[
        "method",
        "ci",
        "rounds",
        "seed",
        "level",
        "scale",
        "base",
        "init",
        "anchor",
        "baseline",
        "ridge",
        "hessianReg",
        "tolerance",
        "k",
        "bothBad",
        "reweighted",
        "minPairCount",
        "style",
    ];
    check_keys(&value, KEYS, "rank options")?;
    let js: JsRank = from_js(value, "rank options")?;
    rank_from(js).map_err(|e| js_error(&e))
}

fn rank_from(js: JsRank) -> crate::Result<RankOptions> {
    let mut o = RankOptions::default();
    if let Some(m) = js.method {
        o.method = match m.as_str() {
            "bt" => Method::Bt,
            "elo" => Method::Elo,
            _ => return Err(Error::option("method", format!("`{m}` is not one of bt, elo"))),
        };
    }
    if let Some(c) = js.ci {
        o.ci = match c.as_str() {
            "none" => Ci::None,
            "sandwich" => Ci::Sandwich,
            "bootstrap" => Ci::Bootstrap,
            _ => return Err(Error::option("ci", format!("`{c}` is not one of none, sandwich, bootstrap"))),
        };
    }
    if let Some(seed) = js.seed {
        if !(seed.is_finite() && seed >= 0.0 && seed.fract() == 0.0 && seed <= 9_007_199_254_740_991.0) {
            return Err(Error::option("seed", "must be a whole number from 0 to 2^53 − 1"));
        }
        o.seed = seed as u64;
    }
    match (js.anchor, js.baseline) {
        (Some(_), Some(_)) => return Err(Error::option("anchor", "give either anchor or baseline, not both")),
        (Some(a), None) => o.identify = Identify::Anchor { model: a.model, value: a.value },
        (None, Some(model)) => o.identify = Identify::Baseline { model },
        (None, None) => {}
    }
    if let Some(b) = js.both_bad {
        o.rows.both_bad = match b.as_str() {
            "tie" => BothBad::Tie,
            "exclude" => BothBad::Exclude,
            _ => return Err(Error::option("bothBad", format!("`{b}` is not one of tie, exclude"))),
        };
    }
    o.rounds = js.rounds.unwrap_or(o.rounds);
    o.level = js.level.unwrap_or(o.level);
    o.scale = js.scale.unwrap_or(o.scale);
    o.base = js.base.unwrap_or(o.base);
    o.init = js.init.unwrap_or(o.init);
    o.ridge = js.ridge.unwrap_or(o.ridge);
    o.hessian_reg = js.hessian_reg.unwrap_or(o.hessian_reg);
    o.tolerance = js.tolerance.unwrap_or(o.tolerance);
    o.k = js.k.unwrap_or(o.k);
    o.rows.reweighted = js.reweighted.unwrap_or(false);
    o.rows.min_pair_count = js.min_pair_count.unwrap_or(o.rows.min_pair_count);
    o.style = js.style.map(|s| s.parse()).transpose()?;
    Ok(o)
}
