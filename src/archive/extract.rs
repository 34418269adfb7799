//! Reading a remote tar into the local store.
//!
//! Contents go into the store as they stream in; the entry's manifest is
//! written only when the whole archive was read and found safe, so a cut
//! download or a hostile archive leaves no entry and touches no output. The
//! package is then restored from the store like any local hit.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, Read};

use tar::EntryType;

use crate::cache_key::CacheKey;
use crate::error::CacheError;
use crate::store::{
    is_safe_relative, FileRecord, LinkRecord, LocalStore, Manifest, MANIFEST_VERSION,
};

/// Why an archive was not ingested.
#[derive(Debug)]
pub enum IngestError {
    /// The archive tries to write outside the package, or holds entries
    /// outputs never are. Holds the reason, for a warning.
    Refused(String),
    /// The stream failed or is not a valid tar (a cut download, say).
    Stream(io::Error),
    /// The local store could not be written.
    Local(CacheError),
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestError::Refused(why) => write!(f, "the archive was refused: {why}"),
            IngestError::Stream(e) => write!(f, "the archive could not be read: {e}"),
            IngestError::Local(e) => write!(f, "{e}"),
        }
    }
}

/// Reads the tar in `reader` into the store as the entry of `key`, after
/// checking every path. The manifest is returned, not yet written: the
/// caller writes it once the stream is known complete and intact.
pub fn ingest_archive(
    store: &LocalStore,
    key: &CacheKey,
    reader: impl Read,
) -> Result<Manifest, IngestError> {
    let refuse = |why: String| Err(IngestError::Refused(why));
    let mut files: BTreeMap<String, FileRecord> = BTreeMap::new();
    let mut links: BTreeMap<String, LinkRecord> = BTreeMap::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(IngestError::Stream)? {
        let mut entry = entry.map_err(IngestError::Stream)?;
        let raw = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(raw) else {
            return refuse("an entry name is not valid UTF-8".into());
        };
        let kind = entry.header().entry_type();
        // `tar -C pkg -cf x.tar .` starts with the package folder itself.
        if kind == EntryType::Directory
            && matches!(
                name.trim_start_matches("./").trim_end_matches('/'),
                "" | "."
            )
        {
            continue;
        }
        let Some(rel) = normalize(&name) else {
            return refuse(format!("entry {name:?} points outside the package"));
        };
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                let mode = entry.header().mode().map_err(IngestError::Stream)? & 0o7777;
                let mtime = entry.header().mtime().ok();
                let stored = store.ingest_content(&mut entry).map_err(|e| match e {
                    crate::store::IngestFailure::Read(e) => IngestError::Stream(e),
                    crate::store::IngestFailure::Local(e) => IngestError::Local(e),
                })?;
                links.remove(&rel);
                files.insert(
                    rel.clone(),
                    FileRecord {
                        path: rel,
                        mode,
                        size: stored.size,
                        digest: stored.digest,
                        mtime,
                    },
                );
            }
            EntryType::Symlink => {
                let target = match entry.link_name_bytes() {
                    Some(t) => match String::from_utf8(t.into_owned()) {
                        Ok(t) => t,
                        Err(_) => {
                            return refuse(format!(
                                "link {rel:?} has a target that is not valid UTF-8"
                            ))
                        }
                    },
                    None => return refuse(format!("link {rel:?} has no target")),
                };
                files.remove(&rel);
                links.insert(rel.clone(), LinkRecord { path: rel, target });
            }
            // Folders are made as needed; other writers than tar-fs add them.
            EntryType::Directory => {}
            other => {
                return refuse(format!(
                    "entry {rel:?} is a {other:?}, which outputs never are"
                ))
            }
        }
    }
    // Nothing may be written through a link of the same archive, and no link
    // may lead outside, directly or through another link.
    let link_paths: HashSet<&str> = links.keys().map(String::as_str).collect();
    for l in links.values() {
        if !link_stays_inside(&l.path, &l.target, &link_paths) {
            return refuse(format!(
                "link {:?} points outside the package ({:?})",
                l.path, l.target
            ));
        }
    }
    for path in files.keys().chain(links.keys()) {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            if link_paths.contains(&path[..end]) {
                return refuse(format!(
                    "entry {path:?} goes through the link {:?}",
                    &path[..end]
                ));
            }
            end += 1;
        }
    }
    Ok(Manifest {
        version: MANIFEST_VERSION,
        key: key.as_str().to_string(),
        files: files.into_values().collect(),
        links: links.into_values().collect(),
    })
}

/// A tar entry name as a package-relative path, or `None` if it could leave
/// the package (absolute, `..`, a drive or backslash path).
fn normalize(name: &str) -> Option<String> {
    let mut s = name;
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    let s = s.trim_end_matches('/');
    if s.len() >= 2 && s.as_bytes()[1] == b':' {
        return None;
    }
    is_safe_relative(s).then(|| s.to_string())
}

/// Whether link `rel` with `target`, resolved from the link's folder, stays
/// inside the package. Resolution is by name, so it refuses to pass through
/// another link of the archive (whose real target would change the meaning
/// of a later `..`).
fn link_stays_inside(rel: &str, target: &str, links: &HashSet<&str>) -> bool {
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\\')
        || target.contains('\0')
    {
        return false;
    }
    let mut at: Vec<&str> = rel.split('/').collect();
    at.pop();
    let parts: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    for (i, c) in parts.iter().enumerate() {
        if *c == ".." {
            if at.pop().is_none() {
                return false;
            }
        } else {
            at.push(c);
            if i + 1 < parts.len() && links.contains(at.join("/").as_str()) {
                return false;
            }
        }
    }
    true
}
