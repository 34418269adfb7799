//! Azure Blob Storage: blob name = cache key, content = the tar archive.
//! Downloads stream in ranged chunks; uploads stream as staged blocks that
//! become visible only when the block list is committed.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::request_options::Metadata;
use azure_core::{RetryOptions, TransportOptions};
use azure_storage_blobs::blob::{BlobBlockType, BlockList};
use azure_storage_blobs::prelude::{BlobClient, BlockId, ClientBuilder, ContainerClient};
use bytes::Bytes;
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::connection::sdk_connection;
use super::limits::Limits;
use super::runtime::runtime;
use super::{
    ArchiveWriter, Connected, FailureKind, Lookup, Remote, RemoteBlob, RemoteFailure, TransferError,
};
use crate::cache_key::CacheKey;
use crate::config::{redact_text, AzureAuth, AzureBlobOptions, CREDENTIAL_NAMES};

/// Downloads are asked for in ranges of this size.
const CHUNK: u64 = 8 << 20;
/// Uploads are staged in blocks of this size...
const BLOCK: usize = 8 << 20;
/// ...with at most this many in flight, so memory stays near 32 MB.
const BLOCKS_IN_FLIGHT: usize = 4;

/// The blob a warm-up asks for: not a cache key (those are hashes), so
/// never an entry.
const WARM_UP_BLOB: &str = "backfill-native-warm-up";

/// The Azure Blob Storage remote of one container.
pub struct AzureBlobRemote {
    container: ContainerClient,
    name: String,
    endpoint: String,
    limits: Limits,
}

impl AzureBlobRemote {
    /// Connects (lazily: no request is made) to the container of `options`,
    /// whose connection the configuration parsed; the error says what is
    /// missing (an Azure identity's variables, say), never quoting a secret.
    pub fn new(options: &AzureBlobOptions) -> Result<Self, String> {
        let conn = sdk_connection(&options.connection)?;
        let limits = Limits::scaled(options.timeout_scale);
        // No redirect is followed: Blob Storage never sends one, and a
        // cache has no reason to leave its configured endpoint (an upload
        // that followed one gave its body to the other host).
        let http = reqwest::Client::builder()
            .connect_timeout(limits.connect)
            .read_timeout(limits.stall)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client could not be made ({e})"))?;
        let container = ClientBuilder::with_location(conn.location, conn.credentials)
            .retry(RetryOptions::custom(Arc::new(limits.retry_policy())))
            .transport(TransportOptions::new(Arc::new(http)))
            .container_client(options.container.clone());
        Ok(AzureBlobRemote {
            container,
            name: options.container.clone(),
            endpoint: options.connection.endpoint.clone(),
            limits,
        })
    }

    fn rt(&self) -> Result<&'static Runtime, RemoteFailure> {
        runtime().ok_or_else(|| RemoteFailure {
            kind: FailureKind::Other,
            message: "the remote runtime could not be started".into(),
        })
    }
}

/// The Azure remote for `options`, made once per process and shared;
/// an identity that cannot be used here is a configuration error.
pub fn connect(options: &AzureBlobOptions) -> crate::error::Result<Connected> {
    // Keyed by a digest, so no secret is kept in the key.
    let id = blake3::hash(
        format!(
            "azure-blob\n{}\n{}\n{}\n{}",
            options.connection_string.expose(),
            options.container,
            options.credential_name.as_deref().unwrap_or(""),
            options.timeout_scale
        )
        .as_bytes(),
    )
    .to_hex()
    .to_string();
    let shared = super::registry::shared(&id, || Ok(Arc::new(AzureBlobRemote::new(options)?)))
        .map_err(|why| crate::error::CacheError::Config {
            variable: "BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
            origin: "(from the provider options)".into(),
            expected: "options the azure-blob provider can connect with".into(),
            received: why,
            // The connection string was checked by the config: what fails
            // here is an identity or the HTTP client.
            fix: match options.connection.auth {
                AzureAuth::Identity(_) => format!(
                    "give the Azure identity what it needs, or name another in \"credentialName\" ({CREDENTIAL_NAMES})"
                ),
                _ => "make sure the system's TLS setup works; the options themselves were accepted".into(),
            },
        })?;
    Ok(Connected {
        shared,
        max_size: options.max_size,
        signing_key: options.signing_key.as_ref().map(|k| k.expose().to_string()),
    })
}

impl Remote for AzureBlobRemote {
    fn describe(&self) -> String {
        format!("azure-blob container '{}' at {}", self.name, self.endpoint)
    }

    /// Asks for the properties of a blob no entry has (a miss, 404): the
    /// client's pool keeps the connection it opened, and the credentials
    /// keep the token they got. Bounded by the connect time limit and one
    /// stall, so a remote that does not answer is not waited on for long.
    fn warm_up(&self) {
        let Some(rt) = runtime() else { return };
        let blob = self.container.blob_client(WARM_UP_BLOB);
        let limit = self.limits.connect + self.limits.stall;
        rt.spawn(async move {
            let _ = tokio::time::timeout(limit, blob.get_properties().into_future()).await;
        });
    }

    fn open(&self, key: &CacheKey, max_size: Option<u64>) -> Result<Lookup, RemoteFailure> {
        let rt = self.rt()?;
        let mut deadline = Deadline {
            start: Instant::now(),
            limits: self.limits,
            expected: 0,
        };
        let blob = self.container.blob_client(key.as_str());
        if let Some(max) = max_size {
            // Ask for the size first, so a blob over maxSize is not downloaded.
            let head = rt.block_on(on_time(deadline.at(0), blob.get_properties().into_future()));
            match head {
                Ok(Ok(p)) if p.blob.properties.content_length > max => {
                    return Ok(Lookup::TooLarge(p.blob.properties.content_length))
                }
                Ok(Ok(p)) => deadline.expected = p.blob.properties.content_length,
                Ok(Err(e)) => return missing_or_failure(&e),
                Err(_) => return Err(deadline.cut("download", 0)),
            }
        }
        let (tx, rx) = mpsc::channel::<Msg>(16);
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        rt.spawn(download(blob, tx, first_tx, deadline));
        match rt.block_on(first_rx) {
            Ok(Ok(First { size, metadata })) => Ok(Lookup::Found(RemoteBlob {
                size,
                metadata,
                body: Box::new(ChannelReader {
                    rx: Some(rx),
                    buf: Bytes::new(),
                }),
            })),
            // A zero-byte blob cannot be read by range (416). Neither writer
            // makes one (an empty entry is a 1024-byte tar), so it is not a
            // hit: restoring nothing would skip a build whose outputs are gone.
            Ok(Err(FirstError::Azure(e))) if status_of(&e).is_some_and(|(s, _)| s == 416) => {
                Err(RemoteFailure {
                    kind: FailureKind::Other,
                    message: format!(
                        "download failed: the blob for {} is empty, not a tar archive",
                        key.as_str()
                    ),
                })
            }
            Ok(Err(FirstError::Azure(e))) => missing_or_failure(&e),
            Ok(Err(FirstError::Cut(f))) => Err(f),
            Err(_) => Err(RemoteFailure {
                kind: FailureKind::Unavailable,
                message: "download failed: the transfer stopped before its first byte".into(),
            }),
        }
    }

    fn upload(
        &self,
        key: &CacheKey,
        size: u64,
        write: &mut ArchiveWriter<'_>,
    ) -> Result<u64, RemoteFailure> {
        let rt = self.rt()?;
        let deadline = Deadline {
            start: Instant::now(),
            limits: self.limits,
            expected: size,
        };
        let mut w = BlockWriter {
            blob: self.container.blob_client(key.as_str()),
            rt,
            deadline,
            buf: Vec::with_capacity(BLOCK),
            blocks: Vec::new(),
            in_flight: VecDeque::new(),
            total: 0,
            failed: None,
            id_prefix: unique_prefix(),
        };
        let mut metadata = HashMap::new();
        if let Err(e) = write(&mut w, &mut metadata) {
            return Err(w.failed.take().unwrap_or(RemoteFailure {
                kind: FailureKind::Other,
                message: format!("upload failed: {e}"),
            }));
        }
        w.finish(metadata)
    }
}

/// The overall deadline of one transfer: from `start`, the base plus time in
/// proportion to the larger of the size expected and the bytes moved so far.
#[derive(Clone, Copy)]
struct Deadline {
    start: Instant,
    limits: Limits,
    expected: u64,
}

impl Deadline {
    /// When the transfer must be over, `bytes` having been moved.
    fn at(&self, bytes: u64) -> Instant {
        self.start + self.allowed(bytes)
    }

    fn allowed(&self, bytes: u64) -> Duration {
        self.limits.deadline_for(self.expected.max(bytes))
    }

    /// The failure of a transfer cut at its deadline.
    fn cut(&self, what: &str, bytes: u64) -> RemoteFailure {
        RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!(
                "{what} failed: cut at its deadline of {:.1} s (for {} bytes), the remote is too slow",
                self.allowed(bytes).as_secs_f64(),
                self.expected.max(bytes)
            ),
        }
    }
}

struct First {
    size: Option<u64>,
    metadata: HashMap<String, String>,
}

/// Why a download gave no first response.
enum FirstError {
    /// The request failed (after retries).
    Azure(azure_core::Error),
    /// It stalled or ran out of time.
    Cut(RemoteFailure),
}

enum Msg {
    Data(Bytes),
    Failed(String),
    Done,
}

/// `f` unless `end` comes first. The timer is made inside the future: made
/// outside a runtime, it would panic.
async fn on_time<F: std::future::Future>(
    end: Instant,
    f: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout_at(end, f).await
}

/// Waits for `f` until the stall timer or the deadline, whichever is first.
async fn within<F: std::future::Future>(
    deadline: &Deadline,
    bytes: u64,
    f: F,
) -> Result<F::Output, RemoteFailure> {
    let end = deadline.at(bytes);
    let stalled = Instant::now() + deadline.limits.stall;
    match tokio::time::timeout_at(end.min(stalled), f).await {
        Ok(v) => Ok(v),
        Err(_) if Instant::now() >= end => Err(deadline.cut("download", bytes)),
        Err(_) => Err(RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!(
                "download failed: stalled, no byte for {:.1} s",
                deadline.limits.stall.as_secs_f64()
            ),
        }),
    }
}

/// Pulls the blob range by range and hands the bytes over; the first
/// response (or error) goes to `first`, so a miss is known before reading.
async fn download(
    blob: BlobClient,
    tx: mpsc::Sender<Msg>,
    first: tokio::sync::oneshot::Sender<Result<First, FirstError>>,
    mut deadline: Deadline,
) {
    let mut pages = blob.get().chunk_size(CHUNK).into_stream();
    let mut first = Some(first);
    let mut etag = None;
    let mut received = 0u64;
    loop {
        let page = match within(&deadline, received, pages.next()).await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(f) => {
                match first.take() {
                    Some(first) => {
                        let _ = first.send(Err(FirstError::Cut(f)));
                    }
                    None => {
                        let _ = tx.send(Msg::Failed(f.message)).await;
                    }
                }
                return;
            }
        };
        let response = match page {
            Ok(r) => r,
            Err(e) => {
                match first.take() {
                    Some(f) => {
                        let _ = f.send(Err(FirstError::Azure(e)));
                    }
                    None => {
                        let _ = tx.send(Msg::Failed(classify(&e, "download").message)).await;
                    }
                }
                return;
            }
        };
        // Every range must come from the same blob: one overwritten during
        // the download would otherwise be read half old, half new.
        let this = response.blob.properties.etag.to_string();
        match &etag {
            None => etag = Some(this),
            Some(e) if *e != this => {
                let _ = tx
                    .send(Msg::Failed("the blob changed during the download".into()))
                    .await;
                return;
            }
            Some(_) => {}
        }
        if let Some(f) = first.take() {
            let size = response
                .remaining_range
                .is_none()
                .then_some(response.blob.properties.content_length);
            deadline.expected = deadline
                .expected
                .max(response.blob.properties.content_length);
            let metadata = response.blob.metadata.clone().unwrap_or_default();
            if f.send(Ok(First { size, metadata })).is_err() {
                return;
            }
        }
        let mut body = response.data;
        loop {
            match within(&deadline, received, body.next()).await {
                Ok(Some(Ok(bytes))) => {
                    received += bytes.len() as u64;
                    if tx.send(Msg::Data(bytes)).await.is_err() {
                        return; // the reader gave up
                    }
                }
                Ok(Some(Err(e))) => {
                    let _ = tx.send(Msg::Failed(classify(&e, "download").message)).await;
                    return;
                }
                Ok(None) => break,
                Err(f) => {
                    let _ = tx.send(Msg::Failed(f.message)).await;
                    return;
                }
            }
        }
    }
    let _ = tx.send(Msg::Done).await;
}

/// The bytes of a download as a blocking reader; a download that ends
/// without saying it is done is an error, never a short file.
struct ChannelReader {
    rx: Option<mpsc::Receiver<Msg>>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            let Some(rx) = self.rx.as_mut() else {
                return Ok(0);
            };
            match rx.blocking_recv() {
                Some(Msg::Data(b)) => self.buf = b,
                Some(Msg::Done) => {
                    self.rx = None;
                    return Ok(0);
                }
                Some(Msg::Failed(why)) => return Err(io::Error::other(why)),
                None => return Err(io::Error::other("download ended early")),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}

/// Stages what is written as blocks, a few at a time.
struct BlockWriter {
    blob: BlobClient,
    rt: &'static Runtime,
    deadline: Deadline,
    buf: Vec<u8>,
    blocks: Vec<BlockId>,
    in_flight: VecDeque<JoinHandle<azure_core::Result<()>>>,
    total: u64,
    failed: Option<RemoteFailure>,
    /// Uncommitted blocks of the same id replace each other, so two
    /// machines uploading the same hash at once must not share ids.
    id_prefix: String,
}

/// 16 hex digits unique to this upload.
fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{}-{:?}-{:?}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now(),
        std::thread::current().id()
    );
    blake3::hash(seed.as_bytes()).to_hex()[..16].to_string()
}

impl BlockWriter {
    fn stage(&mut self) -> io::Result<()> {
        let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK)));
        let id = BlockId::new(Bytes::from(format!(
            "{}{:08}",
            self.id_prefix,
            self.blocks.len()
        )));
        self.blocks.push(id.clone());
        let blob = self.blob.clone();
        self.in_flight.push_back(
            self.rt
                .spawn(async move { blob.put_block(id, data).await.map(|_| ()) }),
        );
        while self.in_flight.len() >= BLOCKS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> io::Result<()> {
        let Some(handle) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let failure = match self
            .rt
            .block_on(on_time(self.deadline.at(self.total), handle))
        {
            Ok(Ok(Ok(()))) => return Ok(()),
            Ok(Ok(Err(e))) => classify(&e, "upload"),
            Ok(Err(e)) => RemoteFailure {
                kind: FailureKind::Other,
                message: format!("upload failed: {e}"),
            },
            Err(_) => self.deadline.cut("upload", self.total),
        };
        let err = io::Error::other(TransferError(failure.message.clone()));
        self.failed = Some(failure);
        Err(err)
    }

    fn finish(mut self, metadata: HashMap<String, String>) -> Result<u64, RemoteFailure> {
        let mut meta = Metadata::new();
        for (k, v) in metadata {
            meta.insert(k, v);
        }
        let fail = |w: &mut BlockWriter, e: io::Error| {
            w.failed.take().unwrap_or(RemoteFailure {
                kind: FailureKind::Other,
                message: format!("upload failed: {e}"),
            })
        };
        if self.blocks.is_empty() {
            // Small archive: one request.
            let body = Bytes::from(std::mem::take(&mut self.buf));
            let len = body.len() as u64;
            let put = self.blob.put_block_blob(body).metadata(meta).into_future();
            return self.within(put).map(|_| len);
        }
        if !self.buf.is_empty() {
            if let Err(e) = self.stage() {
                return Err(fail(&mut self, e));
            }
        }
        while !self.in_flight.is_empty() {
            if let Err(e) = self.wait_oldest() {
                return Err(fail(&mut self, e));
            }
        }
        let list = BlockList {
            blocks: self
                .blocks
                .drain(..)
                .map(BlobBlockType::new_uncommitted)
                .collect(),
        };
        let commit = self.blob.put_block_list(list).metadata(meta).into_future();
        self.within(commit).map(|_| self.total)
    }

    /// Waits for a request until the upload's deadline.
    fn within<T>(
        &self,
        request: impl std::future::Future<Output = azure_core::Result<T>>,
    ) -> Result<T, RemoteFailure> {
        match self
            .rt
            .block_on(on_time(self.deadline.at(self.total), request))
        {
            Ok(r) => r.map_err(|e| classify(&e, "upload")),
            Err(_) => Err(self.deadline.cut("upload", self.total)),
        }
    }
}

impl Drop for BlockWriter {
    /// A failed upload stops the blocks still in flight.
    fn drop(&mut self) {
        for handle in &self.in_flight {
            handle.abort();
        }
    }
}

impl Write for BlockWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.total += n as u64;
        if self.buf.len() == BLOCK {
            self.stage()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A missing blob is a miss; anything else, a missing container included,
/// is a failure to report.
fn missing_or_failure(e: &azure_core::Error) -> Result<Lookup, RemoteFailure> {
    match status_of(e) {
        Some((404, code)) if code != "ContainerNotFound" => Ok(Lookup::Miss),
        _ => Err(classify(e, "download")),
    }
}

fn status_of(e: &azure_core::Error) -> Option<(u16, String)> {
    match e.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            Some((u16::from(*status), error_code.clone().unwrap_or_default()))
        }
        _ => None,
    }
}

/// What failed, for a warning: the HTTP status and Azure error code, or the
/// transport error with any URL query (which may hold a SAS) removed.
fn classify(e: &azure_core::Error, what: &str) -> RemoteFailure {
    if let Some((status, code)) = status_of(e) {
        let kind = match status {
            403 => FailureKind::Forbidden,
            404 if code == "ContainerNotFound" => FailureKind::ContainerNotFound,
            408 | 429 | 500..=599 => FailureKind::Unavailable,
            _ => FailureKind::Other,
        };
        let code = if (300..400).contains(&status) {
            " (a redirect, which is never followed: a cache stays on its configured endpoint; \
             check the endpoint in the connection string)"
                .to_string()
        } else if code.is_empty() {
            String::new()
        } else {
            format!(" {code}")
        };
        return RemoteFailure {
            kind,
            message: format!("{what} failed: HTTP {status}{code}"),
        };
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    let kind = match e.kind() {
        ErrorKind::Io => FailureKind::Unavailable,
        ErrorKind::Credential => FailureKind::SignIn,
        _ if text.contains("bearer token") => FailureKind::SignIn,
        _ => FailureKind::Other,
    };
    RemoteFailure {
        kind,
        message: format!("{what} failed: {}", redact_text(&text)),
    }
}
