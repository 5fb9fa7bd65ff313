//! Caller-shaped options: a JSON object (what JS passes, what the examples build) read key by key into the core's
//! option structs, with unknown keys rejected so a misspelt option is an error rather than silently ignored.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JSON options object read key by key; [`Options::finish`] rejects the keys nobody read.
pub(crate) struct Options {
    pub(crate) map: Map<String, Value>,
}

impl Options {
    pub(crate) fn new(value: &Value) -> Result<Self> {
        match value {
            Value::Null => Ok(Self { map: Map::new() }),
            Value::Object(map) => Ok(Self { map: map.clone() }),
            _ => Err(Error::option("options", "expected an object")),
        }
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    pub(crate) fn f64(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| Error::option(key, format!("`{v}` is not a finite number"))),
        }
    }

    pub(crate) fn usize(&mut self, key: &'static str, default: usize) -> Result<usize> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 9e15).map(|x| x as u64))
                .map(|x| x as usize)
                .ok_or_else(|| Error::option(key, format!("`{v}` is not a whole number ≥ 0"))),
        }
    }

    pub(crate) fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| Error::option(key, format!("`{v}` is not true or false"))),
        }
    }

    pub(crate) fn str(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::option(key, format!("`{v}` is not a string"))),
        }
    }

    pub(crate) fn finish(self, method: &str) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(Error::option("options", format!("unknown option `{key}` for method {method}"))),
        }
    }
}
