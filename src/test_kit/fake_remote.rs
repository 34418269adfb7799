//! One configurable fake remote, for the faults no real server produces on
//! demand (a cut stream, tampered metadata, a blob that grew).

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::cache_key::CacheKey;
use crate::remote::signature::{DIGEST_KEY, ENTRY_KEY};
use crate::remote::{ArchiveWriter, FailureKind, Lookup, Remote, RemoteBlob, RemoteFailure};

/// What the fake remote does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Every blob is missing (404).
    NotFound,
    /// The credentials may not do this (403).
    Forbidden,
    /// The service is down or throttling, after the retries (503).
    Unavailable,
    /// The connection drops after this many bytes of a download.
    CutAfter(usize),
    /// The digest in the metadata is not the blob's.
    TamperedMetadata,
    /// The body trickles, then the transfer hits its deadline.
    PastDeadline,
    /// An upload's bytes are asked for only once the wall clock's second
    /// has changed (a remote slow to accept them), so the upload's signing
    /// and its sending fall in different seconds.
    NextSecond,
}

/// A blob's bytes and metadata.
pub(crate) type Blob = (Vec<u8>, HashMap<String, String>);

/// A remote in memory that can be told to fail; it counts requests and
/// warm-ups. Every engine and transfer test of a remote's policy goes
/// through it; each real remote is driven through the same round-trip
/// table against its real server (`__test__/`).
pub(crate) struct FakeRemote {
    pub blobs: Mutex<HashMap<String, Blob>>,
    fault: Mutex<Fault>,
    /// Whether a blob's size is withheld, as from a remote whose size
    /// check (HEAD) was passed by a smaller, older blob.
    hide_size: AtomicBool,
    requests: AtomicUsize,
    warm_ups: AtomicUsize,
}

impl FakeRemote {
    pub fn new() -> Arc<FakeRemote> {
        Arc::new(FakeRemote {
            blobs: Mutex::default(),
            fault: Mutex::new(Fault::None),
            hide_size: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            warm_ups: AtomicUsize::new(0),
        })
    }

    /// Makes every later request fail as `fault` says.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Withholds (or gives again) the size of the blobs it serves.
    pub fn hide_size(&self, hide: bool) {
        self.hide_size.store(hide, Ordering::SeqCst);
    }

    /// Stores `bytes` as the blob of `key`, with no metadata.
    pub fn insert(&self, key: &str, bytes: Vec<u8>) {
        self.blobs
            .lock()
            .unwrap()
            .insert(key.to_string(), (bytes, HashMap::new()));
    }

    /// Requests (opens and uploads) so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Warm-ups so far.
    pub fn warm_ups(&self) -> usize {
        self.warm_ups.load(Ordering::SeqCst)
    }

    fn failure(&self, what: &str) -> Option<RemoteFailure> {
        let (kind, status) = match *self.fault.lock().unwrap() {
            Fault::Forbidden => (
                FailureKind::Forbidden,
                "403 AuthorizationPermissionMismatch",
            ),
            Fault::Unavailable => (FailureKind::Unavailable, "503 ServerBusy"),
            _ => return None,
        };
        Some(RemoteFailure {
            kind,
            message: format!("{what} failed: HTTP {status}"),
        })
    }
}

/// Yields `bytes`, then fails as the fault says.
struct Body {
    bytes: io::Cursor<Vec<u8>>,
    fail_after: Option<(usize, io::ErrorKind, &'static str)>,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((after, kind, why)) = self.fail_after {
            if self.bytes.position() as usize >= after {
                return Err(io::Error::new(kind, why));
            }
            let room = (after - self.bytes.position() as usize).min(buf.len());
            return self.bytes.read(&mut buf[..room]);
        }
        self.bytes.read(buf)
    }
}

impl Remote for FakeRemote {
    fn describe(&self) -> String {
        "fake remote".into()
    }

    fn warm_up(&self) {
        self.warm_ups.fetch_add(1, Ordering::SeqCst);
    }

    fn open(&self, key: &CacheKey, max_size: Option<u64>) -> Result<Lookup, RemoteFailure> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = self.failure("download") {
            return Err(f);
        }
        let fault = *self.fault.lock().unwrap();
        if fault == Fault::NotFound {
            return Ok(Lookup::Miss);
        }
        let Some((bytes, mut metadata)) = self.blobs.lock().unwrap().get(key.as_str()).cloned()
        else {
            return Ok(Lookup::Miss);
        };
        let known = !self.hide_size.load(Ordering::SeqCst);
        if known && max_size.is_some_and(|m| bytes.len() as u64 > m) {
            return Ok(Lookup::TooLarge(bytes.len() as u64));
        }
        if fault == Fault::TamperedMetadata {
            // Whichever digest the blob carries (this version's or an
            // earlier one's).
            let key = if metadata.contains_key(ENTRY_KEY) {
                ENTRY_KEY
            } else {
                DIGEST_KEY
            };
            metadata.insert(key.into(), "0".repeat(64));
        }
        let fail_after = match fault {
            Fault::CutAfter(n) => Some((n, io::ErrorKind::ConnectionReset, "connection reset")),
            Fault::PastDeadline => Some((
                700,
                io::ErrorKind::TimedOut,
                "download failed: it did not finish within its deadline",
            )),
            _ => None,
        };
        let size = (!self.hide_size.load(Ordering::SeqCst)).then_some(bytes.len() as u64);
        Ok(Lookup::Found(RemoteBlob {
            size,
            metadata,
            body: Box::new(Body {
                bytes: io::Cursor::new(bytes),
                fail_after,
            }),
        }))
    }

    fn upload(
        &self,
        key: &CacheKey,
        _size: u64,
        metadata: &HashMap<String, String>,
        write: &mut ArchiveWriter<'_>,
    ) -> Result<u64, RemoteFailure> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(f) = self.failure("upload") {
            return Err(f);
        }
        if *self.fault.lock().unwrap() == Fault::NextSecond {
            let second = |t: std::time::SystemTime| {
                t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            };
            let called = second(std::time::SystemTime::now());
            while second(std::time::SystemTime::now()) == called {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let mut bytes = Vec::new();
        let metadata = metadata.clone();
        write(&mut bytes).map_err(|e| RemoteFailure {
            kind: FailureKind::Other,
            message: format!("upload failed: {e}"),
        })?;
        let len = bytes.len() as u64;
        self.blobs
            .lock()
            .unwrap()
            .insert(key.as_str().to_string(), (bytes, metadata));
        Ok(len)
    }
}
