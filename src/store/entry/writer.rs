//! The store's one write protocol for an entry, used by a put and by a
//! remote ingest alike: take the shared lock, add contents and links, then
//! commit, which moves staged contents in and writes the manifest last. A
//! writer dropped before its commit leaves the store as it was (contents a
//! put already stored stay, unreferenced, until a purge), and a crash at
//! any point leaves no entry or a complete one.

use std::io::Read;

use super::manifest::{FileRecord, LinkRecord, Manifest, MANIFEST_VERSION};
use crate::cache_key::CacheKey;
use crate::error::{CacheError, IoContext, Result};
use crate::store::content::writer::{self as content_writer, IngestFailure, Staged};
use crate::store::lock::StoreLock;
use crate::store::LocalStore;

/// An entry being written; see the module doc.
pub struct EntryWriter<'s> {
    store: &'s LocalStore,
    key: CacheKey,
    files: Vec<FileRecord>,
    links: Vec<LinkRecord>,
    staged: Vec<Staged>,
    _lock: Option<StoreLock>,
}

impl<'s> EntryWriter<'s> {
    /// Starts the entry of `key`, creating the store if needed and taking
    /// its shared lock until the commit (or the drop).
    pub(crate) fn begin(store: &'s LocalStore, key: &CacheKey) -> Result<Self> {
        Ok(EntryWriter {
            store,
            key: key.clone(),
            files: Vec::new(),
            links: Vec::new(),
            staged: Vec::new(),
            _lock: StoreLock::shared(store.layout(), true)?,
        })
    }

    /// The store written to.
    pub fn store(&self) -> &'s LocalStore {
        self.store
    }

    /// Writes everything `reader` yields to the store's temp folder as one
    /// content; it enters the store only if it is added and committed.
    /// `size_hint`: the size the source claims, `u64::MAX` when unknown.
    pub fn stage(
        &self,
        reader: &mut impl Read,
        size_hint: u64,
    ) -> std::result::Result<Staged, IngestFailure> {
        content_writer::stage(self.store, reader, size_hint)
    }

    /// Adds a file whose content is already in the store.
    pub fn add_stored(&mut self, file: FileRecord) {
        self.files.push(file);
    }

    /// Adds a file whose content was staged by [`EntryWriter::stage`].
    pub fn add_staged(&mut self, file: FileRecord, content: Staged) {
        self.files.push(file);
        self.staged.push(content);
    }

    /// Adds a symbolic link.
    pub fn add_link(&mut self, link: LinkRecord) {
        self.links.push(link);
    }

    /// The entry as it would be committed now, paths sorted.
    pub fn manifest(&self) -> Manifest {
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut links = self.links.clone();
        links.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
            version: MANIFEST_VERSION,
            key: self.key.as_str().to_string(),
            files,
            links,
        }
    }

    /// Moves the staged contents into the store, then writes the manifest;
    /// the lock is released on return.
    pub fn commit(self) -> Result<Manifest> {
        let manifest = self.manifest();
        for content in self.staged {
            content.commit(self.store)?;
        }
        write_manifest(self.store, &self.key, &manifest)?;
        Ok(manifest)
    }
}

/// Writes a manifest: temp file, then rename over the entry. The file is
/// created read-only (0444 less the umask), as contents are, so a store
/// shared by several users (a CI cache, a container) serves them all.
pub(crate) fn write_manifest(
    store: &LocalStore,
    key: &CacheKey,
    manifest: &Manifest,
) -> Result<()> {
    let json = manifest.encode().map_err(|e| {
        CacheError::io(
            "encode the manifest of",
            &store.layout().entry(key.as_str()),
            std::io::Error::other(e),
        )
    })?;
    let dir = store.layout().tmp();
    std::fs::create_dir_all(&dir).at("create the cache folder", &dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix("entry-");
    if let Some(p) = crate::platform::store_file_permissions() {
        builder.permissions(p);
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .at("create a temp file in", &dir)?;
    std::io::Write::write_all(tmp.as_file_mut(), &json).at("write to the cache", tmp.path())?;
    content_writer::persist(tmp, &store.layout().entry(key.as_str()))
}
