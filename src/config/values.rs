//! The value types of the configuration and how each is parsed from its raw
//! value: the provider, the mode, the log level, the booleans, the cache
//! folder and the output globs. A bad value is an error naming the
//! variable, its origin, what was expected and what was received (through
//! the redaction rule), and how to fix it.

use serde_json::Value;

use super::layers::{Origin, Raw};
use super::redact::{fix_for, secret_kind, shown};
use crate::error::{CacheError, Result};
use crate::notice::Notice;

/// Which cache backs the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// The local store only.
    Local,
    /// No cache at all: every fetch misses, puts do nothing.
    LocalSkip,
    /// The local store with an Azure Blob Storage fallback.
    AzureBlob,
    /// The local store with a turborepo-protocol cache server fallback.
    Turborepo,
    /// The local store with an S3-compatible bucket behind it.
    S3,
}

impl Provider {
    /// The name used in `BACKFILL_CACHE_PROVIDER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::LocalSkip => "local-skip",
            Provider::AzureBlob => "azure-blob",
            Provider::Turborepo => "turborepo",
            Provider::S3 => "s3",
        }
    }

    /// Whether a remote cache backs the local store (uploads are possible).
    pub fn is_remote(self) -> bool {
        matches!(
            self,
            Provider::AzureBlob | Provider::S3 | Provider::Turborepo
        )
    }

    /// `BACKFILL_CACHE_PROVIDER`: a name backfill-native does not support
    /// is a warning, and the local cache.
    pub(super) fn parse(raw: Raw, origin: &Origin, warnings: &mut Vec<Notice>) -> Provider {
        let name = raw.into_text();
        match name.as_str() {
            "" | "local" => Provider::Local,
            "local-skip" => Provider::LocalSkip,
            "azure-blob" => Provider::AzureBlob,
            "turborepo" => Provider::Turborepo,
            "s3" => Provider::S3,
            other => {
                warnings.push(Notice::ConfigUnknownProvider {
                    name: shown(other),
                    origin: origin.to_string(),
                    looks_secret: secret_kind(other).is_some(),
                });
                Provider::Local
            }
        }
    }
}

/// `BACKFILL_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetch and put.
    ReadWrite,
    /// Fetch only; never writes.
    ReadOnly,
    /// Put only; every fetch misses without reading.
    WriteOnly,
    /// Neither: the cache is bypassed.
    Pass,
}

impl Mode {
    /// The name used in `BACKFILL_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READ_WRITE",
            Mode::ReadOnly => "READ_ONLY",
            Mode::WriteOnly => "WRITE_ONLY",
            Mode::Pass => "PASS",
        }
    }
    /// Whether fetches may read the cache.
    pub fn reads(self) -> bool {
        matches!(self, Mode::ReadWrite | Mode::ReadOnly)
    }
    /// Whether puts may write the cache.
    pub fn writes(self) -> bool {
        matches!(self, Mode::ReadWrite | Mode::WriteOnly)
    }

    /// `BACKFILL_MODE`, in any case.
    pub(super) fn parse(raw: Raw, origin: &Origin) -> Result<Mode> {
        let text = raw.into_text();
        [Mode::ReadWrite, Mode::ReadOnly, Mode::WriteOnly, Mode::Pass]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                invalid(
                    "BACKFILL_MODE",
                    origin,
                    "one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS",
                    shown(&text),
                    &fix_for(
                        &text,
                        "set one of those values or unset it (READ_WRITE is the default)",
                    ),
                )
            })
    }
}

/// `BACKFILL_LOG_LEVEL`, from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Silly,
    Verbose,
    Info,
    Warn,
    Error,
    Mute,
}

impl LogLevel {
    const ALL: [(&'static str, LogLevel); 6] = [
        ("silly", LogLevel::Silly),
        ("verbose", LogLevel::Verbose),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("mute", LogLevel::Mute),
    ];
    /// The name used in `BACKFILL_LOG_LEVEL` and as the logger method.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("info", |(n, _)| n)
    }

    /// `BACKFILL_LOG_LEVEL`, in any case.
    pub(super) fn parse(raw: Raw, origin: &Origin) -> Result<LogLevel> {
        let text = raw.into_text();
        LogLevel::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(text.trim()))
            .map(|(_, l)| *l)
            .ok_or_else(|| {
                invalid(
                    "BACKFILL_LOG_LEVEL",
                    origin,
                    "one of silly, verbose, info, warn, error, mute",
                    shown(&text),
                    &fix_for(
                        &text,
                        "set one of those values or unset it (info is the default)",
                    ),
                )
            })
    }
}

/// `true`, `1`, `yes` are on; `false`, `0`, `no` and empty are off; a code
/// option is a boolean already.
pub(super) fn parse_bool(variable: &str, raw: Raw, origin: &Origin) -> Result<bool> {
    parse_switch(
        variable,
        raw,
        origin,
        "set it to true to turn remote writes on, or false (or unset it) to leave them off",
    )
}

/// As [`parse_bool`], with the fix a bad value's error gives.
pub(super) fn parse_switch(variable: &str, raw: Raw, origin: &Origin, fix: &str) -> Result<bool> {
    let value = match raw {
        Raw::Bool(b) => return Ok(b),
        other => other.into_text(),
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(invalid(
            variable,
            origin,
            "true, 1, yes, false, 0, no or an empty value",
            shown(&value),
            &fix_for(&value, fix),
        )),
    }
}

/// As [`parse_bool`], but an empty value is no value (`None`).
pub(super) fn parse_optional_bool(
    variable: &str,
    raw: Raw,
    origin: &Origin,
) -> Result<Option<bool>> {
    let value = raw.into_text();
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse_bool(variable, Raw::Text(value), origin).map(Some)
}

/// `BACKFILL_INTERNAL_CACHE_FOLDER`: a non-empty path that does not look like
/// a secret (it is shown by `loadConfig`), relative to the package or absolute.
pub(super) fn parse_cache_folder(raw: Raw, origin: &Origin) -> Result<String> {
    const VAR: &str = "BACKFILL_INTERNAL_CACHE_FOLDER";
    const EXPECTED: &str = "a folder path, relative to the package directory or absolute";
    const FIX: &str = "unset it to use the default folder, or give a path";
    let folder = raw.into_text();
    if folder.trim().is_empty() {
        return Err(invalid(VAR, origin, EXPECTED, "an empty value".into(), FIX));
    }
    if secret_kind(&folder).is_some() {
        return Err(invalid(
            VAR,
            origin,
            EXPECTED,
            shown(&folder),
            &fix_for(&folder, FIX),
        ));
    }
    Ok(folder)
}

const GLOB_VAR: &str = "BACKFILL_OUTPUT_GLOB";
const GLOB_EXPECTED: &str = "a JSON array of glob strings such as [\"lib/**\",\"dist/**\"]";

/// `BACKFILL_OUTPUT_GLOB`: a JSON array of strings (a code option is a list
/// already), none of which looks like a secret (they are shown by
/// `loadConfig`).
pub(super) fn parse_output_glob(raw: Raw, origin: &Origin) -> Result<Vec<String>> {
    let globs = match raw {
        Raw::List(list) => list,
        other => parse_glob_list(&other.into_text(), origin)?,
    };
    match globs.iter().find(|g| secret_kind(g).is_some()) {
        None => Ok(globs),
        Some(g) => Err(invalid(
            GLOB_VAR,
            origin,
            GLOB_EXPECTED,
            format!("an array holding {}", shown(g)),
            &fix_for(g, "give only output globs"),
        )),
    }
}

fn parse_glob_list(text: &str, origin: &Origin) -> Result<Vec<String>> {
    let trimmed = text.trim();
    let parsed = if trimmed.starts_with('[') && trimmed.ends_with(']') {
        serde_json::from_str::<Vec<String>>(trimmed).ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        invalid(
            GLOB_VAR,
            origin,
            GLOB_EXPECTED,
            shown(text),
            &fix_for(
                text,
                "write the globs as a JSON array of strings, starting with [ and ending with ]",
            ),
        )
    })
}

/// The error of a bad value: which variable, from where, what was expected,
/// what was received (already redacted) and how to fix it.
pub(super) fn invalid(
    variable: &str,
    origin: &Origin,
    expected: &str,
    received: String,
    fix: &str,
) -> CacheError {
    CacheError::Config {
        variable: variable.to_string(),
        origin: origin.to_string(),
        expected: expected.to_string(),
        received,
        fix: fix.to_string(),
    }
}

/// What kind of JSON value `v` is, for a message that must not show it.
pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
