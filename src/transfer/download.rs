//! A download: the remote's blob for a key, size-limited, ingested into the
//! store as it streams, checked against its signature, then committed as an
//! entry. Nothing is restored here.

use std::io;

use super::Signed;
use crate::archive::{ingest_archive, IngestError};
use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::remote::signature::{self, Signer};
use crate::remote::{FailureKind, Lookup, Remote, RemoteFailure, SizeLimited};
use crate::store::LocalStore;

/// What a download did.
#[derive(Debug)]
pub enum Downloaded {
    /// The entry is in the store.
    Committed,
    /// The remote has no blob for the key.
    Missing,
    /// The blob is larger than `maxSize`: `size` when it was known before
    /// the download, `None` when the download was stopped at `maxSize`.
    OverMaxSize { size: Option<u64>, max: u64 },
    /// The archive was refused (hostile, damaged, cut short): why.
    Refused(String),
    /// The blob does not carry a valid signature or digest: why.
    BadSignature(String),
    /// The remote failed (the request, or the stream midway).
    Failed(RemoteFailure),
}

/// Downloads the blob `name` from `remote` into `store` as the entry of
/// `key` (the name is the key, or the key in a scope: `pr-12-<key>`; the
/// signature covers the name); only local disk failures are errors.
pub fn download(
    remote: &dyn Remote,
    store: &LocalStore,
    key: &CacheKey,
    name: &CacheKey,
    max_size: Option<u64>,
    signing_key: Option<&str>,
) -> Result<Downloaded> {
    let blob = match remote.open(name, max_size) {
        Ok(Lookup::Found(b)) => b,
        Ok(Lookup::Miss) => return Ok(Downloaded::Missing),
        Ok(Lookup::TooLarge(size)) => {
            return Ok(Downloaded::OverMaxSize {
                size: Some(size),
                max: max_size.unwrap_or_default(),
            })
        }
        Err(f) => return Ok(Downloaded::Failed(f)),
    };
    if let (Some(max), Some(size)) = (max_size, blob.size) {
        if size > max {
            return Ok(Downloaded::OverMaxSize {
                size: Some(size),
                max,
            });
        }
    }
    let stopped = Downloaded::OverMaxSize {
        size: None,
        max: max_size.unwrap_or_default(),
    };
    let cut = |e: io::Error| {
        Downloaded::Failed(RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!("download of {} failed: {e}", name.as_str()),
        })
    };
    // The store's entry writer holds its lock until the commit; dropped on
    // any refusal or failure below, it leaves the store as it was.
    let mut entry = store.begin_entry(key)?;
    // A blob of this version is checked by what it restores, known once it
    // is ingested; one of an earlier version by its bytes, hashed as they
    // stream.
    let by_entry = signature::is_entry_signed(&blob.metadata);
    let mut signer = (!by_entry).then(|| Signer::new(signing_key, name.as_str()));
    // The size was checked before the download (when known), but the blob
    // may have been replaced since: the download stops at maxSize.
    let mut reader = Signed {
        inner: SizeLimited::new(blob.body, max_size),
        signer: signer.as_mut(),
    };
    let digest = match ingest_archive(&mut entry, &mut reader) {
        Ok(digest) => digest,
        Err(IngestError::Stream(_) | IngestError::Refused(_)) if reader.inner.exceeded() => {
            return Ok(stopped)
        }
        Err(IngestError::Local(e)) => return Err(e),
        Err(IngestError::Refused(why)) => return Ok(Downloaded::Refused(why)),
        Err(IngestError::Stream(e)) => return Ok(cut(e)),
    };
    // Read what follows the tar's end marker too (so an earlier version's
    // digest covers the whole blob, and the stream ends cleanly).
    if let Err(e) = io::copy(&mut reader, &mut io::sink()) {
        return Ok(if reader.inner.exceeded() {
            stopped
        } else {
            cut(e)
        });
    }
    let verdict = match &signer {
        Some(signer) => signer.verify(&blob.metadata),
        None => signature::verify_entry(&blob.metadata, signing_key, name.as_str(), &digest),
    };
    if let Err(why) = verdict {
        return Ok(Downloaded::BadSignature(why));
    }
    entry.commit()?;
    Ok(Downloaded::Committed)
}
