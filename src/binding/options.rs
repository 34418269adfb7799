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
    /// Cache provider: `local`, `local-skip` or `azure-blob`
    /// (`BACKFILL_CACHE_PROVIDER`). At run time any other name is warned
    /// about and the local cache is used, as with the variable.
    /// @default "local"
    #[napi(ts_type = "'local' | 'local-skip' | 'azure-blob'")]
    pub provider: Option<String>,
    /// Provider options, as in `BACKFILL_CACHE_PROVIDER_OPTIONS`; for
    /// `azure-blob`: `{ connectionString, container, maxSize?,
    /// credentialName?, signingKey? }`. An unknown field is a warning; a
    /// misspelt `signingKey` is an error.
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
    };
    (dir, opts)
}
