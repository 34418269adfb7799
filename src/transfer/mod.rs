//! Moving an entry between the local store and any remote, whatever the
//! backend: the remote only opens a blob or takes an upload (the `Remote`
//! trait); everything else of a transfer is here, once.
//!
//! - `download.rs`: open → size limit → ingest into the store → signature →
//!   commit. A refused or failed download leaves the store as it was.
//! - `upload.rs`: the entry's size → archive → sign → upload.
//!
//! Outcomes are values saying what happened; what to tell the user, and
//! whether a failure counts toward switching the remote off, is the
//! engine's policy (`engine/remote_policy.rs`).

mod download;
mod upload;

pub use download::{download, Downloaded};
pub use upload::{upload, Uploaded};

use std::io::{self, Read, Write};

#[cfg(test)]
mod tests;

use crate::remote::signature::Signer;

/// Feeds what is read to the signer.
struct Signed<'a, R> {
    inner: R,
    signer: &'a mut Signer,
}

impl<R: Read> Read for Signed<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.signer.update(&buf[..n]);
        Ok(n)
    }
}

/// Feeds what is written to the signer.
struct SigningWriter<'a, W: ?Sized> {
    inner: &'a mut W,
    signer: &'a mut Signer,
}

impl<W: Write + ?Sized> Write for SigningWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.signer.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
