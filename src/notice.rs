//! What the engine tells its caller that is not an error, as values with a
//! stable code: why a fetch or put was skipped, why the remote did not serve
//! or take an entry, and the problems said once. Callers match on
//! [`Notice::code`]; every sentence about them is made here, in
//! [`Notice::message`], and each is asserted once, in this file's table.
//!
//! Errors (misconfiguration, local disk failures) are `CacheError`, not
//! notices.

use std::fmt;
use std::path::PathBuf;

use crate::config::{Mode, Provider};
use crate::remote::{FailureKind, RemoteFailure, FAILURES_BEFORE_OFF};

/// Something a fetch, put or upload reports that is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `BACKFILL_CACHE_PROVIDER=local-skip`: a put stores no outputs and
    /// remembers the hash instead.
    SkippedByProvider,
    /// lage's `--skip-local-cache`: a put does not write the local store
    /// (with a remote, the outputs are only uploaded).
    SkippedLocalCache { remote: bool },
    /// `incrementalCaching`: the package's files could not be recorded at a
    /// fetch that missed, so the next put stores every output.
    IncrementalSnapshotFailed { why: String },
    /// `BACKFILL_MODE` keeps this fetch or put from the cache.
    SkippedByMode { mode: Mode },
    /// A put stored nothing: its outputs could not all be given back by a
    /// fetch on every supported system.
    Unstorable(Unstorable),
    /// A local entry that cannot be used; a miss.
    LocalEntry {
        key: String,
        path: PathBuf,
        problem: LocalProblem,
    },
    /// The remote is switched off after repeated failures.
    RemoteSwitchedOff,
    /// The remote's entry is over `maxSize`: its size when known before the
    /// download, `None` when the download was stopped there.
    RemoteOverMaxSize { size: Option<u64>, max: u64 },
    /// A remote request failed (after its retries). `provider` picks the
    /// hint (an S3 user is not told about connection strings).
    RemoteFailed {
        provider: Provider,
        remote: String,
        op: Op,
        failure: RemoteFailure,
    },
    /// The remote refuses uploads with these credentials (a read-only SAS,
    /// a read-only IAM policy, a read-only cache server or token).
    RemoteReadOnly {
        provider: Provider,
        remote: String,
        failure: RemoteFailure,
    },
    /// The remote's archive was refused (hostile, damaged, cut short).
    RemoteEntryRefused {
        key: String,
        remote: String,
        why: String,
    },
    /// The remote's blob does not carry a valid digest or signature.
    RemoteEntryBadSignature {
        key: String,
        remote: String,
        why: String,
    },
    /// Remote writes are off.
    UploadWritesOff,
    /// This build may not upload (a pull request, a branch not allowed).
    UploadNotTrusted(Refusal),
    /// The remote refused an earlier upload with these credentials.
    UploadRefusedByRemote,
    /// The entry came from the remote: it is not sent back.
    UploadFromRemote,
    /// The entry cannot be written as a tar archive.
    UploadNotArchivable { why: String },
    /// The outputs alone are over `maxSize`.
    UploadOutputsOverMaxSize { bytes: u64, max: u64 },
    /// The archive (outputs plus tar headers) would be over `maxSize`.
    UploadArchiveOverMaxSize { size: u64, outputs: u64, max: u64 },
    /// The upload failed on the remote's side: what failed (the warning, said
    /// once per kind, is [`Notice::RemoteFailed`] or
    /// [`Notice::RemoteReadOnly`]).
    UploadFailed { failure: RemoteFailure },
    /// The local entry could not be read while uploading it.
    UploadLocalEntryUnreadable { key: String, why: String },
    /// A background upload failed locally (no usable entry, a disk error).
    BackgroundUploadFailed { key: String, why: String },
    /// A user's clear, purge or evict waits for the store, which fetches,
    /// puts or uploads hold; it gives up after `limit_secs`.
    WaitingForStore {
        action: &'static str,
        folder: PathBuf,
        limit_secs: u64,
    },
    /// `BACKFILL_CACHE_PROVIDER` names a provider backfill-native does not
    /// support: the local cache is used. `name` is as shown (redacted when
    /// it looks like a secret), `origin` where it came from.
    ConfigUnknownProvider {
        name: String,
        origin: String,
        looks_secret: bool,
    },
    /// The provider options hold a field the provider does not read: it is
    /// ignored. `field` is as shown; `closest` the known field it is likely
    /// a misspelling of.
    ConfigUnknownField {
        variable: &'static str,
        origin: String,
        field: String,
        closest: Option<&'static str>,
        known: &'static [&'static str],
    },
    /// A pull request scope is configured, but this pull request build's
    /// CI does not say the pull request's number: the main scope alone is
    /// used. The CI (`source`) and the variable that says it is one.
    PullRequestNumberUnknown { source: String, why: String },
    /// The pull request scope is where the main scope is (`place`): the
    /// storage cannot keep a pull request's credential out of main's
    /// entries.
    PullRequestScopeIsMain { place: String },
    /// A pull request build could write the main scope (`remote`): the
    /// `marker` it wrote there to find out.
    PullRequestCanWriteMain {
        remote: String,
        marker: &'static str,
    },
}

/// Which way a remote request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Download,
    Upload,
}

/// Why outputs cannot be stored (see [`crate::output_glob::unstorable`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unstorable {
    /// A name holds a character Windows cannot hold in a file name.
    NotPortable { path: String, character: char },
    /// Two names differ only in case.
    DifferInCase { first: String, second: String },
    /// The outputs are reached through a link to a folder.
    ThroughLinkedFolder { link: String },
}

/// What is wrong with a local entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalProblem {
    /// It cannot be read (another user's store): what failed.
    Unreadable(String),
    /// It is damaged or edited: why, and whether it was removed.
    Invalid { reason: String, removed: bool },
    /// It holds names this system cannot: why.
    NotRestorableHere(String),
}

/// Why this build may not upload (see `config/upload_trust.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A pull request build: the CI (`source`) and the variable that says so.
    PullRequest { source: String, why: String },
    /// A merge queue build not named by the branch rule; `queue` is the
    /// glob that would name its queue (`gh-readonly-queue/main/*`).
    MergeQueue {
        source: String,
        why: String,
        queue: String,
    },
    /// A branch the rule does not allow: its name (shown), where it came
    /// from, and the branches allowed (shown).
    BranchNotAllowed {
        branch: String,
        from: String,
        allowed: String,
    },
    /// The branch is unknown: why, and the branches allowed (shown).
    BranchUnknown { why: String, allowed: String },
}

const UNREADABLE_FIX: &str = "the cache folder was written by another user; to fix it, let every \
    user read it (write it with umask 022, or chmod -R a+rX it) or give this user a cache folder \
    of its own (BACKFILL_INTERNAL_CACHE_FOLDER)";

const STILL_LOCAL: &str = "outputs are still cached locally";

const UPLOAD_BRANCHES: &str = "BACKFILL_NATIVE_UPLOAD_BRANCHES";

impl Notice {
    /// The stable code a caller can match on.
    pub fn code(&self) -> &'static str {
        match self {
            Notice::SkippedByProvider => "SKIPPED_BY_PROVIDER",
            Notice::SkippedLocalCache { .. } => "SKIPPED_LOCAL_CACHE",
            Notice::IncrementalSnapshotFailed { .. } => "INCREMENTAL_SNAPSHOT_FAILED",
            Notice::SkippedByMode { .. } => "SKIPPED_BY_MODE",
            Notice::Unstorable(Unstorable::NotPortable { .. }) => "OUTPUT_NAME_NOT_PORTABLE",
            Notice::Unstorable(Unstorable::DifferInCase { .. }) => "OUTPUT_NAMES_DIFFER_IN_CASE",
            Notice::Unstorable(Unstorable::ThroughLinkedFolder { .. }) => {
                "OUTPUT_THROUGH_LINKED_FOLDER"
            }
            Notice::LocalEntry { problem, .. } => match problem {
                LocalProblem::Unreadable(_) => "LOCAL_ENTRY_UNREADABLE",
                LocalProblem::Invalid { .. } => "LOCAL_ENTRY_INVALID",
                LocalProblem::NotRestorableHere(_) => "LOCAL_ENTRY_NOT_RESTORABLE_HERE",
            },
            Notice::RemoteSwitchedOff => "REMOTE_SWITCHED_OFF",
            Notice::RemoteOverMaxSize { .. } => "REMOTE_OVER_MAX_SIZE",
            Notice::RemoteFailed { failure, .. } => match failure.kind {
                FailureKind::Forbidden => "REMOTE_FORBIDDEN",
                FailureKind::ContainerNotFound => "REMOTE_CONTAINER_NOT_FOUND",
                FailureKind::SignIn => "REMOTE_SIGN_IN_FAILED",
                FailureKind::Unavailable => "REMOTE_UNAVAILABLE",
                FailureKind::Other => "REMOTE_FAILED",
            },
            Notice::RemoteReadOnly { .. } => "REMOTE_READ_ONLY",
            Notice::RemoteEntryRefused { .. } => "REMOTE_ENTRY_REFUSED",
            Notice::RemoteEntryBadSignature { .. } => "REMOTE_ENTRY_BAD_SIGNATURE",
            Notice::UploadWritesOff => "UPLOAD_WRITES_OFF",
            Notice::UploadNotTrusted(r) => match r {
                Refusal::PullRequest { .. } => "UPLOAD_PULL_REQUEST",
                Refusal::MergeQueue { .. } => "UPLOAD_MERGE_QUEUE",
                Refusal::BranchNotAllowed { .. } => "UPLOAD_BRANCH_NOT_ALLOWED",
                Refusal::BranchUnknown { .. } => "UPLOAD_BRANCH_UNKNOWN",
            },
            Notice::UploadRefusedByRemote => "UPLOAD_REFUSED_BY_REMOTE",
            Notice::UploadFromRemote => "UPLOAD_FROM_REMOTE",
            Notice::UploadNotArchivable { .. } => "UPLOAD_NOT_ARCHIVABLE",
            Notice::UploadOutputsOverMaxSize { .. } | Notice::UploadArchiveOverMaxSize { .. } => {
                "UPLOAD_OVER_MAX_SIZE"
            }
            Notice::UploadFailed { .. } => "UPLOAD_FAILED",
            Notice::UploadLocalEntryUnreadable { .. } => "UPLOAD_LOCAL_ENTRY_UNREADABLE",
            Notice::BackgroundUploadFailed { .. } => "BACKGROUND_UPLOAD_FAILED",
            Notice::WaitingForStore { .. } => "WAITING_FOR_STORE",
            Notice::ConfigUnknownProvider { .. } => "CONFIG_UNKNOWN_PROVIDER",
            Notice::ConfigUnknownField { .. } => "CONFIG_UNKNOWN_FIELD",
            Notice::PullRequestNumberUnknown { .. } => "PULL_REQUEST_NUMBER_UNKNOWN",
            Notice::PullRequestScopeIsMain { .. } => "PULL_REQUEST_SCOPE_IS_MAIN",
            Notice::PullRequestCanWriteMain { .. } => "PULL_REQUEST_CAN_WRITE_MAIN",
        }
    }

    /// The sentence for a user: what happened, and how to fix it where
    /// there is something to fix. Never holds a secret.
    pub fn message(&self) -> String {
        match self {
            Notice::SkippedByProvider => "BACKFILL_CACHE_PROVIDER is local-skip: no outputs are stored; the hash is \
                remembered, so a fetch of it is a hit while the outputs stay in place"
                .into(),
            Notice::SkippedLocalCache { remote: true } => {
                "the local cache is skipped (lage --skip-local-cache): the outputs go to the remote cache only".into()
            }
            Notice::SkippedLocalCache { remote: false } => "the local cache is skipped (lage --skip-local-cache) \
                and no remote cache is configured: nothing is cached"
                .into(),
            Notice::IncrementalSnapshotFailed { why } => format!(
                "incrementalCaching: the package's files could not be recorded ({why}); the next put of this hash stores every output"
            ),
            Notice::SkippedByMode { mode } => format!("BACKFILL_MODE is {}", mode.as_str()),
            Notice::Unstorable(why) => format!("outputs not stored: {}", why.message()),
            Notice::LocalEntry { key, path, problem } => match problem {
                LocalProblem::Unreadable(what) => format!(
                    "local cache entry for hash {key} ({}) cannot be read: {what}; treated as a miss. {UNREADABLE_FIX}",
                    path.display()
                ),
                LocalProblem::Invalid { reason, removed } => format!(
                    "local cache entry for hash {key} ({}) is unusable: {reason}; treated as a miss{}",
                    path.display(),
                    if *removed {
                        " and removed, so the next put stores it again"
                    } else {
                        ""
                    }
                ),
                LocalProblem::NotRestorableHere(why) => format!(
                    "local cache entry for hash {key} cannot be restored on this system: {why}; treated as a miss"
                ),
            },
            Notice::RemoteSwitchedOff => {
                "the remote cache is switched off after repeated failures".into()
            }
            Notice::RemoteOverMaxSize {
                size: Some(size),
                max,
            } => format!("the remote entry is {size} bytes, over maxSize ({max})"),
            Notice::RemoteOverMaxSize { size: None, max } => format!(
                "the remote entry is over maxSize ({max}): its download was stopped there and nothing was restored"
            ),
            Notice::RemoteFailed {
                provider,
                remote,
                op,
                failure,
            } => {
                let outcome = match op {
                    Op::Upload => "not uploaded",
                    Op::Download => "treated as a miss",
                };
                let hint = match (provider, failure.kind) {
                    (Provider::S3, FailureKind::ContainerNotFound) => {
                        "check the bucket, the region and the endpoint in BACKFILL_CACHE_PROVIDER_OPTIONS"
                    }
                    (Provider::S3, FailureKind::Forbidden) => {
                        "check the AWS credentials (the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables, the profile, \
                         the role) and that their policy allows s3:GetObject and s3:ListBucket on the bucket"
                    }
                    (Provider::S3, FailureKind::SignIn) => {
                        "check where the AWS credentials come from (the AWS_* variables, the profile, web identity, the instance's role)"
                    }
                    (Provider::S3, FailureKind::Unavailable) => "check the network and the endpoint",
                    (Provider::S3, FailureKind::Other) => {
                        "check the bucket, the region and the endpoint"
                    }
                    (_, FailureKind::ContainerNotFound) => {
                        "check the container name in BACKFILL_CACHE_PROVIDER_OPTIONS"
                    }
                    (Provider::Turborepo, FailureKind::Forbidden) => {
                        "check that the token may read the team's artifacts (teamId or teamSlug; TURBO_TEAMID or TURBO_TEAM)"
                    }
                    (Provider::Turborepo, FailureKind::SignIn) => {
                        "check the token (\"token\" or TURBO_TOKEN): the server does not accept it"
                    }
                    (Provider::Turborepo, FailureKind::Unavailable) => {
                        "check the network and the server's apiUrl (TURBO_API)"
                    }
                    (Provider::Turborepo, FailureKind::Other) => {
                        "check apiUrl (TURBO_API) and the team (teamId or teamSlug)"
                    }
                    (_, FailureKind::Forbidden) => {
                        "check that the connection string or SAS is valid and not expired"
                    }
                    (_, FailureKind::SignIn) => {
                        "check the Azure identity named by credentialName (az login, the AZURE_* variables, the managed identity)"
                    }
                    (_, FailureKind::Unavailable) => "check the network and the storage account endpoint",
                    (_, FailureKind::Other) => "check the connection string and the container",
                };
                format!(
                    "remote cache ({remote}): {}; {outcome}. To fix it, {hint}. After {FAILURES_BEFORE_OFF} failures in a row the \
                     remote cache is switched off until the process ends",
                    failure.message
                )
            }
            Notice::RemoteReadOnly {
                provider: Provider::S3,
                remote,
                failure,
            } => format!(
                "uploads to the remote cache ({remote}) are refused ({}): the credentials are read-only, \
                 such as a user whose policy allows only s3:GetObject. Outputs are still cached locally. To fix it, \
                 use credentials allowed s3:PutObject where uploads should happen, or turn remote writes off here \
                 (unset LAGE_WRITE_REMOTE_CACHE)",
                failure.message
            ),
            Notice::RemoteReadOnly {
                provider: Provider::Turborepo,
                remote,
                failure,
            } => format!(
                "uploads to the remote cache ({remote}) are refused ({}): the credentials are read-only, \
                 such as a read-only token or a server started with READ_ONLY. Outputs are still cached \
                 locally. To fix it, use a read-write token and server where uploads should happen, or \
                 turn remote writes off here (unset LAGE_WRITE_REMOTE_CACHE)",
                failure.message
            ),
            Notice::RemoteReadOnly {
                remote, failure, ..
            } => format!(
                "uploads to the remote cache ({remote}) are refused ({}): the credentials are read-only, \
                 such as a read-only SAS. Outputs are still cached locally. To fix it, use a read-write \
                 connection string where uploads should happen, or turn remote writes off here \
                 (unset LAGE_WRITE_REMOTE_CACHE)",
                failure.message
            ),
            Notice::RemoteEntryRefused { key, remote, why } => format!(
                "refused the remote entry for hash {key} from {remote}: {why}; nothing was written, treated as a miss"
            ),
            Notice::RemoteEntryBadSignature { key, remote, why } => format!(
                "refused the remote entry for hash {key} from {remote}: {why}; treated as a miss"
            ),
            Notice::UploadWritesOff => {
                "remote writes are off (set LAGE_WRITE_REMOTE_CACHE=true to turn them on)".into()
            }
            Notice::UploadNotTrusted(refusal) => refusal.message(),
            Notice::UploadRefusedByRemote => {
                "the remote cache refuses uploads with these credentials".into()
            }
            Notice::UploadFromRemote => "the entry came from the remote cache".into(),
            Notice::UploadNotArchivable { why } => {
                format!("the archive cannot be written ({why})")
            }
            Notice::UploadOutputsOverMaxSize { bytes, max } => {
                format!("the outputs are {bytes} bytes, over maxSize ({max})")
            }
            Notice::UploadArchiveOverMaxSize { size, outputs, max } => format!(
                "the archive would be {size} bytes ({outputs} of outputs plus tar headers), over maxSize ({max})"
            ),
            Notice::UploadFailed { failure } => failure.message.clone(),
            Notice::UploadLocalEntryUnreadable { key, why } => format!(
                "did not upload hash {key}: the local entry could not be read ({why}). To fix it, \
                 run `backfill-native purge --days 0` or `backfill-native clear` and build again"
            ),
            Notice::BackgroundUploadFailed { key, why } => {
                format!("background upload of {key} failed: {why}")
            }
            Notice::WaitingForStore {
                action,
                folder,
                limit_secs,
            } => format!(
                "waiting to {action} {}: fetches, puts or uploads are using it; giving up after {limit_secs} s (BACKFILL_NATIVE_LOCK_WAIT sets how long)",
                folder.display()
            ),
            Notice::ConfigUnknownProvider {
                name,
                origin,
                looks_secret,
            } => format!(
                "BACKFILL_CACHE_PROVIDER {origin} is {name}, which backfill-native does not support; \
                 using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo{}",
                if *looks_secret {
                    format!(". To fix it, set it to one of those; {}", crate::config::SECRET_FIX)
                } else {
                    String::new()
                }
            ),
            Notice::ConfigUnknownField {
                variable,
                origin,
                field,
                closest,
                known,
            } => format!(
                "{variable} {origin} has an unknown field {field}, which is ignored{} Known fields: {}",
                match closest {
                    Some(f) => format!("; did you mean \"{f}\"?"),
                    None => ".".to_string(),
                },
                known.join(", ")
            ),
            Notice::PullRequestNumberUnknown { source, why } => format!(
                "the pull request scope is not used: this is a pull request build ({source}: {why}), but no variable \
                 says its number; only the main scope is read. To fix it, set BACKFILL_NATIVE_PULL_REQUEST to the \
                 pull request's number in the build"
            ),
            Notice::PullRequestScopeIsMain { place } => format!(
                "the pull request scope (BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS) is the main scope's {place}: \
                 a pull request build's credential can then reach the entries trusted builds restore. To fix it, \
                 give the scope a container (azure-blob), a bucket or prefix (s3) or a server (turborepo) of its own, \
                 with a credential the storage confines to it"
            ),
            Notice::PullRequestCanWriteMain { remote, marker } => format!(
                "this pull request build can write the main scope ({remote}): its code could replace entries \
                 trusted builds restore. To fix it, give pull request builds a read-only credential for the main \
                 scope (a read-only SAS, an IAM policy without s3:PutObject on it, a read-only token); the marker \
                 '{marker}' written there to find out may be deleted"
            ),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl Unstorable {
    fn message(&self) -> String {
        match self {
            Unstorable::NotPortable { path, character } => format!(
                "{path:?} has {character:?} in its name, which Windows cannot hold in a file name (and reads \\ as a folder separator); rename it"
            ),
            Unstorable::DifferInCase { first, second } => format!(
                "{first:?} and {second:?} differ only in case, and Windows and macOS keep one file for both; rename one of them"
            ),
            Unstorable::ThroughLinkedFolder { link } => format!(
                "{link:?} is a link to a folder, and outputs are never stored through one (its files are outside the package); make it a real folder, or list the link itself as an output"
            ),
        }
    }
}

impl Refusal {
    /// The sentence, as a build's uploads are skipped with it.
    pub fn message(&self) -> String {
        match self {
            Refusal::PullRequest { source, why } => format!(
                "remote cache uploads are skipped: this is a pull request build ({source}: {why}), and pull \
                 request builds never upload; {STILL_LOCAL}"
            ),
            Refusal::MergeQueue { source, why, queue } => format!(
                "remote cache uploads are skipped: this is a merge queue build ({source}: {why}), which runs \
                 pull requests' code before it reaches the target branch; to let merge queue builds \
                 upload, add \"{queue}\" to {UPLOAD_BRANCHES}; {STILL_LOCAL}"
            ),
            Refusal::BranchNotAllowed {
                branch,
                from,
                allowed,
            } => format!(
                "remote cache uploads are skipped: branch {branch} (from {from}) is not one of the branches \
                 {UPLOAD_BRANCHES} allows ({allowed}); {STILL_LOCAL}"
            ),
            Refusal::BranchUnknown { why, allowed } => format!(
                "remote cache uploads are skipped: the branch of this build is unknown ({why}), and \
                 {UPLOAD_BRANCHES} allows only {allowed}; {STILL_LOCAL}"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
