//! Where everything of a store lies: the one place that names a file or
//! folder of it. Nothing else builds a store path.
//!
//! Under the cache folder (the `v1` folder is the format version):
//!
//! ```text
//! v1/content/<first 2 hex>/<64-hex blake3>     file contents, read-only
//! v1/entries/<2 hex of blake3(key)>/<key>.json  manifests
//! v1/tmp/                                       temp files, renamed into place (only under the shared lock)
//! v1/output-states/<32 hex>                     what a fetch last saw of a package's outputs
//! v1/content-states/<32 hex>                    the stamps of contents last cloned into a package, read and found good
//! v1/lock                                       shared by fetch/put, exclusive for purge/clear/eviction
//! v1/gate                                       passed by fetch/put, held by an exclusive taker
//! v1/index, v1/.index-*                         the eviction index (rebuilt if lost), and its temp files
//! v1/evict.lock                                 one eviction at a time
//! v1/trash-*/                                   what a clear moved aside and is removing
//! ```

use std::path::{Path, PathBuf};

/// Name of the format folder; bump it when the layout changes.
pub const LAYOUT_VERSION: &str = "v1";

/// The paths of one store.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the store in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Self {
        Layout {
            root: cache_dir.join(LAYOUT_VERSION),
        }
    }

    /// The versioned folder holding everything.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cache folder the user named (the versioned folder's parent).
    pub fn cache_dir(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    /// The folder of the contents, sharded by their first two hex digits.
    pub fn contents(&self) -> PathBuf {
        self.root.join("content")
    }

    /// The stored content `digest` (64 hex digits).
    pub fn content(&self, digest: &str) -> PathBuf {
        self.contents()
            .join(digest.get(..2).unwrap_or(""))
            .join(digest)
    }

    /// The folder of the manifests, sharded by the key's own digest.
    pub fn entries(&self) -> PathBuf {
        self.root.join("entries")
    }

    /// The manifest of the entry `key`.
    pub fn entry(&self, key: &str) -> PathBuf {
        let shard = blake3::hash(key.as_bytes()).to_hex();
        self.entries()
            .join(&shard.as_str()[..2])
            .join(format!("{key}{ENTRY_SUFFIX}"))
    }

    /// Temp files, renamed into place once whole.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The output states of the package folder whose id is `id` (hex).
    pub fn output_states(&self, id: &str) -> PathBuf {
        self.output_states_dir().join(id.get(..32).unwrap_or(id))
    }

    /// The folder of every package's output states.
    pub fn output_states_dir(&self) -> PathBuf {
        self.root.join("output-states")
    }

    /// The states of the contents last cloned into the package folder
    /// whose id is `id` (hex).
    pub fn content_states(&self, id: &str) -> PathBuf {
        self.content_states_dir().join(id.get(..32).unwrap_or(id))
    }

    /// The folder of every package's content states.
    pub fn content_states_dir(&self) -> PathBuf {
        self.root.join("content-states")
    }

    /// The store lock.
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// The gate an exclusive taker holds while it waits.
    pub fn gate(&self) -> PathBuf {
        self.root.join("gate")
    }

    /// The eviction index.
    pub fn index(&self) -> PathBuf {
        self.root.join("index")
    }

    /// The lock of one eviction at a time (its time is when the store was
    /// first evicted or made).
    pub fn evict_lock(&self) -> PathBuf {
        self.root.join("evict.lock")
    }

    /// What a clear moves aside: everything but the locks.
    pub fn cleared(&self) -> [PathBuf; 6] {
        [
            self.entries(),
            self.contents(),
            self.tmp(),
            self.index(),
            self.output_states_dir(),
            self.content_states_dir(),
        ]
    }

    /// Whether `name`, in the versioned folder, is the temp file of an index
    /// being written.
    pub fn is_index_temp(name: &str) -> bool {
        name.starts_with(INDEX_TEMP_PREFIX)
    }

    /// Whether `name`, in the versioned folder, is a folder a clear moved
    /// aside.
    pub fn is_trash(name: &str) -> bool {
        name.starts_with(TRASH_PREFIX)
    }
}

/// The suffix of a manifest's file name.
pub const ENTRY_SUFFIX: &str = ".json";
/// The prefix of an index's temp file.
pub const INDEX_TEMP_PREFIX: &str = ".index-";
/// The prefix of a folder a clear moved aside.
pub const TRASH_PREFIX: &str = "trash-";
