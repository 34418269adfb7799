//! Moving an entry between the local store and any remote, whatever the
//! backend: the remote only opens a blob or takes an upload (the `Remote`
//! trait); everything else of a transfer is here, once.
//!
//! - `download.rs`: open → size limit → ingest into the store → signature →
//!   commit. A refused or failed download leaves the store as it was.
//! - `upload.rs`: the entry's size and signature (from its manifest) →
//!   archive, streamed to the remote.
//!
//! Outcomes are values saying what happened; what to tell the user, and
//! whether a failure counts toward switching the remote off, is the
//! engine's policy (`engine/remote_policy.rs`).

mod download;
mod upload;

pub use download::{download, Downloaded};
pub use upload::{upload, Uploaded};

use std::io::{self, Read};

#[cfg(test)]
mod tests;

use crate::remote::signature::Signer;

/// Feeds what is read to the signer, when there is one (a blob of an
/// earlier version, checked by its bytes).
struct Signed<'a, R> {
    inner: R,
    signer: Option<&'a mut Signer>,
}

impl<R: Read> Read for Signed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(s) = &mut self.signer {
            s.update(&buf[..n]);
        }
        Ok(n)
    }
}
