//! What a store holds, as `stats` shows it: read from the eviction index
//! brought up to date in memory, plus the temp files, which are listed.

use std::fs;
use std::time::SystemTime;

use super::index::{EvictionRecord, Index};
use crate::error::Result;
use crate::store::files;
use crate::store::layout::Layout;
use crate::store::LocalStore;

/// What `stats` shows of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub entries: u64,
    pub contents: u64,
    /// Bytes of everything the store holds: the contents in use, the
    /// manifests, and the two below.
    pub bytes: u64,
    /// Of those, the contents (in use and unaccounted), without the
    /// manifests and the temp files.
    pub content_bytes: u64,
    /// Of those, contents that no entry this version can read accounts for
    /// and that are kept while an entry it cannot read may use them.
    pub unaccounted_bytes: u64,
    /// Of those, temp files (left by interrupted fetches and puts, removed
    /// by the next eviction) and folders a `clear` is still removing.
    pub temp_bytes: u64,
    /// When the least recently used entry was last used.
    pub oldest_used: Option<SystemTime>,
    /// The last eviction, if one ran.
    pub last_eviction: Option<EvictionRecord>,
}

/// What the store holds, from the index brought up to date in memory
/// (nothing is written, no lock is taken: manifests appear by rename).
pub fn stats(store: &LocalStore) -> Result<StoreStats> {
    if !store.root().is_dir() {
        return Ok(StoreStats::default());
    }
    let mut index = Index::load(store).unwrap_or_default();
    index.refresh(store)?;
    let temp_bytes = files::tree_bytes(&store.layout().tmp())
        + files::list(store.root())?
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(Layout::is_trash)
            })
            .map(|p| files::tree_bytes(p))
            .sum::<u64>();
    Ok(StoreStats {
        entries: index.entries.len() as u64,
        contents: index.content_count(),
        bytes: index.bytes() + temp_bytes,
        content_bytes: index.content_bytes(),
        unaccounted_bytes: index.unaccounted_bytes(),
        temp_bytes,
        oldest_used: index.entries.values().map(|e| e.used()).min(),
        last_eviction: index.last_eviction,
    })
}

/// When the last eviction ended, from the index file's time.
pub fn last_run(store: &LocalStore) -> Option<SystemTime> {
    fs::metadata(store.layout().index())
        .and_then(|m| m.modified())
        .ok()
}
