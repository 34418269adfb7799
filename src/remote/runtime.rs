//! The tokio runtime the remote runs on, shared by the whole process (every
//! lage worker thread), so connections are pooled and many small transfers
//! run at once.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

use super::{FailureKind, RemoteFailure};

/// The shared runtime, or `None` if it could not be started.
pub fn runtime() -> Option<&'static Runtime> {
    static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("backfill-native-remote")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// The shared runtime, or the failure a transfer reports without it.
pub fn runtime_or_failure() -> Result<&'static Runtime, RemoteFailure> {
    runtime().ok_or_else(|| RemoteFailure {
        kind: FailureKind::Other,
        message: "the remote runtime could not be started".into(),
    })
}
