//! Background uploads (`backgroundUploads`): a put that returns once its
//! outputs are stored locally leaves its upload to the engine, which runs
//! it on a thread of its own, as turborepo's `AsyncCache` runs its writes:
//! at most [`AT_ONCE`] uploads of the process run at a time, the others
//! wait for a turn. Each upload counts as under way from the moment it is
//! queued, so `Engine::idle` (the binding's `flush`) waits for it; its
//! warnings are kept for `Engine::take_background_warnings`.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};

use super::in_flight::InFlightGuard;
use super::remote_policy::{RemoteLayer, Upload};
use super::Tally;
use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::notice::Notice;
use crate::store::LocalStore;

/// Background uploads of the process running at once (libuv's default
/// pool, which ran them before).
pub const AT_ONCE: usize = 4;

/// An upload left to the background: [`PendingUpload::wait`] gives its
/// result once it ran.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    key: String,
    rx: Arc<Mutex<Option<mpsc::Receiver<Result<Upload>>>>>,
}

impl PendingUpload {
    /// Blocks until the upload ran and gives its result (once; a second
    /// call gives an empty result).
    pub fn wait(&self) -> Result<Upload> {
        let rx = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take();
        match rx.map(|rx| rx.recv()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Ok(stopped(&self.key, "it stopped before it ended")),
            None => Ok(Upload::default()),
        }
    }
}

/// Queues the upload of `key` on a thread of its own.
pub(super) fn schedule(
    key: CacheKey,
    busy: InFlightGuard,
    remote: &Arc<RemoteLayer>,
    store: &LocalStore,
    tally: &Arc<Tally>,
) -> PendingUpload {
    let (done, rx) = mpsc::channel();
    let pending = PendingUpload {
        key: key.as_str().to_string(),
        rx: Arc::new(Mutex::new(Some(rx))),
    };
    let job = {
        let (remote, store, tally) = (remote.clone(), store.clone(), tally.clone());
        move || {
            let _busy = busy;
            let _turn = Turn::take();
            // A panic must not lose the upload's answer (the waiter, and
            // `flush`, would never hear of it).
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                super::upload_with(&remote, &store, &tally, &key)
            }))
            .unwrap_or_else(|_| Ok(stopped(key.as_str(), "it failed unexpectedly (a panic)")));
            let warning = match &result {
                Ok(up) => up.warning.clone(),
                Err(e) => Some(Notice::BackgroundUploadFailed {
                    key: key.as_str().to_string(),
                    why: e.to_string(),
                }),
            };
            tally.note_background(warning);
            let _ = done.send(result);
        }
    };
    let started = std::thread::Builder::new()
        .name("backfill-native-upload".into())
        .spawn(job);
    if started.is_err() {
        // No thread to be had: the job is gone with its sender, so the
        // waiter hears it stopped; `flush` hears it here.
        tally.note_background(stopped(&pending.key, "no thread could be started for it").warning);
    }
    pending
}

/// An upload that did not run to its end, as its result.
fn stopped(key: &str, why: &str) -> Upload {
    let notice = Notice::BackgroundUploadFailed {
        key: key.to_string(),
        why: why.into(),
    };
    Upload {
        skipped: Some(notice.clone()),
        warning: Some(notice),
        ..Upload::default()
    }
}

/// A turn among the [`AT_ONCE`] uploads that may run at once.
struct Turn;

static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Turn {
    fn take() -> Turn {
        let (count, free) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= AT_ONCE {
            n = free.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let (count, free) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        free.notify_one();
    }
}
