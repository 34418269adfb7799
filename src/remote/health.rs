//! Switching a failing remote off for the rest of the process, so a remote
//! that is down costs a few targets a few seconds, not every target.

use std::sync::Mutex;

/// Failures in a row after which the remote is switched off.
pub const FAILURES_BEFORE_OFF: u32 = 3;

/// The health of one remote, shared by every engine using it in the process
/// (it lives in the remote's [`super::SharedRemote`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_switch_the_remote_off_and_a_success_resets_the_count() {
        let h = Health::default();
        for _ in 1..FAILURES_BEFORE_OFF {
            assert!(!h.failed());
        }
        h.succeeded();
        for _ in 1..FAILURES_BEFORE_OFF {
            assert!(!h.failed());
        }
        assert!(!h.is_off(), "a success in between resets the count");
        assert!(h.failed(), "the failure that switches it off says so");
        assert!(h.is_off());
        assert!(!h.failed(), "switched off once");
        h.succeeded();
        assert!(h.is_off(), "off stays off until the process ends");
    }

    #[test]
    fn each_warning_topic_is_given_once_and_refused_uploads_are_remembered() {
        let h = Health::default();
        assert!(h.first_warning("Unavailable"));
        assert!(!h.first_warning("Unavailable"));
        assert!(h.first_warning("Forbidden"));
        assert!(!h.are_uploads_refused());
        h.uploads_refused();
        assert!(h.are_uploads_refused());
        assert!(!h.is_off(), "refused uploads do not switch fetches off");
    }
}
