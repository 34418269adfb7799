//! What the tests of every layer share, as turborepo's `test_cases.rs`:
//! the round-trip table and its file helpers (`round_trip.rs`) and one
//! configurable fake remote (`fake_remote.rs`). Compiled for tests only.

pub mod fake_remote;
pub mod round_trip;
