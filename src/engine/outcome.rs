//! What fetches and puts report, and the engine's counters (the store's
//! own statistics are `store::StoreStats`).

use std::time::Duration;

use crate::notice::Notice;

/// Where a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The local store.
    Local,
    /// The remote cache (which then filled the local store): which scope.
    Remote(RemoteScope),
    /// The `local-skip` provider: the hash is the last one put, and its
    /// outputs are still in place (nothing is restored).
    LocalSkip,
}

impl Source {
    /// The name shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Remote(_) => "remote",
            Source::LocalSkip => "local-skip",
        }
    }
}

/// Which part of the remote cache served a hit (`config::PullRequestScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteScope {
    /// The main scope, which trusted builds write.
    Main,
    /// The scope of the pull request of this number.
    PullRequest(u64),
}

impl RemoteScope {
    /// The name shown to users: `main` or `pull-request`.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteScope::Main => "main",
            RemoteScope::PullRequest(_) => "pull-request",
        }
    }

    /// The scope in a sentence: `main scope`, `pull request 12's scope`.
    pub fn describe(self) -> String {
        match self {
            RemoteScope::Main => "main scope".into(),
            RemoteScope::PullRequest(n) => format!("pull request {n}'s scope"),
        }
    }
}

/// The outcome of a fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOutcome {
    /// Where the hit came from; `None` is a miss.
    pub source: Option<Source>,
    /// Files written into the package.
    pub files_restored: u64,
    /// Of those, the files cloned from the store rather than copied.
    pub files_cloned: u64,
    /// Files already present with the right content.
    pub files_unchanged: u64,
    /// Symbolic links in the entry.
    pub links: u64,
    /// Bytes written.
    pub bytes_restored: u64,
    /// Time taken.
    pub duration: Duration,
    /// Why the cache was not read, when it was not (mode, provider).
    pub skipped: Option<Notice>,
    /// Why the remote did not serve a hit when it was asked, if worth
    /// telling (switched off, over maxSize).
    pub remote_note: Option<Notice>,
    /// Problems to report once (a corrupt entry, say).
    pub warnings: Vec<Notice>,
}

impl FetchOutcome {
    /// Whether the outputs were restored.
    pub fn hit(&self) -> bool {
        self.source.is_some()
    }
}

/// The outcome of a put.
#[derive(Debug, Clone, Default)]
pub struct PutOutcome {
    /// Whether an entry was written.
    pub stored: bool,
    /// Files in the entry.
    pub files: u64,
    /// Symbolic links in the entry.
    pub links: u64,
    /// Bytes of the files in the entry.
    pub bytes: u64,
    /// Bytes actually written (contents not already stored).
    pub new_bytes: u64,
    /// Time taken.
    pub duration: Duration,
    /// Why nothing was stored, when nothing was (mode, provider, outputs
    /// no fetch could give back).
    pub skipped: Option<Notice>,
    /// Whether the entry was uploaded to the remote cache.
    pub uploaded: bool,
    /// Bytes uploaded (the archive).
    pub upload_bytes: u64,
    /// The remote scope the entry was uploaded to.
    pub upload_scope: Option<RemoteScope>,
    /// Why the entry was not uploaded, when a remote is configured.
    pub upload_skipped: Option<Notice>,
    /// The upload the engine runs in the background (`background_uploads`),
    /// to wait for if wanted.
    pub pending_upload: Option<super::PendingUpload>,
    /// Problems to report once.
    pub warnings: Vec<Notice>,
}

/// Counters since the engine was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Fetches served by the local store.
    pub local_hits: u64,
    /// Fetches served by the remote cache.
    pub remote_hits: u64,
    /// Of those, the fetches served by the pull request scope.
    pub pull_request_hits: u64,
    /// Entries uploaded.
    pub uploads: u64,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Fetches that found nothing.
    pub misses: u64,
    /// Puts that stored an entry.
    pub puts: u64,
    /// Fetches and puts skipped by the mode or provider.
    pub skipped: u64,
    /// Fetches and puts that failed with an error.
    pub errors: u64,
    /// Files written by fetches.
    pub files_restored: u64,
    /// Bytes written by fetches.
    pub bytes_restored: u64,
    /// Bytes of the entries stored.
    pub bytes_stored: u64,
    /// Bytes puts actually wrote.
    pub bytes_written: u64,
    /// Time spent in fetches, microseconds.
    pub fetch_micros: u64,
    /// Time spent in puts, microseconds.
    pub put_micros: u64,
}
