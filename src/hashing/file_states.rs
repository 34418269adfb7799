//! What was hashed, and when: lets an unchanged tree rehash without reading
//! a file, like git's index.
//!
//! A file's digest is reused only when its size, modification time, inode
//! and change time are those recorded AND its modification time is older
//! than the moment it was hashed by more than the file system's timestamp
//! granularity. A file written in the same instant it was hashed ("racily
//! clean", in git's words) is always read again, so an edit that keeps size
//! and mtime is never missed.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Format version of the state file.
const VERSION: u32 = 1;
/// Timestamps closer than this to the hashing time are not trusted. Some
/// file systems keep only seconds (or two seconds, for FAT).
const RACY_NS: i128 = 2_000_000_000;

/// What the file system says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
}

impl Stamp {
    /// The stamp of `path` (not following a link), if it can be read.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
            inode: m.ino(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    digest: String,
    /// When the file was read for this digest, ns since the epoch.
    hashed_ns: i128,
}

/// The recorded states of one package's inputs.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FileStates {
    version: u32,
    entries: HashMap<String, Entry>,
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl FileStates {
    /// Loads `path`; a missing, unreadable or other-version file is empty.
    pub fn load(path: &Path) -> FileStates {
        fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<FileStates>(&b).ok())
            .filter(|s| s.version == VERSION)
            .unwrap_or_default()
    }

    /// The recorded digest of `rel`, if `stamp` shows it unchanged since.
    pub fn reusable(&self, rel: &str, stamp: &Stamp) -> Option<&str> {
        let e = self.entries.get(rel)?;
        let same = e.stamp == *stamp;
        let settled =
            stamp.mtime_ns + RACY_NS < e.hashed_ns && stamp.ctime_ns + RACY_NS < e.hashed_ns;
        (same && settled).then_some(e.digest.as_str())
    }

    /// Records that `rel`, with `stamp` taken before reading it, has `digest`.
    pub fn record(&mut self, rel: &str, stamp: Stamp, digest: &str) {
        self.entries.insert(
            rel.to_string(),
            Entry {
                stamp,
                digest: digest.to_string(),
                hashed_ns: now_ns(),
            },
        );
    }

    /// Number of files recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps only the files `keep` says are still inputs.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|rel, _| keep(rel));
    }

    /// Writes the states atomically (temp file, then rename).
    pub fn save(&mut self, path: &Path) -> std::io::Result<()> {
        self.version = VERSION;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".states-")
            .tempfile_in(dir)?;
        serde_json::to_writer(tmp.as_file(), self).map_err(std::io::Error::other)?;
        tmp.persist(path).map(|_| ()).map_err(|e| e.error)
    }
}
