//! An upload: the stored entry of a key, written as the tar archive the
//! remote keeps, signed from its manifest, within `maxSize`.

use std::collections::HashMap;
use std::io;

use crate::archive::{archive_size, archive_time, write_archive};
use crate::cache_key::CacheKey;
use crate::error::{CacheError, Result};
use crate::remote::signature;
use crate::remote::{Remote, RemoteFailure, TransferError};
use crate::store::LocalStore;

/// What an upload did.
#[derive(Debug)]
pub enum Uploaded {
    /// The archive is on the remote: its size.
    Done(u64),
    /// The outputs alone are over `maxSize`.
    OutputsOverMaxSize { bytes: u64, max: u64 },
    /// The archive (outputs plus tar headers) would be over `maxSize`.
    ArchiveOverMaxSize { size: u64, outputs: u64, max: u64 },
    /// The archive cannot be written (a path tar cannot hold): why.
    Unarchivable(String),
    /// The local entry could not be read while uploading: why.
    LocalUnreadable(String),
    /// The remote failed.
    Failed(RemoteFailure),
}

/// Uploads the stored entry of `key` from `store` to `remote` as the blob
/// `name` (the key, or the key in a scope: `pr-12-<key>`; the signature
/// covers the name). A missing entry and local disk failures before the
/// transfer are errors.
pub fn upload(
    remote: &dyn Remote,
    store: &LocalStore,
    key: &CacheKey,
    name: &CacheKey,
    max_size: Option<u64>,
    signing_key: Option<&str>,
) -> Result<Uploaded> {
    // The store's lock first, then the entry: a purge, clear or eviction
    // cannot remove its contents from under the upload.
    let _lock = store.lock_shared()?;
    let Some(manifest) = store.read_manifest(key) else {
        return Err(CacheError::io(
            "read the entry to upload from",
            store.root(),
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no usable entry for {}", key.as_str()),
            ),
        ));
    };
    // Tar headers and padding make the archive larger than the outputs: an
    // archive over maxSize would be uploaded and never downloaded.
    let size = match archive_size(&manifest) {
        Ok(size) => size,
        Err(e) => return Ok(Uploaded::Unarchivable(e.to_string())),
    };
    if let Some(max) = max_size {
        let outputs = manifest.bytes();
        if outputs > max {
            return Ok(Uploaded::OutputsOverMaxSize {
                bytes: outputs,
                max,
            });
        }
        if size > max {
            return Ok(Uploaded::ArchiveOverMaxSize { size, outputs, max });
        }
    }
    // The digest and signature go with the request's headers (S3, cache
    // servers): they are of what the entry restores, known from its
    // manifest, so the archive is read once, as it is sent. Its time is
    // the one the archive gives files without a recorded time.
    let made_at = archive_time();
    let digest = manifest.entry_digest(made_at);
    let metadata: HashMap<String, String> =
        signature::entry_metadata(signing_key, name.as_str(), &digest)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    let mut local_error = None;
    let result = remote.upload(name, size, &metadata, &mut |out| {
        // Contents are verified as they are read: a damaged store content
        // fails the upload before its end, and nothing becomes visible.
        write_archive(store, &manifest, made_at, out).inspect_err(|e| {
            // Only the remote's writer fails with a TransferError; any other
            // error is the local store's, not the remote's fault.
            if !e.get_ref().is_some_and(|inner| inner.is::<TransferError>()) {
                local_error = Some(e.to_string());
            }
        })
    });
    Ok(match (result, local_error) {
        (Ok(bytes), _) => Uploaded::Done(bytes),
        (Err(_), Some(why)) => Uploaded::LocalUnreadable(why),
        (Err(f), None) => Uploaded::Failed(f),
    })
}
