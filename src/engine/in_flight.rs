//! Tracking the operations under way, so `flush` can wait for them.

use std::sync::Arc;

/// Counts operations under way, so `flush` can wait for them. A watch
/// channel, so the wait can be async and hold no thread.
pub(super) struct InFlight {
    pub(super) count: tokio::sync::watch::Sender<usize>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight {
            count: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Held while an operation is under way; `flush` waits until none is held.
pub struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    pub(super) fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.send_modify(|n| *n += 1);
        InFlightGuard(self.clone())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}
