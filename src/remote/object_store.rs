//! A remote on an object store that Apache OpenDAL reaches (Azure Blob
//! Storage, S3): one object per cache key, its content the tar archive, its
//! digest and signature in the object's user metadata. The store's own file
//! (`azure_blob.rs`, `s3.rs`) only builds the OpenDAL operator; this file
//! transfers, within the bounds of `limits.rs`, through the HTTP client of
//! `http.rs`.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use opendal::{Buffer, ErrorKind, HttpTransporter, Operator};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use super::download_stream::{self, Part};
use super::http::{http_error_of, Http, HttpError, OpendalTransport};
use super::limits::{Deadline, Limits};
use super::runtime::{runtime, runtime_or_failure};
use super::{ArchiveWriter, FailureKind, Lookup, Remote, RemoteBlob, RemoteFailure, TransferError};
use crate::cache_key::CacheKey;
use crate::config::redact_text;

/// Uploads are sent in parts of this size...
const PART: usize = 8 << 20;
/// ...with at most this many in flight, so memory stays near 40 MB.
const PARTS_IN_FLIGHT: usize = 4;

/// The object a warm-up asks for: not a cache key (those are hashes), so
/// never an entry.
const WARM_UP_OBJECT: &str = "backfill-native-warm-up";

/// How a store names its missing container in an error code: that is a
/// failure to report, never a miss.
const CONTAINER_MISSING: &[&str] = &["ContainerNotFound", "NoSuchBucket"];

/// An object store behind OpenDAL, as a [`Remote`].
pub struct ObjectStoreRemote {
    op: Operator,
    describe: String,
    limits: Limits,
    /// Whether the container is known to exist (see [`check_container`]).
    container_seen: Arc<AtomicBool>,
}

impl ObjectStoreRemote {
    /// The remote of `op`, every request of which goes through a bounded
    /// [`Http`] client made with `limits`; `describe` names it in messages
    /// and holds no secret.
    pub fn new(op: Operator, describe: String, limits: Limits) -> Result<Self, String> {
        let http = Http::new(&limits)?;
        let ctx = op
            .context()
            .with_http_transport(HttpTransporter::new(OpendalTransport(http)));
        Ok(ObjectStoreRemote {
            op: op.with_context(ctx),
            describe,
            limits,
            container_seen: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Remote for ObjectStoreRemote {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    /// Asks for the properties of an object no entry has (a miss, 404): the
    /// client's pool keeps the connection it opened, and the credentials
    /// keep the token they got; where the 404 does not say which is missing
    /// (S3), whether the container exists is asked too, so the first fetch
    /// need not. Bounded by the connect time limit and one stall, so a
    /// remote that does not answer is not waited on for long.
    fn warm_up(&self) {
        let Some(rt) = runtime() else { return };
        let op = self.op.clone();
        let seen = self.container_seen.clone();
        let limit = self.limits.connect + self.limits.stall;
        rt.spawn(async move {
            let _ = tokio::time::timeout(limit, async {
                match op.stat(WARM_UP_OBJECT).await {
                    Err(e) if is_miss(&e) && says_nothing(&e) => {
                        check_container(&op, WARM_UP_OBJECT, &seen).await;
                    }
                    _ => {}
                }
            })
            .await;
        });
    }

    fn open(&self, key: &CacheKey, max_size: Option<u64>) -> Result<Lookup, RemoteFailure> {
        let rt = runtime_or_failure()?;
        let deadline = Deadline::download(self.limits);
        let stat = rt.block_on(deadline.on_time("download", 0, self.op.stat(key.as_str())))?;
        let meta = match stat {
            Ok(meta) => {
                self.container_seen.store(true, Ordering::Relaxed);
                meta
            }
            Err(e) if is_miss(&e) => {
                if says_nothing(&e) && !self.container_seen.load(Ordering::Relaxed) {
                    let check = check_container(&self.op, key.as_str(), &self.container_seen);
                    if let Some(failure) = rt.block_on(deadline.on_time("download", 0, check))? {
                        return Err(failure);
                    }
                }
                // A slow "not found" counts toward the switch-off.
                return deadline.slow_miss().map_or(Ok(Lookup::Miss), Err);
            }
            Err(e) => return Err(classify(&e, "download")),
        };
        let size = meta.content_length();
        if let Some(max) = max_size {
            if size > max {
                return Ok(Lookup::TooLarge(size));
            }
        }
        // Neither writer makes an empty object (an empty entry is a
        // 1024-byte tar), so it is not a hit: restoring nothing would skip a
        // build whose outputs are gone.
        if size == 0 {
            return Err(RemoteFailure {
                kind: FailureKind::Other,
                message: format!(
                    "download failed: the blob for {} is empty, not a tar archive",
                    key.as_str()
                ),
            });
        }
        let metadata: HashMap<String, String> = meta
            .user_metadata()
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let (tx, reader) = download_stream::channel();
        let op = self.op.clone();
        let path = key.as_str().to_string();
        // Every byte must come from the object the properties describe: one
        // overwritten meanwhile would be read with the wrong metadata.
        let etag = meta.etag().map(str::to_string);
        rt.spawn(download(op, path, etag, tx, deadline));
        Ok(Lookup::Found(RemoteBlob {
            size: Some(size),
            metadata,
            body: Box::new(reader),
        }))
    }

    fn upload(
        &self,
        key: &CacheKey,
        size: u64,
        metadata: &HashMap<String, String>,
        write: &mut ArchiveWriter<'_>,
    ) -> Result<u64, RemoteFailure> {
        let rt = runtime_or_failure()?;
        let deadline = Deadline::upload(self.limits, size);
        let writer = self
            .op
            .writer_with(key.as_str())
            .user_metadata(metadata.clone())
            .chunk(PART)
            .concurrent(PARTS_IN_FLIGHT);
        let writer = match rt.block_on(deadline.on_time("upload", 0, writer.into_future())) {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => return Err(classify(&e, "upload")),
            Err(f) => return Err(f),
        };
        let mut w = PartWriter {
            writer,
            rt,
            deadline,
            buf: Vec::with_capacity(PART),
            total: 0,
            failed: None,
        };
        if let Err(e) = write(&mut w) {
            let failure = w.failed.take().unwrap_or(RemoteFailure {
                kind: FailureKind::Other,
                message: format!("upload failed: {e}"),
            });
            w.abort();
            return Err(failure);
        }
        w.finish()
    }
}

/// Whether an error says the object is not there (a miss), as opposed to
/// its container, or anything else.
fn is_miss(e: &opendal::Error) -> bool {
    if e.kind() != ErrorKind::NotFound {
        return false;
    }
    match http_error_of(e) {
        Some(HttpError::Answer(a)) => !CONTAINER_MISSING.contains(&a.code.as_str()),
        _ => true,
    }
}

/// Whether a "not found" came without an error code: S3 answers a HEAD
/// with no body, so a missing bucket looks like a missing object there.
fn says_nothing(e: &opendal::Error) -> bool {
    matches!(http_error_of(e), Some(HttpError::Answer(a)) if a.code.is_empty())
}

/// Asks once per remote whether the container exists, after a "not found"
/// that did not say (see [`says_nothing`]): a GET of the object's first
/// byte, whose error answer has a code. A missing container is the failure
/// to report (every fetch would be a miss, said nowhere); any other answer
/// marks the container `seen`, so later misses cost one request again.
async fn check_container(op: &Operator, path: &str, seen: &AtomicBool) -> Option<RemoteFailure> {
    match op.read_with(path).range(0..1).await {
        Err(e) if e.kind() == ErrorKind::NotFound && !is_miss(&e) => Some(classify(&e, "download")),
        _ => {
            seen.store(true, Ordering::Relaxed);
            None
        }
    }
}

/// Streams the object and hands the bytes over, within the stall time and
/// the deadline (which grows only with bytes that arrived).
async fn download(
    op: Operator,
    path: String,
    etag: Option<String>,
    tx: mpsc::Sender<Part>,
    deadline: Deadline,
) {
    let failed = |f: RemoteFailure| Part::Failed(f.message);
    let mut reader = op.reader_with(&path);
    if let Some(etag) = &etag {
        reader = reader.if_match(etag);
    }
    let stream = match deadline.on_time("download", 0, reader.into_future()).await {
        Ok(Ok(r)) => deadline.on_time("download", 0, r.into_stream(..)).await,
        Ok(Err(e)) => Ok(Err(e)),
        Err(f) => Err(f),
    };
    let mut stream = match stream {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let _ = tx.send(failed(download_failure(&e))).await;
            return;
        }
        Err(f) => {
            let _ = tx.send(failed(f)).await;
            return;
        }
    };
    let mut received = 0u64;
    loop {
        match deadline
            .next_part("download", received, stream.next())
            .await
        {
            Ok(Some(Ok(buffer))) => {
                for bytes in buffer {
                    received += bytes.len() as u64;
                    if tx.send(Part::Data(bytes)).await.is_err() {
                        return; // the reader gave up
                    }
                }
            }
            Ok(Some(Err(e))) => {
                let _ = tx.send(failed(download_failure(&e))).await;
                return;
            }
            Ok(None) => break,
            Err(f) => {
                let _ = tx.send(failed(f)).await;
                return;
            }
        }
    }
    let _ = tx.send(Part::Done).await;
}

/// A failure while the object streams; a changed object says so.
fn download_failure(e: &opendal::Error) -> RemoteFailure {
    if e.kind() == ErrorKind::ConditionNotMatch {
        return RemoteFailure {
            kind: FailureKind::Other,
            message: "download failed: the object changed during the download".into(),
        };
    }
    classify(e, "download")
}

/// Hands what is written to OpenDAL's writer in parts; OpenDAL uploads up
/// to [`PARTS_IN_FLIGHT`] at once and commits them on close (Azure blocks,
/// an S3 multipart upload), so nothing is visible until all of it is sent.
struct PartWriter {
    writer: opendal::Writer,
    rt: &'static Runtime,
    deadline: Deadline,
    buf: Vec<u8>,
    total: u64,
    failed: Option<RemoteFailure>,
}

impl PartWriter {
    fn send_part(&mut self) -> io::Result<()> {
        let part = Buffer::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PART)));
        let sent = self.rt.block_on(self.deadline.on_time(
            "upload",
            self.total,
            self.writer.write(part),
        ));
        let failure = match sent {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => classify(&e, "upload"),
            Err(f) => f,
        };
        let err = io::Error::other(TransferError(failure.message.clone()));
        self.failed = Some(failure);
        Err(err)
    }

    fn finish(mut self) -> Result<u64, RemoteFailure> {
        if !self.buf.is_empty() {
            if let Err(e) = self.send_part() {
                let failure = self.failed.take().unwrap_or(RemoteFailure {
                    kind: FailureKind::Other,
                    message: format!("upload failed: {e}"),
                });
                self.abort();
                return Err(failure);
            }
        }
        let closed = self.rt.block_on(self.deadline.on_time(
            "upload",
            self.total,
            self.writer.close(),
        ));
        match closed {
            Ok(Ok(_)) => Ok(self.total),
            Ok(Err(e)) => {
                self.abort();
                Err(classify(&e, "upload"))
            }
            Err(f) => {
                self.abort();
                Err(f)
            }
        }
    }

    /// Stops the parts in flight and drops what was sent (an S3 multipart
    /// upload is aborted; Azure forgets uncommitted blocks by itself).
    fn abort(&mut self) {
        let limit = self.deadline.at(self.total);
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout_at(limit, self.writer.abort()).await });
    }
}

impl Write for PartWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = PART - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.total += n as u64;
        if self.buf.len() == PART {
            self.send_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What failed, for a warning: the HTTP status and the service's error
/// code, or the transport's failure, never a URL (a SAS rides in its query)
/// nor a secret.
pub fn classify(e: &opendal::Error, what: &str) -> RemoteFailure {
    match http_error_of(e) {
        Some(HttpError::Answer(a)) if !is_sign_in(e) => {
            let kind = match a.status {
                401 => FailureKind::SignIn,
                403 => FailureKind::Forbidden,
                404 if CONTAINER_MISSING.contains(&a.code.as_str()) => {
                    FailureKind::ContainerNotFound
                }
                408 | 429 | 500..=599 => FailureKind::Unavailable,
                _ => FailureKind::Other,
            };
            let detail = if (300..400).contains(&a.status) {
                format!(
                    "HTTP {} (a redirect, which is never followed: a cache stays on its configured endpoint; \
                     check the endpoint in the options)",
                    a.status
                )
            } else {
                a.to_string()
            };
            RemoteFailure {
                kind,
                message: format!("{what} failed: {detail}"),
            }
        }
        Some(HttpError::Unreachable(u)) if !is_sign_in(e) => RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!("{what} failed: {u}"),
        },
        _ => {
            let kind = if is_sign_in(e) {
                FailureKind::SignIn
            } else {
                FailureKind::Other
            };
            let message = if kind == FailureKind::SignIn {
                format!(
                    "{what} failed: no credential could be had to sign the request with ({})",
                    error_text(e)
                )
            } else {
                format!("{what} failed: {}", error_text(e))
            };
            RemoteFailure { kind, message }
        }
    }
}

/// Whether the request could not be signed (no credential, or the
/// identity's sign-in failed).
fn is_sign_in(e: &opendal::Error) -> bool {
    e.message() == "signing http request"
}

/// An OpenDAL error and its causes in one line, cut short, without control
/// characters or secrets.
fn error_text(e: &opendal::Error) -> String {
    let mut text = e.message().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    redact_text(&text)
}
