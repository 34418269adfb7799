//! The JavaScript binding: the only module that uses napi. It converts
//! options and results at the boundary and runs engine work off Node's main
//! thread; all behaviour lives in the engine.

mod cache;
mod hashing;
mod job;
mod logger;
mod options;
mod provider;
mod results;

use napi_derive::napi;

use crate::config::Config;
use options::CacheOptions;
use results::ResolvedConfig;

/// The plugin name lage's by-name plugin loader reads.
// Lower case on purpose: napi-derive registers a const under its Rust name
// and ignores `js_name`.
#[allow(non_upper_case_globals)]
#[napi]
pub const name: &str = "backfill-native";

/// Resolves the configuration the engine would use for package directory
/// `cwd` (default: the current directory) from `options`, the nearest `.env`
/// and the environment, in that order of precedence. Secrets are redacted.
///
/// Throws (with `error.code` `BACKFILL_NATIVE_CONFIG`) when a value is invalid.
#[napi]
pub fn load_config(
    env: napi::Env,
    cwd: Option<String>,
    options: Option<CacheOptions>,
) -> napi::Result<ResolvedConfig> {
    let (dir, opts) = options::resolve(cwd, options);
    Config::load(&dir, &opts)
        .map(|c| ResolvedConfig::from(&c))
        .map_err(|e| job::js_error(&env, &e))
}
