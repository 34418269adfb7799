//! The store's contents: each file content once, named by its blake3
//! digest, written by `writer.rs` (temp file, then rename) and read back
//! only through the verifying reader of `reader.rs`.

pub(super) mod reader;
pub(super) mod writer;

pub use reader::ContentReader;
pub use writer::{IngestFailure, Ingested, Staged};
