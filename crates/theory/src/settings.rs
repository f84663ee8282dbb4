//! `[theory.settings]`: a solver's knobs as a TOML table, read through typed getters with
//! defaults and range checks; keys no getter asked for are errors, so a typo is never ignored.
use std::collections::BTreeSet;

use toml::{Table, Value};

use crate::TheoryError;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    table: Table,
    read: BTreeSet<String>,
}

impl Settings {
    pub fn new(table: Table) -> Self {
        Self {
            table,
            read: BTreeSet::new(),
        }
    }

    fn err(key: &str, reason: impl Into<String>) -> TheoryError {
        TheoryError::Setting {
            key: format!("settings.{key}"),
            reason: reason.into(),
        }
    }

    fn value(&mut self, key: &str) -> Option<&Value> {
        self.read.insert(key.to_string());
        self.table.get(key)
    }

    /// A float in `[lo, hi]`, `default` when absent. Integers are accepted.
    pub fn f64(&mut self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64, TheoryError> {
        let v = match self.value(key) {
            None => default,
            Some(Value::Float(x)) => *x,
            Some(Value::Integer(i)) => *i as f64,
            Some(other) => return Err(Self::err(key, format!("expected a number, got {other}"))),
        };
        if !(lo..=hi).contains(&v) {
            return Err(Self::err(key, format!("{v} is outside [{lo}, {hi}]")));
        }
        Ok(v)
    }

    /// An integer in `[lo, hi]`, `default` when absent.
    pub fn usize(
        &mut self,
        key: &str,
        default: usize,
        lo: usize,
        hi: usize,
    ) -> Result<usize, TheoryError> {
        let v = match self.value(key) {
            None => default,
            Some(Value::Integer(i)) if *i >= 0 => *i as usize,
            Some(other) => {
                return Err(Self::err(
                    key,
                    format!("expected a non-negative integer, got {other}"),
                ))
            }
        };
        if !(lo..=hi).contains(&v) {
            return Err(Self::err(key, format!("{v} is outside [{lo}, {hi}]")));
        }
        Ok(v)
    }

    pub fn bool(&mut self, key: &str, default: bool) -> Result<bool, TheoryError> {
        match self.value(key) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(Self::err(
                key,
                format!("expected true or false, got {other}"),
            )),
        }
    }

    /// One of `choices`, `default` when absent.
    pub fn choice(
        &mut self,
        key: &str,
        default: &str,
        choices: &[&str],
    ) -> Result<String, TheoryError> {
        let v = match self.value(key) {
            None => default.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(Self::err(key, format!("expected a string, got {other}"))),
        };
        if !choices.contains(&v.as_str()) {
            return Err(Self::err(
                key,
                format!("`{v}` is not one of {}", choices.join(", ")),
            ));
        }
        Ok(v)
    }

    /// A list of floats, `default` when absent.
    pub fn f64_list(&mut self, key: &str, default: &[f64]) -> Result<Vec<f64>, TheoryError> {
        match self.value(key) {
            None => Ok(default.to_vec()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Float(x) => Ok(*x),
                    Value::Integer(i) => Ok(*i as f64),
                    other => Err(Self::err(key, format!("expected numbers, got {other}"))),
                })
                .collect(),
            Some(other) => Err(Self::err(key, format!("expected a list, got {other}"))),
        }
    }

    /// Call after the last getter: any key no getter read is a typo or belongs to another
    /// preset.
    pub fn finish(&self) -> Result<(), TheoryError> {
        let unknown: Vec<&String> = self
            .table
            .keys()
            .filter(|k| !self.read.contains(*k))
            .collect();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(Self::err(
                k,
                format!(
                    "unknown setting for this preset (it reads: {})",
                    self.read.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
}
