//! The remote archive format: an uncompressed POSIX tar of package-relative
//! output paths, byte-compatible with the one backfill's JS `azure-blob`
//! provider writes (tar-fs) and reads.
//!
//! `create` writes an entry of the local store as such a tar; `ingest`
//! reads one into the local store, refusing anything that could write
//! outside the package.

mod create;
mod ingest;

pub use create::{archive_size, archive_time, write_archive};
pub use ingest::{ingest_archive, IngestError};

#[cfg(test)]
mod tests;
