//! `purge(days)`: removing entries unused for some days and the contents
//! no entry uses, under the exclusive lock so a concurrent put never loses
//! content it counted on.

use std::collections::HashSet;
use std::fs;
use std::time::{Duration, SystemTime};

use super::entry::{is_digest, Manifest};
use super::files::{files_in, remove};
use super::layout::Layout;
use super::lock::{StoreLock, Wait};
use super::LocalStore;
use crate::error::{CacheError, IoContext, Result};

/// What a purge or clear removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Entries (hashes) removed.
    pub entries_removed: u64,
    /// Entries kept.
    pub entries_kept: u64,
    /// Contents removed.
    pub contents_removed: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
}

pub fn purge(store: &LocalStore, days: f64, wait: &Wait<'_>) -> Result<PurgeReport> {
    if !(days.is_finite() && days >= 0.0) {
        return Err(CacheError::Config {
            variable: "purge days".into(),
            origin: "(argument)".into(),
            expected: "a number of days, 0 or more".into(),
            received: format!("{days}"),
            fix: "pass how many days an entry may go unused before it is removed".into(),
        });
    }
    let Some(_lock) = StoreLock::exclusive_waiting(store.layout(), "purge", wait)? else {
        return Ok(PurgeReport::default());
    };
    // Any number of days is fine: one past the epoch means "everything".
    let cutoff = Duration::try_from_secs_f64(days * 86_400.0)
        .ok()
        .and_then(|age| SystemTime::now().checked_sub(age))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = PurgeReport::default();
    let mut used: HashSet<String> = HashSet::new();

    for path in files_in(&store.layout().entries())? {
        let meta = fs::metadata(&path).at("read cache entry", &path)?;
        let key = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let manifest = fs::read(&path)
            .ok()
            .and_then(|b| Manifest::parse(&b, &key).ok());
        let old = meta.modified().map_or(true, |m| m < cutoff);
        match manifest {
            Some(m) if !old => {
                used.extend(m.files.into_iter().map(|f| f.digest));
                report.entries_kept += 1;
            }
            _ => {
                remove(&path)?;
                report.entries_removed += 1;
                report.bytes_freed += meta.len();
            }
        }
    }
    for path in files_in(&store.layout().contents())? {
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if is_digest(name) && used.contains(name) {
            continue;
        }
        let len = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
        remove(&path)?;
        report.contents_removed += 1;
        report.bytes_freed += len;
    }
    // Temp files left by a killed put, folders left by a killed clear; no
    // put runs while we hold the lock.
    for path in files_in(&store.layout().tmp())? {
        remove(&path)?;
    }
    for entry in fs::read_dir(store.root())
        .at("list", store.root())?
        .flatten()
    {
        if Layout::is_trash(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            fs::remove_dir_all(&path).at("remove", &path)?;
        }
    }
    Ok(report)
}
