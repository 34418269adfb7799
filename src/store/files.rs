//! Listing and removing the store's own files, as every maintenance task
//! (purge, clear, eviction, stats) does.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{CacheError, Result};
use crate::platform;

pub(super) fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(it) => Ok(it.flatten().map(|e| e.path()).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(CacheError::io("list", dir, e)),
    }
}

/// Removes a store file (read-only ones too); `false` when it was gone.
pub(super) fn remove(path: &Path) -> Result<bool> {
    match platform::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CacheError::io("remove", path, e)),
    }
}

/// Bytes of the files below `dir`.
pub(super) fn tree_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Regular files one or two folder levels below `dir` (the sharded layout);
/// a missing folder has none.
pub(super) fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(CacheError::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| CacheError::io("list", dir, e))?;
        let ft = entry
            .file_type()
            .map_err(|e| CacheError::io("list", dir, e))?;
        if ft.is_dir() {
            out.extend(files_in(&entry.path())?);
        } else {
            out.push(entry.path());
        }
    }
    Ok(out)
}
