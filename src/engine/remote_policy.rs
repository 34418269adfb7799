//! The engine's policy towards its remote, as lage's
//! `RemoteFallbackCacheProvider` has it: on a local miss, fetch the remote
//! and fill the local store from it; after a put, upload when remote writes
//! are on and this build may. Every remote failure becomes a miss and at
//! most one warning per kind of failure per process; after a few failures
//! in a row the remote is switched off for the process (`remote/health.rs`).
//!
//! What to try and what to say is decided here; the transfers themselves
//! are `transfer/`, the same for every remote.

use std::path::Path;
use std::sync::Arc;

use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::remote::{FailureKind, Health, Remote, RemoteFailure, SharedRemote};
use crate::store::{LocalStore, RestoreOptions, RestoreReport};
use crate::transfer::{self, Downloaded, Uploaded};

/// A remote with the policy the engine applies to it.
#[derive(Clone)]
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
        let miss =
            |warning: Option<String>, note: Option<String>| Ok(RemoteFetch::Miss { warning, note });
        if self.health().is_off() {
            return miss(
                None,
                Some("the remote cache is switched off after repeated failures".into()),
            );
        }
        let refused = |why: &str, tail: &str| {
            format!(
                "refused the remote entry for hash {} from {}: {why}; {tail}",
                key.as_str(),
                self.remote().describe()
            )
        };
        let signing_key = self.signing_key.as_deref();
        match transfer::download(self.remote(), store, key, self.max_size, signing_key)? {
            Downloaded::Committed => self.health().succeeded(),
            Downloaded::Missing => {
                self.health().succeeded();
                return miss(None, None);
            }
            Downloaded::OverMaxSize { size: Some(size), max } => {
                self.health().succeeded();
                return miss(
                    None,
                    Some(format!("the remote entry is {size} bytes, over maxSize ({max})")),
                );
            }
            Downloaded::OverMaxSize { size: None, max } => {
                return miss(None, Some(format!(
                    "the remote entry is over maxSize ({max}): its download was stopped there and nothing was restored"
                )))
            }
            Downloaded::Refused(why) => {
                self.health().succeeded();
                return miss(
                    Some(refused(&why, "nothing was written, treated as a miss")),
                    None,
                );
            }
            Downloaded::BadSignature(why) => {
                self.health().succeeded();
                return miss(Some(refused(&why, "treated as a miss")), None);
            }
            Downloaded::Failed(f) => return miss(self.failed(&f, "download"), None),
        }
        match store.restore(key, cwd, options)? {
            RestoreReport::Hit(r) => {
                self.shared.note_restored(key);
                Ok(RemoteFetch::Hit(RestoreReport::Hit(r)))
            }
            RestoreReport::Unusable(why) => miss(Some(why), None),
            RestoreReport::Miss => miss(None, None),
        }
    }

    /// Uploads the entry of `key` from `store`, unless remote writes are off,
    /// this build may not, it came from the remote, or it is over `maxSize`.
    pub fn upload(&self, store: &LocalStore, key: &CacheKey) -> Result<Upload> {
        let skip = |why: String| {
            Ok(Upload {
                skipped: Some(why),
                ..Upload::default()
            })
        };
        if !self.write {
            return skip(
                "remote writes are off (set LAGE_WRITE_REMOTE_CACHE=true to turn them on)".into(),
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
            return skip("the remote cache is switched off after repeated failures".into());
        }
        if self.health().are_uploads_refused() {
            return skip("the remote cache refuses uploads with these credentials".into());
        }
        if self.shared.was_restored(key) {
            return skip("the entry came from the remote cache".into());
        }
        let signing_key = self.signing_key.as_deref();
        match transfer::upload(self.remote(), store, key, self.max_size, signing_key)? {
            Uploaded::Done(bytes) => {
                self.health().succeeded();
                Ok(Upload {
                    uploaded: true,
                    bytes,
                    ..Upload::default()
                })
            }
            Uploaded::Unarchivable(e) => skip(format!("the archive cannot be written ({e})")),
            Uploaded::OutputsOverMaxSize { bytes, max } => skip(format!(
                "the outputs are {bytes} bytes, over maxSize ({max})"
            )),
            Uploaded::ArchiveOverMaxSize { size, outputs, max } => skip(format!(
                "the archive would be {size} bytes ({outputs} of outputs plus tar headers), over maxSize ({max})"
            )),
            Uploaded::LocalUnreadable(why) => Ok(Upload {
                warning: Some(format!(
                    "did not upload hash {}: the local entry could not be read ({why}). To fix it, \
                     run `backfill-native purge --days 0` or `backfill-native clear` and build again",
                    key.as_str(),
                )),
                skipped: Some(format!("the local entry could not be read ({why})")),
                ..Upload::default()
            }),
            // The reason stays in the result even when the warning was
            // already given for this kind of failure.
            Uploaded::Failed(f) => Ok(Upload {
                warning: self.failed(&f, "upload"),
                skipped: Some(f.message.clone()),
                ..Upload::default()
            }),
        }
    }
}
