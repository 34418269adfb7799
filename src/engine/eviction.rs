//! Automatic eviction: after a put (or a remote hit that filled the store),
//! an eviction of the store is started on a background thread of this
//! process when the last one, by any process, ended more than the interval
//! ago.
//!
//! A thread, not a detached process: it needs nothing but the store, it
//! costs the put a `stat`, and a process that ends (or is killed) mid-run
//! leaves a store the next run finishes (see `store/eviction/run.rs`). It waits
//! for the store's exclusive lock, so no fetch or put of any process is
//! under way while it removes anything; one eviction runs at a time per
//! store across processes (`evict.lock`), and a put landing while one runs
//! here makes this thread go round once more. `flush()` waits for it, so a
//! short-lived command line finishes the run it started.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use super::InFlightGuard;
use crate::store::{lock::StoreLock, EvictPolicy, LocalStore};

#[derive(Default)]
struct Slot {
    running: bool,
    again: bool,
}

fn slots() -> &'static Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>> {
    static SLOTS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<Slot>>>>> = OnceLock::new();
    SLOTS.get_or_init(Mutex::default)
}

/// Whether the last eviction of `store` ended `interval` ago or more. A
/// store that never had one is due `interval` after its first put (the
/// time `evict.lock` was made), so short runs on a new store start none.
fn due(store: &LocalStore, interval: Duration) -> bool {
    let older = |t: SystemTime| {
        SystemTime::now()
            .duration_since(t)
            .map_or(true, |age| age >= interval)
    };
    if let Some(t) = store.last_eviction_time() {
        return older(t);
    }
    let stamp = store.layout().evict_lock();
    match std::fs::metadata(&stamp).and_then(|m| m.modified()) {
        Ok(t) => older(t),
        Err(_) => {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&stamp);
            interval.is_zero()
        }
    }
}

/// Starts an eviction of `store` in the background if one is due.
pub fn after_write(
    store: &LocalStore,
    policy: EvictPolicy,
    interval: Duration,
    busy: InFlightGuard,
) {
    if !policy.is_on() || !due(store, interval) {
        return;
    }
    let slot = slots()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(store.root().to_path_buf())
        .or_default()
        .clone();
    {
        let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
        if s.running {
            s.again = true;
            return;
        }
        s.running = true;
    }
    let store = store.clone();
    let thread_slot = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("backfill-native-evict".into())
        .spawn(move || {
            let _busy = busy;
            loop {
                if due(&store, interval) {
                    // Another process evicting now covers this put (it
                    // scans after taking the store lock, which this put
                    // has released).
                    if let Ok(Some(evictor)) = StoreLock::try_evictor(store.layout()) {
                        if due(&store, interval) {
                            // A failure (a store removed meanwhile, a disk
                            // error) is retried after the next put.
                            let _ = store.evict_holding(&policy, evictor);
                        }
                    }
                }
                let mut s = thread_slot.lock().unwrap_or_else(|p| p.into_inner());
                if s.again {
                    s.again = false;
                    continue;
                }
                s.running = false;
                break;
            }
        });
    if spawned.is_err() {
        slot.lock().unwrap_or_else(|p| p.into_inner()).running = false;
    }
}
