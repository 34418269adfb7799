//! Switching a failing remote off for the rest of the process, so a remote
//! that is down costs a few targets a few seconds, not every target.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Failures in a row after which the remote is switched off.
pub const FAILURES_BEFORE_OFF: u32 = 3;

/// The health of one remote, shared by every engine using it in the process.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures_in_a_row: u32,
    off: bool,
    uploads_refused: bool,
    warned: std::collections::HashSet<String>,
}

impl Health {
    /// The health record of the remote named `id`, process-wide.
    pub fn of(id: &str) -> Arc<Health> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<Health>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(id.to_string()).or_default().clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the remote has been switched off.
    pub fn is_off(&self) -> bool {
        self.state().off
    }

    /// Records a success.
    pub fn succeeded(&self) {
        self.state().failures_in_a_row = 0;
    }

    /// Records a failure; true when this one switched the remote off.
    pub fn failed(&self) -> bool {
        let mut s = self.state();
        s.failures_in_a_row += 1;
        if !s.off && s.failures_in_a_row >= FAILURES_BEFORE_OFF {
            s.off = true;
            return true;
        }
        false
    }

    /// Records that the credentials may not upload.
    pub fn uploads_refused(&self) {
        self.state().uploads_refused = true;
    }

    /// Whether uploads were refused before.
    pub fn are_uploads_refused(&self) -> bool {
        self.state().uploads_refused
    }

    /// True the first time `topic` is seen for this remote in the process.
    pub fn first_warning(&self, topic: &str) -> bool {
        self.state().warned.insert(topic.to_string())
    }
}
