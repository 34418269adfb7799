//! The JavaScript binding: the only module that uses napi. It converts
//! options and results at the boundary and runs engine work off Node's main
//! thread; all behaviour lives in the engine.
//!
//! - `cache.rs`: the `Cache` class, for scripts
//! - `provider.rs`: the storage lage calls (`getProvider`, `createProvider`)
//! - `hashing.rs`: `hashFiles`, `hashPackage`
//! - `config.rs`: `loadConfig` and the resolved configuration
//! - `options.rs`: the options JavaScript passes in
//! - `results.rs`: the result objects of `Cache`
//! - `digests.rs`: the digests object of `hashFiles`, built with Node-API
//! - `uploads.rs`: background uploads
//! - `task.rs`: the task every async method and its `Sync` twin run
//! - `logger.rs`: talking to lage's logger
//! - `error.rs`: engine errors as JavaScript errors

mod cache;
mod config;
mod digests;
mod error;
mod hashing;
mod logger;
mod options;
mod provider;
mod results;
mod task;
mod uploads;

use napi_derive::napi;

/// The plugin name lage's by-name plugin loader reads.
// Lower case on purpose: napi-derive registers a const under its Rust name
// and ignores `js_name`.
#[allow(non_upper_case_globals)]
#[napi]
pub const name: &str = "backfill-native";
