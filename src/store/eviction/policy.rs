//! What an eviction keeps: the size cap, the age limit and the recent
//! window, as the configuration gives them.

use std::time::Duration;

/// What an eviction keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictPolicy {
    /// The size cap in bytes (contents in use and manifests); `None`: no cap.
    pub max_size: Option<u64>,
    /// Entries unused for longer are removed; `None`: no age limit.
    pub max_age: Option<Duration>,
    /// Entries used (fetched or stored) within this time always stay.
    pub keep_recent: Duration,
}

impl EvictPolicy {
    /// Whether this policy can remove anything.
    pub fn is_on(&self) -> bool {
        self.max_size.is_some() || self.max_age.is_some()
    }
}
