//! The remotes of the process, each made once and shared by every engine
//! that uses it: the client with its pooled connections, its health (the
//! switch-off and the warnings already given) and the keys restored from
//! it. One registry, one key per remote, so lage asking for a provider per
//! fetch and per put shares all three.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::{Health, Remote};
use crate::cache_key::CacheKey;

/// One remote as the process shares it.
pub struct SharedRemote {
    /// The client.
    pub remote: Arc<dyn Remote>,
    /// Failures in a row, the switch-off, the warnings given.
    pub health: Health,
    /// Keys this process restored from the remote: not uploaded again.
    restored: Mutex<HashSet<String>>,
    /// Whether a warm-up was started.
    warmed: AtomicBool,
}

impl SharedRemote {
    /// A remote shared by whoever holds the result, outside the registry
    /// (tests, or a remote made for one engine).
    pub fn new(remote: Arc<dyn Remote>) -> Arc<SharedRemote> {
        Arc::new(SharedRemote {
            remote,
            health: Health::default(),
            restored: Mutex::default(),
            warmed: AtomicBool::new(false),
        })
    }

    /// Starts the remote's warm-up, the first time only: every lage worker
    /// asks, one connection is enough. Returns whether this call started it.
    pub fn warm_up(&self) -> bool {
        if self.warmed.swap(true, Ordering::Relaxed) || self.health.is_off() {
            return false;
        }
        self.remote.warm_up();
        true
    }

    /// Records that `key` was restored from this remote.
    pub fn note_restored(&self, key: &CacheKey) {
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.as_str().to_string());
    }

    /// Whether `key` was restored from this remote by this process.
    pub fn was_restored(&self, key: &CacheKey) -> bool {
        self.restored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key.as_str())
    }
}

/// The shared remote registered as `id` (a digest, never a secret), made
/// by `make` the first time.
pub fn shared(
    id: &str,
    make: impl FnOnce() -> Result<Arc<dyn Remote>, String>,
) -> Result<Arc<SharedRemote>, String> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<SharedRemote>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(shared) = all.get(id) {
        return Ok(shared.clone());
    }
    let shared = SharedRemote::new(make()?);
    all.insert(id.to_string(), shared.clone());
    Ok(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::FAILURES_BEFORE_OFF;
    use crate::test_kit::fake_remote::FakeRemote;

    #[test]
    fn a_shared_remote_warms_up_once_and_not_once_switched_off() {
        let fake = FakeRemote::new();
        let shared = SharedRemote::new(fake.clone());
        assert!(shared.warm_up());
        assert!(!shared.warm_up());
        assert_eq!(fake.warm_ups(), 1);

        let fake = FakeRemote::new();
        let off = SharedRemote::new(fake.clone());
        for _ in 0..FAILURES_BEFORE_OFF {
            off.health.failed();
        }
        assert!(off.health.is_off());
        assert!(!off.warm_up());
        assert_eq!(fake.warm_ups(), 0);
    }
}
