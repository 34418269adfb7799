//! The local store: file contents kept once by blake3 digest, plus one small
//! manifest per cache key.
//!
//! Layout under the cache folder (the `v1` folder is the format version):
//!
//! ```text
//! v1/content/<first 2 hex>/<64-hex blake3>   file contents, read-only
//! v1/entries/<2 hex of blake3(key)>/<key>.json  manifests
//! v1/tmp/                                      temp files, renamed into place (only under the shared lock)
//! v1/lock                                      shared by fetch/put, exclusive for purge/clear/eviction
//! v1/gate                                      passed by fetch/put, held by an exclusive taker
//! v1/index                                     the eviction index (rebuilt if lost)
//! v1/evict.lock                                one eviction at a time
//! ```
//!
//! Every file appears by rename, so a reader never sees half of one; a
//! manifest is written only after all its contents are in place, so a crash
//! never leaves a hit with missing files; contents are verified on restore.

mod capture;
mod content_reader;
mod content_writer;
mod entry_writer;
mod evict;
mod index;
mod io_pool;
pub mod lock;
mod manifest;
mod purge;
mod restore;

use std::path::{Path, PathBuf};

pub use capture::PutReport;
pub use content_reader::ContentReader;
pub use content_writer::{IngestFailure, Ingested, Staged};
pub use entry_writer::EntryWriter;
pub use evict::{EvictPolicy, EvictReport, StoreStats};
pub use index::EvictionRecord;
pub(crate) use io_pool::on_io_pool;
pub use lock::Wait;
pub use manifest::{
    case_conflict, is_safe_relative, layout_conflict, FileRecord, LinkRecord, Manifest,
    ManifestError, MANIFEST_VERSION, MODE_MASK,
};
pub use purge::{PurgeReport, Usage};
pub use restore::{RestoreOptions, RestoreReport, Restored};

use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::output_glob::FoundOutput;

/// Name of the format folder; bump it when the layout changes.
pub const LAYOUT_VERSION: &str = "v1";

/// A local store rooted at a cache folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store in `cache_dir`; nothing is created until the first put.
    pub fn new(cache_dir: &Path) -> Self {
        LocalStore {
            root: cache_dir.join(LAYOUT_VERSION),
        }
    }

    /// The versioned folder holding everything.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn content_path(&self, digest: &str) -> PathBuf {
        self.root.join("content").join(&digest[..2]).join(digest)
    }

    pub(crate) fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.entry_path_of(key.as_str())
    }

    fn entry_path_of(&self, key: &str) -> PathBuf {
        let shard = blake3::hash(key.as_bytes()).to_hex();
        self.root
            .join("entries")
            .join(&shard.as_str()[..2])
            .join(format!("{key}.json"))
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Whether an entry exists for `key` (it may still prove unusable).
    pub fn contains(&self, key: &CacheKey) -> bool {
        self.entry_path(key).is_file()
    }

    /// Stores `outputs` (found under `cwd`) as the entry of `key`.
    pub fn put(&self, key: &CacheKey, outputs: &[FoundOutput]) -> Result<PutReport> {
        capture::put(self, key, outputs)
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
        entry_writer::write_manifest(self, key, manifest)
    }

    /// Takes the store's shared lock, creating the store if needed: hold it
    /// while reading contents (for an upload), so a purge or clear cannot
    /// remove them meanwhile.
    pub fn lock_shared(&self) -> Result<Option<lock::StoreLock>> {
        lock::StoreLock::shared(self.root(), true)
    }

    /// Opens the stored content `digest` for reading through the verifying
    /// reader: reading fails (`InvalidData`) unless it is `size` bytes with
    /// that digest.
    pub fn open_content(
        &self,
        digest: &str,
        size: u64,
    ) -> std::io::Result<ContentReader<std::fs::File>> {
        let file = std::fs::File::open(self.content_path(digest))?;
        Ok(ContentReader::expecting(file, size, digest))
    }

    /// Reads the manifest of `key`, if there is a usable one.
    pub fn read_manifest(&self, key: &CacheKey) -> Option<Manifest> {
        let bytes = std::fs::read(self.entry_path(key)).ok()?;
        Manifest::parse(&bytes, key.as_str()).ok()
    }

    /// Restores the entry of `key` into `cwd`.
    pub fn restore(
        &self,
        key: &CacheKey,
        cwd: &Path,
        options: RestoreOptions,
    ) -> Result<RestoreReport> {
        restore::restore(self, key, cwd, options)
    }

    /// Removes entries not used for `days` days and contents no entry uses.
    pub fn purge(&self, days: f64) -> Result<PurgeReport> {
        self.purge_waiting(days, &Wait::default())
    }

    /// As [`LocalStore::purge`], waiting for the store as `wait` says.
    pub fn purge_waiting(&self, days: f64, wait: &Wait<'_>) -> Result<PurgeReport> {
        purge::purge(self, days, wait)
    }

    /// Counts the entries and contents and their bytes.
    pub fn usage(&self) -> Result<Usage> {
        purge::usage(self)
    }

    /// Removes every entry and content.
    pub fn clear(&self) -> Result<PurgeReport> {
        self.clear_waiting(&Wait::default())
    }

    /// As [`LocalStore::clear`], waiting for the store as `wait` says.
    pub fn clear_waiting(&self, wait: &Wait<'_>) -> Result<PurgeReport> {
        purge::clear(self, wait)
    }

    /// Removes least-recently-used entries over the size cap and entries
    /// over the age limit (see [`EvictPolicy`]), under the exclusive lock.
    pub fn evict(&self, policy: &EvictPolicy) -> Result<EvictReport> {
        self.evict_waiting(policy, &Wait::default())
    }

    /// As [`LocalStore::evict`], waiting for the store as `wait` says.
    pub fn evict_waiting(&self, policy: &EvictPolicy, wait: &Wait<'_>) -> Result<EvictReport> {
        evict::evict(self, policy, evict::EvictBy::User(wait))
    }

    /// As [`LocalStore::evict`], releasing `evictor` (the lock of one
    /// eviction at a time, [`lock::StoreLock::try_evictor`]) just before the
    /// store lock.
    pub fn evict_holding(
        &self,
        policy: &EvictPolicy,
        evictor: std::fs::File,
    ) -> Result<EvictReport> {
        evict::evict(self, policy, evict::EvictBy::Put(evictor))
    }

    /// Size, entries, the oldest entry's last use and the last eviction.
    pub fn stats(&self) -> Result<StoreStats> {
        evict::stats(self)
    }

    /// When the last eviction ended.
    pub fn last_eviction_time(&self) -> Option<std::time::SystemTime> {
        evict::last_run(self)
    }
}

#[cfg(test)]
mod eviction_bench;
#[cfg(test)]
mod eviction_tests;
#[cfg(test)]
pub(crate) mod tests;
