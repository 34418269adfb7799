//! The store lock: fetches and puts share it, purge and clear take it alone,
//! so a purge never deletes content a concurrent put has just counted on.
//!
//! It is an advisory file lock (`flock`), so it works across processes and,
//! since every holder opens the file itself, across threads too.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{IoContext, Result};

/// A held lock, released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the shared lock, creating the store folder if `create`;
    /// `None` when the store does not exist and `create` is false.
    pub fn shared(root: &Path, create: bool) -> Result<Option<StoreLock>> {
        let Some(file) = open(root, create)? else {
            return Ok(None);
        };
        file.lock_shared().at("lock the cache folder", root)?;
        Ok(Some(StoreLock { _file: file }))
    }

    /// Takes the exclusive lock; `None` when the store does not exist.
    pub fn exclusive(root: &Path) -> Result<Option<StoreLock>> {
        if !root.is_dir() {
            return Ok(None);
        }
        let Some(file) = open(root, true)? else {
            return Ok(None);
        };
        file.lock().at("lock the cache folder", root)?;
        Ok(Some(StoreLock { _file: file }))
    }
}

fn open(root: &Path, create: bool) -> Result<Option<File>> {
    let path = root.join("lock");
    if create {
        std::fs::create_dir_all(root).at("create the cache folder", root)?;
    }
    // Without `create` nothing is written: a read-only user must not create
    // files, and a store without its lock file has nothing to protect.
    match OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .open(&path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at("open the cache lock file", &path),
    }
}
