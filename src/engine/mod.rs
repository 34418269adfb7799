//! The engine one package directory uses: configuration, local store, the
//! remote (its policy in `remote_policy.rs`, background uploads in
//! `background.rs`), modes and counters. Plain Rust; the JS binding is a
//! thin layer over it.

mod background;
mod eviction;
mod in_flight;
mod incremental;
mod local_skip;
mod outcome;
mod remote_policy;

pub use background::PendingUpload;
use in_flight::InFlight;
pub use in_flight::InFlightGuard;
use incremental::Snapshots;
use local_skip::LastPut;
pub use outcome::{Counters, FetchOutcome, PutOutcome, RemoteScope, Source};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cache_key::CacheKey;
use crate::config::{Config, Options, Provider};
use crate::error::Result;
use crate::notice::{Notice, Unstorable};
use crate::output_glob::OutputGlob;
use crate::store::{
    EvictPolicy, EvictReport, LocalStore, PurgeReport, RestoreOptions, RestoreReport, StoreStats,
};
pub use remote_policy::Upload;
use remote_policy::{RemoteFetch, RemoteLayer};

/// A cache engine bound to one package directory.
pub struct Engine {
    config: Config,
    store: LocalStore,
    /// The remote cache's main scope.
    remote: Option<Arc<RemoteLayer>>,
    /// The pull request scope, read after the main one (and written
    /// instead of it by the pull request's own build).
    pull_request: Option<Arc<RemoteLayer>>,
    tally: Arc<Tally>,
    in_flight: Arc<InFlight>,
    /// The last hash put, for the `local-skip` provider.
    last_put: LastPut,
    /// The package's files at each fetch that missed, for `incrementalCaching`.
    snapshots: Snapshots,
}

/// What an engine keeps of its work, shared with its background uploads.
#[derive(Default)]
struct Tally {
    /// One lock for all counters, so a snapshot is consistent and a new
    /// counter is one field of [`Counters`].
    counters: Mutex<Counters>,
    background_warnings: Mutex<Vec<Notice>>,
}

impl Tally {
    /// Updates the counters under their lock. A panic elsewhere while it was
    /// held leaves plain numbers behind, so a poisoned lock is still used.
    fn record(&self, update: impl FnOnce(&mut Counters)) {
        update(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn note_background(&self, warning: Option<Notice>) {
        if let Some(w) = warning {
            self.background_warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(w);
        }
    }
}

impl Engine {
    /// Loads the configuration of `cwd` and makes an engine with it.
    pub fn new(cwd: &Path, options: &Options) -> Result<Engine> {
        Engine::from_config(Config::load(cwd, options)?)
    }

    /// An engine with a configuration already resolved.
    pub fn from_config(config: Config) -> Result<Engine> {
        let layer = |c: crate::remote::Connected, scope: RemoteScope, write: bool| RemoteLayer {
            shared: c.shared,
            scope,
            name_prefix: String::new(),
            max_size: c.max_size,
            signing_key: c.signing_key,
            write,
            provider: config.provider,
            refusal: config.upload_trust.refusal.clone(),
            write_check: None,
        };
        let remote = crate::remote::connect(&config)?
            .map(|c| Arc::new(layer(c, RemoteScope::Main, config.write_remote_cache)));
        let pull_request = match &config.pull_request_scope {
            Some(scope) => {
                let c = crate::remote::connect_scope(&scope.remote)?;
                let mut l = layer(
                    c,
                    RemoteScope::PullRequest(scope.number),
                    config.write_remote_cache && scope.writes,
                );
                l.name_prefix = scope.name_prefix();
                // The pull request's own build writes its scope; the branch
                // rule is the main scope's.
                l.refusal = None;
                l.write_check = remote.clone().filter(|_| l.write);
                Some(Arc::new(l))
            }
            None => None,
        };
        Ok(Engine::assemble(config, remote, pull_request))
    }

    fn assemble(
        config: Config,
        remote: Option<Arc<RemoteLayer>>,
        pull_request: Option<Arc<RemoteLayer>>,
    ) -> Engine {
        Engine {
            store: LocalStore::new(&config.cache_dir),
            last_put: LastPut::new(&config.cache_dir, &config.workspace_root, &config.cwd),
            snapshots: Snapshots::default(),
            remote,
            pull_request,
            config,
            tally: Arc::default(),
            in_flight: Arc::default(),
        }
    }

    /// The remote scope uploads go to: the pull request's, in the pull
    /// request's own build with remote writes on; else the main one (whose
    /// policy says whether this build may write it).
    fn upload_scope(&self) -> Option<&Arc<RemoteLayer>> {
        match &self.pull_request {
            Some(pr) if pr.write => Some(pr),
            _ => self.remote.as_ref(),
        }
    }

    /// Whether this engine reads a pull request scope after the main one.
    pub fn has_pull_request_scope(&self) -> bool {
        self.pull_request.is_some()
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The local store.
    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// Starts connecting to the remote cache in the background (and
    /// signing in), once per process and remote, so a first fetch finds the
    /// connection open. Returns whether a warm-up was started: false
    /// without a remote, when one was already started, or when the remote is
    /// switched off. Reports nothing; the first fetch reports any problem.
    pub fn warm_up(&self) -> bool {
        let pull_request = self
            .pull_request
            .as_ref()
            .is_some_and(|r| r.shared.warm_up());
        self.remote.as_ref().is_some_and(|r| r.shared.warm_up()) || pull_request
    }

    /// Restores the outputs stored for `hash` into the package directory.
    /// A miss is `Ok` with no source; errors are bad hashes and disk failures.
    pub fn fetch(&self, hash: &str) -> Result<FetchOutcome> {
        let key = CacheKey::parse(hash)?;
        let _busy = self.in_flight.enter();
        let start = Instant::now();
        let result = self.fetch_key(&key);
        let micros = start.elapsed().as_micros() as u64;
        self.record(|s| s.fetch_micros += micros);
        let mut outcome = result.inspect_err(|_| self.record(|s| s.errors += 1))?;
        if self.config.incremental_caching && !outcome.hit() && outcome.skipped.is_none() {
            // Without the record the put stores every output: a warning, not a failure.
            if let Err(e) = self.snapshots.take(
                &key,
                &self.config.cwd,
                &self.config.cache_dir,
                !self.config.skip_local_cache,
            ) {
                outcome
                    .warnings
                    .push(Notice::IncrementalSnapshotFailed { why: e.to_string() });
            }
        }
        outcome.duration = start.elapsed();
        self.record(|s| {
            match outcome.source {
                Some(Source::Local | Source::LocalSkip) => s.local_hits += 1,
                Some(Source::Remote(scope)) => {
                    s.remote_hits += 1;
                    if scope != RemoteScope::Main {
                        s.pull_request_hits += 1;
                    }
                }
                None if outcome.skipped.is_some() => s.skipped += 1,
                None => s.misses += 1,
            }
            s.files_restored += outcome.files_restored;
            s.bytes_restored += outcome.bytes_restored;
        });
        Ok(outcome)
    }

    fn fetch_key(&self, key: &CacheKey) -> Result<FetchOutcome> {
        if let Some(why) = self.skip_reason(false) {
            return Ok(FetchOutcome {
                skipped: Some(why),
                ..FetchOutcome::default()
            });
        }
        if self.config.provider == Provider::LocalSkip {
            // The outputs of the last put are still in the package.
            return Ok(FetchOutcome {
                source: self.last_put.is(key)?.then_some(Source::LocalSkip),
                ..FetchOutcome::default()
            });
        }
        let local = !self.config.skip_local_cache;
        let options = RestoreOptions {
            may_write_store: local && self.config.mode.writes(),
        };
        let mut warnings = Vec::new();
        if local {
            match self.store.restore(key, &self.config.cwd, options)? {
                RestoreReport::Miss => {}
                RestoreReport::Unusable(why) => warnings.push(why),
                RestoreReport::Hit(r) => return Ok(hit(Source::Local, r, warnings)),
            }
        }
        if self.remote.is_none() {
            return Ok(FetchOutcome {
                warnings,
                ..FetchOutcome::default()
            });
        }
        if local && self.config.mode.writes() {
            let hit = self.fetch_remote(&self.store, key, options, warnings)?;
            if hit.hit() {
                // The remote filled the store.
                self.evict_soon();
            }
            return Ok(hit);
        }
        // READ_ONLY never writes the cache, nor does --skip-local-cache
        // write the local store: a remote hit goes through a throwaway store.
        let tmp = tempfile::Builder::new()
            .prefix("backfill-native-read-only-")
            .tempdir()
            .map_err(|e| {
                crate::error::CacheError::io("create a temp folder in", &std::env::temp_dir(), e)
            })?;
        let store = LocalStore::new(tmp.path());
        self.fetch_remote(&store, key, options, warnings)
    }

    /// The main scope, then the pull request scope (if any), until one hits.
    fn fetch_remote(
        &self,
        store: &LocalStore,
        key: &CacheKey,
        options: RestoreOptions,
        mut warnings: Vec<Notice>,
    ) -> Result<FetchOutcome> {
        let mut remote_note = None;
        for layer in self.remote.iter().chain(&self.pull_request) {
            match layer.fetch(store, key, &self.config.cwd, options)? {
                RemoteFetch::Hit(RestoreReport::Hit(r)) => {
                    return Ok(hit(Source::Remote(layer.scope), r, warnings))
                }
                // The entry came but could not be restored: the other
                // scope's would not do better.
                RemoteFetch::Hit(_) => break,
                RemoteFetch::Miss { warning, note } => {
                    warnings.extend(warning);
                    remote_note = remote_note.or(note);
                }
            }
        }
        Ok(FetchOutcome {
            warnings,
            remote_note,
            ..FetchOutcome::default()
        })
    }

    /// Stores the outputs matching `globs` (default: the configured output
    /// globs) as the entry of `hash`.
    pub fn put(&self, hash: &str, globs: Option<&[String]>) -> Result<PutOutcome> {
        let key = CacheKey::parse(hash)?;
        let glob = OutputGlob::new(globs.unwrap_or(&self.config.output_glob))?;
        let _busy = self.in_flight.enter();
        let start = Instant::now();
        let result = self.put_key(&key, &glob);
        let micros = start.elapsed().as_micros() as u64;
        self.record(|s| s.put_micros += micros);
        let mut outcome = result.inspect_err(|_| self.record(|s| s.errors += 1))?;
        outcome.duration = start.elapsed();
        self.record(|s| {
            if outcome.stored {
                s.puts += 1;
                s.bytes_stored += outcome.bytes;
                s.bytes_written += outcome.new_bytes;
            } else {
                s.skipped += 1;
            }
        });
        Ok(outcome)
    }

    fn put_key(&self, key: &CacheKey, glob: &OutputGlob) -> Result<PutOutcome> {
        if let Some(why) = self.skip_reason(true) {
            return Ok(PutOutcome {
                skipped: Some(why),
                ..PutOutcome::default()
            });
        }
        if self.config.provider == Provider::LocalSkip {
            self.last_put.remember(key)?;
            return Ok(PutOutcome {
                skipped: Some(Notice::SkippedByProvider),
                ..PutOutcome::default()
            });
        }
        let cwd = &self.config.cwd;
        let mut outputs = glob.find(cwd, Some(&self.config.cache_dir))?;
        let refused = glob
            .linked_folder(cwd)
            .map(|link| Unstorable::ThroughLinkedFolder { link })
            .or_else(|| crate::output_glob::unstorable(&outputs));
        if let Some(why) = refused {
            let notice = Notice::Unstorable(why);
            return Ok(PutOutcome {
                skipped: Some(notice.clone()),
                warnings: vec![notice],
                ..PutOutcome::default()
            });
        }
        if self.config.incremental_caching {
            self.snapshots.changed_only(
                key,
                &mut outputs,
                cwd,
                &self.config.cache_dir,
                !self.config.skip_local_cache,
            )?;
        }
        if self.config.skip_local_cache {
            return self.put_remote_only(key, &outputs);
        }
        let r = self.store.put(key, &outputs)?;
        self.evict_soon();
        let mut outcome = PutOutcome {
            stored: true,
            files: r.files,
            links: r.links,
            bytes: r.bytes,
            new_bytes: r.new_bytes,
            ..PutOutcome::default()
        };
        if let Some(remote) = self.upload_scope() {
            if self.config.background_uploads {
                outcome.pending_upload = Some(background::schedule(
                    key.clone(),
                    self.in_flight.enter(),
                    remote,
                    &self.store,
                    &self.tally,
                ));
            } else {
                let up = self.upload_key(key)?;
                outcome.uploaded = up.uploaded;
                outcome.upload_bytes = up.bytes;
                outcome.upload_scope = up.scope;
                outcome.upload_skipped = up.skipped;
                outcome.warnings.extend(up.warning);
            }
        }
        Ok(outcome)
    }

    /// A put under `--skip-local-cache`: the local store is not written; with
    /// a remote, the outputs go through a throwaway store to be uploaded.
    fn put_remote_only(
        &self,
        key: &CacheKey,
        outputs: &[crate::output_glob::FoundOutput],
    ) -> Result<PutOutcome> {
        let Some(remote) = self.upload_scope() else {
            return Ok(PutOutcome {
                skipped: Some(Notice::SkippedLocalCache { remote: false }),
                ..PutOutcome::default()
            });
        };
        let tmp = tempfile::Builder::new()
            .prefix("backfill-native-skip-local-")
            .tempdir()
            .map_err(|e| {
                crate::error::CacheError::io("create a temp folder in", &std::env::temp_dir(), e)
            })?;
        let store = LocalStore::new(tmp.path());
        let r = store.put(key, outputs)?;
        let up = upload_with(remote, &store, &self.tally, key)?;
        Ok(PutOutcome {
            skipped: Some(Notice::SkippedLocalCache { remote: true }),
            files: r.files,
            links: r.links,
            bytes: r.bytes,
            uploaded: up.uploaded,
            upload_bytes: up.bytes,
            upload_scope: up.scope,
            upload_skipped: up.skipped,
            warnings: up.warning.into_iter().collect(),
            ..PutOutcome::default()
        })
    }

    /// Uploads the stored entry of `hash` to the remote cache now (a put
    /// with background uploads queues its own). Remote failures are a
    /// warning in the result, never an error.
    pub fn upload(&self, hash: &str) -> Result<Upload> {
        let key = CacheKey::parse(hash)?;
        let _busy = self.in_flight.enter();
        self.upload_key(&key)
    }

    fn upload_key(&self, key: &CacheKey) -> Result<Upload> {
        match self.upload_scope() {
            Some(remote) => upload_with(remote, &self.store, &self.tally, key),
            None => Ok(Upload::default()),
        }
    }

    fn skip_reason(&self, writing: bool) -> Option<Notice> {
        let mode = self.config.mode;
        if writing && !mode.writes() || !writing && !mode.reads() {
            Some(Notice::SkippedByMode { mode })
        } else {
            None
        }
    }

    /// Removes entries unused for `days` days and contents no entry uses.
    /// While other fetches, puts or uploads hold the store it tells
    /// `notice` once, and gives up after the configured lock wait.
    /// `local-skip`'s last hashes not put for `days` days are forgotten too.
    pub fn purge(&self, days: f64, notice: &dyn Fn(&Notice)) -> Result<PurgeReport> {
        local_skip::purge(&self.config.cache_dir, days)?;
        self.store.purge_waiting(days, &self.wait(notice))
    }

    /// Removes everything from the local store, and forgets `local-skip`'s
    /// last hashes; waits as [`Engine::purge`].
    pub fn clear(&self, notice: &dyn Fn(&Notice)) -> Result<PurgeReport> {
        local_skip::clear(&self.config.cache_dir)?;
        self.store.clear_waiting(&self.wait(notice))
    }

    fn wait<'a>(&self, notice: &'a dyn Fn(&Notice)) -> crate::store::Wait<'a> {
        crate::store::Wait {
            limit: self.config.eviction.lock_wait,
            notice,
        }
    }

    /// The eviction policy of the configuration.
    pub fn evict_policy(&self) -> EvictPolicy {
        let e = &self.config.eviction;
        EvictPolicy {
            max_size: e.max_size,
            max_age: e.max_age,
            keep_recent: e.keep_recent,
        }
    }

    /// Evicts now, whatever the interval; waits as [`Engine::purge`].
    pub fn evict(&self, notice: &dyn Fn(&Notice)) -> Result<EvictReport> {
        self.store
            .evict_waiting(&self.evict_policy(), &self.wait(notice))
    }

    /// Size, entries, the oldest entry's last use and the last eviction.
    pub fn store_stats(&self) -> Result<StoreStats> {
        self.store.stats()
    }

    /// Starts an eviction in the background if one is due (see
    /// `eviction.rs`); the put or fetch that wrote the store does not wait.
    fn evict_soon(&self) {
        eviction::after_write(
            &self.store,
            self.evict_policy(),
            self.config.eviction.interval,
            self.in_flight.enter(),
        );
    }

    /// A snapshot of the counters so far.
    pub fn stats(&self) -> Counters {
        self.tally
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(&self, update: impl FnOnce(&mut Counters)) {
        self.tally.record(update);
    }

    /// The warnings of background uploads since the last call.
    pub fn take_background_warnings(&self) -> Vec<Notice> {
        std::mem::take(
            &mut *self
                .tally
                .background_warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Marks an operation as under way until the guard drops. Async callers
    /// take it when the operation is queued, so `flush` also waits for work
    /// that has not started yet.
    pub fn begin(&self) -> InFlightGuard {
        self.in_flight.enter()
    }

    /// Waits until no fetch, put or upload of this engine is under way,
    /// without holding a thread.
    pub async fn idle(&self) {
        let mut rx = self.in_flight.count.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests;

/// Uploads the entry of `key` through `remote`'s policy and counts it: the
/// one upload path of a put, of [`Engine::upload`] and of the background
/// queue.
fn upload_with(
    remote: &RemoteLayer,
    store: &LocalStore,
    tally: &Tally,
    key: &CacheKey,
) -> Result<Upload> {
    let up = remote.upload(store, key)?;
    if up.uploaded {
        tally.record(|s| {
            s.uploads += 1;
            s.bytes_uploaded += up.bytes;
        });
    }
    Ok(up)
}

fn hit(source: Source, r: crate::store::Restored, warnings: Vec<Notice>) -> FetchOutcome {
    FetchOutcome {
        source: Some(source),
        files_restored: r.files_written,
        files_cloned: r.files_cloned,
        files_unchanged: r.files_unchanged,
        links: r.links,
        bytes_restored: r.bytes_written,
        warnings,
        ..FetchOutcome::default()
    }
}
