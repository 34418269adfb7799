//! Every notice's code and sentence, asserted once, here: the tests of the
//! engine, the store and the JS API assert codes.

use std::path::PathBuf;

use super::*;

fn failure(kind: FailureKind, message: &str) -> RemoteFailure {
    RemoteFailure {
        kind,
        message: message.into(),
    }
}

const REMOTE: &str = "azure-blob container 'c' at http://127.0.0.1:10000/devstoreaccount1";
const S3: &str = "s3 bucket 'b' at http://127.0.0.1:9000 (prefix 'backfill')";
const TURBO: &str = "turborepo server http://127.0.0.1:3000 team 'team_1'";

#[test]
fn every_notice_has_its_code_and_its_sentence() {
    let remote = || REMOTE.to_string();
    let path = PathBuf::from("/repo/node_modules/.cache/backfill-native/v1/entries/ab/k.json");
    let table: Vec<(Notice, &str, String)> = vec![
        (Notice::SkippedByProvider, "SKIPPED_BY_PROVIDER", "BACKFILL_CACHE_PROVIDER is local-skip: no outputs are stored; the hash is remembered, so a fetch of it is a hit while the outputs stay in place".into()),
        (Notice::SkippedLocalCache { remote: true }, "SKIPPED_LOCAL_CACHE", "the local cache is skipped (lage --skip-local-cache): the outputs go to the remote cache only".into()),
        (Notice::SkippedLocalCache { remote: false }, "SKIPPED_LOCAL_CACHE", "the local cache is skipped (lage --skip-local-cache) and no remote cache is configured: nothing is cached".into()),
        (Notice::IncrementalSnapshotFailed { why: "permission denied".into() }, "INCREMENTAL_SNAPSHOT_FAILED", "incrementalCaching: the package's files could not be recorded (permission denied); the next put of this hash stores every output".into()),
        (Notice::SkippedByMode { mode: Mode::ReadOnly }, "SKIPPED_BY_MODE", "BACKFILL_MODE is READ_ONLY".into()),
        (
            Notice::Unstorable(Unstorable::NotPortable { path: "lib/x\\y.js".into(), character: '\\' }),
            "OUTPUT_NAME_NOT_PORTABLE",
            r#"outputs not stored: "lib/x\\y.js" has '\\' in its name, which Windows cannot hold in a file name (and reads \ as a folder separator); rename it"#.into(),
        ),
        (
            Notice::Unstorable(Unstorable::DifferInCase { first: "lib/A.js".into(), second: "lib/a.js".into() }),
            "OUTPUT_NAMES_DIFFER_IN_CASE",
            r#"outputs not stored: "lib/A.js" and "lib/a.js" differ only in case, and Windows and macOS keep one file for both; rename one of them"#.into(),
        ),
        (
            Notice::Unstorable(Unstorable::ThroughLinkedFolder { link: "lib".into() }),
            "OUTPUT_THROUGH_LINKED_FOLDER",
            r#"outputs not stored: "lib" is a link to a folder, and outputs are never stored through one (its files are outside the package); make it a real folder, or list the link itself as an output"#.into(),
        ),
        (
            Notice::LocalEntry { key: "k".into(), path: path.clone(), problem: LocalProblem::Unreadable("permission denied (os error 13)".into()) },
            "LOCAL_ENTRY_UNREADABLE",
            format!("local cache entry for hash k ({}) cannot be read: permission denied (os error 13); treated as a miss. the cache folder was written by another user; to fix it, let every user read it (write it with umask 022, or chmod -R a+rX it) or give this user a cache folder of its own (BACKFILL_INTERNAL_CACHE_FOLDER)", path.display()),
        ),
        (
            Notice::LocalEntry { key: "k".into(), path: path.clone(), problem: LocalProblem::Invalid { reason: "it is not valid (EOF)".into(), removed: true } },
            "LOCAL_ENTRY_INVALID",
            format!("local cache entry for hash k ({}) is unusable: it is not valid (EOF); treated as a miss and removed, so the next put stores it again", path.display()),
        ),
        (
            Notice::LocalEntry { key: "k".into(), path: path.clone(), problem: LocalProblem::Invalid { reason: "it is not valid (EOF)".into(), removed: false } },
            "LOCAL_ENTRY_INVALID",
            format!("local cache entry for hash k ({}) is unusable: it is not valid (EOF); treated as a miss", path.display()),
        ),
        (
            Notice::LocalEntry { key: "k".into(), path, problem: LocalProblem::NotRestorableHere("\"lib/a:b\" holds ':'".into()) },
            "LOCAL_ENTRY_NOT_RESTORABLE_HERE",
            "local cache entry for hash k cannot be restored on this system: \"lib/a:b\" holds ':'; treated as a miss".into(),
        ),
        (Notice::RemoteSwitchedOff, "REMOTE_SWITCHED_OFF", "the remote cache is switched off after repeated failures".into()),
        (
            Notice::RemoteOverMaxSize { size: Some(5000), max: 4096 },
            "REMOTE_OVER_MAX_SIZE",
            "the remote entry is 5000 bytes, over maxSize (4096)".into(),
        ),
        (
            Notice::RemoteOverMaxSize { size: None, max: 4096 },
            "REMOTE_OVER_MAX_SIZE",
            "the remote entry is over maxSize (4096): its download was stopped there and nothing was restored".into(),
        ),
        (
            Notice::RemoteFailed { provider: Provider::AzureBlob, remote: remote(), op: Op::Download, failure: failure(FailureKind::Unavailable, "download failed: HTTP 503 ServerBusy") },
            "REMOTE_UNAVAILABLE",
            format!("remote cache ({REMOTE}): download failed: HTTP 503 ServerBusy; treated as a miss. To fix it, check the network and the storage account endpoint. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::AzureBlob, remote: remote(), op: Op::Upload, failure: failure(FailureKind::Forbidden, "upload failed: HTTP 403") },
            "REMOTE_FORBIDDEN",
            format!("remote cache ({REMOTE}): upload failed: HTTP 403; not uploaded. To fix it, check that the connection string or SAS is valid and not expired. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::AzureBlob, remote: remote(), op: Op::Download, failure: failure(FailureKind::ContainerNotFound, "download failed: HTTP 404 ContainerNotFound") },
            "REMOTE_CONTAINER_NOT_FOUND",
            format!("remote cache ({REMOTE}): download failed: HTTP 404 ContainerNotFound; treated as a miss. To fix it, check the container name in BACKFILL_CACHE_PROVIDER_OPTIONS. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::AzureBlob, remote: remote(), op: Op::Download, failure: failure(FailureKind::SignIn, "download failed: no token") },
            "REMOTE_SIGN_IN_FAILED",
            format!("remote cache ({REMOTE}): download failed: no token; treated as a miss. To fix it, check the Azure identity named by credentialName (az login, the AZURE_* variables, the managed identity). After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::AzureBlob, remote: remote(), op: Op::Download, failure: failure(FailureKind::Other, "download failed: HTTP 307 (a redirect, which is never followed)") },
            "REMOTE_FAILED",
            format!("remote cache ({REMOTE}): download failed: HTTP 307 (a redirect, which is never followed); treated as a miss. To fix it, check the connection string and the container. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteReadOnly { provider: Provider::AzureBlob, remote: remote(), failure: failure(FailureKind::Forbidden, "upload failed: HTTP 403 AuthorizationPermissionMismatch") },
            "REMOTE_READ_ONLY",
            format!("uploads to the remote cache ({REMOTE}) are refused (upload failed: HTTP 403 AuthorizationPermissionMismatch): the credentials are read-only, such as a read-only SAS. Outputs are still cached locally. To fix it, use a read-write connection string where uploads should happen, or turn remote writes off here (unset LAGE_WRITE_REMOTE_CACHE)"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::S3, remote: S3.into(), op: Op::Download, failure: failure(FailureKind::Unavailable, "download failed: HTTP 503 SlowDown") },
            "REMOTE_UNAVAILABLE",
            format!("remote cache ({S3}): download failed: HTTP 503 SlowDown; treated as a miss. To fix it, check the network and the endpoint. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::S3, remote: S3.into(), op: Op::Download, failure: failure(FailureKind::Forbidden, "download failed: HTTP 403 AccessDenied") },
            "REMOTE_FORBIDDEN",
            format!("remote cache ({S3}): download failed: HTTP 403 AccessDenied; treated as a miss. To fix it, check the AWS credentials (the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY variables, the profile, the role) and that their policy allows s3:GetObject and s3:ListBucket on the bucket. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::S3, remote: S3.into(), op: Op::Download, failure: failure(FailureKind::ContainerNotFound, "download failed: HTTP 404 NoSuchBucket") },
            "REMOTE_CONTAINER_NOT_FOUND",
            format!("remote cache ({S3}): download failed: HTTP 404 NoSuchBucket; treated as a miss. To fix it, check the bucket, the region and the endpoint in BACKFILL_CACHE_PROVIDER_OPTIONS. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::S3, remote: S3.into(), op: Op::Upload, failure: failure(FailureKind::SignIn, "upload failed: no credentials") },
            "REMOTE_SIGN_IN_FAILED",
            format!("remote cache ({S3}): upload failed: no credentials; not uploaded. To fix it, check where the AWS credentials come from (the AWS_* variables, the profile, web identity, the instance's role). After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::S3, remote: S3.into(), op: Op::Download, failure: failure(FailureKind::Other, "download failed: HTTP 400") },
            "REMOTE_FAILED",
            format!("remote cache ({S3}): download failed: HTTP 400; treated as a miss. To fix it, check the bucket, the region and the endpoint. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteReadOnly { provider: Provider::S3, remote: S3.into(), failure: failure(FailureKind::Forbidden, "upload failed: HTTP 403 AccessDenied") },
            "REMOTE_READ_ONLY",
            format!("uploads to the remote cache ({S3}) are refused (upload failed: HTTP 403 AccessDenied): the credentials are read-only, such as a user whose policy allows only s3:GetObject. Outputs are still cached locally. To fix it, use credentials allowed s3:PutObject where uploads should happen, or turn remote writes off here (unset LAGE_WRITE_REMOTE_CACHE)"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::Turborepo, remote: TURBO.into(), op: Op::Download, failure: failure(FailureKind::SignIn, "download failed: HTTP 401, the server does not accept the token") },
            "REMOTE_SIGN_IN_FAILED",
            format!("remote cache ({TURBO}): download failed: HTTP 401, the server does not accept the token; treated as a miss. To fix it, check the token (\"token\" or TURBO_TOKEN): the server does not accept it. After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::Turborepo, remote: TURBO.into(), op: Op::Download, failure: failure(FailureKind::Forbidden, "download failed: HTTP 403, the token may not do this (a read-only token or server)") },
            "REMOTE_FORBIDDEN",
            format!("remote cache ({TURBO}): download failed: HTTP 403, the token may not do this (a read-only token or server); treated as a miss. To fix it, check that the token may read the team's artifacts (teamId or teamSlug; TURBO_TEAMID or TURBO_TEAM). After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::Turborepo, remote: TURBO.into(), op: Op::Download, failure: failure(FailureKind::Unavailable, "download failed: HTTP 503") },
            "REMOTE_UNAVAILABLE",
            format!("remote cache ({TURBO}): download failed: HTTP 503; treated as a miss. To fix it, check the network and the server's apiUrl (TURBO_API). After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteFailed { provider: Provider::Turborepo, remote: TURBO.into(), op: Op::Upload, failure: failure(FailureKind::Other, "upload failed: HTTP 413, the artifact is larger than the server accepts (its body limit); set maxSize below it") },
            "REMOTE_FAILED",
            format!("remote cache ({TURBO}): upload failed: HTTP 413, the artifact is larger than the server accepts (its body limit); set maxSize below it; not uploaded. To fix it, check apiUrl (TURBO_API) and the team (teamId or teamSlug). After 3 failures in a row the remote cache is switched off until the process ends"),
        ),
        (
            Notice::RemoteReadOnly { provider: Provider::Turborepo, remote: TURBO.into(), failure: failure(FailureKind::Forbidden, "upload failed: HTTP 403, the token may not do this (a read-only token or server)") },
            "REMOTE_READ_ONLY",
            format!("uploads to the remote cache ({TURBO}) are refused (upload failed: HTTP 403, the token may not do this (a read-only token or server)): the credentials are read-only, such as a read-only token or a server started with READ_ONLY. Outputs are still cached locally. To fix it, use a read-write token and server where uploads should happen, or turn remote writes off here (unset LAGE_WRITE_REMOTE_CACHE)"),
        ),
        (
            Notice::RemoteEntryRefused { key: "k".into(), remote: remote(), why: "it holds \"../x\", a path outside the package".into() },
            "REMOTE_ENTRY_REFUSED",
            format!("refused the remote entry for hash k from {REMOTE}: it holds \"../x\", a path outside the package; nothing was written, treated as a miss"),
        ),
        (
            Notice::RemoteEntryBadSignature { key: "k".into(), remote: remote(), why: "its signature does not match".into() },
            "REMOTE_ENTRY_BAD_SIGNATURE",
            format!("refused the remote entry for hash k from {REMOTE}: its signature does not match; treated as a miss"),
        ),
        (Notice::UploadWritesOff, "UPLOAD_WRITES_OFF", "remote writes are off (set LAGE_WRITE_REMOTE_CACHE=true to turn them on)".into()),
        (
            Notice::UploadNotTrusted(Refusal::PullRequest { source: "GitHub Actions".into(), why: "GITHUB_EVENT_NAME=pull_request".into() }),
            "UPLOAD_PULL_REQUEST",
            "remote cache uploads are skipped: this is a pull request build (GitHub Actions: GITHUB_EVENT_NAME=pull_request), and pull request builds never upload; outputs are still cached locally".into(),
        ),
        (
            Notice::UploadNotTrusted(Refusal::MergeQueue { source: "GitHub Actions".into(), why: "GITHUB_EVENT_NAME=merge_group".into(), queue: "gh-readonly-queue/main/*".into() }),
            "UPLOAD_MERGE_QUEUE",
            "remote cache uploads are skipped: this is a merge queue build (GitHub Actions: GITHUB_EVENT_NAME=merge_group), which runs pull requests' code before it reaches the target branch; to let merge queue builds upload, add \"gh-readonly-queue/main/*\" to BACKFILL_NATIVE_UPLOAD_BRANCHES; outputs are still cached locally".into(),
        ),
        (
            Notice::UploadNotTrusted(Refusal::BranchNotAllowed { branch: "\"release/1.2/hotfix\"".into(), from: "GITHUB_REF_NAME".into(), allowed: "\"main\", \"release/*\"".into() }),
            "UPLOAD_BRANCH_NOT_ALLOWED",
            "remote cache uploads are skipped: branch \"release/1.2/hotfix\" (from GITHUB_REF_NAME) is not one of the branches BACKFILL_NATIVE_UPLOAD_BRANCHES allows (\"main\", \"release/*\"); outputs are still cached locally".into(),
        ),
        (
            Notice::UploadNotTrusted(Refusal::BranchUnknown { why: "Buildkite names no branch".into(), allowed: "\"main\"".into() }),
            "UPLOAD_BRANCH_UNKNOWN",
            "remote cache uploads are skipped: the branch of this build is unknown (Buildkite names no branch), and BACKFILL_NATIVE_UPLOAD_BRANCHES allows only \"main\"; outputs are still cached locally".into(),
        ),
        (Notice::UploadRefusedByRemote, "UPLOAD_REFUSED_BY_REMOTE", "the remote cache refuses uploads with these credentials".into()),
        (Notice::UploadFromRemote, "UPLOAD_FROM_REMOTE", "the entry came from the remote cache".into()),
        (
            Notice::UploadNotArchivable { why: "path too long".into() },
            "UPLOAD_NOT_ARCHIVABLE",
            "the archive cannot be written (path too long)".into(),
        ),
        (
            Notice::UploadOutputsOverMaxSize { bytes: 5000, max: 4096 },
            "UPLOAD_OVER_MAX_SIZE",
            "the outputs are 5000 bytes, over maxSize (4096)".into(),
        ),
        (
            Notice::UploadArchiveOverMaxSize { size: 6048, outputs: 4000, max: 4096 },
            "UPLOAD_OVER_MAX_SIZE",
            "the archive would be 6048 bytes (4000 of outputs plus tar headers), over maxSize (4096)".into(),
        ),
        (
            Notice::UploadFailed { failure: failure(FailureKind::Unavailable, "upload failed: HTTP 503 ServerBusy") },
            "UPLOAD_FAILED",
            "upload failed: HTTP 503 ServerBusy".into(),
        ),
        (
            Notice::UploadLocalEntryUnreadable { key: "k".into(), why: "content is missing".into() },
            "UPLOAD_LOCAL_ENTRY_UNREADABLE",
            "did not upload hash k: the local entry could not be read (content is missing). To fix it, run `backfill-native purge --days 0` or `backfill-native clear` and build again".into(),
        ),
        (
            Notice::BackgroundUploadFailed { key: "k".into(), why: "could not read the entry".into() },
            "BACKGROUND_UPLOAD_FAILED",
            "background upload of k failed: could not read the entry".into(),
        ),
        (
            Notice::WaitingForStore { action: "clear", folder: PathBuf::from("/repo/cache"), limit_secs: 60 },
            "WAITING_FOR_STORE",
            "waiting to clear /repo/cache: fetches, puts or uploads are using it; giving up after 60 s (BACKFILL_NATIVE_LOCK_WAIT sets how long)".into(),
        ),
        (
            Notice::ConfigUnknownProvider { name: "\"gcs\"".into(), origin: "(from the environment)".into(), looks_secret: false },
            "CONFIG_UNKNOWN_PROVIDER",
            "BACKFILL_CACHE_PROVIDER (from the environment) is \"gcs\", which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo".into(),
        ),
        (
            Notice::ConfigUnknownField {
                variable: "BACKFILL_CACHE_PROVIDER_OPTIONS",
                origin: "(from the environment)".into(),
                field: "\"maxsize\"".into(),
                closest: Some("maxSize"),
                known: &["connectionString", "maxSize"],
            },
            "CONFIG_UNKNOWN_FIELD",
            "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) has an unknown field \"maxsize\", which is ignored; did you mean \"maxSize\"? Known fields: connectionString, maxSize".into(),
        ),
        (
            Notice::PullRequestNumberUnknown { source: "Azure Pipelines".into(), why: "BUILD_REASON=PullRequest".into() },
            "PULL_REQUEST_NUMBER_UNKNOWN",
            "the pull request scope is not used: this is a pull request build (Azure Pipelines: BUILD_REASON=PullRequest), but no variable says its number; only the main scope is read. To fix it, set BACKFILL_NATIVE_PULL_REQUEST to the pull request's number in the build".into(),
        ),
        (
            Notice::PullRequestScopeIsMain { place: "bucket 'cache' prefix 'ci'".into() },
            "PULL_REQUEST_SCOPE_IS_MAIN",
            "the pull request scope (BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS) is the main scope's bucket 'cache' prefix 'ci': a pull request build's credential can then reach the entries trusted builds restore. To fix it, give the scope a container (azure-blob), a bucket or prefix (s3) or a server (turborepo) of its own, with a credential the storage confines to it".into(),
        ),
        (
            Notice::PullRequestCanWriteMain { remote: S3.into(), marker: "backfill-native-pull-request-write-check" },
            "PULL_REQUEST_CAN_WRITE_MAIN",
            "this pull request build can write the main scope (s3 bucket 'b' at http://127.0.0.1:9000 (prefix 'backfill')): its code could replace entries trusted builds restore. To fix it, give pull request builds a read-only credential for the main scope (a read-only SAS, an IAM policy without s3:PutObject on it, a read-only token); the marker 'backfill-native-pull-request-write-check' written there to find out may be deleted".into(),
        ),
    ];
    for (notice, code, message) in table {
        assert_eq!(notice.code(), code, "{notice:?}");
        assert_eq!(notice.message(), message, "{notice:?}");
        assert_eq!(notice.to_string(), message);
    }
}
