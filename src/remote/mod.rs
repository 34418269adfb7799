//! The remote cache behind a small trait, one file per remote: Azure Blob
//! Storage (`azure_blob`) and S3 (`s3`) on the object-store layer
//! (`object_store`, through Apache OpenDAL), and turborepo-protocol cache
//! servers (`turborepo`); every request through one bounded HTTP client
//! (`http`), but a cache server's streamed upload, which keeps its bounds.
//!
//! Every remote failure is an expected outcome for the engine (a miss and a
//! warning), never an error: a broken remote must not break the build.

mod azure_blob;
mod azure_credentials;
mod download_stream;
mod health;
pub mod http;
mod limits;
mod object_store;
pub mod registry;
mod runtime;
mod s3;
pub mod signature;
mod turborepo;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

pub use health::{Health, FAILURES_BEFORE_OFF};
pub use limits::{Deadline, Limits, OverMaxSize, SizeLimited, DEFAULT_MAX_SIZE};
pub use object_store::ObjectStoreRemote;
pub use registry::SharedRemote;
pub use turborepo::TurborepoRemote;

use crate::cache_key::CacheKey;

/// What kind of failure a remote operation met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The credentials may not do this (a read-only SAS on upload: 403).
    Forbidden,
    /// The container does not exist.
    ContainerNotFound,
    /// Signing in failed: the Azure identity could not, or a cache server
    /// does not accept the token (401).
    SignIn,
    /// The remote could not be reached, timed out or answered 5xx/429.
    Unavailable,
    /// Anything else (a malformed answer, say).
    Other,
}

/// A failed remote operation; the message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFailure {
    /// What kind of failure, for the hint and the switch-off policy.
    pub kind: FailureKind,
    /// What failed, without secrets.
    pub message: String,
}

impl fmt::Display for RemoteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The error a remote's upload writer fails with, so the caller can tell a
/// failed transfer from a failed local read.
#[derive(Debug)]
pub struct TransferError(pub String);

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransferError {}

/// A blob being downloaded: its size, metadata and a reader that yields its
/// bytes as they arrive (a read fails if the download fails).
pub struct RemoteBlob {
    /// The blob size, when known before reading.
    pub size: Option<u64>,
    /// The blob metadata (digest, signature).
    pub metadata: HashMap<String, String>,
    /// The bytes, as they arrive.
    pub body: Box<dyn Read + Send>,
}

/// The result of asking the remote for a blob.
pub enum Lookup {
    /// No blob for this key.
    Miss,
    /// The blob is larger than `maxSize`; nothing was downloaded.
    TooLarge(u64),
    /// The blob, streaming.
    Found(RemoteBlob),
}

/// A remote the configuration names, as the engine's policy takes it.
pub struct Connected {
    /// The client, shared by every engine of the process (see [`registry`]).
    pub shared: std::sync::Arc<SharedRemote>,
    /// Blobs and outputs larger than this are neither downloaded nor uploaded.
    pub max_size: Option<u64>,
    /// The key uploads are signed with and downloads checked against.
    pub signing_key: Option<String>,
}

/// The remote the configuration names, made once per process; `None`
/// without one. A new remote is one file of this folder and one line here.
pub fn connect(config: &crate::config::Config) -> crate::error::Result<Option<Connected>> {
    if let Some(options) = &config.azure {
        return azure_blob::connect(options).map(Some);
    }
    if let Some(options) = &config.s3 {
        return s3::connect(options).map(Some);
    }
    if let Some(options) = &config.turborepo {
        return turborepo::connect(options).map(Some);
    }
    Ok(None)
}

/// The remote of a pull request scope (`config::PullRequestScope`), made
/// once per process as the main one is.
pub fn connect_scope(remote: &crate::config::ScopeRemote) -> crate::error::Result<Connected> {
    use crate::config::ScopeRemote;
    match remote {
        ScopeRemote::AzureBlob(options) => azure_blob::connect(options),
        ScopeRemote::S3(options) => s3::connect(options),
        ScopeRemote::Turborepo(options) => turborepo::connect(options),
    }
}

/// Writes the archive into the upload stream.
pub type ArchiveWriter<'a> = dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()> + 'a;

/// A remote cache: one blob per cache key.
pub trait Remote: Send + Sync {
    /// Names the remote in messages ("azure-blob container 'c' at host"),
    /// without secrets.
    fn describe(&self) -> String;

    /// Starts downloading the blob of `key`; a blob larger than `max_size`
    /// is `TooLarge` and is not downloaded.
    fn open(&self, key: &CacheKey, max_size: Option<u64>) -> Result<Lookup, RemoteFailure>;

    /// Starts, in the background, what a first request would wait for
    /// (the connection, a sign-in), so it is ready when the first fetch
    /// comes. Never blocks, fails or reports: the first real request
    /// reports any problem. Does nothing unless a remote has something to
    /// prepare.
    fn warm_up(&self) {}

    /// Uploads the `size` bytes `write` produces as the blob of `key`, with
    /// `metadata` (its digest and signature, known before the first byte is
    /// sent: S3 and cache servers take them with the request's headers).
    /// Nothing is visible remotely unless all of it is uploaded; `size` sets
    /// the upload's deadline.
    fn upload(
        &self,
        key: &CacheKey,
        size: u64,
        metadata: &HashMap<String, String>,
        write: &mut ArchiveWriter<'_>,
    ) -> Result<u64, RemoteFailure>;
}
