//! Ingesting a remote tar into the local store.
//!
//! Contents are staged through the store's entry writer as they stream in;
//! only when the whole archive was read, found safe and consistent (and, by
//! the caller, verified) does the caller commit the entry, which moves the
//! contents into the store and writes the manifest. A cut download, a hostile or self-contradicting
//! archive thus leaves nothing in the store and touches no output. The
//! package is then restored from the store like any local hit.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::{self, Read};

use tar::EntryType;

use crate::error::CacheError;
use crate::store::{
    case_conflict, entry_digest, is_safe_relative, layout_conflict, EntryWriter, FileRecord,
    LinkRecord, Staged, MODE_MASK,
};

/// Why an archive was not ingested.
#[derive(Debug)]
pub enum IngestError {
    /// The archive tries to write outside the package, holds entries
    /// outputs never are, contradicts itself or is cut short. Holds the
    /// reason, for a warning.
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

/// Remembers whether the tar reader met the end of the stream: a tar ends
/// with zero blocks, so an archive whose entries end at end of stream was
/// cut short (tar readers, the JS one included, take it as complete).
struct EndOfStream<R> {
    inner: R,
    reached: bool,
}

impl<R: Read> Read for EndOfStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.reached = true;
        }
        Ok(n)
    }
}

/// Reads the tar in `reader`, staging its contents, after checking every
/// path: nothing may leave the package, and the entries must be able to
/// exist together on any system (no name that is two things, nothing below
/// a file or a link, no names differing only in case). The end-of-archive
/// marker must be there. The files and links are added to `entry`; nothing
/// enters the store until the caller commits it. Returns the entry's
/// digest ([`entry_digest`]: what it restores), for the signature check.
pub fn ingest_archive(
    writer: &mut EntryWriter<'_>,
    reader: impl Read,
) -> Result<[u8; 32], IngestError> {
    let refuse = |why: String| Err(IngestError::Refused(why));
    let mut files: BTreeMap<String, (FileRecord, Staged)> = BTreeMap::new();
    let mut links: BTreeMap<String, LinkRecord> = BTreeMap::new();
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut archive = tar::Archive::new(EndOfStream {
        inner: reader,
        reached: false,
    });
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
        // One name twice: a later entry of the same type replaces the
        // earlier one, as tar does; of another type, the archive is refused.
        let is_file = matches!(kind, EntryType::Regular | EntryType::Continuous);
        let twice = |as_what: &str| {
            refuse(format!(
                "entry {rel:?} appears twice, as {as_what} and as a {}",
                if is_file {
                    "file"
                } else if kind == EntryType::Symlink {
                    "link"
                } else {
                    "folder"
                }
            ))
        };
        if files.contains_key(&rel) && !is_file {
            return twice("a file");
        }
        if links.contains_key(&rel) && kind != EntryType::Symlink {
            return twice("a link");
        }
        if folders.contains(&rel) && kind != EntryType::Directory {
            return twice("a folder");
        }
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                let mode = entry.header().mode().map_err(IngestError::Stream)? & MODE_MASK;
                let mtime = entry.header().mtime().ok();
                // The header's size only sizes the read buffer: the entry's
                // reader yields no more than it, and the stream is bounded.
                let claimed = entry.size();
                let staged = writer.stage(&mut entry, claimed).map_err(|e| match e {
                    crate::store::IngestFailure::Read(e) => IngestError::Stream(e),
                    crate::store::IngestFailure::Local(e) => IngestError::Local(e),
                })?;
                let record = FileRecord {
                    path: rel.clone(),
                    mode,
                    size: staged.size,
                    digest: staged.digest.clone(),
                    mtime,
                };
                files.insert(rel, (record, staged));
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
                links.insert(rel.clone(), LinkRecord { path: rel, target });
            }
            // Folders are made as needed; other writers than tar-fs add them.
            EntryType::Directory => {
                folders.insert(rel);
            }
            other => {
                return refuse(format!(
                    "entry {rel:?} is a {other:?}, which outputs never are"
                ))
            }
        }
    }
    // Only a zero block ends the entries before the end of the stream.
    if archive.into_inner().reached {
        return refuse(
            "it has no end-of-archive marker, so it was cut short (an interrupted upload?)".into(),
        );
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
    let (records, staged): (Vec<FileRecord>, Vec<Staged>) = files.into_values().unzip();
    let links: Vec<LinkRecord> = links.into_values().collect();
    let folders: Vec<String> = folders.into_iter().collect();
    if let Some(why) = layout_conflict(&records, &links, &folders) {
        return refuse(format!("its entries cannot all exist at once: {why}"));
    }
    let all_paths = records
        .iter()
        .map(|f| f.path.as_str())
        .chain(links.iter().map(|l| l.path.as_str()))
        .chain(folders.iter().map(String::as_str));
    if let Some((a, b)) = case_conflict(all_paths) {
        return refuse(format!(
            "entries {a:?} and {b:?} differ only in case, which a case-insensitive file system \
             (macOS, Windows) cannot hold apart"
        ));
    }
    // Every file's time is in its header; 0 stands for one that is not.
    let digest = entry_digest(&records, &links, 0);
    for (file, content) in records.into_iter().zip(staged) {
        writer.add_staged(file, content);
    }
    for link in links {
        writer.add_link(link);
    }
    Ok(digest)
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
