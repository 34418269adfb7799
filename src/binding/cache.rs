//! The `Cache` class: the engine for scripts, with rich results.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::config::ResolvedConfig;
use super::error::js_error;
use super::options::{self, CacheOptions};
use super::results::{
    CacheStats, EvictResult, FetchResult, Notice, PurgeResult, PutResult, StoreStats, StoreUsage,
};
use super::task::{run_sync, Done, EngineTask};
use super::uploads::background_upload;
use crate::engine::Engine;

/// A build cache bound to one package directory, for scripts. Results say
/// hit or miss, where a hit came from, and what was restored or stored.
///
/// Every async method does its disk work off the JS thread and has a `Sync`
/// twin that runs the same code on the calling thread.
#[napi]
pub struct Cache {
    engine: Arc<Engine>,
}

impl Cache {
    // One task per operation: the async method hands it to libuv's pool, the
    // `Sync` twin runs it on the calling thread.

    fn fetch_task(&self, hash: String) -> EngineTask<FetchResult> {
        let engine = self.engine.clone();
        let busy = engine.begin();
        EngineTask::new(Box::new(move || {
            let _busy = busy;
            Done::quiet(engine.fetch(&hash).map(FetchResult::from))
        }))
    }

    fn put_task(&self, hash: String, output_glob: Option<Vec<String>>) -> EngineTask<PutResult> {
        let engine = self.engine.clone();
        // Taken now, not when the work starts, so `flush` waits for queued puts.
        let busy = engine.begin();
        EngineTask::new(Box::new(move || {
            let _busy = busy;
            let result = engine.put(&hash, output_glob.as_deref());
            let pending = result.as_ref().ok().and_then(|o| o.pending_upload.clone());
            let mut done = Done::quiet(result.map(PutResult::from));
            if let Some(pending) = pending {
                done.follow_up = Some(background_upload(pending, hash));
            }
            done
        }))
    }

    fn purge_task(&self, days: f64) -> EngineTask<PurgeResult> {
        let engine = self.engine.clone();
        EngineTask::new(Box::new(move || {
            Done::quiet(
                engine
                    .purge(days, &super::logger::to_stderr)
                    .map(PurgeResult::from),
            )
        }))
    }

    fn clear_task(&self) -> EngineTask<PurgeResult> {
        let engine = self.engine.clone();
        EngineTask::new(Box::new(move || {
            Done::quiet(
                engine
                    .clear(&super::logger::to_stderr)
                    .map(PurgeResult::from),
            )
        }))
    }

    fn evict_task(&self) -> EngineTask<EvictResult> {
        let engine = self.engine.clone();
        EngineTask::new(Box::new(move || {
            Done::quiet(
                engine
                    .evict(&super::logger::to_stderr)
                    .map(EvictResult::from),
            )
        }))
    }

    fn store_stats_task(&self) -> EngineTask<StoreStats> {
        let engine = self.engine.clone();
        EngineTask::new(Box::new(move || {
            Done::quiet(
                engine
                    .store_stats()
                    .map(|s| StoreStats::new(s, engine.config())),
            )
        }))
    }

    fn store_usage_task(&self) -> EngineTask<StoreUsage> {
        let engine = self.engine.clone();
        EngineTask::new(Box::new(move || {
            Done::quiet(engine.store_stats().map(StoreUsage::from))
        }))
    }
}

#[napi]
impl Cache {
    /// Makes a cache for `options.cwd` (default: the current directory).
    /// Throws with `error.code` `BACKFILL_NATIVE_CONFIG` when the
    /// configuration is invalid; nothing is written then.
    #[napi(constructor)]
    pub fn new(env: Env, options: Option<CacheOptions>) -> Result<Self> {
        let (cwd, opts) = options::resolve(None, options);
        let engine = Engine::new(&cwd, &opts).map_err(|e| js_error(&env, &e))?;
        Ok(Cache {
            engine: Arc::new(engine),
        })
    }

    /// The configuration this cache runs with, secrets redacted.
    #[napi(getter)]
    pub fn config(&self) -> ResolvedConfig {
        ResolvedConfig::from(self.engine.config())
    }

    /// Restores the outputs stored for `hash` into the package directory.
    /// A miss resolves with `hit: false`; a corrupt entry is a miss with a
    /// warning. Rejects on a bad hash or a local disk failure.
    #[napi(ts_return_type = "Promise<FetchResult>")]
    pub fn fetch(&self, hash: String) -> AsyncTask<EngineTask<FetchResult>> {
        AsyncTask::new(self.fetch_task(hash))
    }

    /// `fetch` on the calling thread.
    #[napi]
    pub fn fetch_sync(&self, env: Env, hash: String) -> Result<FetchResult> {
        run_sync(&env, self.fetch_task(hash))
    }

    /// Stores the files matching `outputGlob` (globby patterns relative to
    /// the package directory; default: the configured output globs) as the
    /// entry of `hash`. Matching no file stores an empty entry.
    #[napi(ts_return_type = "Promise<PutResult>")]
    pub fn put(
        &self,
        hash: String,
        output_glob: Option<Vec<String>>,
    ) -> AsyncTask<EngineTask<PutResult>> {
        AsyncTask::new(self.put_task(hash, output_glob))
    }

    /// `put` on the calling thread.
    #[napi]
    pub fn put_sync(
        &self,
        env: Env,
        hash: String,
        output_glob: Option<Vec<String>>,
    ) -> Result<PutResult> {
        run_sync(&env, self.put_task(hash, output_glob))
    }

    /// Removes entries not used (fetched or stored) within `olderThanDays`
    /// days, and the stored contents no remaining entry uses.
    #[napi(ts_return_type = "Promise<PurgeResult>")]
    pub fn purge(&self, older_than_days: f64) -> AsyncTask<EngineTask<PurgeResult>> {
        AsyncTask::new(self.purge_task(older_than_days))
    }

    /// `purge` on the calling thread.
    #[napi]
    pub fn purge_sync(&self, env: Env, older_than_days: f64) -> Result<PurgeResult> {
        run_sync(&env, self.purge_task(older_than_days))
    }

    /// Removes everything from the local cache folder.
    #[napi(ts_return_type = "Promise<PurgeResult>")]
    pub fn clear(&self) -> AsyncTask<EngineTask<PurgeResult>> {
        AsyncTask::new(self.clear_task())
    }

    /// `clear` on the calling thread.
    #[napi]
    pub fn clear_sync(&self, env: Env) -> Result<PurgeResult> {
        run_sync(&env, self.clear_task())
    }

    /// Evicts now, whatever the interval: least recently used entries over
    /// the size cap and entries over the age limit go, except those used
    /// within the keep-recent time. It waits for the fetches and puts under
    /// way (the store's exclusive lock).
    #[napi(ts_return_type = "Promise<EvictResult>")]
    pub fn evict(&self) -> AsyncTask<EngineTask<EvictResult>> {
        AsyncTask::new(self.evict_task())
    }

    /// `evict` on the calling thread.
    #[napi]
    pub fn evict_sync(&self, env: Env) -> Result<EvictResult> {
        run_sync(&env, self.evict_task())
    }

    /// The local store's size, entries and contents, its cap and age limit,
    /// its least recently used entry and its last eviction. Reads the
    /// eviction index and the manifests that changed since; takes no lock.
    #[napi(ts_return_type = "Promise<StoreStats>")]
    pub fn store_stats(&self) -> AsyncTask<EngineTask<StoreStats>> {
        AsyncTask::new(self.store_stats_task())
    }

    /// `storeStats` on the calling thread.
    #[napi]
    pub fn store_stats_sync(&self, env: Env) -> Result<StoreStats> {
        run_sync(&env, self.store_stats_task())
    }

    /// What the local store holds: entries, contents and their bytes. It
    /// lists every entry and stats every content of the store, off the JS
    /// thread.
    #[napi(ts_return_type = "Promise<StoreUsage>")]
    pub fn store_usage(&self) -> AsyncTask<EngineTask<StoreUsage>> {
        AsyncTask::new(self.store_usage_task())
    }

    /// `storeUsage` on the calling thread.
    #[napi]
    pub fn store_usage_sync(&self, env: Env) -> Result<StoreUsage> {
        run_sync(&env, self.store_usage_task())
    }

    /// Counters since this cache was made: hits and misses by source, bytes,
    /// time spent.
    #[napi]
    pub fn stats(&self) -> CacheStats {
        CacheStats::from(self.engine.stats())
    }

    /// Resolves when no fetch, put or background upload of this cache is
    /// under way, with the warnings of the background uploads that ended
    /// since the last flush. It waits without holding one of Node's worker
    /// threads, which the uploads themselves need.
    #[napi(ts_return_type = "Promise<Array<Notice>>")]
    pub fn flush<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Vec<Notice>>> {
        let engine = self.engine.clone();
        env.spawn_future(async move {
            engine.idle().await;
            Ok(super::results::notices(engine.take_background_warnings()))
        })
    }
}
