//! The methods beyond Bradley-Terry: options objects become JSON, the core's `methods` does the work, results come
//! back as plain objects. Nothing here but conversions.

use wasm_bindgen::prelude::*;

use super::{js_error, to_js, JsBattles};
use crate::{methods, Error};

/// A JS value as JSON (`undefined`/`null` → `null`): options objects, observation lists.
pub(super) fn json(value: JsValue, what: &'static str) -> Result<serde_json::Value, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(serde_json::Value::Null);
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| js_error(&Error::option(what, e.to_string())))
}

pub(super) fn out<T: serde::Serialize>(result: crate::Result<T>) -> Result<JsValue, JsValue> {
    result.map_err(|e| js_error(&e)).and_then(|v| to_js(&v))
}

/// Runs a method of `methods::METHODS` on battles with an options object.
#[wasm_bindgen(js_name = rawAnalyze)]
pub fn analyze(battles: &JsBattles, method: &str, options: JsValue) -> Result<JsValue, JsValue> {
    let options = json(options, "options")?;
    out(methods::run(&battles.inner, method, &options))
}

/// Plackett-Luce on rankings (arrays of names, best first) and top-1 choices (`{chosen, among}`).
#[wasm_bindgen(js_name = rawPlackettLuce)]
pub fn plackett_luce(observations: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let observations = json(observations, "observations")?;
    let options = json(options, "options")?;
    out(methods::plackett_luce(&observations, &options))
}

/// Agreement of a judge's verdicts with human votes on the same items (CapArena).
#[wasm_bindgen(js_name = rawJudgeAgreement)]
pub fn judge_agreement(human: &JsBattles, judge: &JsBattles, options: JsValue) -> Result<JsValue, JsValue> {
    let options = super::options::rank_options(options)?;
    out(crate::judge::agreement(&human.inner, &judge.inner, &options))
}

// wasm-bindgen hands JS string arrays over as owned vectors.
#[allow(clippy::needless_pass_by_value)]
/// CapArena-Auto's net-win score of `model` against `baselines`.
#[wasm_bindgen(js_name = rawNetWinScore)]
pub fn net_win_score(battles: &JsBattles, model: &str, baselines: Vec<String>) -> Result<JsValue, JsValue> {
    out(crate::judge::net_win_score(&battles.inner, model, &baselines))
}

/// Dawid-Skene consensus over items judged several times.
#[wasm_bindgen(js_name = rawDawidSkene)]
pub fn dawid_skene(battles: &JsBattles) -> Result<JsValue, JsValue> {
    out(methods::dawid_skene(&battles.inner))
}

/// Preference strength (mean and spread of the votes) per item.
#[wasm_bindgen(js_name = rawPreferenceStrength)]
pub fn preference_strength(battles: &JsBattles) -> Result<JsValue, JsValue> {
    out(methods::strength(&battles.inner))
}

/// One Weng-Lin match: teams of `{mu, sigma}`, options `{model, ranks, scores, weights, mu, sigma, beta, ...}`.
#[wasm_bindgen(js_name = rawWengLinRate)]
pub fn weng_lin_rate(teams: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let teams = json(teams, "teams")?;
    let options = json(options, "options")?;
    out(methods::weng_lin_match(&teams, &options))
}

/// The skew-symmetric payoff matrix `nash` solves: `{margins, alpha, impute}`.
#[wasm_bindgen(js_name = rawPreferenceMatrix)]
pub fn preference_matrix(battles: &JsBattles, options: JsValue) -> Result<JsValue, JsValue> {
    let options = json(options, "options")?;
    out(methods::payoff(&battles.inner, &options))
}

/// The Nash equilibrium of a skew-symmetric payoff matrix (n×n, row-major): exact, or extragradient with KL
/// strength `beta` towards `mu` (default uniform).
#[wasm_bindgen(js_name = rawNashMatrix)]
pub fn nash_matrix(matrix: &[f64], n: usize, beta: f64, mu: Option<Vec<f64>>, exact: bool) -> Result<JsValue, JsValue> {
    use crate::rank::nash;
    if exact {
        return out(nash::solve_exact(matrix, n));
    }
    out(nash::solve(matrix, n, &nash::NashOptions { beta, mu, ..nash::NashOptions::default() }))
}

/// A pair sampler for an arena client (long-lived: `free()`).
#[wasm_bindgen(js_name = RawPairSampler)]
pub struct JsPairSampler {
    inner: methods::ArenaSampler,
}

#[wasm_bindgen(js_class = RawPairSampler)]
impl JsPairSampler {
    #[wasm_bindgen(constructor)]
    #[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands JS string arrays over as owned vectors
    pub fn new(models: Vec<String>, options: JsValue) -> Result<JsPairSampler, JsValue> {
        let options = json(options, "options")?;
        methods::ArenaSampler::new(&models, &options).map(|inner| JsPairSampler { inner }).map_err(|e| js_error(&e))
    }

    /// The next pair as two model indices.
    pub fn next(&mut self) -> Result<Vec<u32>, JsValue> {
        let (a, b) = self.inner.next_pair().map_err(|e| js_error(&e))?;
        Ok(vec![a as u32, b as u32])
    }

    /// Reports a vote: `score` is model a's result (1, ½, 0).
    pub fn observe(&mut self, a: usize, b: usize, score: f64) -> Result<(), JsValue> {
        self.inner.observe(a, b, score).map_err(|e| js_error(&e))
    }
}

/// Simulates an arena with known ratings until the intervals are narrow enough.
#[wasm_bindgen(js_name = rawSimulateSampling)]
pub fn simulate_sampling(options: JsValue) -> Result<JsValue, JsValue> {
    let options = json(options, "options")?;
    out(methods::simulate(&options))
}

/// Judges collected for a Nash equilibrium against their weighted population (MNPO): `add(battles, weight)` copies
/// each judge's battles; `solve(options)` returns the board. Long-lived: `free()`.
#[wasm_bindgen(js_name = RawPopulation)]
#[derive(Default)]
pub struct JsPopulation {
    judges: Vec<(crate::Battles, f64)>,
}

#[wasm_bindgen(js_class = RawPopulation)]
impl JsPopulation {
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsPopulation {
        JsPopulation::default()
    }

    pub fn add(&mut self, battles: &JsBattles, weight: f64) {
        self.judges.push((battles.inner.clone(), weight));
    }

    pub fn solve(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let options = json(options, "options")?;
        let judges: Vec<(&crate::Battles, f64)> = self.judges.iter().map(|(b, w)| (b, *w)).collect();
        out(methods::nash_population(&judges, &options))
    }
}
