//! Plain result objects handed to JavaScript.

use napi_derive::napi;

use crate::engine::{Counters, FetchOutcome, PutOutcome, RemoteScope, Source};
use crate::store::PurgeReport;

/// Something a fetch, put or upload reports that is not an error: why the
/// cache was skipped, why the remote did not serve or take an entry, a
/// problem said once.
#[napi(object)]
pub struct Notice {
    /// A stable code to match on, such as `SKIPPED_BY_MODE`,
    /// `REMOTE_UNAVAILABLE` or `UPLOAD_PULL_REQUEST` (listed in the docs'
    /// errors page).
    pub code: String,
    /// What happened and how to fix it, for a person; it may change
    /// between versions, the code does not.
    pub message: String,
}

impl From<crate::notice::Notice> for Notice {
    fn from(n: crate::notice::Notice) -> Self {
        Notice {
            code: n.code().to_string(),
            message: n.message(),
        }
    }
}

/// Notices as JS objects.
pub fn notices(list: Vec<crate::notice::Notice>) -> Vec<Notice> {
    list.into_iter().map(Notice::from).collect()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The outcome of `Cache.fetch`.
#[napi(object)]
pub struct FetchResult {
    /// Whether the outputs were restored.
    pub hit: bool,
    /// Where the hit came from; absent on a miss. `local-skip`: the hash
    /// is the last one put and its outputs are left in place.
    #[napi(ts_type = "'local' | 'remote' | 'local-skip'")]
    pub source: Option<String>,
    /// Which scope of the remote cache served a remote hit: `main`, or
    /// `pull-request` (the scope of the pull request in `pullRequest`).
    #[napi(ts_type = "'main' | 'pull-request'")]
    pub scope: Option<String>,
    /// The pull request whose scope served the hit.
    pub pull_request: Option<f64>,
    /// Files written into the package directory.
    pub files_restored: f64,
    /// Of the files restored, those cloned from the local store (sharing
    /// its blocks, on btrfs, XFS, APFS or ReFS) rather than copied.
    pub files_cloned: f64,
    /// Files already present with the right content, left alone.
    pub files_unchanged: f64,
    /// Symbolic links in the entry.
    pub links: f64,
    /// Bytes written.
    pub bytes_restored: f64,
    /// Time taken, in milliseconds.
    pub duration_ms: f64,
    /// Why the cache was not read (`BACKFILL_MODE`, provider), if it was not.
    pub skipped: Option<Notice>,
    /// Why the remote cache did not serve a hit when it was asked, if worth
    /// telling (switched off, over `maxSize`).
    pub remote_note: Option<Notice>,
    /// Problems found, such as a corrupt entry treated as a miss.
    pub warnings: Vec<Notice>,
}

impl From<FetchOutcome> for FetchResult {
    fn from(o: FetchOutcome) -> Self {
        FetchResult {
            hit: o.hit(),
            source: o.source.map(|s| s.as_str().to_string()),
            scope: match o.source {
                Some(Source::Remote(scope)) => Some(scope.as_str().to_string()),
                _ => None,
            },
            pull_request: match o.source {
                Some(Source::Remote(RemoteScope::PullRequest(n))) => Some(n as f64),
                _ => None,
            },
            files_restored: o.files_restored as f64,
            files_cloned: o.files_cloned as f64,
            files_unchanged: o.files_unchanged as f64,
            links: o.links as f64,
            bytes_restored: o.bytes_restored as f64,
            duration_ms: ms(o.duration),
            skipped: o.skipped.map(Notice::from),
            remote_note: o.remote_note.map(Notice::from),
            warnings: notices(o.warnings),
        }
    }
}

/// The outcome of `Cache.put`.
#[napi(object)]
pub struct PutResult {
    /// Whether an entry was written.
    pub stored: bool,
    /// Files in the entry.
    pub files: f64,
    /// Symbolic links in the entry.
    pub links: f64,
    /// Bytes of the files in the entry.
    pub bytes: f64,
    /// Bytes actually written (contents the store did not hold yet).
    pub new_bytes: f64,
    /// Time taken, in milliseconds.
    pub duration_ms: f64,
    /// Why nothing was stored (`BACKFILL_MODE`, provider, outputs no fetch
    /// could give back), if nothing was.
    pub skipped: Option<Notice>,
    /// Whether the entry was uploaded to the remote cache.
    pub uploaded: bool,
    /// Bytes uploaded (the size of the archive).
    pub upload_bytes: f64,
    /// The scope of the remote cache the entry went to: `main`, or
    /// `pull-request` in a pull request's own build with a pull request
    /// scope.
    #[napi(ts_type = "'main' | 'pull-request'")]
    pub upload_scope: Option<String>,
    /// Why the entry was not uploaded, when a remote cache is configured.
    pub upload_skipped: Option<Notice>,
    /// Whether the upload runs in the background (`backgroundUploads`);
    /// `flush()` waits for it.
    pub upload_pending: bool,
    /// Problems found.
    pub warnings: Vec<Notice>,
}

impl From<PutOutcome> for PutResult {
    fn from(o: PutOutcome) -> Self {
        PutResult {
            stored: o.stored,
            files: o.files as f64,
            links: o.links as f64,
            bytes: o.bytes as f64,
            new_bytes: o.new_bytes as f64,
            duration_ms: ms(o.duration),
            skipped: o.skipped.map(Notice::from),
            uploaded: o.uploaded,
            upload_bytes: o.upload_bytes as f64,
            upload_scope: o.upload_scope.map(|s| s.as_str().to_string()),
            upload_skipped: o.upload_skipped.map(Notice::from),
            upload_pending: o.pending_upload.is_some(),
            warnings: notices(o.warnings),
        }
    }
}

/// Counters of one `Cache` since it was made.
#[napi(object)]
pub struct CacheStats {
    /// Fetches served by the local store.
    pub local_hits: f64,
    /// Fetches served by the remote cache.
    pub remote_hits: f64,
    /// Of those, the fetches served by the pull request scope.
    pub pull_request_hits: f64,
    /// Entries uploaded to the remote cache.
    pub uploads: f64,
    /// Bytes uploaded to the remote cache.
    pub bytes_uploaded: f64,
    /// Fetches that found nothing.
    pub misses: f64,
    /// Puts that stored an entry.
    pub puts: f64,
    /// Fetches and puts skipped by `BACKFILL_MODE` or the provider.
    pub skipped: f64,
    /// Fetches and puts that failed with an error.
    pub errors: f64,
    /// Files written by fetches.
    pub files_restored: f64,
    /// Bytes written by fetches.
    pub bytes_restored: f64,
    /// Bytes of the entries stored by puts.
    pub bytes_stored: f64,
    /// Bytes puts actually wrote (new contents).
    pub bytes_written: f64,
    /// Time spent in fetches, in milliseconds.
    pub fetch_ms: f64,
    /// Time spent in puts, in milliseconds.
    pub put_ms: f64,
}

impl From<Counters> for CacheStats {
    fn from(s: Counters) -> Self {
        CacheStats {
            local_hits: s.local_hits as f64,
            remote_hits: s.remote_hits as f64,
            pull_request_hits: s.pull_request_hits as f64,
            uploads: s.uploads as f64,
            bytes_uploaded: s.bytes_uploaded as f64,
            misses: s.misses as f64,
            puts: s.puts as f64,
            skipped: s.skipped as f64,
            errors: s.errors as f64,
            files_restored: s.files_restored as f64,
            bytes_restored: s.bytes_restored as f64,
            bytes_stored: s.bytes_stored as f64,
            bytes_written: s.bytes_written as f64,
            fetch_ms: s.fetch_micros as f64 / 1000.0,
            put_ms: s.put_micros as f64 / 1000.0,
        }
    }
}

/// What `purge` or `clear` removed.
#[napi(object)]
pub struct PurgeResult {
    /// Entries (hashes) removed.
    pub entries_removed: f64,
    /// Entries kept.
    pub entries_kept: f64,
    /// Stored file contents removed.
    pub contents_removed: f64,
    /// Bytes freed.
    pub bytes_freed: f64,
}

impl From<PurgeReport> for PurgeResult {
    fn from(r: PurgeReport) -> Self {
        PurgeResult {
            entries_removed: r.entries_removed as f64,
            entries_kept: r.entries_kept as f64,
            contents_removed: r.contents_removed as f64,
            bytes_freed: r.bytes_freed as f64,
        }
    }
}

/// What the local store holds: the counts of `storeStats`, without the
/// limits and the last eviction (kept for scripts written against 0.1).
#[napi(object)]
pub struct StoreUsage {
    /// Entries (hashes).
    pub entries: f64,
    /// Stored file contents in use (each kept once).
    pub contents: f64,
    /// Bytes of the stored contents.
    pub bytes: f64,
}

impl From<crate::store::StoreStats> for StoreUsage {
    fn from(u: crate::store::StoreStats) -> Self {
        StoreUsage {
            entries: u.entries as f64,
            contents: u.contents as f64,
            bytes: u.content_bytes as f64,
        }
    }
}

/// What an eviction did and left.
#[napi(object)]
pub struct EvictResult {
    /// Entries removed.
    pub entries_removed: f64,
    /// Stored contents removed (no remaining entry used them).
    pub contents_removed: f64,
    /// Bytes freed.
    pub bytes_freed: f64,
    /// Entries left.
    pub entries: f64,
    /// Contents left.
    pub contents: f64,
    /// Bytes left (contents in use and manifests).
    pub bytes: f64,
    /// Manifests read: new or replaced since the last run, or all of them
    /// when the index was rebuilt.
    pub manifests_read: f64,
    /// Whether the index was missing or damaged and rebuilt from the folders.
    pub rebuilt: bool,
    /// Time spent holding the store's exclusive lock.
    pub duration_ms: f64,
}

impl From<crate::store::EvictReport> for EvictResult {
    fn from(r: crate::store::EvictReport) -> Self {
        EvictResult {
            entries_removed: r.entries_removed as f64,
            contents_removed: r.contents_removed as f64,
            bytes_freed: r.bytes_freed as f64,
            entries: r.entries as f64,
            contents: r.contents as f64,
            bytes: r.bytes as f64,
            manifests_read: r.manifests_read as f64,
            rebuilt: r.rebuilt,
            duration_ms: r.duration.as_secs_f64() * 1000.0,
        }
    }
}

/// The last eviction of a store, by any process.
#[napi(object)]
pub struct LastEviction {
    /// When it ended, ms since the epoch (as `Date.now()`).
    pub at: f64,
    /// How long it held the store's lock.
    pub duration_ms: f64,
    pub entries_removed: f64,
    pub contents_removed: f64,
    pub bytes_freed: f64,
}

/// The local store, its limits and its last eviction.
#[napi(object)]
pub struct StoreStats {
    /// Entries (hashes).
    pub entries: f64,
    /// Stored contents in use.
    pub contents: f64,
    /// Bytes of everything the store holds: the contents in use, the
    /// manifests, `unaccountedBytes` and `tempBytes`. This is what the size
    /// cap is checked against.
    pub bytes: f64,
    /// Of `bytes`, contents kept because an entry this version cannot read
    /// (another version's, or a damaged one) may use them.
    pub unaccounted_bytes: f64,
    /// Of `bytes`, temp files left by interrupted fetches and puts (the next
    /// eviction removes them) and folders a `clear` is still removing.
    pub temp_bytes: f64,
    /// The size cap in bytes; absent when off.
    pub max_size: Option<f64>,
    /// The age limit in days; absent when off.
    pub max_age_days: Option<f64>,
    /// When the least recently used entry was last fetched or stored, ms
    /// since the epoch; absent when the store is empty.
    pub oldest_used: Option<f64>,
    /// The last eviction; absent when none ran.
    pub last_eviction: Option<LastEviction>,
}

impl StoreStats {
    pub fn new(s: crate::store::StoreStats, config: &crate::config::Config) -> Self {
        let ms = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        StoreStats {
            entries: s.entries as f64,
            contents: s.contents as f64,
            bytes: s.bytes as f64,
            unaccounted_bytes: s.unaccounted_bytes as f64,
            temp_bytes: s.temp_bytes as f64,
            max_size: config.eviction.max_size.map(|m| m as f64),
            max_age_days: config.eviction.max_age.map(|a| a.as_secs_f64() / 86_400.0),
            oldest_used: s.oldest_used.map(ms),
            last_eviction: s.last_eviction.map(|e| LastEviction {
                at: e.at_ms as f64,
                duration_ms: e.duration_us as f64 / 1000.0,
                entries_removed: e.entries_removed as f64,
                contents_removed: e.contents_removed as f64,
                bytes_freed: e.bytes_freed as f64,
            }),
        }
    }
}
