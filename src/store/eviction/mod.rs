//! Eviction: keeping a store under its size cap and age limit.
//!
//! - `policy.rs`: what a run keeps;
//! - `index.rs`: which contents each entry uses and when each was used, so
//!   a run reads neither every manifest nor every content;
//! - `run.rs`: a run, under the store's exclusive lock;
//! - `stats.rs`: what the store holds, as `stats` shows it.

mod index;
mod policy;
mod run;
mod stats;

pub use index::EvictionRecord;
pub use policy::EvictPolicy;
pub use run::{evict, EvictBy, EvictReport};
pub use stats::{last_run, stats, StoreStats};

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
