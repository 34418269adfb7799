//! Eviction: least-recently-used entries go until the store is under its
//! size cap, and entries unused for longer than the age limit go whatever
//! the size; entries used within the last minutes always stay. It runs
//! under the exclusive lock, so no put or fetch is under way, and through
//! the index (see `index.rs`), so its cost is one `stat` per entry plus the
//! manifests that changed and the files it removes.
//!
//! Killed at any point, it leaves a consistent store: it removes an entry's
//! manifest before any of its contents, a content only once no manifest on
//! disk uses it, and the index is replaced whole at the end (after the lock
//! is released); the next run finds the manifests that are gone and
//! finishes their removal.

use std::fs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::index::{self, to_hex, EvictionRecord, Index};
use super::policy::EvictPolicy;
use crate::error::Result;
use crate::store::files::{list, remove, tree_bytes};
use crate::store::layout::Layout;
use crate::store::lock::{StoreLock, Wait};
use crate::store::LocalStore;

/// Unused contents (left by a killed put) are swept this often.
const SWEEP_EVERY: Duration = Duration::from_secs(7 * 86_400);

/// What an eviction did and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvictReport {
    pub entries_removed: u64,
    pub contents_removed: u64,
    pub bytes_freed: u64,
    /// What the store holds after it.
    pub entries: u64,
    pub contents: u64,
    pub bytes: u64,
    /// Manifests read (new or replaced since the last run, or all of them
    /// when the index was rebuilt).
    pub manifests_read: u64,
    /// Whether the index was missing or damaged and rebuilt from the folders.
    pub rebuilt: bool,
    /// Entries whose manifest this version cannot read (another version's
    /// format, unreadable, damaged) and that name no stored content. While
    /// there are any, no content is removed, since they may use any (the
    /// contents no other entry uses are counted as unaccounted); their
    /// manifests may still go.
    pub unreadable: u64,
    /// Time spent under the exclusive lock.
    pub duration: Duration,
}

/// How an eviction waits for the store lock.
pub enum EvictBy<'a> {
    /// One started by a put: holding the lock of one eviction at a time,
    /// released just before the store lock (so a put landing after this
    /// run's scan can always start the next run); it gives up quietly
    /// after a while.
    Put(fs::File),
    /// One a user asked for: it says that it waits, and gives up with an
    /// error after the wait's limit.
    User(&'a Wait<'a>),
}

/// Evicts under the exclusive lock.
pub fn evict(store: &LocalStore, policy: &EvictPolicy, by: EvictBy<'_>) -> Result<EvictReport> {
    if !store.root().is_dir() {
        return Ok(EvictReport::default());
    }
    // A rebuild reads every manifest before the lock is taken (reading
    // needs no lock: manifests appear by rename), so it does not hold up
    // builds; under the lock only what changed since then is read again.
    let mut report = EvictReport::default();
    let mut unused = Vec::new();
    let index = match Index::load(store) {
        Some(i) => i,
        None => {
            report.rebuilt = true;
            // `last_sweep` 0: a rebuilt index is swept in this run, so the
            // contents no entry uses are found and counted.
            let mut index = Index::default();
            let (early, freed) = index.refresh(store)?;
            report.manifests_read = early.parsed;
            unused = freed;
            index
        }
    };
    // An eviction started by a put gives up after a while (a store busy
    // with long transfers); the next put tries again.
    let (lock, evictor) = match by {
        EvictBy::Put(evictor) => (
            StoreLock::exclusive_until(
                store.layout(),
                Some(Instant::now() + Duration::from_secs(120)),
            )?,
            Some(evictor),
        ),
        EvictBy::User(wait) => (
            StoreLock::exclusive_waiting(store.layout(), "evict", wait)?,
            None,
        ),
    };
    let Some(lock) = lock else {
        return Ok(EvictReport::default());
    };
    let start = Instant::now();
    let result = evict_locked(store, policy, start, index, &mut unused, report);
    drop(evictor);
    drop(lock);
    // Written after the lock is released: the index is checked against the
    // folders by every run before anything is removed, so one a moment
    // old (a put landed meanwhile) is as good, and builds do not wait for
    // the write.
    let (report, index) = result?;
    index.save(store)?;
    Ok(report)
}

fn evict_locked(
    store: &LocalStore,
    policy: &EvictPolicy,
    start: Instant,
    mut index: Index,
    unused: &mut Vec<(index::Digest, u64)>,
    mut report: EvictReport,
) -> Result<(EvictReport, Index)> {
    let now = SystemTime::now();
    // Every temp file is a leftover of a process that died (a fetch
    // interrupted with Ctrl-C, a killed put): they are written only under
    // the shared lock, and this run holds the store alone.
    // One that cannot be removed (a folder, another user's) is left, not
    // a reason to fail the eviction.
    for path in list(&store.layout().tmp())? {
        let len = fs::symlink_metadata(&path).map_or(0, |m| m.len());
        if remove(&path).unwrap_or(false) {
            report.bytes_freed += len;
        }
    }
    // Temp files of an index being written when a run was killed (a
    // minute old: another run may be writing its own right now).
    for path in list(store.root())? {
        let stale = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > Duration::from_secs(60));
        if stale
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(Layout::is_index_temp)
        {
            let _ = remove(&path);
        }
    }
    let (refreshed, freed) = index.refresh(store)?;
    report.manifests_read += refreshed.parsed;
    unused.extend(freed);
    // An entry this version cannot read may use any content (one written
    // by another version sharing the store): then no content is removed,
    // only manifests; the contents left are swept once it is gone.
    report.unreadable = index.entries.values().filter(|e| e.is_opaque()).count() as u64;
    let mut may_remove_contents = report.unreadable == 0;
    let mut opaque_left = report.unreadable;
    if !may_remove_contents {
        // Still on disk, and still counted, until a sweep may remove them.
        index.unaccounted.extend(unused.drain(..));
    }
    // Contents of entries that vanished or were replaced since the last
    // run, unless a manifest written since the early scan uses them again.
    for (d, size) in unused.drain(..) {
        if index.contents.contains_key(&d) {
            continue;
        }
        if remove(&store.layout().content(&to_hex(&d)))? {
            report.contents_removed += 1;
            report.bytes_freed += size;
        }
    }
    if secs(now).saturating_sub(index.last_sweep) >= SWEEP_EVERY.as_secs()
        || (may_remove_contents && !index.unaccounted.is_empty())
    {
        sweep(store, &mut index, may_remove_contents, &mut report)?;
        index.last_sweep = secs(now);
    }

    let recent = now.checked_sub(policy.keep_recent).unwrap_or(UNIX_EPOCH);
    let too_old = policy
        .max_age
        .map(|age| now.checked_sub(age).unwrap_or(UNIX_EPOCH));
    let mut candidates: Vec<(SystemTime, String)> = index
        .entries
        .iter()
        .map(|(k, e)| (e.used(), k.clone()))
        .filter(|(used, _)| *used < recent)
        .collect();
    candidates.sort_unstable();
    let mut total = index.bytes();
    let mut queue: std::collections::VecDeque<(SystemTime, String)> = candidates.into();
    // Entries kept back from the size cap while an opaque entry holds the
    // contents: removing one would free only its manifest.
    let mut held_back = Vec::new();
    while let Some((used, key)) = queue.pop_front() {
        let old = too_old.is_some_and(|t| used < t);
        let over = policy.max_size.is_some_and(|max| total > max);
        if !old && !over {
            // Later candidates are newer, and the total only shrinks.
            break;
        }
        let opaque = index.entries.get(&key).is_some_and(|e| e.is_opaque());
        if !old && !may_remove_contents && !opaque {
            held_back.push((used, key));
            continue;
        }
        let Some(entry) = index.entries.remove(&key) else {
            continue;
        };
        let was_opaque = entry.is_opaque();
        // The manifest first: from here the entry is a miss, and a run
        // killed now is finished by the next one.
        remove(&store.layout().entry(&key))?;
        report.entries_removed += 1;
        report.bytes_freed += entry.len;
        total = total.saturating_sub(entry.len);
        for (d, size) in index.drop_refs(&entry.contents) {
            if !may_remove_contents {
                index.unaccounted.insert(d, size);
                continue;
            }
            if remove(&store.layout().content(&to_hex(&d)))? {
                report.contents_removed += 1;
                report.bytes_freed += size;
            }
            total = total.saturating_sub(size);
        }
        // The last entry this version cannot read went: what it may have
        // used and no other entry uses goes too, and so may every content
        // from here on.
        if was_opaque {
            opaque_left -= 1;
            if opaque_left == 0 {
                sweep(store, &mut index, true, &mut report)?;
                index.last_sweep = secs(now);
                may_remove_contents = true;
                total = index.bytes();
                // The entries kept back are older: they come first again.
                for item in held_back.drain(..).rev() {
                    queue.push_front(item);
                }
            }
        }
    }
    report.entries = index.entries.len() as u64;
    report.contents = index.content_count();
    report.bytes = index.bytes();
    report.duration = start.elapsed();
    index.last_eviction = Some(EvictionRecord {
        at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        duration_us: report.duration.as_micros() as u64,
        entries_removed: report.entries_removed,
        contents_removed: report.contents_removed,
        bytes_freed: report.bytes_freed,
    });
    Ok((report, index))
}

/// Finds the contents no entry uses (left by a killed put, or by an entry
/// this version could not read): removes them when `may_remove`, else
/// counts them as unaccounted. Also removes what a killed `clear` left.
/// No put runs while the exclusive lock is held.
fn sweep(
    store: &LocalStore,
    index: &mut Index,
    may_remove: bool,
    report: &mut EvictReport,
) -> Result<()> {
    let dir = store.layout().contents();
    let mut unaccounted = index::DigestMap::default();
    for shard in list(&dir)? {
        for path in list(&shard)? {
            let used = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(index::parse_hex)
                .is_some_and(|d| index.contents.get(&d).is_some_and(|c| c.refs > 0));
            if !used {
                let len = fs::symlink_metadata(&path).map_or(0, |m| m.len());
                let digest = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(index::parse_hex);
                if !may_remove {
                    // A file of another name is counted under a digest no
                    // content has.
                    unaccounted.insert(digest.unwrap_or([0xff; 32]), len);
                } else if remove(&path)? {
                    report.contents_removed += 1;
                    report.bytes_freed += len;
                }
            }
        }
    }
    index.unaccounted = unaccounted;
    // A killed clear's folder; one a day old is not being removed by a
    // clear still running (its folder's time does not change meanwhile).
    for path in list(store.root())? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stale = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(86_400));
        if Layout::is_trash(name) && stale {
            let len = tree_bytes(&path);
            if fs::remove_dir_all(&path).is_ok() {
                report.bytes_freed += len;
            }
        }
    }
    Ok(())
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
