//! The one error type of the engine.
//!
//! Expected outcomes (a miss, a skipped write) are values, not errors. An error
//! is a misconfiguration, a bad argument or a local disk failure, and its
//! message says what failed, where, and how to fix it. No message ever holds a
//! secret: values that may carry one are redacted before they get here.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A configuration value (environment, `.env` or code option) is invalid.
    #[error("{variable} {origin} is invalid: expected {expected}, received {received}. To fix it, {fix}")]
    Config {
        variable: String,
        origin: String,
        expected: String,
        received: String,
        fix: String,
    },

    /// A cache key (the hash lage passes) cannot be used as an entry name.
    #[error("invalid cache hash {shown}: {reason}. The hash must be 1 to {max} bytes, must not start with '.', and must not contain control characters or any of / \\ : * ? \" < > |")]
    Hash {
        shown: String,
        reason: String,
        max: usize,
    },

    /// An output glob cannot be used.
    #[error("invalid output glob {pattern:?}: {reason}")]
    Glob { pattern: String, reason: String },

    /// A file on the local disk could not be read or written.
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An input file cannot be hashed.
    #[error("cannot hash input {path}: {reason}")]
    Input { path: PathBuf, reason: String },

    /// Outputs cannot be restored because something on disk is in the way.
    #[error("could not restore into {path}: {reason}")]
    Restore { path: PathBuf, reason: String },

    /// The store stayed in use by fetches, puts or uploads (of this or other
    /// processes) for as long as a `clear`, `purge` or `evict` may wait.
    #[error("could not {action} {path}: it stayed in use by a fetch, put or upload for {waited_secs} s. Wait for the builds using it to end (a process stopped with Ctrl-Z holds it until it is resumed or ended), or wait longer with BACKFILL_NATIVE_LOCK_WAIT (for example 10m)")]
    Busy {
        action: &'static str,
        path: PathBuf,
        waited_secs: u64,
    },

    /// The package directory given as `cwd` cannot be used.
    #[error("package directory {path} {reason}. Pass the folder that holds the package.json of the package being built")]
    Cwd { path: PathBuf, reason: String },
}

impl CacheError {
    /// A stable code JS callers can match on (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            CacheError::Config { .. } => "BACKFILL_NATIVE_CONFIG",
            CacheError::Hash { .. } => "BACKFILL_NATIVE_HASH",
            CacheError::Glob { .. } => "BACKFILL_NATIVE_GLOB",
            CacheError::Io { .. } => "BACKFILL_NATIVE_IO",
            CacheError::Cwd { .. } => "BACKFILL_NATIVE_CWD",
            CacheError::Restore { .. } => "BACKFILL_NATIVE_RESTORE",
            CacheError::Input { .. } => "BACKFILL_NATIVE_INPUT",
            CacheError::Busy { .. } => "BACKFILL_NATIVE_BUSY",
        }
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        CacheError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result alias used across the engine.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Adds `path` and an action to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| CacheError::io(action, path, e))
    }
}
