//! Background uploads (`backgroundUploads`): a put that returns once its
//! outputs are stored locally leaves its upload to this queue, which the
//! engine owns, as turborepo's `AsyncCache` does: one worker thread per
//! engine, started with the first upload, runs them in the order of their
//! puts. Each upload counts as under way from the moment it is queued, so
//! `Engine::idle` (the binding's `flush`) waits for it; its warnings are
//! kept for `Engine::take_background_warnings`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::in_flight::InFlightGuard;
use super::remote_policy::{RemoteLayer, Upload};
use super::Tally;
use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::notice::Notice;
use crate::store::LocalStore;

/// An upload left to the background: [`PendingUpload::wait`] gives its
/// result once it ran.
#[derive(Debug, Clone)]
pub struct PendingUpload(Arc<Mutex<Option<mpsc::Receiver<Result<Upload>>>>>);

impl PendingUpload {
    /// Blocks until the upload ran and gives its result (once; a second
    /// call, or a queue that went away, gives an empty result).
    pub fn wait(&self) -> Result<Upload> {
        let rx = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        rx.and_then(|rx| rx.recv().ok())
            .unwrap_or_else(|| Ok(Upload::default()))
    }
}

struct Job {
    key: CacheKey,
    done: mpsc::Sender<Result<Upload>>,
    _busy: InFlightGuard,
}

/// The queue of one engine.
#[derive(Default)]
pub(super) struct Queue {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Queue {
    /// Queues the upload of `key`, starting the worker if needed.
    pub(super) fn schedule(
        &self,
        key: CacheKey,
        busy: InFlightGuard,
        remote: &Arc<RemoteLayer>,
        store: &LocalStore,
        tally: &Arc<Tally>,
    ) -> PendingUpload {
        let (done, rx) = mpsc::channel();
        let pending = PendingUpload(Arc::new(Mutex::new(Some(rx))));
        let mut tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let job = Job {
            key,
            done,
            _busy: busy,
        };
        // A worker that ended (it panicked) gives the job back.
        let job = match tx.as_ref() {
            Some(worker) => match worker.send(job) {
                Ok(()) => return pending,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (new_tx, jobs) = mpsc::channel::<Job>();
        let (worker_remote, worker_store, worker_tally) =
            (remote.clone(), store.clone(), tally.clone());
        let started = std::thread::Builder::new()
            .name("backfill-native-upload".into())
            .spawn(move || {
                // Ends when the engine (the sender) is gone and the queue
                // is drained.
                for job in jobs {
                    run(&worker_remote, &worker_store, &worker_tally, job);
                }
            });
        match started {
            Ok(_) => {
                let _ = new_tx.send(job);
                *tx = Some(new_tx);
            }
            // No thread to be had: the upload runs here, as without
            // background uploads.
            Err(_) => run(remote, store, tally, job),
        }
        pending
    }
}

/// Runs one queued upload, keeps its warning, and answers its waiter.
fn run(remote: &RemoteLayer, store: &LocalStore, tally: &Tally, job: Job) {
    let result = super::upload_with(remote, store, tally, &job.key);
    match &result {
        Ok(up) => tally.note_background(up.warning.clone()),
        Err(e) => tally.note_background(Some(Notice::BackgroundUploadFailed {
            key: job.key.as_str().to_string(),
            why: e.to_string(),
        })),
    }
    let _ = job.done.send(result);
}
