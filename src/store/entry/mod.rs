//! An entry: the manifest of one cache key (`manifest.rs`), written only
//! through its writer once its contents are in place (`writer.rs`), by a
//! put (`put.rs`) or an ingest, and restored into a package (`restore.rs`).

mod manifest;
mod put;
mod restore;
mod writer;

pub use manifest::{
    case_conflict, entry_digest, is_digest, is_safe_relative, layout_conflict, FileRecord,
    LinkRecord, Manifest, ManifestError, MANIFEST_VERSION, MODE_MASK,
};
pub use put::{put, PutReport};
#[cfg(test)]
pub(crate) use restore::{content_states_path, output_states_path};
pub use restore::{restore, RestoreOptions, RestoreReport, Restored};
pub(crate) use writer::write_manifest;
pub use writer::EntryWriter;
