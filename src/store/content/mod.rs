//! The store's contents: each file content once, named by its blake3
//! digest, written by `writer.rs` (temp file, then rename) and read back
//! only through the verifying reader of `reader.rs`; cloned rather than
//! copied where the file system can (`clone.rs`).

pub(super) mod clone;
pub(super) mod reader;
pub(super) mod writer;

pub use reader::ContentReader;
pub use writer::{IngestFailure, Ingested, Staged};
