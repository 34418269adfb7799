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

/// First line of a state file: its format and version.
const HEADER: &str = "backfill-native file states v2";
/// Timestamps closer than this to the hashing time are not trusted. Some
/// file systems keep only seconds (or two seconds, for FAT).
const RACY_NS: i128 = 2_000_000_000;

/// What the file system says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone)]
struct Entry {
    stamp: Stamp,
    digest: String,
    /// When the file was read for this digest, ns since the epoch.
    hashed_ns: i128,
}

/// The recorded states of one package's inputs.
#[derive(Debug, Default)]
pub struct FileStates {
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
        let Ok(text) = fs::read_to_string(path) else {
            return FileStates::default();
        };
        let mut lines = text.split('\n');
        if lines.next() != Some(HEADER) {
            return FileStates::default();
        }
        let mut entries = HashMap::new();
        for line in lines.filter(|l| !l.is_empty()) {
            // Fields are separated by single spaces; the path comes last and
            // may hold spaces itself.
            let mut f = line.splitn(7, ' ');
            let mut num = || f.next().and_then(|n| n.parse::<i128>().ok());
            let (Some(size), Some(mtime_ns), Some(ctime_ns), Some(inode), Some(hashed_ns)) =
                (num(), num(), num(), num(), num())
            else {
                return FileStates::default();
            };
            let (Some(digest), Some(rel)) = (f.next(), f.next()) else {
                return FileStates::default();
            };
            let stamp = Stamp {
                size: size as u64,
                mtime_ns,
                ctime_ns,
                inode: inode as u64,
            };
            entries.insert(
                rel.to_string(),
                Entry {
                    stamp,
                    digest: digest.to_string(),
                    hashed_ns,
                },
            );
        }
        FileStates { entries }
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

    /// Writes the states atomically (temp file, then rename), one line per
    /// file: a compact format, since an unchanged tree's rehash is mostly
    /// the time it takes to read this back.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".states-")
            .tempfile_in(dir)?;
        let mut out = std::io::BufWriter::new(tmp.as_file());
        writeln!(out, "{HEADER}")?;
        for (rel, e) in &self.entries {
            // A path with a line break is simply not remembered.
            if rel.contains('\n') {
                continue;
            }
            let st = &e.stamp;
            writeln!(
                out,
                "{} {} {} {} {} {} {rel}",
                st.size, st.mtime_ns, st.ctime_ns, st.inode, e.hashed_ns, e.digest
            )?;
        }
        out.flush()?;
        drop(out);
        tmp.persist(path).map(|_| ()).map_err(|e| e.error)
    }
}
