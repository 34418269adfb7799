//! Where each configuration value comes from: precedence is decided here.
//!
//! The process environment > the nearest `.env` > the options passed in
//! code > the built-in defaults (the order backfill uses). Every value is
//! looked up through [`Layers::resolve`], which hands the winning raw value
//! and its [`Origin`] to the value's parser, so every error can say where
//! the bad value came from.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

use super::EnvFile;
use crate::error::Result;

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    Env,
    EnvFile(PathBuf),
    Options,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env => f.write_str("(from the environment)"),
            Origin::EnvFile(p) => write!(f, "(from {})", p.display()),
            Origin::Options => f.write_str("(from the options passed in code)"),
        }
    }
}

/// A raw value: text from the environment or `.env`, or a code option as
/// given (already typed).
pub(super) enum Raw {
    Text(String),
    Json(Value),
    List(Vec<String>),
    Bool(bool),
}

impl Raw {
    /// The value as text, as a variable would hold it.
    pub(super) fn into_text(self) -> String {
        match self {
            Raw::Text(s) => s,
            Raw::Json(v) => v.to_string(),
            Raw::List(l) => serde_json::to_string(&l).unwrap_or_default(),
            Raw::Bool(b) => b.to_string(),
        }
    }
}

/// The environment and the `.env` file that was found.
pub(super) struct Layers<'a> {
    pub(super) env: &'a HashMap<String, String>,
    pub(super) file: &'a EnvFile,
}

impl Layers<'_> {
    /// The value of `name` that wins (the environment, then `.env`, then the
    /// code `option`) parsed by `parse`; `None` when none is given, which
    /// leaves the default to the caller.
    pub(super) fn resolve<T>(
        &self,
        name: &str,
        option: Option<Raw>,
        parse: impl FnOnce(Raw, &Origin) -> Result<T>,
    ) -> Result<Option<T>> {
        let found = self
            .var(name)
            .map(|(v, o)| (Raw::Text(v), o))
            .or_else(|| option.map(|v| (v, Origin::Options)));
        found.map(|(raw, origin)| parse(raw, &origin)).transpose()
    }

    /// The environment, then the `.env` file.
    fn var(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.env.get(name) {
            return Some((v.clone(), Origin::Env));
        }
        let path = self.file.path.clone()?;
        self.file
            .vars
            .get(name)
            .map(|v| (v.clone(), Origin::EnvFile(path)))
    }
}
