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
use crate::notice::{Notice, Op, Refusal};
use crate::remote::{FailureKind, Health, Remote, RemoteFailure, SharedRemote};
use crate::store::{LocalStore, RestoreOptions, RestoreReport};
use crate::transfer::{self, Downloaded, Uploaded};

use super::outcome::RemoteScope;

/// A remote (one scope of the remote cache) with the policy the engine
/// applies to it.
pub struct RemoteLayer {
    pub shared: Arc<SharedRemote>,
    /// Which scope this remote is: the main one, or a pull request's.
    pub scope: RemoteScope,
    /// What the scope's blob names start with (`pr-12-`; empty for main).
    pub name_prefix: String,
    pub max_size: Option<u64>,
    pub signing_key: Option<String>,
    pub write: bool,
    /// Which provider the remote is, for the hints of its warnings.
    pub provider: crate::config::Provider,
    /// Why this build must not upload (a pull request, a branch not
    /// allowed), from the configuration.
    pub refusal: Option<Refusal>,
    /// In a pull request scope: the main scope, whose credential this
    /// build must not be able to write with; checked once, after the first
    /// upload here.
    pub write_check: Option<Arc<RemoteLayer>>,
}

/// The marker a pull request build tries to write into the main scope once
/// per process, to learn whether it can (it must not): not a cache key.
pub const WRITE_CHECK_NAME: &str = "backfill-native-pull-request-write-check";

/// What the remote gave for a fetch.
pub enum RemoteFetch {
    Hit(crate::store::RestoreReport),
    Miss {
        /// A problem to report (said once per kind of failure).
        warning: Option<Notice>,
        /// Why the remote did not serve a hit, if worth telling.
        note: Option<Notice>,
    },
}

/// What an upload did.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub uploaded: bool,
    pub bytes: u64,
    /// The scope it was uploaded to, when it was.
    pub scope: Option<RemoteScope>,
    /// Why the entry was not uploaded.
    pub skipped: Option<Notice>,
    /// A problem to report (said once per kind of failure).
    pub warning: Option<Notice>,
}

impl RemoteLayer {
    fn remote(&self) -> &dyn Remote {
        &*self.shared.remote
    }

    fn health(&self) -> &Health {
        &self.shared.health
    }

    /// What a failure says: counted toward the switch-off (but for a
    /// read-only credential refusing an upload, which stops uploads only),
    /// and worth a warning once per kind of failure per process.
    fn failed(&self, failure: &RemoteFailure, op: Op) -> (Notice, bool) {
        let remote = self.remote().describe();
        if failure.kind == FailureKind::Forbidden && op == Op::Upload {
            self.health().uploads_refused();
            let first = self.health().first_warning("forbidden-upload");
            let notice = Notice::RemoteReadOnly {
                provider: self.provider,
                remote,
                failure: failure.clone(),
            };
            return (notice, first);
        }
        self.health().failed();
        // A remote that is down is said once, not once per target.
        let first = self.health().first_warning(&format!("{:?}", failure.kind));
        let notice = Notice::RemoteFailed {
            provider: self.provider,
            remote,
            op,
            failure: failure.clone(),
        };
        (notice, first)
    }

    /// Whether this build's credential can write this (main) scope, tried
    /// once per process by writing [`WRITE_CHECK_NAME`]: a warning when it
    /// can. A refusal, or any failure, says nothing.
    fn writable(&self) -> Option<Notice> {
        if !self.health().first_warning("pull-request-write-check") || self.health().is_off() {
            return None;
        }
        let name = CacheKey::parse(WRITE_CHECK_NAME).ok()?;
        let body: &[u8] =
            b"written by a pull request build of backfill-native: its credential can write here\n";
        let metadata = std::collections::HashMap::new();
        let wrote = self
            .remote()
            .upload(&name, body.len() as u64, &metadata, &mut |out| {
                out.write_all(body)
            });
        wrote.ok().map(|_| Notice::PullRequestCanWriteMain {
            remote: self.remote().describe(),
            marker: WRITE_CHECK_NAME,
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
            |warning: Option<Notice>, note: Option<Notice>| Ok(RemoteFetch::Miss { warning, note });
        if self.health().is_off() {
            return miss(None, Some(Notice::RemoteSwitchedOff));
        }
        let signing_key = self.signing_key.as_deref();
        let name = key.in_scope(&self.name_prefix);
        match transfer::download(self.remote(), store, key, &name, self.max_size, signing_key)? {
            Downloaded::Committed => self.health().succeeded(),
            Downloaded::Missing => {
                self.health().succeeded();
                return miss(None, None);
            }
            Downloaded::OverMaxSize { size, max } => {
                if size.is_some() {
                    self.health().succeeded();
                }
                return miss(None, Some(Notice::RemoteOverMaxSize { size, max }));
            }
            Downloaded::Refused(why) => {
                self.health().succeeded();
                let notice = Notice::RemoteEntryRefused {
                    key: key.as_str().to_string(),
                    remote: self.remote().describe(),
                    why,
                };
                return miss(Some(notice), None);
            }
            Downloaded::BadSignature(why) => {
                self.health().succeeded();
                let notice = Notice::RemoteEntryBadSignature {
                    key: key.as_str().to_string(),
                    remote: self.remote().describe(),
                    why,
                };
                return miss(Some(notice), None);
            }
            Downloaded::Failed(f) => {
                let (notice, first) = self.failed(&f, Op::Download);
                return miss(first.then_some(notice), None);
            }
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
        let skip = |why: Notice| {
            Ok(Upload {
                skipped: Some(why),
                ..Upload::default()
            })
        };
        if !self.write {
            return skip(Notice::UploadWritesOff);
        }
        if let Some(why) = &self.refusal {
            // One line per process says why; every result says it too.
            let notice = Notice::UploadNotTrusted(why.clone());
            return Ok(Upload {
                skipped: Some(notice.clone()),
                warning: self
                    .health()
                    .first_warning("untrusted-upload")
                    .then_some(notice),
                ..Upload::default()
            });
        }
        if self.health().is_off() {
            return skip(Notice::RemoteSwitchedOff);
        }
        if self.health().are_uploads_refused() {
            return skip(Notice::UploadRefusedByRemote);
        }
        if self.shared.was_restored(key) {
            return skip(Notice::UploadFromRemote);
        }
        let signing_key = self.signing_key.as_deref();
        let name = key.in_scope(&self.name_prefix);
        match transfer::upload(self.remote(), store, key, &name, self.max_size, signing_key)? {
            Uploaded::Done(bytes) => {
                self.health().succeeded();
                Ok(Upload {
                    uploaded: true,
                    bytes,
                    scope: Some(self.scope),
                    warning: self.write_check.as_ref().and_then(|main| main.writable()),
                    ..Upload::default()
                })
            }
            Uploaded::Unarchivable(why) => skip(Notice::UploadNotArchivable { why }),
            Uploaded::OutputsOverMaxSize { bytes, max } => {
                skip(Notice::UploadOutputsOverMaxSize { bytes, max })
            }
            Uploaded::ArchiveOverMaxSize { size, outputs, max } => {
                skip(Notice::UploadArchiveOverMaxSize { size, outputs, max })
            }
            Uploaded::LocalUnreadable(why) => {
                let notice = Notice::UploadLocalEntryUnreadable {
                    key: key.as_str().to_string(),
                    why,
                };
                Ok(Upload {
                    warning: Some(notice.clone()),
                    skipped: Some(notice),
                    ..Upload::default()
                })
            }
            // The reason stays in the result even when the warning was
            // already given for this kind of failure.
            Uploaded::Failed(f) => {
                let (notice, first) = self.failed(&f, Op::Upload);
                Ok(Upload {
                    warning: first.then_some(notice),
                    skipped: Some(Notice::UploadFailed { failure: f }),
                    ..Upload::default()
                })
            }
        }
    }
}
