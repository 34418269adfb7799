//! A turborepo-protocol cache server (turborepo-remote-cache, Vercel Remote
//! Cache, or any server of turbo's artifacts API): one artifact per cache
//! key at `<apiUrl>/v8/artifacts/<key>?teamId=..&slug=..`, whose bytes are
//! backfill-native's own tar archive (the same bytes as an Azure blob).
//!
//! `GET` streams the artifact (404: a miss), `PUT` uploads it with a bearer
//! token, and `HEAD` of a name no entry has warms the connection up. The
//! blob metadata (the entry digest, and its MAC with a signing key) travels
//! in the artifact's tag header, `x-artifact-tag`, as
//! [`ENTRY_TAG_VERSION`]`:<digest>[:<mac>]` (lower-case hex, 64 digits
//! each). Tags of earlier versions are still read: `bfn1:<digest>` and
//! `bfn2:<digest>:<mac>` (of the blob's bytes), and `bfn1:<digest>:<mac>`,
//! the oldest signature, which is refused with a signing key (see
//! `signature.rs`); a server that
//! drops the tag gives no metadata, so a build with a signing key refuses
//! its artifacts (`transfer/download.rs` checks as for Azure).
//!
//! The `GET` and `HEAD` go through the bounded client of `http.rs` (its
//! retries, capped `Retry-After`, capped error bodies). The `PUT` streams
//! the archive as one request body, which that client's in-memory requests
//! cannot carry: it is sent by that client's streaming side (the same
//! connections and bounds: connect, stall, no redirect), is not retried,
//! and its error answers are not read.
//!
//! The artifact's size decides nothing before the transfer: a `GET` answer
//! claiming more than `maxSize` is dropped unread (a `HEAD` first would cost
//! a second request, and turborepo-remote-cache's `HEAD` gives no size),
//! and a download that goes on past `maxSize` is cut by the transfer.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use super::download_stream::{self, Part};
use super::http::{Http, HttpAnswer, HttpError};
use super::limits::{Deadline, Limits, DEFAULT_MAX_SIZE};
use super::runtime::{runtime, runtime_or_failure};
use super::signature::{DIGEST_KEY, ENTRY_KEY, ENTRY_MAC_KEY, MAC_KEY, OLD_MAC_KEY};
use super::{
    ArchiveWriter, Connected, FailureKind, Lookup, Remote, RemoteBlob, RemoteFailure, TransferError,
};
use crate::cache_key::CacheKey;
use crate::config::{redact_text, TurborepoOptions};

/// The version prefix of the artifact tag backfill-native writes.
pub const TAG_VERSION: &str = "bfn1";
/// The version prefix of a signed artifact's tag (the signature covers the
/// artifact's hash, see `signature.rs`).
pub const SIGNED_TAG_VERSION: &str = "bfn2";

/// The tag of this version: the entry digest, and with a signing key its
/// MAC (`bfn3:<digest>[:<mac>]`).
pub const ENTRY_TAG_VERSION: &str = "bfn3";
/// The header carrying the artifact's tag.
const TAG_HEADER: &str = "x-artifact-tag";
/// Uploads are handed to the HTTP client in chunks of this size...
const CHUNK: usize = 1 << 20;
/// ...with at most this many waiting, so memory stays near 5 MB.
const CHUNKS_IN_FLIGHT: usize = 4;
/// An upload whose connection the server closed before taking the body:
/// a server refusing it early (turborepo-remote-cache's 413 over its body
/// limit) may close it before its answer can be read.
const CLOSED_EARLY: &str =
    "upload failed: the server closed the connection before taking the whole artifact \
     (it may refuse artifacts this large: its body limit)";
/// The artifact a warm-up asks for: not a cache key (those are hashes),
/// so never an entry.
const WARM_UP_ARTIFACT: &str = "backfill-native-warm-up";

/// The remote of one team on one turborepo-protocol server.
pub struct TurborepoRemote {
    http: Http,
    /// The client of the streamed `PUT`: `http`'s own (its bounds, its
    /// pooled connections, no redirect), without its retries.
    upload_client: reqwest::Client,
    api_url: String,
    token: crate::config::Secret,
    team_id: Option<String>,
    team_slug: Option<String>,
    limits: Limits,
}

impl TurborepoRemote {
    /// A client for the server of `options` (no request is made); fails
    /// only when the HTTP client cannot be made (the system's TLS setup).
    pub fn new(options: &TurborepoOptions) -> Result<Self, String> {
        let limits = Limits::scaled(options.timeout_scale);
        let http = Http::new(&limits)?;
        Ok(TurborepoRemote {
            upload_client: http.streaming_client(),
            http,
            api_url: options.api_url.clone(),
            token: options.token.clone(),
            team_id: options.team_id.clone(),
            team_slug: options.team_slug.clone(),
            limits,
        })
    }

    /// `<apiUrl>/v8/artifacts/<name>?teamId=..&slug=..`, the name one
    /// percent-encoded path segment.
    fn url(&self, name: &str) -> Result<reqwest::Url, RemoteFailure> {
        let bad = || RemoteFailure {
            kind: FailureKind::Other,
            message: "the artifact URL could not be made from apiUrl".into(),
        };
        let mut url = reqwest::Url::parse(&self.api_url).map_err(|_| bad())?;
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .extend(["v8", "artifacts", name]);
        if self.team_id.is_some() || self.team_slug.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(id) = &self.team_id {
                query.append_pair("teamId", id);
            }
            if let Some(slug) = &self.team_slug {
                query.append_pair("slug", slug);
            }
        }
        Ok(url)
    }

    /// The bearer token's header, marked sensitive (never in a debug
    /// print); the configuration checked it is a valid header value.
    fn auth(&self) -> Result<HeaderValue, RemoteFailure> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                RemoteFailure {
                    kind: FailureKind::SignIn,
                    message: "the token cannot be sent in a header".into(),
                }
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// A bodiless request for `name` through the bounded client.
    fn request(&self, method: Method, name: &str) -> Result<http::Request<Bytes>, RemoteFailure> {
        let url = self.url(name)?;
        let mut request = http::Request::new(Bytes::new());
        *request.method_mut() = method;
        *request.uri_mut() = url.as_str().parse().map_err(|_| RemoteFailure {
            kind: FailureKind::Other,
            message: "the artifact URL could not be made from apiUrl".into(),
        })?;
        request.headers_mut().insert(AUTHORIZATION, self.auth()?);
        Ok(request)
    }
}

/// The turborepo remote for `options`, made once per process and shared.
pub fn connect(options: &TurborepoOptions) -> crate::error::Result<Connected> {
    // Keyed by a digest, so no secret is kept in the key.
    let id = blake3::hash(
        format!(
            "turborepo\n{}\n{}\n{}\n{}\n{}",
            options.api_url,
            options.token.expose(),
            options.team_id.as_deref().unwrap_or(""),
            options.team_slug.as_deref().unwrap_or(""),
            options.timeout_scale
        )
        .as_bytes(),
    )
    .to_hex()
    .to_string();
    let shared = super::registry::shared(&id, || Ok(Arc::new(TurborepoRemote::new(options)?)))
        .map_err(|why| crate::error::CacheError::Config {
            variable: "BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
            origin: "(from the provider options)".into(),
            expected: "options the turborepo provider can connect with".into(),
            received: why,
            fix: "make sure the system's TLS setup works; the options themselves were accepted"
                .into(),
        })?;
    Ok(Connected {
        shared,
        max_size: Some(options.max_size.unwrap_or(DEFAULT_MAX_SIZE)),
        signing_key: options.signing_key.as_ref().map(|k| k.expose().to_string()),
    })
}

impl Remote for TurborepoRemote {
    fn describe(&self) -> String {
        let team = match (&self.team_id, &self.team_slug) {
            (Some(id), _) => format!(" team '{id}'"),
            (None, Some(slug)) => format!(" team '{slug}'"),
            (None, None) => String::new(),
        };
        format!("turborepo server {}{team}", self.api_url)
    }

    /// Asks whether an artifact no entry has exists (a 404): the client's
    /// pool keeps the connection it opened. Bounded by the connect time
    /// limit and one stall.
    fn warm_up(&self) {
        let (Some(rt), Ok(request)) = (runtime(), self.request(Method::HEAD, WARM_UP_ARTIFACT))
        else {
            return;
        };
        let http = self.http.clone();
        let limit = self.limits.connect + self.limits.stall;
        rt.spawn(async move {
            let _ = tokio::time::timeout(limit, http.send(request)).await;
        });
    }

    fn open(&self, key: &CacheKey, max_size: Option<u64>) -> Result<Lookup, RemoteFailure> {
        let rt = runtime_or_failure()?;
        let request = self.request(Method::GET, key.as_str())?;
        // The deadline grows only with bytes that arrive, never with the
        // size the server claims.
        let deadline = Deadline::download(self.limits);
        let answer = rt.block_on(deadline.on_time("download", 0, self.http.send(request)))?;
        let response = match answer {
            Ok(response) => response,
            Err(HttpError::Answer(a)) if a.status == 404 => {
                // A slow "not found" counts toward the switch-off.
                return deadline.slow_miss().map_or(Ok(Lookup::Miss), Err);
            }
            Err(e) => return Err(failure(&e, "download")),
        };
        let size = response.content_length();
        if let (Some(max), Some(size)) = (max_size, size) {
            if size > max {
                // Dropped unread: the connection is closed, not drained.
                return Ok(Lookup::TooLarge(size));
            }
        }
        let metadata = tag_metadata(response.headers().get(TAG_HEADER));
        let (tx, reader) = download_stream::channel();
        rt.spawn(pump(response, tx, deadline));
        Ok(Lookup::Found(RemoteBlob {
            size,
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
        let (url, auth) = (self.url(key.as_str())?, self.auth()?);
        let tag = HeaderValue::from_str(&encode_tag(metadata)).map_err(|_| RemoteFailure {
            kind: FailureKind::Other,
            message: "upload failed: the artifact tag cannot be sent".into(),
        })?;
        let deadline = Deadline::upload(self.limits, size);
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let request = self
            .upload_client
            .put(url)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .header(TAG_HEADER, tag)
            .body(reqwest::Body::wrap_stream(body));
        // Sent from inside the runtime: reqwest's timers need it (made on
        // the caller's thread, the request panicked).
        let handle = rt.spawn(async move { request.send().await });
        let mut w = BodyWriter {
            tx: Some(tx),
            rt,
            buf: Vec::with_capacity(CHUNK),
            deadline,
            total: 0,
        };
        let written = write(&mut w).and_then(|()| w.send_buffered());
        let total = w.total;
        if let Err(e) = written {
            // A body that ends in an error never completes the request: the
            // server stores nothing. When the server ended the request
            // first (a refused token, say), its answer says more.
            w.abort();
            drop(w);
            let answered = rt.block_on(async {
                match deadline.next_part("upload", total, handle).await {
                    Ok(Ok(Ok(response))) if !response.status().is_success() => {
                        Some(answer_failure(response.status().as_u16(), "", "upload"))
                    }
                    Ok(Ok(Err(e))) => Some(put_failure(&e)),
                    _ => None,
                }
            });
            let remote = e.get_ref().is_some_and(|inner| inner.is::<TransferError>());
            return Err(answered.unwrap_or_else(|| RemoteFailure {
                kind: if remote {
                    FailureKind::Unavailable
                } else {
                    FailureKind::Other
                },
                message: if remote {
                    e.to_string()
                } else {
                    format!("upload failed: {e}")
                },
            }));
        }
        // The end of the body.
        drop(w);
        rt.block_on(async {
            match deadline.on_time("upload", total, handle).await? {
                Err(e) => Err(RemoteFailure {
                    kind: FailureKind::Other,
                    message: format!("upload failed: {e}"),
                }),
                Ok(Err(e)) => Err(put_failure(&e)),
                // The answer's body is not read: its status says enough.
                Ok(Ok(response)) if response.status().is_success() => Ok(total),
                Ok(Ok(response)) => Err(answer_failure(response.status().as_u16(), "", "upload")),
            }
        })
    }
}

/// What a failed request says: the answer's status (and its error code,
/// when it has one) with what it means from a cache server, or why no
/// answer came.
fn failure(e: &HttpError, what: &str) -> RemoteFailure {
    match e {
        HttpError::Answer(HttpAnswer { status, code }) => answer_failure(*status, code, what),
        HttpError::Unreachable(why) => RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!("{what} failed: {why}"),
        },
    }
}

/// The failure an answer other than 2xx and 404 stands for.
fn answer_failure(status: u16, code: &str, what: &str) -> RemoteFailure {
    let kind = match status {
        401 => FailureKind::SignIn,
        403 => FailureKind::Forbidden,
        408 | 429 | 500..=599 => FailureKind::Unavailable,
        _ => FailureKind::Other,
    };
    let meaning = match status {
        300..=399 => " (a redirect, which is never followed: a cache stays on its configured server; check apiUrl or TURBO_API)",
        401 => ", the server does not accept the token",
        403 => ", the token may not do this (a read-only token or server)",
        413 => ", the artifact is larger than the server accepts (its body limit); set maxSize below it",
        _ => "",
    };
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    };
    RemoteFailure {
        kind,
        message: format!("{what} failed: HTTP {status}{code}{meaning}"),
    }
}

/// Why a `PUT` got no answer.
fn put_failure(e: &reqwest::Error) -> RemoteFailure {
    RemoteFailure {
        kind: FailureKind::Unavailable,
        message: if e.is_connect() {
            format!("upload failed: could not connect ({})", cause(e))
        } else if e.is_timeout() {
            format!("upload failed: timed out ({})", cause(e))
        } else {
            CLOSED_EARLY.to_string()
        },
    }
}

/// A transport error's causes in one line, without its URL, through the
/// redaction rule.
fn cause(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_text(&text)
}

/// The tag of an artifact with `metadata`: `bfn3:<digest>[:<mac>]` for
/// this version's; an earlier version's `bfn1:<digest>` or
/// `bfn2:<digest>:<mac>` (tests make those).
pub fn encode_tag(metadata: &HashMap<String, String>) -> String {
    let (version, keys) = if metadata.contains_key(ENTRY_KEY) {
        (ENTRY_TAG_VERSION, [ENTRY_KEY, ENTRY_MAC_KEY])
    } else if metadata.contains_key(MAC_KEY) {
        (SIGNED_TAG_VERSION, [DIGEST_KEY, MAC_KEY])
    } else {
        (TAG_VERSION, [DIGEST_KEY, MAC_KEY])
    };
    let mut tag = version.to_string();
    for key in keys {
        if let Some(value) = metadata.get(key) {
            tag.push(':');
            tag.push_str(value);
        }
    }
    tag
}

/// The blob metadata an artifact's tag carries. No tag, or one that is not
/// backfill-native's (turbo's own signature, say), gives none; a tag that
/// says it is ours but does not read as one gives a digest nothing
/// matches, so the artifact is refused as corrupt.
pub fn tag_metadata(tag: Option<&HeaderValue>) -> HashMap<String, String> {
    let mut metadata = HashMap::new();
    let Some(text) = tag.map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned()) else {
        return metadata;
    };
    if !text.starts_with("bfn") {
        return metadata;
    }
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        [TAG_VERSION, digest] if hex(digest) => {
            metadata.insert(DIGEST_KEY.to_string(), digest.to_string());
        }
        [TAG_VERSION, digest, mac] if hex(digest) && hex(mac) => {
            metadata.insert(DIGEST_KEY.to_string(), digest.to_string());
            metadata.insert(OLD_MAC_KEY.to_string(), mac.to_string());
        }
        [SIGNED_TAG_VERSION, digest, mac] if hex(digest) && hex(mac) => {
            metadata.insert(DIGEST_KEY.to_string(), digest.to_string());
            metadata.insert(MAC_KEY.to_string(), mac.to_string());
        }
        [ENTRY_TAG_VERSION, digest] if hex(digest) => {
            metadata.insert(ENTRY_KEY.to_string(), digest.to_string());
        }
        [ENTRY_TAG_VERSION, digest, mac] if hex(digest) && hex(mac) => {
            metadata.insert(ENTRY_KEY.to_string(), digest.to_string());
            metadata.insert(ENTRY_MAC_KEY.to_string(), mac.to_string());
        }
        _ => {
            metadata.insert(DIGEST_KEY.to_string(), "an unreadable tag".to_string());
        }
    }
    metadata
}

/// Hands a download's body over as it arrives, within the stall time and
/// the deadline (which grows only with bytes that arrived).
async fn pump(mut response: reqwest::Response, tx: mpsc::Sender<Part>, deadline: Deadline) {
    let mut received = 0u64;
    loop {
        let msg = match deadline
            .next_part("download", received, response.chunk())
            .await
        {
            Ok(Ok(Some(bytes))) => {
                received += bytes.len() as u64;
                Part::Data(bytes)
            }
            Ok(Ok(None)) => Part::Done,
            Ok(Err(e)) => Part::Failed(format!(
                "download failed: the answer was cut ({})",
                redact_text(&e.without_url().to_string())
            )),
            Err(f) => Part::Failed(f.message),
        };
        let last = !matches!(msg, Part::Data(_));
        if tx.send(msg).await.is_err() || last {
            return; // the reader gave up, or the body is over
        }
    }
}

/// Feeds an upload's body to the request in chunks, each handed over
/// within the stall time and the deadline.
struct BodyWriter {
    tx: Option<mpsc::Sender<io::Result<Bytes>>>,
    rt: &'static Runtime,
    buf: Vec<u8>,
    deadline: Deadline,
    total: u64,
}

impl BodyWriter {
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        let Some(tx) = self.tx.as_ref() else {
            return Err(io::Error::other(TransferError(
                "upload failed: the upload was stopped".into(),
            )));
        };
        let sent = self.rt.block_on(self.deadline.next_part(
            "upload",
            self.total,
            tx.send(Ok(chunk)),
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            // The request ended before its body: its answer says why.
            Ok(Err(_)) => Err(io::Error::other(TransferError(CLOSED_EARLY.into()))),
            Err(f) => Err(io::Error::other(TransferError(f.message))),
        }
    }

    /// Ends the body with an error, so the request fails and the server
    /// stores nothing.
    fn abort(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Err(io::Error::other("upload stopped")));
        }
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.total += n as u64;
        if self.buf.len() == CHUNK {
            self.send_buffered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_carries_the_digest_and_the_mac_and_reads_back() {
        let digest = "a".repeat(64);
        let mac = "0123456789abcdef".repeat(4);
        let mut metadata = HashMap::new();
        metadata.insert(DIGEST_KEY.to_string(), digest.clone());
        assert_eq!(encode_tag(&metadata), format!("bfn1:{digest}"));
        metadata.insert(MAC_KEY.to_string(), mac.clone());
        let tag = encode_tag(&metadata);
        assert_eq!(tag, format!("bfn2:{digest}:{mac}"));
        let back = tag_metadata(Some(&HeaderValue::from_str(&tag).unwrap()));
        assert_eq!(back, metadata);
        // The older signature reads as such (and is refused with a key).
        let old = format!("bfn1:{digest}:{mac}");
        let back = tag_metadata(Some(&HeaderValue::from_str(&old).unwrap()));
        assert_eq!(back.get(OLD_MAC_KEY), Some(&mac));
        assert_eq!(back.get(MAC_KEY), None);
        // This version's: the entry digest and its MAC.
        let mut entry = HashMap::new();
        entry.insert(ENTRY_KEY.to_string(), digest.clone());
        assert_eq!(encode_tag(&entry), format!("bfn3:{digest}"));
        entry.insert(ENTRY_MAC_KEY.to_string(), mac.clone());
        let tag = encode_tag(&entry);
        assert_eq!(tag, format!("bfn3:{digest}:{mac}"));
        assert_eq!(
            tag_metadata(Some(&HeaderValue::from_str(&tag).unwrap())),
            entry
        );
    }

    #[test]
    fn a_missing_or_foreign_tag_gives_no_metadata_and_a_broken_one_a_digest_nothing_matches() {
        assert!(tag_metadata(None).is_empty());
        // turbo's own signature: base64 of an HMAC.
        let foreign = HeaderValue::from_static("kH3sVZxYwqg2Xv2n8N3tqg0sU+0A1xq7dYrB1m6Xk9c=");
        assert!(tag_metadata(Some(&foreign)).is_empty());
        for broken in [
            "bfn1:",
            "bfn1:abc",
            "bfn2:aaaa",
            &format!("bfn2:{}", "a".repeat(64)),
            "bfn3:x",
            &format!("bfn3:{}:x", "a".repeat(64)),
            "bfn4:x",
            &format!("bfn1:{}:{}:x", "a".repeat(64), "b".repeat(64)),
            &format!("bfn1:{}", "A".repeat(64)),
        ] {
            let got = tag_metadata(Some(&HeaderValue::from_str(broken).unwrap()));
            assert_eq!(got.len(), 1, "{broken}");
            assert_eq!(got[DIGEST_KEY], "an unreadable tag", "{broken}");
        }
    }

    fn dead_remote() -> TurborepoRemote {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        TurborepoRemote::new(&TurborepoOptions {
            api_url: format!("http://127.0.0.1:{port}"),
            token: crate::config::Secret::new("t0ken-never-shown"),
            team_id: Some("team_1".into()),
            team_slug: None,
            max_size: None,
            signing_key: None,
            timeout_scale: 0.1,
        })
        .unwrap()
    }

    /// reqwest's request futures need the runtime when they are made: made
    /// on the caller's thread (lage's worker, outside any runtime), the
    /// upload and the warm-up panicked, and the panic aborted Node.
    #[test]
    fn an_upload_and_a_warm_up_from_a_thread_outside_the_runtime_do_not_panic() {
        let remote = dead_remote();
        remote.warm_up();
        let key = CacheKey::parse("some-hash").unwrap();
        let mut metadata = HashMap::new();
        metadata.insert(DIGEST_KEY.to_string(), "a".repeat(64));
        let got = remote.upload(&key, 5, &metadata, &mut |out| out.write_all(b"bytes"));
        let failure = got.unwrap_err();
        assert_eq!(failure.kind, FailureKind::Unavailable, "{failure}");
        assert!(
            failure
                .message
                .starts_with("upload failed: could not connect ("),
            "{failure}"
        );
        assert!(!failure.message.contains("t0ken"), "{failure}");
        let got = remote.open(&key, None);
        assert!(matches!(&got, Err(f) if f.kind == FailureKind::Unavailable));
    }

    #[test]
    fn artifact_urls_encode_the_hash_and_carry_the_team() {
        let mut remote = dead_remote();
        remote.api_url = "https://cache.example.com/base".into();
        remote.team_slug = Some("my team".into());
        assert_eq!(
            remote.url("a b#c").unwrap().as_str(),
            "https://cache.example.com/base/v8/artifacts/a%20b%23c?teamId=team_1&slug=my+team"
        );
        assert_eq!(
            remote.describe(),
            "turborepo server https://cache.example.com/base team 'team_1'"
        );
    }
}
