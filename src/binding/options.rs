//! Options passed from JavaScript, converted once to the engine's options.

use std::path::PathBuf;

use napi_derive::napi;

use crate::config::Options;

/// Options of a cache. Every field is optional; `.env` and the environment
/// override them (defaults < options < `.env` < environment).
// No `Debug`: the provider options hold the connection string.
#[napi(object)]
#[derive(Clone, Default)]
pub struct CacheOptions {
    /// Package directory outputs are stored from and restored into.
    /// @default process.cwd()
    pub cwd: Option<String>,
    /// Cache provider: `local`, `local-skip`, `azure-blob`, `s3` or
    /// `turborepo` (`BACKFILL_CACHE_PROVIDER`). At run time any other name is
    /// warned about and the local cache is used, as with the variable.
    /// @default "local"
    #[napi(ts_type = "'local' | 'local-skip' | 'azure-blob' | 's3' | 'turborepo'")]
    pub provider: Option<String>,
    /// Provider options, as in `BACKFILL_CACHE_PROVIDER_OPTIONS`; for
    /// `azure-blob`: `{ connectionString, container, maxSize?,
    /// credentialName?, signingKey?, timeoutScale? }`; for `s3`: `{ bucket,
    /// region?, endpoint?, prefix?, forcePathStyle?, profile?, maxSize?,
    /// signingKey?, timeoutScale? }` (credentials come from the AWS
    /// variables, a profile, web identity or the instance's role); for
    /// `turborepo`: `{ apiUrl?, token?, teamId?, teamSlug?, maxSize?,
    /// signingKey?, timeoutScale? }` (turbo's `TURBO_*` variables where left
    /// out). An unknown field is a warning; a misspelt `signingKey` is an
    /// error.
    #[napi(ts_type = "Record<string, unknown>")]
    pub provider_options: Option<serde_json::Value>,
    /// Local cache folder, relative to the package directory or absolute
    /// (`BACKFILL_INTERNAL_CACHE_FOLDER`).
    /// @default "<workspace root>/node_modules/.cache/backfill-native"
    pub cache_folder: Option<String>,
    /// Output globs used by `put` calls that give none (`BACKFILL_OUTPUT_GLOB`).
    /// @default ["lib/**"]
    pub output_glob: Option<Vec<String>>,
    /// `READ_WRITE`, `READ_ONLY`, `WRITE_ONLY` or `PASS` (`BACKFILL_MODE`).
    /// At run time the case is ignored, as with the variable.
    /// @default "READ_WRITE"
    #[napi(ts_type = "'READ_WRITE' | 'READ_ONLY' | 'WRITE_ONLY' | 'PASS'")]
    pub mode: Option<String>,
    /// `silly`, `verbose`, `info`, `warn`, `error` or `mute`
    /// (`BACKFILL_LOG_LEVEL`): the lowest level sent to the logger. At run
    /// time the case is ignored, as with the variable.
    /// @default "info"
    #[napi(ts_type = "'silly' | 'verbose' | 'info' | 'warn' | 'error' | 'mute'")]
    pub log_level: Option<String>,
    /// Upload to the remote cache on put (`LAGE_WRITE_REMOTE_CACHE`).
    /// @default false
    pub write_remote_cache: Option<bool>,
    /// Let `put` resolve once the outputs are stored locally and upload in
    /// the background; `flush()` waits for the uploads. Node does not exit
    /// before they end, but a terminated worker thread drops them.
    /// @default false
    pub background_uploads: Option<bool>,
    /// Size cap of the local store (`BACKFILL_NATIVE_CACHE_MAX_SIZE`): a
    /// number of bytes, a size such as `"10GB"`, `"500MB"` or `"2GiB"`, or
    /// `"off"` / `false`. Least recently used entries go first.
    /// @default "10GiB"
    #[napi(ts_type = "number | string | false")]
    pub cache_max_size: Option<serde_json::Value>,
    /// Age limit of the local store's entries (`BACKFILL_NATIVE_CACHE_MAX_AGE`):
    /// a number of days, a duration such as `"30d"` or `"12h"`, or `"off"` /
    /// `false`. Entries not fetched or stored for longer are removed.
    /// @default "30d"
    #[napi(ts_type = "number | string | false")]
    pub cache_max_age: Option<serde_json::Value>,
    /// Least time between two evictions of a store, run after puts
    /// (`BACKFILL_NATIVE_EVICT_INTERVAL`): seconds, or a duration such as `"5m"`.
    /// @default "5m"
    #[napi(ts_type = "number | string")]
    pub evict_interval: Option<serde_json::Value>,
    /// An entry fetched or stored within this time is never evicted
    /// (`BACKFILL_NATIVE_EVICT_KEEP_RECENT`): seconds, or a duration such as `"10m"`.
    /// @default "10m"
    #[napi(ts_type = "number | string")]
    pub evict_keep_recent: Option<serde_json::Value>,
    /// How long `clear`, `purge` and `evict` wait for the fetches, puts and
    /// uploads of other processes holding the store, before they give up
    /// with `BACKFILL_NATIVE_BUSY` (`BACKFILL_NATIVE_LOCK_WAIT`): seconds,
    /// or a duration such as `"5m"`.
    /// @default "1m"
    #[napi(ts_type = "number | string")]
    pub lock_wait: Option<serde_json::Value>,
    /// Branches whose builds may upload to the remote cache, names or globs
    /// such as `["main", "release/*"]` (`BACKFILL_NATIVE_UPLOAD_BRANCHES`,
    /// comma-separated). Other branches skip uploads with one line saying
    /// why; a pull request build never uploads. Default: any branch that is
    /// not a pull request.
    pub upload_branches: Option<Vec<String>>,
    /// The pull request scope: its provider options, laid field by field
    /// over `providerOptions` (`BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS`),
    /// typically its own container or bucket and credential. A pull request
    /// build reads the main scope, then this one, and uploads only here,
    /// under `pr-<number>-<hash>`; other builds read the main scope only,
    /// unless `BACKFILL_NATIVE_PULL_REQUEST` names a pull request to read.
    #[napi(ts_type = "Record<string, unknown>")]
    pub pull_request_provider_options: Option<serde_json::Value>,
    /// Store only the output files that changed since the fetch of the same
    /// hash missed, as backfill's `incrementalCaching`
    /// (`BACKFILL_INCREMENTAL_CACHING`; lage's `cacheOptions.incrementalCaching`
    /// through `backfill-native/lage`).
    /// @default false
    pub incremental_caching: Option<bool>,
    /// Neither read nor write the local store; a remote cache is still
    /// fetched from and uploaded to (lage's `--skip-local-cache`, set by
    /// `backfill-native/lage`).
    /// @default false
    pub skip_local_cache: Option<bool>,
}

/// The package directory and engine options for a call: `cwd` given as an
/// argument wins over `options.cwd`, which wins over the current directory.
pub fn resolve(cwd: Option<String>, options: Option<CacheOptions>) -> (PathBuf, Options) {
    let o = options.unwrap_or_default();
    let dir = cwd
        .or(o.cwd)
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let opts = Options {
        provider: o.provider,
        provider_options: o.provider_options,
        cache_folder: o.cache_folder,
        output_glob: o.output_glob,
        mode: o.mode,
        log_level: o.log_level,
        write_remote_cache: o.write_remote_cache,
        background_uploads: o.background_uploads,
        cache_max_size: o.cache_max_size,
        cache_max_age: o.cache_max_age,
        evict_interval: o.evict_interval,
        evict_keep_recent: o.evict_keep_recent,
        lock_wait: o.lock_wait,
        upload_branches: o.upload_branches,
        pull_request_provider_options: o.pull_request_provider_options,
        incremental_caching: o.incremental_caching,
        skip_local_cache: o.skip_local_cache,
    };
    (dir, opts)
}
