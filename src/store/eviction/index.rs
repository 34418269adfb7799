//! The eviction index: which contents each entry uses, how large each
//! content is, and when each entry was last used, so that an eviction
//! reads neither every manifest nor every content of the store.
//!
//! Why an index: without one, deciding what to remove needs every manifest
//! parsed (to know which contents remain in use) and every content listed
//! and sized, a cost that grows with the files of every entry: minutes on
//! a store of a million contents. With it, a run lists the entry folders
//! (one directory entry and one `stat` per entry), reads only the
//! manifests that are new or were replaced since the last run, and touches
//! only the contents it removes.
//!
//! What makes it safe:
//! - It is a cache of what the folders say, never the truth: the manifests
//!   are. Every eviction checks it against the entry folders under the
//!   store's exclusive lock before it removes anything, so an index a moment
//!   old is as good as a new one. It is written only by an eviction, whole,
//!   to a temp file renamed over the old one, and it ends with a blake3
//!   digest of its bytes. A missing, truncated, damaged or foreign index is
//!   rebuilt from the folders.
//! - An entry is known by its file's identity, times and length; when any
//!   of them changed (a fetch records a use by setting the time; a put
//!   renames a new manifest in), the manifest's own digest, at the head of
//!   the file, says whether its contents changed, and only then is it
//!   parsed again.
//! - Contents are counted by the entries that use them: one is removed only
//!   when no remaining manifest uses it, since every manifest of the store
//!   is accounted for before anything is removed, under the lock.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{CacheError, IoContext, Result};
use crate::platform;
use crate::store::LocalStore;
use crate::store::Manifest;

/// Version 2 added the bytes of contents no entry accounts for.
const MAGIC: &[u8; 8] = b"BFNIDX\x00\x02";

/// A content digest, as bytes.
pub(super) type Digest = [u8; 32];

/// Hashes a digest for a map by taking its first 8 bytes: a blake3 digest
/// is already evenly spread, and a million of them are looked up per run.
#[derive(Default)]
pub(super) struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut head = [0u8; 8];
        let n = bytes.len().min(8);
        head[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(head);
    }
    fn write_usize(&mut self, _len: usize) {}
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by digests.
pub(super) type DigestMap<V> = HashMap<Digest, V, std::hash::BuildHasherDefault<DigestHasher>>;

/// One content the index knows: its size and how many entries use it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Content {
    pub size: u64,
    pub refs: u32,
}

/// One entry as the index last saw it.
#[derive(Debug, Clone)]
pub(super) struct Indexed {
    pub file_id: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub len: u64,
    /// The manifest's own digest (from its envelope), zero when unknown.
    pub digest: Digest,
    /// The contents it uses, each once.
    pub contents: Vec<Digest>,
}

impl Indexed {
    /// Whether its manifest could not be read (another version's format, a
    /// file this user may not read, damage) and names no stored content: it
    /// may use any content, so while it is in the store no content is
    /// removed (they are counted as unaccounted until then).
    pub fn is_opaque(&self) -> bool {
        self.digest == [0; 32] && self.contents.is_empty()
    }

    /// When the entry was last fetched or stored.
    pub fn used(&self) -> SystemTime {
        match u64::try_from(self.mtime_ns) {
            Ok(ns) => UNIX_EPOCH + Duration::from_nanos(ns),
            Err(_) => UNIX_EPOCH,
        }
    }
}

/// What the last eviction did, kept in the index for `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionRecord {
    /// When it ended, ms since the epoch.
    pub at_ms: u64,
    /// How long it took, µs.
    pub duration_us: u64,
    pub entries_removed: u64,
    pub contents_removed: u64,
    pub bytes_freed: u64,
}

/// The index in memory.
#[derive(Debug, Default)]
pub(super) struct Index {
    pub contents: DigestMap<Content>,
    pub entries: HashMap<String, Indexed>,
    /// When unused contents were last swept from the content folders, s
    /// since the epoch (0: never, so the next eviction sweeps).
    pub last_sweep: u64,
    /// Contents on disk that no usable manifest accounts for and that could
    /// not be removed yet (an entry this version cannot read may use them),
    /// with their sizes: counted toward the cap and in `stats` until a
    /// sweep removes them, or a new manifest uses one again.
    pub unaccounted: DigestMap<u64>,
    pub last_eviction: Option<EvictionRecord>,
}

/// What bringing the index up to date found.
#[derive(Debug, Default)]
pub(super) struct Refreshed {
    /// Manifests parsed (new or replaced entries).
    pub parsed: u64,
    /// Entries whose manifest cannot be used; counted by their file size.
    pub unusable: u64,
}

impl Index {
    /// The index on disk; `None` when it is missing or cannot be trusted.
    pub fn load(store: &LocalStore) -> Option<Index> {
        let bytes = fs::read(store.layout().index()).ok()?;
        decode(&bytes)
    }

    /// Writes the index whole: temp file, then rename.
    pub fn save(&self, store: &LocalStore) -> Result<()> {
        let bytes = self.encode();
        let root = store.root();
        let mut builder = tempfile::Builder::new();
        builder.prefix(crate::store::layout::INDEX_TEMP_PREFIX);
        // Readable by every user the umask allows, as the store's files are.
        if let Some(p) = platform::store_file_permissions() {
            builder.permissions(p);
        }
        let mut tmp = builder
            .tempfile_in(root)
            .at("create a temp file in", root)?;
        std::io::Write::write_all(tmp.as_file_mut(), &bytes).at("write", tmp.path())?;
        let dest = store.layout().index();
        platform::rename(tmp.path(), &dest).map_err(|e| CacheError::io("write", &dest, e))?;
        let _ = tmp.into_temp_path().keep();
        Ok(())
    }

    /// Bytes of the contents in use, the manifests and the contents no
    /// entry accounts for.
    pub fn bytes(&self) -> u64 {
        self.accounted_bytes() + self.unaccounted_bytes()
    }

    /// Bytes of the unaccounted contents.
    pub fn unaccounted_bytes(&self) -> u64 {
        self.unaccounted.values().sum()
    }

    /// Bytes of the contents in use plus the manifests.
    fn accounted_bytes(&self) -> u64 {
        self.used_content_bytes() + self.entries.values().map(|e| e.len).sum::<u64>()
    }

    /// Bytes of the contents on disk: those in use and the unaccounted.
    pub fn content_bytes(&self) -> u64 {
        self.used_content_bytes() + self.unaccounted_bytes()
    }

    fn used_content_bytes(&self) -> u64 {
        self.contents
            .values()
            .filter(|c| c.refs > 0)
            .map(|c| c.size)
            .sum()
    }

    /// Contents in use.
    pub fn content_count(&self) -> u64 {
        self.contents.values().filter(|c| c.refs > 0).count() as u64
    }

    fn add_refs(&mut self, contents: &[(Digest, u64)]) {
        for (d, size) in contents {
            // In use again: counted once, as a content in use.
            self.unaccounted.remove(d);
            let c = self.contents.entry(*d).or_insert(Content {
                size: *size,
                refs: 0,
            });
            c.refs += 1;
        }
    }

    /// Drops the references of an entry; returns the contents no entry
    /// uses any more.
    pub fn drop_refs(&mut self, contents: &[Digest]) -> Vec<(Digest, u64)> {
        let mut freed = Vec::new();
        for d in contents {
            if let Some(c) = self.contents.get_mut(d) {
                c.refs = c.refs.saturating_sub(1);
                if c.refs == 0 {
                    freed.push((*d, c.size));
                    self.contents.remove(d);
                }
            }
        }
        freed
    }

    /// Brings the index up to date with the entry folders: new and replaced
    /// manifests are read, vanished ones dropped. Returns what was found,
    /// and the contents no entry uses any more (from vanished or replaced
    /// entries), which the caller may remove only under the exclusive lock.
    pub fn refresh(&mut self, store: &LocalStore) -> Result<(Refreshed, Vec<(Digest, u64)>)> {
        let mut report = Refreshed::default();
        let mut seen: HashMap<String, Indexed> = HashMap::with_capacity(self.entries.len());
        let mut dropped: Vec<Vec<Digest>> = Vec::new();
        let mut added: Vec<Vec<(Digest, u64)>> = Vec::new();
        let dir = store.layout().entries();
        for shard in read_dir(&dir)? {
            let shard = shard.at("list", &dir)?;
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let shard_path = shard.path();
            for file in read_dir(&shard_path)? {
                let file = file.at("list", &shard_path)?;
                let name = file.file_name();
                let Some(key) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                    continue;
                };
                let meta = match file.metadata() {
                    Ok(m) if m.is_file() => m,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(CacheError::io("read cache entry", &file.path(), e)),
                };
                let (mtime_ns, ctime_ns) = platform::stamp_times(&meta);
                let stamp = Indexed {
                    file_id: platform::file_id(&meta),
                    mtime_ns,
                    ctime_ns,
                    len: meta.len(),
                    digest: [0; 32],
                    contents: Vec::new(),
                };
                let known = self.entries.remove(key);
                let same_file = known.as_ref().is_some_and(|k| {
                    k.file_id == stamp.file_id
                        && k.ctime_ns == stamp.ctime_ns
                        && k.mtime_ns == stamp.mtime_ns
                        && k.len == stamp.len
                });
                if same_file {
                    seen.insert(key.to_string(), known.unwrap_or(stamp));
                    continue;
                }
                let path = file.path();
                // Touched by a fetch, or replaced: the head says which.
                let touched = known
                    .as_ref()
                    .is_some_and(|k| k.digest != [0; 32] && head_digest(&path) == Some(k.digest));
                match known {
                    Some(mut k) if touched => {
                        (k.file_id, k.mtime_ns, k.ctime_ns, k.len) =
                            (stamp.file_id, mtime_ns, ctime_ns, meta.len());
                        seen.insert(key.to_string(), k);
                        continue;
                    }
                    Some(k) => dropped.push(k.contents),
                    None => {}
                }
                report.parsed += 1;
                let mut entry = stamp;
                match read_manifest(&path, key) {
                    Some((digest, uses)) => {
                        entry.digest = digest;
                        entry.contents = uses.iter().map(|(d, _)| *d).collect();
                        added.push(uses);
                    }
                    None => {
                        report.unusable += 1;
                        // Another version's manifest still names its
                        // contents by digest: those stay while it does.
                        let uses = named_contents(store, &path);
                        entry.contents = uses.iter().map(|(d, _)| *d).collect();
                        added.push(uses);
                    }
                }
                seen.insert(key.to_string(), entry);
            }
        }
        // Entries gone from the folders (removed as broken, purged, cleared).
        dropped.extend(
            std::mem::take(&mut self.entries)
                .into_values()
                .map(|e| e.contents),
        );
        self.entries = seen;
        // Additions first, so a content moving from an old manifest to a new
        // one is never counted unused.
        for uses in &added {
            self.add_refs(uses);
        }
        let mut freed = Vec::new();
        for contents in &dropped {
            freed.extend(self.drop_refs(contents));
        }
        Ok((report, freed))
    }

    fn encode(&self) -> Vec<u8> {
        let live: Vec<(&Digest, &Content)> =
            self.contents.iter().filter(|(_, c)| c.refs > 0).collect();
        let slot: HashMap<&Digest, u32, std::hash::BuildHasherDefault<DigestHasher>> = live
            .iter()
            .enumerate()
            .map(|(i, (d, _))| (*d, i as u32))
            .collect();
        let refs: usize = self.entries.values().map(|e| e.contents.len()).sum();
        let mut out =
            Vec::with_capacity(64 + live.len() * 40 + refs * 4 + self.entries.len() * 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.last_sweep.to_le_bytes());
        out.extend_from_slice(&(self.unaccounted.len() as u64).to_le_bytes());
        for (d, size) in &self.unaccounted {
            out.extend_from_slice(d);
            out.extend_from_slice(&size.to_le_bytes());
        }
        match &self.last_eviction {
            None => out.push(0),
            Some(r) => {
                out.push(1);
                for v in [
                    r.at_ms,
                    r.duration_us,
                    r.entries_removed,
                    r.contents_removed,
                    r.bytes_freed,
                ] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&(live.len() as u64).to_le_bytes());
        for (d, c) in &live {
            out.extend_from_slice(&d[..]);
            out.extend_from_slice(&c.size.to_le_bytes());
        }
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (key, e) in &self.entries {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&e.file_id.to_le_bytes());
            out.extend_from_slice(&e.mtime_ns.to_le_bytes());
            out.extend_from_slice(&e.ctime_ns.to_le_bytes());
            out.extend_from_slice(&e.len.to_le_bytes());
            out.extend_from_slice(&e.digest);
            out.extend_from_slice(&(e.contents.len() as u32).to_le_bytes());
            for d in &e.contents {
                out.extend_from_slice(&slot.get(d).copied().unwrap_or(u32::MAX).to_le_bytes());
            }
        }
        let digest = blake3::hash(&out);
        out.extend_from_slice(digest.as_bytes());
        out
    }
}

/// Reads an index; `None` unless every byte is as written.
fn decode(bytes: &[u8]) -> Option<Index> {
    let body = bytes.len().checked_sub(32).map(|n| &bytes[..n])?;
    if blake3::hash(body).as_bytes() != &bytes[body.len()..] || !body.starts_with(MAGIC) {
        return None;
    }
    let mut r = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let mut index = Index {
        last_sweep: r.u64()?,
        ..Index::default()
    };
    let unaccounted = usize::try_from(r.u64()?).ok()?;
    if unaccounted > body.len() / 40 {
        return None;
    }
    for _ in 0..unaccounted {
        let d: Digest = r.take(32)?.try_into().ok()?;
        index.unaccounted.insert(d, r.u64()?);
    }
    if r.take(1)?[0] == 1 {
        index.last_eviction = Some(EvictionRecord {
            at_ms: r.u64()?,
            duration_us: r.u64()?,
            entries_removed: r.u64()?,
            contents_removed: r.u64()?,
            bytes_freed: r.u64()?,
        });
    }
    let n = usize::try_from(r.u64()?).ok()?;
    let mut slots: Vec<(Digest, u64)> = Vec::with_capacity(n.min(body.len() / 40));
    for _ in 0..n {
        let d: Digest = r.take(32)?.try_into().ok()?;
        slots.push((d, r.u64()?));
    }
    index.contents.reserve(slots.len());
    let entries = usize::try_from(r.u64()?).ok()?;
    index.entries.reserve(entries.min(body.len() / 96));
    for _ in 0..entries {
        let len = r.u32()? as usize;
        let key = std::str::from_utf8(r.take(len)?).ok()?.to_string();
        let mut e = Indexed {
            file_id: r.u64()?,
            mtime_ns: r.u64()? as i64,
            ctime_ns: r.u64()? as i64,
            len: r.u64()?,
            digest: r.take(32)?.try_into().ok()?,
            contents: Vec::new(),
        };
        let count = r.u32()? as usize;
        let mut uses = Vec::with_capacity(count.min(body.len() / 4));
        for _ in 0..count {
            let slot = slots.get(r.u32()? as usize)?;
            uses.push(*slot);
        }
        e.contents = uses.iter().map(|(d, _)| *d).collect();
        index.add_refs(&uses);
        index.entries.insert(key, e);
    }
    (r.at == body.len()).then_some(index)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// The entries of a folder; a missing folder has none.
fn read_dir(dir: &Path) -> Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
    match fs::read_dir(dir) {
        Ok(it) => Ok(Box::new(it)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(CacheError::io("list", dir, e)),
    }
}

/// The digest a manifest's envelope carries, read from the head of the file.
fn head_digest(path: &Path) -> Option<Digest> {
    let mut head = [0u8; 128];
    let mut file = fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    let text = std::str::from_utf8(&head[..n]).ok()?;
    let at = text.find("\"digest\":\"")? + 10;
    parse_hex(text.get(at..at + 64)?)
}

/// The envelope digest and the contents (each once, with its size) of a
/// usable manifest.
fn read_manifest(path: &Path, key: &str) -> Option<(Digest, Vec<(Digest, u64)>)> {
    let bytes = fs::read(path).ok()?;
    let manifest = Manifest::parse(&bytes, key).ok()?;
    let text = std::str::from_utf8(bytes.get(..128.min(bytes.len()))?).ok();
    let digest = text
        .and_then(|t| t.find("\"digest\":\"").map(|at| (t, at + 10)))
        .and_then(|(t, at)| parse_hex(t.get(at..at + 64)?))
        .unwrap_or([0; 32]);
    let mut uses: Vec<(Digest, u64)> = manifest
        .files
        .iter()
        .filter_map(|f| Some((parse_hex(&f.digest)?, f.size)))
        .collect();
    uses.sort_unstable();
    uses.dedup_by(|a, b| a.0 == b.0);
    Some((digest, uses))
}

/// The contents on disk that a manifest this version cannot parse names:
/// every manifest format names its contents by their 64-hex blake3 digest
/// (a rule of the store's format, so that versions sharing a store never
/// remove each other's contents), so each such string naming a stored
/// content counts as a use. Empty when the file cannot be read.
fn named_contents(store: &LocalStore, path: &Path) -> Vec<(Digest, u64)> {
    let Ok(bytes) = fs::read(path) else {
        return Vec::new();
    };
    let mut uses: Vec<(Digest, u64)> = bytes
        .split(|b| !b.is_ascii_hexdigit())
        .filter(|run| run.len() == 64)
        .filter_map(|run| std::str::from_utf8(run).ok())
        .filter_map(|hex| {
            let digest = parse_hex(&hex.to_ascii_lowercase())?;
            let size = fs::metadata(store.layout().content(&to_hex(&digest)))
                .ok()?
                .len();
            Some((digest, size))
        })
        .collect();
    uses.sort_unstable();
    uses.dedup_by(|a, b| a.0 == b.0);
    uses
}

/// A 64-hex digest as bytes.
pub(super) fn parse_hex(hex: &str) -> Option<Digest> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// A digest as the 64-hex name of its content file.
pub(super) fn to_hex(d: &Digest) -> String {
    blake3::Hash::from_bytes(*d).to_hex().to_string()
}
