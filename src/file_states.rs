//! What was hashed, and when: lets an unchanged tree rehash without reading
//! a file, like git's index. Input hashing uses it for a package's inputs,
//! a fetch for the outputs it finds already in place.
//!
//! A file's digest is reused only when its size, modification time, inode
//! and change time are those recorded AND both times are older than the
//! moment it was hashed by more than the file system's timestamp
//! granularity. A file written in the same instant it was hashed ("racily
//! clean", in git's words) is always read again, so an edit that keeps size
//! and mtime is never missed.
//!
//! The state file is binary, one fixed-size record per file followed by its
//! path, sorted by path: loading it is one read, with no parsing and no
//! allocation per file, since an unchanged tree's rehash is mostly the time
//! it takes to stat the files and look them up here.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// First bytes of a state file: its format and version.
const MAGIC: &[u8] = b"backfill-native file states v3\n";
/// Timestamps closer than this to the hashing time are not trusted. Some
/// file systems keep only seconds (or two seconds, for FAT).
const RACY_NS: i64 = 2_000_000_000;
/// size, mtime, ctime, inode, hashed time (8 bytes each), the digest (32)
/// and the path length (4); the path follows.
const FIXED: usize = 5 * 8 + 32 + 4;

/// What the file system says of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

impl Stamp {
    /// The stamp of `path` (not following a link), if it can be read (the
    /// walk takes stamps from its folder listing instead).
    #[cfg(test)]
    pub fn of(path: &Path) -> Option<Stamp> {
        fs::symlink_metadata(path).ok().map(|m| Stamp::from(&m))
    }
}

impl From<&fs::Metadata> for Stamp {
    /// Times are clamped to what an `i64` of ns holds (years 1677 to
    /// 2262): a file stamped beyond that is never settled long enough to be
    /// trusted, so it is simply always read. On Windows the change time is
    /// the creation time and the inode the creation time too (see
    /// `platform`), which miss some writes: states are not trusted there.
    fn from(m: &fs::Metadata) -> Stamp {
        let (mtime_ns, ctime_ns) = crate::platform::stamp_times(m);
        Stamp {
            size: m.len(),
            mtime_ns,
            ctime_ns,
            inode: crate::platform::file_id(m),
        }
    }
}

/// One file's state: its stamp when it was read, its digest, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileState {
    pub stamp: Stamp,
    pub digest: blake3::Hash,
    /// When the hash that read the file began (before its stamp was
    /// taken), ns since the epoch.
    pub hashed_ns: i64,
}

/// Now, in ns since the epoch: taken before a hash begins, to be the
/// `hashed_ns` of every file it reads.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl FileState {
    /// The digest, if `stamp` shows the file unchanged since and it had
    /// settled (both times older than the read by more than the granularity).
    /// Never where stamps miss some writes (Windows).
    pub fn reusable(&self, stamp: &Stamp) -> Option<blake3::Hash> {
        if !crate::platform::STAMPS_SHOW_EVERY_WRITE {
            return None;
        }
        let settled = stamp.mtime_ns.saturating_add(RACY_NS) < self.hashed_ns
            && stamp.ctime_ns.saturating_add(RACY_NS) < self.hashed_ns;
        (self.stamp == *stamp && settled).then_some(self.digest)
    }
}

/// The recorded states of one package's inputs, as loaded from disk.
#[derive(Debug, Default)]
pub struct FileStates {
    bytes: Vec<u8>,
    /// Offsets of the records in `bytes`, in path order.
    records: Vec<usize>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

impl FileStates {
    /// Loads `path`; a missing, unreadable, other-version or damaged file
    /// is empty (every file is then read again).
    pub fn load(path: &Path) -> FileStates {
        let Ok(bytes) = fs::read(path) else {
            return FileStates::default();
        };
        Self::index(bytes).unwrap_or_default()
    }

    fn index(bytes: Vec<u8>) -> Option<FileStates> {
        let mut at = MAGIC.len();
        if !bytes.starts_with(MAGIC) {
            return None;
        }
        let mut records = Vec::new();
        let mut last: &[u8] = &[];
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes.get(at + FIXED - 4..at + FIXED)?.try_into().ok()?);
            let path = bytes.get(at + FIXED..at + FIXED + len as usize)?;
            // Sorted and unique, or the lookups would be wrong.
            if !records.is_empty() && path <= last {
                return None;
            }
            std::str::from_utf8(path).ok()?;
            records.push(at);
            last = path;
            at += FIXED + len as usize;
        }
        Some(FileStates { bytes, records })
    }

    fn path_at(&self, at: usize) -> &[u8] {
        let len = u32::from_le_bytes(
            self.bytes[at + FIXED - 4..at + FIXED]
                .try_into()
                .unwrap_or_default(),
        );
        &self.bytes[at + FIXED..at + FIXED + len as usize]
    }

    /// The recorded state of `rel` (for tests: hashing looks up a whole
    /// sorted list at once with `get_sorted`).
    #[cfg(test)]
    pub fn get(&self, rel: &str) -> Option<FileState> {
        self.get_sorted(std::iter::once(rel)).pop().flatten()
    }

    /// The recorded states of `rels`, which must be sorted and unique (as
    /// the walk gives them): one pass over both lists, rather than a search
    /// for each.
    pub fn get_sorted<'a>(&self, rels: impl Iterator<Item = &'a str>) -> Vec<Option<FileState>> {
        let mut records = self.records.iter().peekable();
        rels.map(|rel| {
            while records
                .next_if(|&&at| self.path_at(at) < rel.as_bytes())
                .is_some()
            {}
            records
                .next_if(|&&at| self.path_at(at) == rel.as_bytes())
                .map(|&at| self.state_at(at))
        })
        .collect()
    }

    fn state_at(&self, at: usize) -> FileState {
        let b = &self.bytes;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&b[at + 40..at + 72]);
        FileState {
            stamp: Stamp {
                size: u64_at(b, at),
                mtime_ns: u64_at(b, at + 8) as i64,
                ctime_ns: u64_at(b, at + 16) as i64,
                inode: u64_at(b, at + 24),
            },
            hashed_ns: u64_at(b, at + 32) as i64,
            digest: blake3::Hash::from_bytes(digest),
        }
    }

    /// The recorded digest of `rel`, if `stamp` shows it unchanged since.
    #[cfg(test)]
    pub fn reusable(&self, rel: &str, stamp: &Stamp) -> Option<blake3::Hash> {
        self.get(rel)?.reusable(stamp)
    }

    /// Number of files recorded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes the states of `files`, which must be sorted by path and
    /// unique, atomically (temp file, then rename).
    pub fn save<'a>(
        path: &Path,
        files: impl Iterator<Item = (&'a str, &'a FileState)>,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".states-")
            .tempfile_in(dir)?;
        let mut out = std::io::BufWriter::new(tmp.as_file());
        out.write_all(MAGIC)?;
        for (rel, s) in files {
            let st = &s.stamp;
            for n in [
                st.size,
                st.mtime_ns as u64,
                st.ctime_ns as u64,
                st.inode,
                s.hashed_ns as u64,
            ] {
                out.write_all(&n.to_le_bytes())?;
            }
            out.write_all(s.digest.as_bytes())?;
            out.write_all(&(rel.len() as u32).to_le_bytes())?;
            out.write_all(rel.as_bytes())?;
        }
        out.flush()?;
        drop(out);
        tmp.persist(path).map(|_| ()).map_err(|e| e.error)
    }
}
