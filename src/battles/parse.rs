//! Parsers for battle files: a JSON array or JSONL of records, CSV with a column and label mapping, and aggregated
//! count tables. Records are read with a streaming serde visitor that keeps only the mapped fields, so LMArena
//! records with long conversations cost no more than their model names.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{style, Battles, Outcome};
use crate::error::{Error, Location};

/// The file format. `Auto` looks at the first character: `[` JSON, `{` JSONL, anything else CSV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Guess from the first non-blank character.
    #[default]
    Auto,
    /// One JSON array of records.
    Json,
    /// One JSON record per line; blank lines are ignored.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// CSV of aggregated rows with a `count` column (required).
    Counts,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Ok(match s {
            "auto" => Format::Auto,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "csv" => Format::Csv,
            "counts" => Format::Counts,
            _ => return Err(Error::option("format", format!("`{s}` is not one of auto, json, jsonl, csv, counts"))),
        })
    }
}

/// Which field (JSON key or CSV column) holds what. Deserialises from camelCase keys, missing ones defaulted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Columns {
    /// Side A's model (default `model_a`).
    pub model_a: String,
    /// Side B's model (default `model_b`).
    pub model_b: String,
    /// The verdict (default `winner`; `outcome` is accepted when `winner` is absent).
    pub winner: String,
    /// Number of identical battles a row stands for (default `count`).
    pub count: String,
    /// Optional per-row weight (default `weight`).
    pub weight: String,
    /// Optional item id (default `id`).
    pub id: String,
    /// Optional annotator (default `judge`).
    pub judge: String,
    /// Optional category (default `category`).
    pub category: String,
    /// Optional timestamp (default `tstamp`).
    pub tstamp: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self {
            model_a: "model_a".into(),
            model_b: "model_b".into(),
            winner: "winner".into(),
            count: "count".into(),
            weight: "weight".into(),
            id: "id".into(),
            judge: "judge".into(),
            category: "category".into(),
            tstamp: "tstamp".into(),
        }
    }
}

/// Winner labels for each outcome. The names of the A and B columns always count as A and B labels too, so LLMFAO's
/// `left,right,winner` with winner in {left, right, tie} needs only the column mapping. Deserialises like
/// [`Columns`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Labels {
    /// Labels meaning "A won" (default `model_a`).
    pub a: Vec<String>,
    /// Labels meaning "B won" (default `model_b`).
    pub b: Vec<String>,
    /// Labels meaning a tie (default `tie`).
    pub tie: Vec<String>,
    /// Labels meaning a tie where both were bad (default `tie (bothbad)`).
    pub both_bad: Vec<String>,
}

impl Default for Labels {
    fn default() -> Self {
        Self {
            a: vec!["model_a".into()],
            b: vec!["model_b".into()],
            tie: vec!["tie".into()],
            both_bad: vec!["tie (bothbad)".into()],
        }
    }
}

/// How to read a battle file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The file format.
    pub format: Format,
    /// Field names.
    pub columns: Columns,
    /// Winner labels.
    pub labels: Labels,
    /// Skip invalid rows (and report them in [`Battles::skipped`]) instead of failing on the first.
    pub skip_invalid: bool,
    /// Read per-battle covariates for style control (JSON and JSONL only), from the first source a record has:
    /// `features_a`/`features_b` (objects of name → number per side), else LMArena's `conv_metadata` counts, else
    /// the style counts of `conversation_a`/`conversation_b` (message lists) or `response_a`/`response_b` (strings).
    /// Per-side values become d = (a − b)/(a + b + 1). A per-battle `features` object is added as given. Every
    /// record must have the same covariate names.
    pub style: bool,
}

/// A row left out by `skip_invalid`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Skipped {
    /// Line (JSONL, CSV) or element number (JSON array), from 1.
    pub row: usize,
    /// The error code, as [`Error::code`].
    pub code: &'static str,
    /// The error message.
    pub message: String,
}

/// One record's mapped fields, before validation.
#[derive(Default)]
struct Raw<'a> {
    a: Option<Cow<'a, str>>,
    b: Option<Cow<'a, str>>,
    winner: Option<Cow<'a, str>>,
    count: Option<Cow<'a, str>>,
    weight: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    judge: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
    tstamp: Option<Cow<'a, str>>,
    /// Covariate sources (only read when `style` is set).
    cov: Option<Box<RawCovariates>>,
}

/// A record's covariate sources. Texts are reduced to their style counts as they are read, so a record never holds
/// its conversations.
#[derive(Default)]
struct RawCovariates {
    /// Style counts of side A and B, from `response_*` or `conversation_*`.
    counts: [Option<[f64; 4]>; 2],
    metadata: Option<serde_json::Value>,
    given: [Option<serde_json::Value>; 2],
    features: Option<serde_json::Value>,
}

#[derive(Clone, Copy)]
enum Slot {
    A,
    B,
    Winner,
    Count,
    Weight,
    Id,
    Judge,
    Category,
    Tstamp,
}

impl<'a> Raw<'a> {
    /// Stores a field; empty (or blank) values count as absent.
    fn set(&mut self, slot: Slot, value: Cow<'a, str>) {
        if value.trim().is_empty() {
            return;
        }
        let field = match slot {
            Slot::A => &mut self.a,
            Slot::B => &mut self.b,
            Slot::Winner => &mut self.winner,
            Slot::Count => &mut self.count,
            Slot::Weight => &mut self.weight,
            Slot::Id => &mut self.id,
            Slot::Judge => &mut self.judge,
            Slot::Category => &mut self.category,
            Slot::Tstamp => &mut self.tstamp,
        };
        *field = Some(value);
    }
}

impl Columns {
    fn slot(&self, key: &str) -> Option<Slot> {
        let pairs = [
            (&self.model_a, Slot::A),
            (&self.model_b, Slot::B),
            (&self.winner, Slot::Winner),
            (&self.count, Slot::Count),
            (&self.weight, Slot::Weight),
            (&self.id, Slot::Id),
            (&self.judge, Slot::Judge),
            (&self.category, Slot::Category),
            (&self.tstamp, Slot::Tstamp),
        ];
        if let Some((_, slot)) = pairs.into_iter().find(|(name, _)| name.as_str() == key) {
            return Some(slot);
        }
        (key == "outcome" && self.winner == "winner").then_some(Slot::Winner)
    }
}

pub(super) fn parse(text: &str, options: &ParseOptions) -> crate::Result<Battles> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match options.format {
        Format::Auto => match text.trim_start().chars().next() {
            Some('[') => Format::Json,
            Some('{') => Format::Jsonl,
            _ => Format::Csv,
        },
        f => f,
    };
    let mut sink = Sink::new(options, Battles::new());
    if text.trim().is_empty() {
        return Ok(sink.battles);
    }
    if options.style && !matches!(format, Format::Json | Format::Jsonl) {
        return Err(Error::option("style", "covariates are read from JSON or JSONL records, not CSV"));
    }
    match format {
        Format::Json => parse_json(text, &mut sink)?,
        Format::Jsonl => parse_jsonl(text, 0, &mut sink)?,
        Format::Csv | Format::Counts | Format::Auto => parse_csv(text, format == Format::Counts, &mut sink)?,
    }
    if format == Format::Jsonl {
        sink.battles.lines = text.lines().count();
    }
    Ok(sink.battles)
}

/// Appends the JSONL records of `text` (whole lines) to `battles`; rows are numbered from the first chunk's first
/// line. All or nothing: on an error `battles` is left as it was.
pub(super) fn append_jsonl(battles: &mut Battles, text: &str, options: &ParseOptions) -> crate::Result<()> {
    if !matches!(options.format, Format::Auto | Format::Jsonl) {
        return Err(Error::option("format", "appending reads JSONL chunks only"));
    }
    let text = if battles.lines == 0 { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
    let mark = battles.mark();
    let offset = battles.lines;
    battles.reserve(text.bytes().filter(|&c| c == b'\n').count() + 1);
    let mut sink = Sink::new(options, std::mem::take(battles));
    let result = parse_jsonl(text, offset, &mut sink);
    *battles = sink.battles;
    match result {
        Ok(()) => {
            battles.lines = offset + text.lines().count();
            Ok(())
        }
        Err(e) => {
            battles.rollback(mark);
            Err(e)
        }
    }
}

/// Validates raw records and appends them, or records why they were skipped.
struct Sink<'o> {
    options: &'o ParseOptions,
    battles: Battles,
}

impl<'o> Sink<'o> {
    fn new(options: &'o ParseOptions, battles: Battles) -> Self {
        Self { options, battles }
    }

    /// Handles a per-row failure: fail, or note and skip.
    fn fail(&mut self, err: Error) -> crate::Result<()> {
        if self.options.skip_invalid {
            let row = err.row().unwrap_or(0);
            self.battles.skipped.push(Skipped { row, code: err.code(), message: err.to_string() });
            Ok(())
        } else {
            Err(err)
        }
    }

    fn add(&mut self, raw: &Raw<'_>, row: usize) -> crate::Result<()> {
        match self.validate(raw, row) {
            Ok(()) => Ok(()),
            Err(err) => self.fail(err),
        }
    }

    fn validate<'r>(&mut self, raw: &'r Raw<'_>, row: usize) -> crate::Result<()> {
        let cols = &self.options.columns;
        let at = |field: &str| Location { row, field: Some(field.to_owned()) };
        let required = |value: &'r Option<Cow<'_, str>>, field: &str| -> crate::Result<&'r str> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(Error::MissingField { at: at(field) }),
            }
        };
        let a = required(&raw.a, &cols.model_a)?;
        let b = required(&raw.b, &cols.model_b)?;
        let label = required(&raw.winner, &cols.winner)?;
        let outcome = self.outcome(label).ok_or_else(|| Error::UnknownLabel {
            at: at(&cols.winner),
            label: label.to_owned(),
            expected: self.expected_labels(),
        })?;
        if a == b {
            return Err(Error::SelfBattle { at: at(&cols.model_b), model: a.to_owned() });
        }
        let count = match raw.count.as_deref() {
            None => 1,
            Some(v) => parse_count(v).ok_or_else(|| Error::InvalidNumber {
                at: at(&cols.count),
                value: v.to_owned(),
                why: "a count must be a whole number from 0 to 4294967295",
            })?,
        };
        let weight = match raw.weight.as_deref() {
            None => None,
            Some(v) => Some(parse_positive(v).ok_or_else(|| Error::InvalidNumber {
                at: at(&cols.weight),
                value: v.to_owned(),
                why: "a weight must be a finite number > 0",
            })?),
        };
        let tstamp = match raw.tstamp.as_deref() {
            None => None,
            Some(v) => {
                Some(v.trim().parse::<f64>().ok().filter(|t| t.is_finite()).ok_or_else(|| Error::InvalidNumber {
                    at: at(&cols.tstamp),
                    value: v.to_owned(),
                    why: "a timestamp must be a finite number",
                })?)
            }
        };
        let covariates = if self.options.style { Some(covariates(raw.cov.as_deref(), row)?) } else { None };
        let battles = &mut self.battles;
        if let Some((names, _)) = &covariates {
            battles.check_covariate_names(names, row)?;
        }
        let i = battles.push(a, b, outcome, count)?;
        if let Some((names, values)) = covariates {
            battles.push_covariates(names, &values);
        }
        if let Some(w) = weight {
            battles.weight.get_or_insert_with(|| vec![1.0; i + 1])[i] = w;
        }
        set_text(&mut battles.id, i, raw.id.as_deref());
        set_text(&mut battles.judge, i, raw.judge.as_deref());
        set_text(&mut battles.category, i, raw.category.as_deref());
        if let Some(t) = tstamp {
            battles.tstamp.get_or_insert_with(|| vec![None; i + 1])[i] = Some(t);
        }
        Ok(())
    }

    fn outcome(&self, label: &str) -> Option<Outcome> {
        let (labels, cols) = (&self.options.labels, &self.options.columns);
        let is = |list: &[String]| list.iter().any(|l| l == label);
        if is(&labels.a) || label == cols.model_a {
            Some(Outcome::A)
        } else if is(&labels.b) || label == cols.model_b {
            Some(Outcome::B)
        } else if is(&labels.tie) {
            Some(Outcome::Tie)
        } else if is(&labels.both_bad) {
            Some(Outcome::BothBad)
        } else {
            None
        }
    }

    fn expected_labels(&self) -> String {
        let (labels, cols) = (&self.options.labels, &self.options.columns);
        let mut all: Vec<&str> = Vec::new();
        for l in labels.a.iter().chain([&cols.model_a]).chain(&labels.b).chain([&cols.model_b]) {
            if !all.contains(&l.as_str()) {
                all.push(l);
            }
        }
        all.extend(labels.tie.iter().chain(&labels.both_bad).map(String::as_str));
        all.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
    }
}

fn set_text(column: &mut Option<Vec<Option<String>>>, i: usize, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        column.get_or_insert_with(|| vec![None; i + 1])[i] = Some(v.to_owned());
    }
}

fn parse_count(v: &str) -> Option<u32> {
    let x: f64 = v.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX)).then_some(x as u32)
}

fn parse_positive(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0)
}

// ---------------------------------------------------------------------------------------------------------------
// JSON and JSONL

fn parse_jsonl(text: &str, offset: usize, sink: &mut Sink<'_>) -> crate::Result<()> {
    for (n, line) in text.lines().enumerate() {
        let row = offset + n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = RecordSeed { columns: &sink.options.columns, style: sink.options.style }
            .deserialize(&mut de)
            .and_then(|raw| {
                de.end()?;
                Ok(raw)
            });
        match parsed {
            Ok(raw) => sink.add(&raw, row)?,
            Err(e) => sink.fail(json_error(&e, row))?,
        }
    }
    Ok(())
}

fn json_error(e: &serde_json::Error, row: usize) -> Error {
    Error::Parse { at: Location { row, field: None }, message: format!("invalid JSON: {e}") }
}

fn parse_json(text: &str, sink: &mut Sink<'_>) -> crate::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    let records =
        ArraySeed { columns: &sink.options.columns, style: sink.options.style }.deserialize(&mut de).and_then(|r| {
            de.end()?;
            Ok(r)
        });
    // A syntax error in a JSON array cannot be skipped: the parser cannot find the next element.
    let records = records.map_err(|e| Error::Parse {
        at: Location { row: 0, field: None },
        message: format!("invalid JSON array at line {} column {}: {e}", e.line(), e.column()),
    })?;
    for (n, raw) in records.iter().enumerate() {
        sink.add(raw, n + 1)?;
    }
    Ok(())
}

struct ArraySeed<'c> {
    columns: &'c Columns,
    style: bool,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_> {
    type Value = Vec<Raw<'de>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_> {
    type Value = Vec<Raw<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of battle records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(raw) = seq.next_element_seed(RecordSeed { columns: self.columns, style: self.style })? {
            out.push(raw);
        }
        Ok(out)
    }
}

struct RecordSeed<'c> {
    columns: &'c Columns,
    style: bool,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Raw<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Raw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a battle record (a JSON object)")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut raw = Raw::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if self.style && read_covariate(&key, &mut map, &mut raw)? {
                continue;
            }
            match self.columns.slot(&key) {
                Some(slot) => {
                    if let Scalar(Some(v)) = map.next_value()? {
                        raw.set(slot, v);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// Reads a covariate source if `key` names one. Returns false for other keys.
fn read_covariate<'de, M: MapAccess<'de>>(key: &str, map: &mut M, raw: &mut Raw<'de>) -> Result<bool, M::Error> {
    let side = |k: &str| usize::from(k.ends_with("_b"));
    let cov = || RawCovariates::default();
    match key {
        "response_a" | "response_b" => {
            if let Scalar(Some(text)) = map.next_value()? {
                raw.cov.get_or_insert_with(|| Box::new(cov())).counts[side(key)] = Some(style::counts([&*text]));
            }
        }
        "conversation_a" | "conversation_b" => {
            let messages: Vec<Message> = map.next_value()?;
            let assistant = messages.iter().filter(|m| m.role == "assistant").filter_map(|m| m.text());
            let counts = style::counts(assistant.collect::<Vec<_>>());
            raw.cov.get_or_insert_with(|| Box::new(cov())).counts[side(key)] = Some(counts);
        }
        "conv_metadata" => raw.cov.get_or_insert_with(|| Box::new(cov())).metadata = Some(map.next_value()?),
        "features_a" | "features_b" => {
            raw.cov.get_or_insert_with(|| Box::new(cov())).given[side(key)] = Some(map.next_value()?);
        }
        "features" => raw.cov.get_or_insert_with(|| Box::new(cov())).features = Some(map.next_value()?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// One message of an LMArena conversation. Multimodal content (a list) contributes its text parts.
#[derive(serde::Deserialize)]
struct Message {
    #[serde(default)]
    role: String,
    #[serde(default)]
    content: serde_json::Value,
}

impl Message {
    fn text(&self) -> Option<&str> {
        match &self.content {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Array(parts) => parts.iter().find_map(serde_json::Value::as_str),
            _ => None,
        }
    }
}

/// The covariate names and values of one record (see [`ParseOptions::style`]).
fn covariates(cov: Option<&RawCovariates>, row: usize) -> crate::Result<(Vec<String>, Vec<f64>)> {
    let at = |field: &str| Location { row, field: Some(field.to_owned()) };
    let missing = |field: &str| Error::MissingField { at: at(field) };
    let empty = RawCovariates::default();
    let cov = cov.unwrap_or(&empty);
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut add_ratio = |name: &str, a: f64, b: f64, field: &str| -> crate::Result<()> {
        let d = style::ratio(a, b).ok_or_else(|| Error::InvalidNumber {
            at: at(field),
            value: format!("a = {a}, b = {b}"),
            why: "the ratio (a − b)/(a + b + 1) is not finite",
        })?;
        names.push(name.to_owned());
        values.push(d);
        Ok(())
    };
    if cov.given.iter().any(Option::is_some) {
        let a = numbers(cov.given[0].as_ref().ok_or_else(|| missing("features_a"))?, "features_a", row)?;
        let b = numbers(cov.given[1].as_ref().ok_or_else(|| missing("features_b"))?, "features_b", row)?;
        for (name, x) in &a {
            let y = b.iter().find(|(n, _)| n == name).ok_or_else(|| missing(&format!("features_b.{name}")))?.1;
            add_ratio(name, *x, y, &format!("features_a.{name}"))?;
        }
        if let Some((name, _)) = b.iter().find(|(n, _)| !a.iter().any(|(m, _)| m == n)) {
            return Err(missing(&format!("features_a.{name}")));
        }
    } else if let Some(meta) = &cov.metadata {
        for (k, name) in style::STYLE_FEATURES.iter().enumerate() {
            let [a, b] = ["a", "b"].map(|s| metadata_count(meta, k, s, row));
            add_ratio(name, a?, b?, "conv_metadata")?;
        }
    } else if cov.counts.iter().any(Option::is_some) {
        let side = |s: usize| cov.counts[s].ok_or_else(|| missing(["response_a", "response_b"][s]));
        let (a, b) = (side(0)?, side(1)?);
        for (k, name) in style::STYLE_FEATURES.iter().enumerate() {
            add_ratio(name, a[k], b[k], "response_a")?;
        }
    }
    if let Some(f) = &cov.features {
        for (name, x) in numbers(f, "features", row)? {
            names.push(name);
            values.push(x);
        }
    }
    if names.is_empty() {
        return Err(missing("response_a"));
    }
    Ok((names, values))
}

/// An object of name → finite number, in key order.
fn numbers(value: &serde_json::Value, field: &str, row: usize) -> crate::Result<Vec<(String, f64)>> {
    let at = |f: String| Location { row, field: Some(f) };
    let object = value.as_object().ok_or_else(|| Error::Parse {
        at: at(field.to_owned()),
        message: "expected an object of name → number".into(),
    })?;
    object
        .iter()
        .map(|(name, v)| match v.as_f64().filter(|x| x.is_finite()) {
            Some(x) => Ok((name.clone(), x)),
            None => Err(Error::InvalidNumber {
                at: at(format!("{field}.{name}")),
                value: v.to_string(),
                why: "a feature must be a finite number",
            }),
        })
        .collect()
}

/// LMArena's `conv_metadata` count of style feature `k` for side `s` ("a" or "b"): a number, or an object of
/// numbers that is summed (e.g. `header_count_a: {"h1": 2, "h2": 0, ...}`).
fn metadata_count(meta: &serde_json::Value, k: usize, s: &str, row: usize) -> crate::Result<f64> {
    let key = match k {
        0 => format!("sum_assistant_{s}_tokens"),
        _ => format!("{}_{s}", style::STYLE_FEATURES[k]),
    };
    let field = format!("conv_metadata.{key}");
    let value =
        meta.get(&key).ok_or_else(|| Error::MissingField { at: Location { row, field: Some(field.clone()) } })?;
    let bad = || Error::InvalidNumber {
        at: Location { row, field: Some(field.clone()) },
        value: value.to_string(),
        why: "a style count must be a number or an object of numbers",
    };
    match value {
        serde_json::Value::Object(parts) => {
            parts.values().map(|v| v.as_f64().filter(|x| x.is_finite()).ok_or_else(bad)).sum()
        }
        v => v.as_f64().filter(|x| x.is_finite()).ok_or_else(bad),
    }
}

/// A JSON string, number or boolean as text; `null` as `None`.
struct Scalar<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

fn parse_csv(text: &str, counts: bool, sink: &mut Sink<'_>) -> crate::Result<()> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header_error = |e: &csv::Error| Error::Parse { at: Location { row: 1, field: None }, message: e.to_string() };
    let headers = reader.headers().map_err(|e| header_error(&e))?.clone();
    let columns = &sink.options.columns;
    let slots: Vec<Option<Slot>> = headers.iter().map(|h| columns.slot(h)).collect();
    for (name, slot) in [(&columns.model_a, Slot::A), (&columns.model_b, Slot::B), (&columns.winner, Slot::Winner)] {
        if !slots.iter().any(|s| s.is_some_and(|s| s as u8 == slot as u8)) {
            return Err(Error::MissingField { at: Location { row: 1, field: Some(name.clone()) } });
        }
    }
    if counts && !slots.iter().any(|s| matches!(s, Some(Slot::Count))) {
        return Err(Error::MissingField { at: Location { row: 1, field: Some(columns.count.clone()) } });
    }
    let mut record = csv::StringRecord::new();
    loop {
        let row = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                // csv reports the line where the record starts; blank lines are skipped by the reader.
                let row = record.position().map_or(row, |p| p.line() as usize);
                let mut raw = Raw::default();
                for (field, slot) in record.iter().zip(&slots) {
                    if let Some(slot) = *slot {
                        raw.set(slot, Cow::Borrowed(field));
                    }
                }
                sink.add(&raw, row)?;
            }
            Err(e) => {
                let row = e.position().map_or(row, |p| p.line() as usize);
                let err = Error::Parse { at: Location { row, field: None }, message: e.to_string() };
                // An I/O-level CSV error (bad quoting at the end) stops the reader; report it and stop.
                sink.fail(err)?;
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
    Ok(())
}
