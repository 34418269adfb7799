//! What the tests of every layer share, as turborepo's `test_cases.rs`:
//! the round-trip table and its file helpers (`round_trip.rs`), one
//! configurable fake remote (`fake_remote.rs`), and XFS and btrfs images
//! loop-mounted for the clone tests (`loop_fs.rs`). Compiled for tests only.

pub mod fake_remote;
pub mod loop_fs;
pub mod round_trip;

use crate::notice::{LocalProblem, Notice};

/// What a local entry's notice says was wrong (the detail its message
/// quotes), for tests that check which problem was found.
pub fn local_problem(notice: &Notice) -> &LocalProblem {
    match notice {
        Notice::LocalEntry { problem, .. } => problem,
        other => panic!("not a local entry notice: {other:?}"),
    }
}

/// The detail of a local entry's problem.
pub fn local_detail(notice: &Notice) -> &str {
    match local_problem(notice) {
        LocalProblem::Unreadable(what) => what,
        LocalProblem::Invalid { reason, .. } => reason,
        LocalProblem::NotRestorableHere(why) => why,
    }
}
