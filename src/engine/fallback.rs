//! The remote fallback, as lage's `RemoteFallbackCacheProvider` does it:
//! fetch the remote on a local miss and fill the local store from it; upload
//! after a put when remote writes are on. Every remote failure becomes a
//! miss and at most one warning per kind of failure per process; after a
//! few failures in a row the remote is switched off for the process.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use crate::archive::{archive_size, ingest_archive, write_archive, IngestError};
use crate::cache_key::CacheKey;
use crate::error::{CacheError, Result};
use crate::remote::signature::Signer;
use crate::remote::{
    FailureKind, Health, Lookup, Remote, RemoteFailure, SharedRemote, SizeLimited, TransferError,
};
use crate::store::{LocalStore, RestoreOptions, RestoreReport};

/// A remote with the policy the engine applies to it.
pub struct RemoteLayer {
    pub shared: Arc<SharedRemote>,
    pub max_size: Option<u64>,
    pub signing_key: Option<String>,
    pub write: bool,
    /// Why this build must not upload (a pull request, a branch not
    /// allowed), from the configuration.
    pub refusal: Option<String>,
}

/// What the remote gave for a fetch.
pub enum RemoteFetch {
    Hit(crate::store::RestoreReport),
    Miss {
        warning: Option<String>,
        note: Option<String>,
    },
}

/// What an upload did.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub uploaded: bool,
    pub bytes: u64,
    pub skipped: Option<String>,
    pub warning: Option<String>,
}

impl RemoteLayer {
    fn remote(&self) -> &dyn Remote {
        &*self.shared.remote
    }

    fn health(&self) -> &Health {
        &self.shared.health
    }

    /// Turns a failure into a warning, once per kind of failure.
    fn failed(&self, f: &RemoteFailure, op: &str) -> Option<String> {
        if f.kind == FailureKind::Forbidden && op == "upload" {
            self.health().uploads_refused();
            return self.health().first_warning("forbidden-upload").then(|| {
                format!(
                    "uploads to the remote cache ({}) are refused ({}): the credentials are read-only, \
                     such as a read-only SAS. Outputs are still cached locally. To fix it, use a read-write \
                     connection string where uploads should happen, or turn remote writes off here \
                     (unset LAGE_WRITE_REMOTE_CACHE)",
                    self.remote().describe(),
                    f.message
                )
            });
        }
        self.health().failed();
        // One warning per kind of failure per process: a remote that is down
        // is said once, not once per target and operation.
        let topic = format!("{:?}", f.kind);
        let outcome = if op == "upload" {
            "not uploaded"
        } else {
            "treated as a miss"
        };
        self.health().first_warning(&topic).then(|| {
            let hint = match f.kind {
                FailureKind::ContainerNotFound => "check the container name in BACKFILL_CACHE_PROVIDER_OPTIONS",
                FailureKind::Forbidden => "check that the connection string or SAS is valid and not expired",
                FailureKind::SignIn => {
                    "check the Azure identity named by credentialName (az login, the AZURE_* variables, the managed identity)"
                }
                FailureKind::Unavailable => "check the network and the storage account endpoint",
                FailureKind::Other => "check the connection string and the container",
            };
            format!(
                "remote cache ({}): {}; {outcome}. To fix it, {hint}. After {} failures in a row the \
                 remote cache is switched off until the process ends",
                self.remote().describe(),
                f.message,
                crate::remote::FAILURES_BEFORE_OFF
            )
        })
    }

    /// Fetches `key` from the remote into `store` and restores it into `cwd`.
    pub fn fetch(
        &self,
        store: &LocalStore,
        key: &CacheKey,
        cwd: &Path,
        options: RestoreOptions,
    ) -> Result<RemoteFetch> {
        let miss = |warning: Option<String>| {
            Ok(RemoteFetch::Miss {
                warning,
                note: None,
            })
        };
        if self.health().is_off() {
            return Ok(RemoteFetch::Miss {
                warning: None,
                note: Some("the remote cache is switched off after repeated failures".into()),
            });
        }
        let blob = match self.remote().open(key, self.max_size) {
            Ok(Lookup::Found(b)) => b,
            Ok(Lookup::Miss) => {
                self.health().succeeded();
                return miss(None);
            }
            Ok(Lookup::TooLarge(size)) => {
                self.health().succeeded();
                return Ok(RemoteFetch::Miss {
                    warning: None,
                    note: Some(format!("the remote entry is {size} bytes, over maxSize")),
                });
            }
            Err(f) => return miss(self.failed(&f, "download")),
        };
        if let (Some(max), Some(size)) = (self.max_size, blob.size) {
            if size > max {
                return Ok(RemoteFetch::Miss {
                    warning: None,
                    note: Some(format!(
                        "the remote entry is {size} bytes, over maxSize ({max})"
                    )),
                });
            }
        }
        // The store's entry writer holds its lock until the commit; dropped
        // on any refusal or failure below, it leaves the store as it was.
        let mut entry = store.begin_entry(key)?;
        let mut signer = Signer::new(self.signing_key.as_deref());
        // The size was checked before the download (when known), but the
        // blob may have been replaced since: the download stops at maxSize.
        let mut reader = Signed {
            inner: SizeLimited::new(blob.body, self.max_size),
            signer: &mut signer,
        };
        let over_max_size = |max: Option<u64>| {
            Ok(RemoteFetch::Miss {
                warning: None,
                note: Some(format!(
                    "the remote entry is over maxSize ({}): its download was stopped there and nothing was restored",
                    max.unwrap_or_default()
                )),
            })
        };
        match ingest_archive(&mut entry, &mut reader) {
            Ok(()) => {}
            Err(IngestError::Stream(_) | IngestError::Refused(_)) if reader.inner.exceeded() => {
                return over_max_size(self.max_size)
            }
            Err(IngestError::Local(e)) => return Err(e),
            Err(IngestError::Refused(why)) => {
                self.health().succeeded();
                return miss(Some(format!(
                    "refused the remote entry for hash {} from {}: {why}; nothing was written, treated as a miss",
                    key.as_str(),
                    self.remote().describe()
                )));
            }
            Err(IngestError::Stream(e)) => {
                let f = RemoteFailure {
                    kind: FailureKind::Unavailable,
                    message: format!("download of {} failed: {e}", key.as_str()),
                };
                return miss(self.failed(&f, "download"));
            }
        }
        // Read what follows the tar's end marker too, so the digest covers
        // the whole blob.
        if let Err(e) = io::copy(&mut reader, &mut io::sink()) {
            if reader.inner.exceeded() {
                return over_max_size(self.max_size);
            }
            let f = RemoteFailure {
                kind: FailureKind::Unavailable,
                message: format!("download of {} failed: {e}", key.as_str()),
            };
            return miss(self.failed(&f, "download"));
        }
        self.health().succeeded();
        if let Err(why) = signer.verify(&blob.metadata) {
            return miss(Some(format!(
                "refused the remote entry for hash {} from {}: {why}; treated as a miss",
                key.as_str(),
                self.remote().describe()
            )));
        }
        entry.commit()?;
        match store.restore(key, cwd, options)? {
            RestoreReport::Hit(r) => {
                self.shared.note_restored(key);
                Ok(RemoteFetch::Hit(RestoreReport::Hit(r)))
            }
            RestoreReport::Unusable(why) => miss(Some(why)),
            RestoreReport::Miss => miss(None),
        }
    }

    /// Uploads the entry of `key` from `store`, unless remote writes are off,
    /// it came from the remote, or it is over `maxSize`.
    pub fn upload(&self, store: &LocalStore, key: &CacheKey) -> Result<Upload> {
        let skip = |why: &str| {
            Ok(Upload {
                skipped: Some(why.to_string()),
                ..Upload::default()
            })
        };
        if !self.write {
            return skip(
                "remote writes are off (set LAGE_WRITE_REMOTE_CACHE=true to turn them on)",
            );
        }
        if let Some(why) = &self.refusal {
            // One line per process says why; every result says it too.
            return Ok(Upload {
                skipped: Some(why.clone()),
                warning: self
                    .health()
                    .first_warning("untrusted-upload")
                    .then(|| why.clone()),
                ..Upload::default()
            });
        }
        if self.health().is_off() {
            return skip("the remote cache is switched off after repeated failures");
        }
        if self.health().are_uploads_refused() {
            return skip("the remote cache refuses uploads with these credentials");
        }
        if self.shared.was_restored(key) {
            return skip("the entry came from the remote cache");
        }
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
        // Tar headers and padding make the archive larger than the outputs:
        // an archive over maxSize would be uploaded and never downloaded.
        let size = match archive_size(&manifest) {
            Ok(size) => size,
            Err(e) => return skip(&format!("the archive cannot be written ({e})")),
        };
        if let Some(max) = self.max_size {
            if manifest.bytes() > max {
                return skip(&format!(
                    "the outputs are {} bytes, over maxSize ({max})",
                    manifest.bytes()
                ));
            }
            if size > max {
                return skip(&format!(
                    "the archive would be {size} bytes ({} of outputs plus tar headers), over maxSize ({max})",
                    manifest.bytes()
                ));
            }
        }
        // Read the store under its lock, so a concurrent clear or purge
        // cannot pull contents from under the upload.
        let _lock = store.lock_shared()?;
        let mut local_error = None;
        let result = self.remote().upload(key, size, &mut |out, metadata| {
            let mut signer = Signer::new(self.signing_key.as_deref());
            let mut w = SigningWriter {
                inner: out,
                signer: &mut signer,
            };
            if let Err(e) = write_archive(store, &manifest, &mut w) {
                // Only the remote's writer fails with a TransferError; any
                // other error is the local store's, not the remote's fault.
                if !e.get_ref().is_some_and(|inner| inner.is::<TransferError>()) {
                    local_error = Some(e.to_string());
                }
                return Err(e);
            }
            for (k, v) in signer.metadata() {
                metadata.insert(k.to_string(), v);
            }
            Ok(())
        });
        match result {
            Ok(bytes) => {
                self.health().succeeded();
                Ok(Upload {
                    uploaded: true,
                    bytes,
                    ..Upload::default()
                })
            }
            Err(_) if local_error.is_some() => {
                let why = local_error.unwrap_or_default();
                Ok(Upload {
                    warning: Some(format!(
                        "did not upload hash {}: the local entry could not be read ({why}). To fix it, \
                         run `backfill-native purge --days 0` or `backfill-native clear` and build again",
                        key.as_str(),
                    )),
                    skipped: Some(format!("the local entry could not be read ({why})")),
                    ..Upload::default()
                })
            }
            // The reason stays in the result even when the warning was
            // already given for this kind of failure.
            Err(f) => Ok(Upload {
                warning: self.failed(&f, "upload"),
                skipped: Some(f.message.clone()),
                ..Upload::default()
            }),
        }
    }
}

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

#[cfg(test)]
mod tests;
