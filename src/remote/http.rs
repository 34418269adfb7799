//! The one HTTP client every remote sends through, and the bounds a server
//! cannot talk its way past: a connect time, a stall time between bytes, a
//! few retries whose `Retry-After` pause is capped, no redirect, and an
//! error answer read only up to [`ERROR_BODY_MAX`] bytes and never parsed
//! as XML (its code is found by a plain search, in time linear in its size).
//!
//! The object stores (`object_store.rs`) reach it through OpenDAL's
//! [`HttpTransport`]: a non-success answer becomes an OpenDAL error carrying
//! an [`HttpAnswer`], so OpenDAL never reads or parses an error body, and
//! any other answer's body but an object's (a GET) is cut at
//! [`SMALL_BODY_MAX`] bytes. What a download's body may cost in time and
//! bytes is bounded by the remote reading it (`object_store.rs`).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{Method, Request, Response, StatusCode};
use opendal::{Buffer, HttpBody, HttpTransport};
use tokio::time::Instant;

use super::limits::{CappedRetry, Limits};
use crate::config::redact_text;

/// The most of an error answer's body that is read (to find its code).
pub const ERROR_BODY_MAX: usize = 16 << 10;
/// The most of any other answer's body that is read, but an object's: the
/// small XML documents of a commit or a multipart upload.
pub const SMALL_BODY_MAX: usize = 1 << 20;
/// The longest service error code kept from an answer.
const CODE_MAX: usize = 64;

/// A non-success answer (after retries): its status, the service's error
/// code (`x-ms-error-code`, `<Code>`, or a JSON `"code"`), and how long the
/// server asked to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The service's error code, letters, digits, `.`, `-` and `_` only;
    /// empty when the answer has none.
    pub code: String,
}

impl fmt::Display for HttpAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpAnswer {}

/// A request that got no answer: the connection failed, timed out or was
/// cut. The text holds no URL (it may carry a SAS) and no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUnreachable(pub String);

impl fmt::Display for HttpUnreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpUnreachable {}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The server answered, but not with success.
    Answer(HttpAnswer),
    /// No answer came.
    Unreachable(HttpUnreachable),
}

/// The bounded HTTP client of one remote.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    retry: CappedRetry,
    stall: Duration,
}

impl Http {
    /// A client with the connect and stall times of `limits`, its retry
    /// policy, and no redirects: a cache has no reason to leave its
    /// configured endpoint (an upload that followed one would give its body
    /// to the other host).
    pub fn new(limits: &Limits) -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect)
            .read_timeout(limits.stall)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client could not be made ({e})"))?;
        Ok(Http {
            client,
            retry: limits.retry_policy(),
            stall: limits.stall,
        })
    }

    /// The client itself, for a request whose body streams (an upload of
    /// unknown length in memory): the same connect and stall times, pooled
    /// connections and no redirect, but no retry (a stream cannot be sent
    /// twice), and its answer is the caller's to bound.
    pub fn streaming_client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// Sends `req`, retrying a connection failure, 408, 429 and 5xx a few
    /// times with backoff (a `Retry-After` is honoured up to its cap); a
    /// success (2xx) answer's body is left to stream.
    pub async fn send(&self, req: Request<Bytes>) -> Result<reqwest::Response, HttpError> {
        let start = Instant::now();
        let mut retry = 0u32;
        loop {
            let attempt = self.client.execute(to_reqwest(&req)?).await;
            let (failure, retry_after, retryable) = match attempt {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let answer = self.answer(resp).await;
                    let retryable = status == StatusCode::REQUEST_TIMEOUT
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || status.is_server_error();
                    (HttpError::Answer(answer), retry_after, retryable)
                }
                Err(e) => (
                    HttpError::Unreachable(HttpUnreachable(describe(&e))),
                    None,
                    true,
                ),
            };
            retry += 1;
            if !retryable || self.retry.is_expired(start.elapsed(), retry - 1) {
                return Err(failure);
            }
            tokio::time::sleep(self.retry.pause(retry, retry_after)).await;
        }
    }

    /// The status and error code of a non-success answer, reading at most
    /// [`ERROR_BODY_MAX`] bytes of its body, each within the stall time.
    async fn answer(&self, resp: reqwest::Response) -> HttpAnswer {
        let status = resp.status().as_u16();
        let header_code = resp
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(clean_code)
            .unwrap_or_default();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while body.len() < ERROR_BODY_MAX {
            match tokio::time::timeout(self.stall, stream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let room = ERROR_BODY_MAX - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                _ => break,
            }
        }
        let code = if header_code.is_empty() {
            code_in_body(&body)
        } else {
            header_code
        };
        HttpAnswer { status, code }
    }
}

fn to_reqwest(req: &Request<Bytes>) -> Result<reqwest::Request, HttpError> {
    let url = reqwest::Url::parse(&req.uri().to_string()).map_err(|_| {
        HttpError::Unreachable(HttpUnreachable(
            "the request's address is not a valid URL".into(),
        ))
    })?;
    let mut out = reqwest::Request::new(req.method().clone(), url);
    *out.headers_mut() = req.headers().clone();
    if !req.body().is_empty() || req.method() == Method::PUT || req.method() == Method::POST {
        *out.body_mut() = Some(reqwest::Body::from(req.body().clone()));
    }
    Ok(out)
}

/// A transport error in words, without its URL (a SAS rides in the query)
/// and through the redaction rule.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut"
    } else {
        "the request failed"
    };
    let mut text = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    redact_text(&format!("{what}{text}"))
}

/// The pause a server asked for: `Retry-After` in seconds, or
/// `retry-after-ms` / `x-ms-retry-after-ms` in milliseconds. A date is not
/// read: the retry policy's backoff applies.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after-ms")
        .or_else(|| number("x-ms-retry-after-ms"))
        .map(|ms| Duration::from_secs_f64((ms / 1000.0).min(86_400.0)))
        .or_else(|| number("retry-after").map(|s| Duration::from_secs_f64(s.min(86_400.0))))
}

/// Keeps a code's letters, digits, `.`, `-` and `_`, at most [`CODE_MAX`].
fn clean_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(CODE_MAX)
        .collect()
}

/// The error code in an answer's body: the text of the first `<Code>`
/// element (Azure, S3), or of a JSON `"code"` string (cache servers). A
/// plain search, so the cost is linear in the (capped) body.
fn code_in_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Some(start) = text.find("<Code>") {
        let rest = &text[start + "<Code>".len()..];
        if let Some(end) = rest.find("</Code>") {
            return clean_code(&rest[..end]);
        }
    }
    if let Some(start) = text.find("\"code\"") {
        let rest = text[start + "\"code\"".len()..].trim_start();
        if let Some(rest) = rest.strip_prefix(':') {
            if let Some(rest) = rest.trim_start().strip_prefix('"') {
                if let Some(end) = rest.find('"') {
                    return clean_code(&rest[..end]);
                }
            }
        }
    }
    String::new()
}

/// [`Http`] as OpenDAL's transport.
pub struct OpendalTransport(pub Http);

impl HttpTransport for OpendalTransport {
    async fn fetch(&self, req: Request<Buffer>) -> opendal::Result<Response<HttpBody>> {
        let is_get = req.method() == Method::GET;
        let req = req.map(|b| b.to_bytes());
        let resp = self.0.send(req).await.map_err(|e| match e {
            HttpError::Answer(answer) => {
                let kind = match answer.status {
                    404 => opendal::ErrorKind::NotFound,
                    403 => opendal::ErrorKind::PermissionDenied,
                    412 | 304 => opendal::ErrorKind::ConditionNotMatch,
                    429 => opendal::ErrorKind::RateLimited,
                    _ => opendal::ErrorKind::Unexpected,
                };
                opendal::Error::new(kind, answer.to_string()).set_source(answer)
            }
            HttpError::Unreachable(why) => {
                opendal::Error::new(opendal::ErrorKind::Unexpected, why.to_string()).set_source(why)
            }
        })?;
        let mut builder = Response::builder()
            .status(resp.status())
            .version(resp.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = resp.headers().clone();
        }
        // An object's body streams (its reader bounds it); any other is small.
        let (size, limit) = if is_get {
            (resp.content_length(), None)
        } else {
            (None, Some(SMALL_BODY_MAX))
        };
        let stream = Capped {
            inner: sync_wrapper::SyncStream::new(resp.bytes_stream()),
            left: limit,
        };
        builder.body(HttpBody::new(stream, size)).map_err(|e| {
            opendal::Error::new(
                opendal::ErrorKind::Unexpected,
                format!("the answer could not be read: {e}"),
            )
        })
    }
}

/// A body stream that ends after `left` bytes (when set), and turns
/// transport errors into OpenDAL's.
struct Capped<S> {
    inner: S,
    left: Option<usize>,
}

impl<S> Stream for Capped<S>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    type Item = opendal::Result<Buffer>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == Some(0) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(mut bytes))) => {
                if let Some(left) = self.left.as_mut() {
                    bytes.truncate(*left);
                    *left -= bytes.len();
                }
                Poll::Ready(Some(Ok(Buffer::from(bytes))))
            }
            Poll::Ready(Some(Err(e))) => {
                let why = HttpUnreachable(describe(&e));
                Poll::Ready(Some(Err(opendal::Error::new(
                    opendal::ErrorKind::Unexpected,
                    why.to_string(),
                )
                .set_temporary()
                .set_source(why))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The [`HttpAnswer`] or [`HttpUnreachable`] an OpenDAL error carries, if
/// it came from this transport.
pub fn http_error_of(e: &opendal::Error) -> Option<HttpError> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(a) = s.downcast_ref::<HttpAnswer>() {
            return Some(HttpError::Answer(a.clone()));
        }
        if let Some(u) = s.downcast_ref::<HttpUnreachable>() {
            return Some(HttpError::Unreachable(u.clone()));
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_by_a_plain_search_and_cleaned() {
        let xml =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>x</Message></Error>";
        assert_eq!(code_in_body(xml), "NoSuchKey");
        assert_eq!(
            code_in_body(br#"{"code": "forbidden", "message": "no"}"#),
            "forbidden"
        );
        assert_eq!(code_in_body(b"<Code>\x1b[31mEvil\n</Code>"), "31mEvil");
        assert_eq!(code_in_body(b"<Code>never closed"), "");
        assert_eq!(code_in_body(&vec![b'a'; 1 << 20]), "");
        let long = format!("<Code>{}</Code>", "A".repeat(500));
        assert_eq!(code_in_body(long.as_bytes()).len(), CODE_MAX);
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds_but_not_dates() {
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "60".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(60)));
        h.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut d = http::HeaderMap::new();
        d.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&d), None);
        d.insert("retry-after", "1e300".parse().unwrap());
        assert_eq!(retry_after(&d), Some(Duration::from_secs(86_400)));
    }
}
