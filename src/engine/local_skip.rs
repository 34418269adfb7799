//! The `local-skip` provider, as backfill defines it: no outputs are
//! stored; the last hash put for each package is remembered, and a fetch of
//! that same hash is a hit, since the outputs that put saw are still in the
//! package. Any other hash is a miss.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache_key::CacheKey;
use crate::error::{CacheError, Result};

/// The folder of the cache folder holding one file per package.
const FOLDER: &str = "local-skip";

/// The last hash put for one package directory.
pub struct LastPut {
    file: PathBuf,
}

impl LastPut {
    /// The record of package `cwd` in the cache folder; named after the
    /// package's path under the workspace root, so a moved clone keeps it.
    pub fn new(cache_dir: &Path, workspace_root: &Path, cwd: &Path) -> LastPut {
        let rel = cwd.strip_prefix(workspace_root).unwrap_or(cwd);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let id = blake3::hash(name.as_bytes()).to_hex();
        LastPut {
            file: folder(cache_dir).join(&id.as_str()[..32]),
        }
    }

    /// Whether `key` is the last hash put for the package.
    pub fn is(&self, key: &CacheKey) -> Result<bool> {
        match fs::read_to_string(&self.file) {
            Ok(text) => Ok(text == key.as_str()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CacheError::io("read", &self.file, e)),
        }
    }

    /// Remembers `key` as the last hash put, atomically (temp file, then
    /// rename), so a reader sees the old hash or the new one.
    pub fn remember(&self, key: &CacheKey) -> Result<()> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| CacheError::io("create", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| CacheError::io("create a temp file in", dir, e))?;
        tmp.write_all(key.as_str().as_bytes())
            .map_err(|e| CacheError::io("write", tmp.path(), e))?;
        tmp.persist(&self.file)
            .map_err(|e| CacheError::io("write", &self.file, e.error))?;
        Ok(())
    }
}

fn folder(cache_dir: &Path) -> PathBuf {
    cache_dir.join(FOLDER)
}

/// Forgets every package's last hash (`clear`).
pub fn clear(cache_dir: &Path) -> Result<()> {
    let dir = folder(cache_dir);
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::io("remove", &dir, e)),
        _ => Ok(()),
    }
}

/// Forgets the last hashes not put for `days` days (`purge`).
pub fn purge(cache_dir: &Path, days: f64) -> Result<()> {
    let dir = folder(cache_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CacheError::io("read", &dir, e)),
    };
    let age = Duration::try_from_secs_f64(days.max(0.0) * 86_400.0).unwrap_or(Duration::MAX);
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|since| since >= age);
        if old {
            let path = entry.path();
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(CacheError::io("remove", &path, e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}
