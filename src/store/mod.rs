//! The local store: file contents kept once by blake3 digest, plus one small
//! manifest per cache key. Where each file lies is `layout.rs`'s alone.
//!
//! - `content/`: the contents, written once (`writer.rs`), read through
//!   the verifying reader (`reader.rs`), cloned where the file system can
//!   (`clone.rs`);
//! - `entry/`: an entry's manifest (`manifest.rs`), the one way an entry is
//!   written (`writer.rs`), a put (`put.rs`) and a restore (`restore.rs`);
//! - `eviction/`: the policy, the index, a run, the store's statistics, and
//!   their tests and benchmark;
//! - `purge.rs` and `clear.rs`: what a user removes; `lock.rs`: who may
//!   change the store while others read it.
//!
//! Every file appears by rename, so a reader never sees half of one; a
//! manifest is written only after all its contents are in place, so a crash
//! never leaves a hit with missing files; contents are verified on restore
//! (a clone through its store content's stamp: `content/clone.rs`).

mod clear;
mod content;
mod entry;
mod eviction;
mod files;
mod io_pool;
pub mod layout;
pub mod lock;
mod purge;

use std::path::Path;

pub use content::{ContentReader, IngestFailure, Ingested, Staged};
pub use entry::{
    case_conflict, entry_digest, is_safe_relative, layout_conflict, EntryWriter, FileRecord,
    LinkRecord, Manifest, ManifestError, PutReport, RestoreOptions, RestoreReport, Restored,
    MANIFEST_VERSION, MODE_MASK,
};
pub use eviction::{EvictPolicy, EvictReport, EvictionRecord, StoreStats};
pub(crate) use io_pool::on_io_pool;
pub use layout::{Layout, LAYOUT_VERSION};
pub use lock::Wait;
pub use purge::PurgeReport;

use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::output_glob::FoundOutput;

/// A local store rooted at a cache folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    layout: Layout,
}

impl LocalStore {
    /// A store in `cache_dir`; nothing is created until the first put.
    pub fn new(cache_dir: &Path) -> Self {
        LocalStore {
            layout: Layout::new(cache_dir),
        }
    }

    /// Where everything of the store lies.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The versioned folder holding everything.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// Whether an entry exists for `key` (it may still prove unusable).
    pub fn contains(&self, key: &CacheKey) -> bool {
        self.layout.entry(key.as_str()).is_file()
    }

    /// Stores `outputs` (found under `cwd`) as the entry of `key`.
    pub fn put(&self, key: &CacheKey, outputs: &[FoundOutput]) -> Result<PutReport> {
        entry::put(self, key, outputs)
    }

    /// Starts writing the entry of `key`: the one way an entry is written
    /// (see [`EntryWriter`]).
    pub fn begin_entry(&self, key: &CacheKey) -> Result<EntryWriter<'_>> {
        EntryWriter::begin(self, key)
    }

    /// Writes `manifest` as the entry of `key`, atomically; its contents
    /// must already be in the store (tests and repairs; puts and ingests
    /// go through [`LocalStore::begin_entry`]).
    pub fn write_manifest(&self, key: &CacheKey, manifest: &Manifest) -> Result<()> {
        entry::write_manifest(self, key, manifest)
    }

    /// Takes the store's shared lock, creating the store if needed: hold it
    /// while reading contents (for an upload), so a purge or clear cannot
    /// remove them meanwhile.
    pub fn lock_shared(&self) -> Result<Option<lock::StoreLock>> {
        lock::StoreLock::shared(&self.layout, true)
    }

    /// Opens the stored content `digest` for reading through the verifying
    /// reader: reading fails (`InvalidData`) unless it is `size` bytes with
    /// that digest.
    pub fn open_content(
        &self,
        digest: &str,
        size: u64,
    ) -> std::io::Result<ContentReader<std::fs::File>> {
        let file = std::fs::File::open(self.layout.content(digest))?;
        Ok(ContentReader::expecting(file, size, digest))
    }

    /// Reads the manifest of `key`, if there is a usable one.
    pub fn read_manifest(&self, key: &CacheKey) -> Option<Manifest> {
        let bytes = std::fs::read(self.layout.entry(key.as_str())).ok()?;
        Manifest::parse(&bytes, key.as_str()).ok()
    }

    /// Restores the entry of `key` into `cwd`.
    pub fn restore(
        &self,
        key: &CacheKey,
        cwd: &Path,
        options: RestoreOptions,
    ) -> Result<RestoreReport> {
        entry::restore(self, key, cwd, options)
    }

    /// Removes entries not used for `days` days and contents no entry uses.
    pub fn purge(&self, days: f64) -> Result<PurgeReport> {
        self.purge_waiting(days, &Wait::default())
    }

    /// As [`LocalStore::purge`], waiting for the store as `wait` says.
    pub fn purge_waiting(&self, days: f64, wait: &Wait<'_>) -> Result<PurgeReport> {
        purge::purge(self, days, wait)
    }

    /// Removes every entry and content.
    pub fn clear(&self) -> Result<PurgeReport> {
        self.clear_waiting(&Wait::default())
    }

    /// As [`LocalStore::clear`], waiting for the store as `wait` says.
    pub fn clear_waiting(&self, wait: &Wait<'_>) -> Result<PurgeReport> {
        clear::clear(self, wait)
    }

    /// Removes least-recently-used entries over the size cap and entries
    /// over the age limit (see [`EvictPolicy`]), under the exclusive lock.
    pub fn evict(&self, policy: &EvictPolicy) -> Result<EvictReport> {
        self.evict_waiting(policy, &Wait::default())
    }

    /// As [`LocalStore::evict`], waiting for the store as `wait` says.
    pub fn evict_waiting(&self, policy: &EvictPolicy, wait: &Wait<'_>) -> Result<EvictReport> {
        eviction::evict(self, policy, eviction::EvictBy::User(wait))
    }

    /// As [`LocalStore::evict`], releasing `evictor` (the lock of one
    /// eviction at a time, [`lock::StoreLock::try_evictor`]) just before the
    /// store lock.
    pub fn evict_holding(
        &self,
        policy: &EvictPolicy,
        evictor: std::fs::File,
    ) -> Result<EvictReport> {
        eviction::evict(self, policy, eviction::EvictBy::Put(evictor))
    }

    /// Size, entries, the oldest entry's last use and the last eviction.
    pub fn stats(&self) -> Result<StoreStats> {
        eviction::stats(self)
    }

    /// When the last eviction ended.
    pub fn last_eviction_time(&self) -> Option<std::time::SystemTime> {
        eviction::last_run(self)
    }
}

#[cfg(test)]
mod clone_tests;
#[cfg(test)]
pub(crate) mod tests;
