//! `clear()`: removing every entry and content. The folders are moved
//! aside under the exclusive lock (an instant), then deleted without
//! holding up other users of the store.

use std::fs;
use std::io;

use super::files::files_in;
use super::lock::{StoreLock, Wait};
use super::purge::PurgeReport;
use super::LocalStore;
use crate::error::{CacheError, IoContext, Result};

pub fn clear(store: &LocalStore, wait: &Wait<'_>) -> Result<PurgeReport> {
    let Some(lock) = StoreLock::exclusive_waiting(store.layout(), "clear", wait)? else {
        return Ok(PurgeReport::default());
    };
    let mut report = PurgeReport {
        entries_removed: files_in(&store.layout().entries())?.len() as u64,
        ..PurgeReport::default()
    };
    // Move the folders aside under the lock (instant), then delete them
    // without blocking other users of the store.
    let trash = tempfile::Builder::new()
        .prefix(super::layout::TRASH_PREFIX)
        .tempdir_in(store.root())
        .at("create a folder in", store.root())?;
    for from in store.layout().cleared() {
        let Some(name) = from.file_name() else {
            continue;
        };
        match fs::rename(&from, trash.path().join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CacheError::io("clear", &from, e)),
        }
    }
    drop(lock);
    for path in files_in(
        &trash
            .path()
            .join(store.layout().contents().file_name().unwrap_or_default()),
    )? {
        report.contents_removed += 1;
        report.bytes_freed += fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    let trash_path = trash.path().to_path_buf();
    trash.close().at("remove", &trash_path)?;
    Ok(report)
}
