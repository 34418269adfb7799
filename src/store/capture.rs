//! Storing an entry: contents first, then the manifest, so a crash at any
//! point leaves either no entry or a complete one.

use rayon::prelude::*;

use super::content::{self, store_file};
use super::lock::StoreLock;
use super::manifest::{FileRecord, LinkRecord, Manifest, MANIFEST_VERSION};
use super::LocalStore;
use crate::cache_key::CacheKey;
use crate::error::{CacheError, IoContext, Result};
use crate::output_glob::FoundOutput;

/// What a put stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutReport {
    /// Regular files in the entry.
    pub files: u64,
    /// Symbolic links in the entry.
    pub links: u64,
    /// Bytes of the files in the entry.
    pub bytes: u64,
    /// Bytes actually written (contents not already in the store).
    pub new_bytes: u64,
}

enum Captured {
    File(FileRecord, u64),
    Link(LinkRecord),
}

pub fn put(store: &LocalStore, key: &CacheKey, outputs: &[FoundOutput]) -> Result<PutReport> {
    let _lock = StoreLock::shared(store.root(), true)?;
    let captured: Vec<Captured> = super::on_io_pool(|| {
        outputs
            .par_iter()
            .map(|out| {
                if out.is_symlink {
                    let target = std::fs::read_link(&out.abs).at("read output link", &out.abs)?;
                    let target = target.to_str().ok_or_else(|| {
                        CacheError::io(
                            "store output link",
                            &out.abs,
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "its target is not valid UTF-8",
                            ),
                        )
                    })?;
                    Ok(Captured::Link(LinkRecord {
                        path: out.rel.clone(),
                        target: target.to_string(),
                    }))
                } else {
                    let stored = store_file(store, &out.abs)?;
                    Ok(Captured::File(
                        FileRecord {
                            path: out.rel.clone(),
                            mode: stored.mode,
                            size: stored.size,
                            digest: stored.digest,
                            mtime: stored.mtime,
                        },
                        stored.new_bytes,
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()
    })?;

    let mut report = PutReport::default();
    let mut manifest = Manifest {
        version: MANIFEST_VERSION,
        key: key.as_str().to_string(),
        files: Vec::new(),
        links: Vec::new(),
    };
    for c in captured {
        match c {
            Captured::File(f, new_bytes) => {
                report.files += 1;
                report.bytes += f.size;
                report.new_bytes += new_bytes;
                manifest.files.push(f);
            }
            Captured::Link(l) => {
                report.links += 1;
                manifest.links.push(l);
            }
        }
    }
    write_manifest(store, key, &manifest)?;
    Ok(report)
}

/// Writes a manifest: temp file, then rename over the entry. The file is
/// created read-only (0444 less the umask), as contents are.
pub fn write_manifest(store: &LocalStore, key: &CacheKey, manifest: &Manifest) -> Result<()> {
    let json = manifest.encode().map_err(|e| {
        CacheError::io(
            "encode the manifest of",
            &store.entry_path(key),
            std::io::Error::other(e),
        )
    })?;
    let dir = store.tmp_dir();
    std::fs::create_dir_all(&dir).at("create the cache folder", &dir)?;
    // Readable by every user the umask allows, like the contents: a store
    // shared by several users (a CI cache, a container) serves them all.
    let mut tmp = tempfile::Builder::new()
        .prefix("entry-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
        .tempfile_in(&dir)
        .at("create a temp file in", &dir)?;
    std::io::Write::write_all(tmp.as_file_mut(), &json).at("write to the cache", tmp.path())?;
    content::persist(tmp, &store.entry_path(key))
}
