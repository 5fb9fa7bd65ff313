//! Battles: pairwise votes between models, as parsed from LMArena records, mapped CSV or aggregated count tables.
//!
//! The store is columnar (model ids as `u32`, outcomes as bytes) so a million battles take about 10 MB.

mod parse;
pub mod style;

pub use parse::{Columns, Format, Labels, ParseOptions, Skipped};

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// The result of one battle, from side A's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Outcome {
    /// Model A won.
    A = 0,
    /// Model B won.
    B = 1,
    /// A tie.
    Tie = 2,
    /// A tie where both answers were bad (LMArena's `tie (bothbad)`).
    BothBad = 3,
}

impl Outcome {
    /// The LMArena label of this outcome.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::A => "model_a",
            Outcome::B => "model_b",
            Outcome::Tie => "tie",
            Outcome::BothBad => "tie (bothbad)",
        }
    }

    /// Side A's score: 1 for a win, 0 for a loss, ½ for a tie (both-bad ties included).
    pub fn score(self) -> f64 {
        match self {
            Outcome::A => 1.0,
            Outcome::B => 0.0,
            Outcome::Tie | Outcome::BothBad => 0.5,
        }
    }
}

/// How `tie (bothbad)` votes count when ranking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BothBad {
    /// As a tie: half a win to each side (LMArena, FastChat).
    #[default]
    Tie,
    /// Left out of the ranking (Music Arena).
    Exclude,
}

/// A set of battles. Model names are interned in order of first appearance.
#[derive(Clone, Debug, Default)]
pub struct Battles {
    models: Vec<String>,
    index: FxHashMap<String, u32>,
    /// Model id of side A, per record.
    pub(crate) a: Vec<u32>,
    /// Model id of side B, per record.
    pub(crate) b: Vec<u32>,
    pub(crate) outcome: Vec<Outcome>,
    /// How many identical battles each record stands for (1 for single votes; counts tables give more).
    pub(crate) count: Vec<u32>,
    /// Optional per-record weight (1 when absent).
    pub(crate) weight: Option<Vec<f64>>,
    /// Optional item id (prompt + pair), per record.
    pub(crate) id: Option<Vec<Option<String>>>,
    /// Optional annotator, per record.
    pub(crate) judge: Option<Vec<Option<String>>>,
    /// Optional category, per record.
    pub(crate) category: Option<Vec<Option<String>>>,
    /// Optional timestamp, per record.
    pub(crate) tstamp: Option<Vec<Option<f64>>>,
    /// Optional per-record covariates (style features, property differences).
    /// Shared with the rankings made from these battles (they read it without a copy); written copy-on-write.
    pub(crate) covariates: Option<Arc<Covariates>>,
    skipped: Vec<Skipped>,
    /// JSONL lines read so far (row numbers of appended chunks continue from here).
    pub(crate) lines: usize,
}

/// The sizes of a [`Battles`] before an append, to roll a failed one back.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    records: usize,
    models: usize,
    skipped: usize,
    had: [bool; 6],
}

/// Per-record covariates: the names, and the values row-major (record i, covariate j at `i * names.len() + j`).
/// Stored as `f32` (10 M battles with 4 covariates take 160 MB); NaN marks a record added without covariates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Covariates {
    pub names: Vec<String>,
    pub values: Vec<f32>,
}

impl Battles {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses battles from text. See [`ParseOptions`] for formats, column and label mapping.
    ///
    /// # Errors
    /// The first invalid row, named by number and field, unless `skip_invalid` is set.
    pub fn parse(text: &str, options: &ParseOptions) -> crate::Result<Self> {
        parse::parse(text, options)
    }

    /// Appends JSONL records (whole lines, e.g. a chunk of a stream cut after a newline) with the options of the
    /// first parse. Error rows count from the first chunk. All or nothing: a bad row leaves the battles as they were
    /// (unless `skip_invalid`).
    ///
    /// # Errors
    /// As [`Battles::parse`]; `INVALID_OPTION` for a format other than JSONL.
    pub fn append(&mut self, text: &str, options: &ParseOptions) -> crate::Result<()> {
        parse::append_jsonl(self, text, options)
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            records: self.len(),
            models: self.models.len(),
            skipped: self.skipped.len(),
            had: [
                self.weight.is_some(),
                self.id.is_some(),
                self.judge.is_some(),
                self.category.is_some(),
                self.tstamp.is_some(),
                self.covariates.is_some(),
            ],
        }
    }

    pub(crate) fn rollback(&mut self, m: Mark) {
        fn cut<T>(column: &mut Option<Vec<T>>, had: bool, n: usize) {
            match column {
                Some(c) if had => c.truncate(n),
                _ => *column = None,
            }
        }
        let n = m.records;
        self.a.truncate(n);
        self.b.truncate(n);
        self.outcome.truncate(n);
        self.count.truncate(n);
        for name in self.models.drain(m.models..) {
            self.index.remove(&name);
        }
        self.skipped.truncate(m.skipped);
        cut(&mut self.weight, m.had[0], n);
        cut(&mut self.id, m.had[1], n);
        cut(&mut self.judge, m.had[2], n);
        cut(&mut self.category, m.had[3], n);
        cut(&mut self.tstamp, m.had[4], n);
        match &mut self.covariates {
            Some(c) if m.had[5] => {
                let c = Arc::make_mut(c);
                let k = c.names.len();
                c.values.truncate(n * k);
            }
            _ => self.covariates = None,
        }
    }

    /// Adds `count` identical battles. Returns the record's index.
    ///
    /// # Errors
    /// A self-battle or an empty model name.
    pub fn push(&mut self, model_a: &str, model_b: &str, outcome: Outcome, count: u32) -> crate::Result<usize> {
        let row = self.len() + 1;
        let at = |field: &str| crate::error::Location { row, field: Some(field.to_owned()) };
        if model_a.is_empty() {
            return Err(crate::Error::MissingField { at: at("model_a") });
        }
        if model_b.is_empty() {
            return Err(crate::Error::MissingField { at: at("model_b") });
        }
        if model_a == model_b {
            return Err(crate::Error::SelfBattle { at: at("model_b"), model: model_a.to_owned() });
        }
        let a = self.intern(model_a);
        let b = self.intern(model_b);
        self.a.push(a);
        self.b.push(b);
        self.outcome.push(outcome);
        self.count.push(count);
        if let Some(w) = &mut self.weight {
            w.push(1.0);
        }
        for col in [&mut self.id, &mut self.judge, &mut self.category].into_iter().flatten() {
            col.push(None);
        }
        if let Some(t) = &mut self.tstamp {
            t.push(None);
        }
        if let Some(c) = &mut self.covariates {
            let c = Arc::make_mut(c);
            c.values.extend(std::iter::repeat_n(f32::NAN, c.names.len()));
        }
        Ok(self.a.len() - 1)
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.models.len() as u32;
        self.models.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    /// Model names, indexed by model id.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// The id of a model name.
    pub fn model_id(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|&i| i as usize)
    }

    /// Number of records (a counts-table row is one record).
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Number of battles: the sum of record counts.
    pub fn total(&self) -> u64 {
        self.count.iter().map(|&c| u64::from(c)).sum()
    }

    /// Rows left out by `skip_invalid`, with the reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Record `i` as (model A id, model B id, outcome, count).
    pub fn record(&self, i: usize) -> (usize, usize, Outcome, u32) {
        (self.a[i] as usize, self.b[i] as usize, self.outcome[i], self.count[i])
    }

    /// Per-record weight (1 when the input had none).
    pub fn weight(&self, i: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[i])
    }

    /// The annotator of record `i`, if the input had one.
    pub fn judge(&self, i: usize) -> Option<&str> {
        self.judge.as_ref().and_then(|j| j[i].as_deref())
    }

    /// The item id of record `i`, if the input had one.
    pub fn id(&self, i: usize) -> Option<&str> {
        self.id.as_ref().and_then(|j| j[i].as_deref())
    }

    /// The category of record `i`, if the input had one.
    pub fn category(&self, i: usize) -> Option<&str> {
        self.category.as_ref().and_then(|j| j[i].as_deref())
    }

    /// The timestamp of record `i`, if the input had one.
    pub fn tstamp(&self, i: usize) -> Option<f64> {
        self.tstamp.as_ref().and_then(|j| j[i])
    }

    /// The covariate names (empty when the battles have none).
    pub fn covariate_names(&self) -> &[String] {
        self.covariates.as_ref().map_or(&[], |c| &c.names)
    }

    /// The whole covariate table (shared, not copied).
    pub fn covariate_table(&self) -> Option<Arc<Covariates>> {
        self.covariates.clone()
    }

    /// Makes room for `additional` more records, growing by a quarter rather than doubling: a chunked parse of
    /// millions of battles then peaks near 1.25× its data instead of 2-3×.
    pub(crate) fn reserve(&mut self, additional: usize) {
        fn grow<T>(v: &mut Vec<T>, additional: usize) {
            if v.capacity() - v.len() < additional {
                v.reserve_exact(additional.max(v.len() / 4));
            }
        }
        let k = self.covariate_names().len();
        grow(&mut self.a, additional);
        grow(&mut self.b, additional);
        grow(&mut self.outcome, additional);
        grow(&mut self.count, additional);
        if let Some(c) = &mut self.covariates {
            grow(&mut Arc::make_mut(c).values, additional * k);
        }
    }

    /// The covariates of record `i`, if the battles have covariates.
    pub fn covariates(&self, i: usize) -> Option<&[f32]> {
        let c = self.covariates.as_ref()?;
        let k = c.names.len();
        Some(&c.values[i * k..(i + 1) * k])
    }

    /// Sets every record's covariates at once: `values` row-major, `len() * names.len()` of them.
    ///
    /// # Errors
    /// `INVALID_OPTION` when the sizes disagree or a name repeats.
    pub fn set_covariates(&mut self, names: Vec<String>, values: Vec<f32>) -> crate::Result<()> {
        if values.len() != self.len() * names.len() {
            let why = format!("{} values for {} records × {} names", values.len(), self.len(), names.len());
            return Err(crate::Error::option("covariates", why));
        }
        if let Some(name) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)).map(|(_, n)| n) {
            return Err(crate::Error::option("covariates", format!("the name `{name}` appears twice")));
        }
        self.covariates = Some(Arc::new(Covariates { names, values }));
        Ok(())
    }

    /// Checks that a record's covariate names are those of the records before it.
    pub(crate) fn check_covariate_names(&self, names: &[String], row: usize) -> crate::Result<()> {
        match &self.covariates {
            Some(c) if c.names != names => Err(crate::Error::Parse {
                at: crate::error::Location { row, field: None },
                message: format!(
                    "covariates [{}] differ from the first record's [{}]",
                    names.join(", "),
                    c.names.join(", ")
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Sets the covariates of the last record pushed (the table is created on the first call).
    pub(crate) fn push_covariates(&mut self, names: Vec<String>, values: &[f64]) {
        let n = self.len();
        let c = Arc::make_mut(
            self.covariates
                .get_or_insert_with(|| Arc::new(Covariates { values: vec![f32::NAN; n * names.len()], names })),
        );
        let k = c.names.len();
        c.values.truncate((n - 1) * k);
        c.values.extend(values.iter().map(|&x| x as f32));
    }

    /// Writes the battles as LMArena JSONL, one line per battle (counts expanded), keeping the optional fields.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for i in 0..self.len() {
            let mut obj = serde_json::Map::new();
            obj.insert("model_a".into(), self.models[self.a[i] as usize].clone().into());
            obj.insert("model_b".into(), self.models[self.b[i] as usize].clone().into());
            obj.insert("winner".into(), self.outcome[i].label().into());
            if let Some(v) = self.id(i) {
                obj.insert("id".into(), v.into());
            }
            if let Some(v) = self.judge(i) {
                obj.insert("judge".into(), v.into());
            }
            if let Some(v) = self.category(i) {
                obj.insert("category".into(), v.into());
            }
            if let Some(v) = self.tstamp(i) {
                obj.insert("tstamp".into(), v.into());
            }
            if self.weight.is_some() {
                obj.insert("weight".into(), self.weight(i).into());
            }
            let mut line = serde_json::Value::Object(obj).to_string();
            if let Some(values) = self.covariates(i) {
                // Stored values are per-battle covariates (ratios already taken): they round-trip as `features`,
                // written by hand to keep their order (a serde_json map would sort the names).
                line.pop();
                line.push_str(",\"features\":{");
                for (k, (name, &v)) in self.covariate_names().iter().zip(values).enumerate() {
                    let sep = if k == 0 { "" } else { "," };
                    let value = serde_json::Value::from(f64::from(v));
                    line.push_str(&format!("{sep}{}:{value}", serde_json::Value::from(name.as_str())));
                }
                line.push_str("}}");
            }
            for _ in 0..self.count[i] {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}
