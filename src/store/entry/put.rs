//! Storing a put's outputs: each file's content into the store (in
//! parallel, each once; cloned where the file system can), each link as its target, through the store's entry
//! writer, so the manifest is written last.

use rayon::prelude::*;

use super::manifest::{FileRecord, LinkRecord};
use crate::cache_key::CacheKey;
use crate::error::{CacheError, Result};
use crate::output_glob::FoundOutput;
use crate::store::content::clone::Way;
use crate::store::content::writer::store_file;
use crate::store::LocalStore;

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
    let mut entry = store.begin_entry(key)?;
    // The outputs lie in one package folder: one way for all.
    let way = match outputs.first().and_then(|o| o.abs.parent()) {
        Some(dir) => Way::between(store, dir),
        None => Way::copy(),
    };
    let captured: Vec<Captured> = crate::store::on_io_pool(|| {
        outputs
            .par_iter()
            .map(|out| {
                if out.is_symlink {
                    let target = crate::platform::link_target(&out.abs).map_err(|e| {
                        let action = if e.kind() == std::io::ErrorKind::InvalidData {
                            "store output link"
                        } else {
                            "read output link"
                        };
                        CacheError::io(action, &out.abs, e)
                    })?;
                    Ok(Captured::Link(LinkRecord {
                        path: out.rel.clone(),
                        target,
                    }))
                } else {
                    let stored = store_file(store, &out.abs, &way)?;
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
    for c in captured {
        match c {
            Captured::File(f, new_bytes) => {
                report.files += 1;
                report.bytes += f.size;
                report.new_bytes += new_bytes;
                entry.add_stored(f);
            }
            Captured::Link(l) => {
                report.links += 1;
                entry.add_link(l);
            }
        }
    }
    entry.commit()?;
    Ok(report)
}
