//! Removing old entries and unused contents, under the exclusive lock so a
//! concurrent put never loses content it counted on.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::lock::{StoreLock, Wait};
use super::manifest::{is_digest, Manifest};
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

/// How much the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Entries (hashes).
    pub entries: u64,
    /// Stored file contents.
    pub contents: u64,
    /// Bytes of the stored contents.
    pub bytes: u64,
}

pub fn usage(store: &LocalStore) -> Result<Usage> {
    let mut u = Usage {
        entries: files_in(&store.root().join("entries"))?.len() as u64,
        ..Usage::default()
    };
    for path in files_in(&store.root().join("content"))? {
        u.contents += 1;
        u.bytes += fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    Ok(u)
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
    let Some(_lock) = StoreLock::exclusive_waiting(store.root(), "purge", wait)? else {
        return Ok(PurgeReport::default());
    };
    // Any number of days is fine: one past the epoch means "everything".
    let cutoff = Duration::try_from_secs_f64(days * 86_400.0)
        .ok()
        .and_then(|age| SystemTime::now().checked_sub(age))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = PurgeReport::default();
    let mut used: HashSet<String> = HashSet::new();

    for path in files_in(&store.root().join("entries"))? {
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
    for path in files_in(&store.root().join("content"))? {
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
    for path in files_in(&store.tmp_dir())? {
        remove(&path)?;
    }
    for entry in fs::read_dir(store.root())
        .at("list", store.root())?
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("trash-") {
            let path = entry.path();
            fs::remove_dir_all(&path).at("remove", &path)?;
        }
    }
    Ok(report)
}

pub fn clear(store: &LocalStore, wait: &Wait<'_>) -> Result<PurgeReport> {
    let Some(lock) = StoreLock::exclusive_waiting(store.root(), "clear", wait)? else {
        return Ok(PurgeReport::default());
    };
    let mut report = PurgeReport {
        entries_removed: files_in(&store.root().join("entries"))?.len() as u64,
        ..PurgeReport::default()
    };
    // Move the folders aside under the lock (instant), then delete them
    // without blocking other users of the store.
    let trash = tempfile::Builder::new()
        .prefix("trash-")
        .tempdir_in(store.root())
        .at("create a folder in", store.root())?;
    for name in [
        "entries",
        "content",
        "tmp",
        "index",
        super::restore::OUTPUT_STATES,
    ] {
        let from = store.root().join(name);
        match fs::rename(&from, trash.path().join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CacheError::io("clear", &from, e)),
        }
    }
    drop(lock);
    for path in files_in(&trash.path().join("content"))? {
        report.contents_removed += 1;
        report.bytes_freed += fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    let trash_path = trash.path().to_path_buf();
    trash.close().at("remove", &trash_path)?;
    Ok(report)
}

/// Regular files one or two folder levels below `dir` (the sharded layout);
/// a missing folder has none.
fn files_in(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(CacheError::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.at("list", dir)?;
        let ft = entry.file_type().at("list", dir)?;
        if ft.is_dir() {
            out.extend(files_in(&entry.path())?);
        } else {
            out.push(entry.path());
        }
    }
    Ok(out)
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::io("remove", path, e)),
        _ => Ok(()),
    }
}
