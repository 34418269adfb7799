//! backfill-native: a native build-cache engine for lage and backfill.
//!
//! The engine (everything but `binding`) is plain Rust and never touches
//! napi; `binding` is the one layer that exposes it to JavaScript.

pub mod archive;
pub mod cache_key;
pub mod config;
pub mod engine;
pub mod error;
pub mod file_states;
pub mod hashing;
pub mod notice;
pub mod output_glob;
pub mod output_temp;
pub mod platform;
pub mod remote;
pub mod store;
pub mod transfer;

#[cfg(test)]
mod test_kit;

#[cfg(not(test))]
mod binding;

pub use engine::{Counters, Engine, FetchOutcome, PendingUpload, PutOutcome, Source};
pub use error::{CacheError, Result};
