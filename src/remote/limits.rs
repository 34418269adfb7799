//! The bounds of remote transfers: how long to connect, to wait for a byte,
//! to wait when the server asks for a pause (Retry-After), and in all for one
//! fetch or upload; and the byte limit of a download (`maxSize`).
//!
//! A fetch or an upload gets [`Limits::deadline_for`] in all: a base plus
//! time in proportion to its size, so a throttling or trickling remote costs
//! a bounded time while a big blob on a normal link still completes.

use std::fmt;
use std::io::{self, Read};
use std::time::Duration;

use super::{FailureKind, RemoteFailure};

/// Time allowed to connect.
const CONNECT: Duration = Duration::from_secs(10);
/// Time without a byte before a transfer is considered stalled.
const STALL: Duration = Duration::from_secs(30);
/// Base of the overall deadline of one fetch or upload...
const DEADLINE_BASE: Duration = Duration::from_secs(30);
/// ...plus one second per this many bytes of its size (1 MiB/s: a transfer
/// slower than that on average, after the base, is cut).
const DEADLINE_BYTES_PER_SEC: f64 = (1u64 << 20) as f64;
/// The longest a `Retry-After` (or `retry-after-ms`) answer is waited out.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(2);
/// The `maxSize` of a remote whose options set none: a server cannot make a
/// download write more than this to the store's temp folder.
pub const DEFAULT_MAX_SIZE: u64 = 4 << 30;
/// A miss that took longer than this (times the scale) counts as a failure
/// toward the switch-off: a server that keeps answering slowly, even "not
/// found", must not cost every fetch of a build that long.
const SLOW_ANSWER: Duration = Duration::from_secs(5);
/// Retries of 408, 429, 5xx and connection errors.
const RETRIES: u32 = 3;
/// First retry delay (doubled at each retry, plus up to 256 ms of jitter)...
const RETRY_DELAY: Duration = Duration::from_millis(200);
/// ...and the largest.
const RETRY_DELAY_MAX: Duration = Duration::from_secs(2);

/// The time bounds of one remote, all multiplied by `scale` (the
/// `timeoutScale` provider option, 1 by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Time allowed to connect.
    pub connect: Duration,
    /// Time without a byte before a transfer fails.
    pub stall: Duration,
    /// The deadline of a transfer of zero bytes.
    pub deadline_base: Duration,
    /// The average rate, after the base, below which a transfer is cut.
    pub deadline_bytes_per_sec: f64,
    /// The longest pause a server's `Retry-After` gets.
    pub retry_after_cap: Duration,
    /// How many times a failed request is retried.
    pub retries: u32,
    /// First retry delay.
    pub retry_delay: Duration,
    /// Largest retry delay.
    pub retry_delay_max: Duration,
    /// A miss slower than this is a failure.
    pub slow_answer: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::scaled(1.0)
    }
}

impl Limits {
    /// The default bounds with every time multiplied by `scale` (which must
    /// be positive and finite; anything else is taken as 1).
    pub fn scaled(scale: f64) -> Limits {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let s = |d: Duration| d.mul_f64(scale);
        Limits {
            connect: s(CONNECT),
            stall: s(STALL),
            deadline_base: s(DEADLINE_BASE),
            deadline_bytes_per_sec: DEADLINE_BYTES_PER_SEC / scale,
            retry_after_cap: s(RETRY_AFTER_CAP),
            retries: RETRIES,
            retry_delay: s(RETRY_DELAY),
            retry_delay_max: s(RETRY_DELAY_MAX),
            slow_answer: s(SLOW_ANSWER),
        }
    }

    /// The overall time allowed for a transfer of `bytes`: the base plus one
    /// second per `deadline_bytes_per_sec` bytes.
    pub fn deadline_for(&self, bytes: u64) -> Duration {
        self.deadline_base + Duration::from_secs_f64(bytes as f64 / self.deadline_bytes_per_sec)
    }

    /// The retry policy of the HTTP pipeline.
    pub fn retry_policy(&self) -> CappedRetry {
        CappedRetry {
            retries: self.retries,
            delay: self.retry_delay,
            delay_max: self.retry_delay_max,
            retry_after_cap: self.retry_after_cap,
            // Never retry past the base deadline: the transfer is cut then.
            max_elapsed: self.deadline_base,
        }
    }
}

/// The overall deadline of one transfer: from its start, the base plus time
/// in proportion to the bytes that count. An upload's size is ours, so it
/// counts from the start; a download counts only the bytes that arrived,
/// never a size the server claims (a server claiming a terabyte and sending
/// a byte at a time is cut at the base).
#[derive(Clone, Copy)]
pub struct Deadline {
    start: tokio::time::Instant,
    limits: Limits,
    known: u64,
}

impl Deadline {
    /// The deadline of an upload of `size` bytes, starting now.
    pub fn upload(limits: Limits, size: u64) -> Deadline {
        Deadline {
            start: tokio::time::Instant::now(),
            limits,
            known: size,
        }
    }

    /// The deadline of a download, starting now.
    pub fn download(limits: Limits) -> Deadline {
        Deadline::upload(limits, 0)
    }

    /// When the transfer must be over, `bytes` having been moved.
    pub fn at(&self, bytes: u64) -> tokio::time::Instant {
        self.start + self.allowed(bytes)
    }

    /// How long this transfer has taken so far.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn allowed(&self, bytes: u64) -> Duration {
        self.limits.deadline_for(self.known.max(bytes))
    }

    /// The failure of a transfer cut at its deadline.
    pub fn cut(&self, what: &str, bytes: u64) -> RemoteFailure {
        RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!(
                "{what} failed: cut at its deadline of {:.1} s (for {} bytes), the remote is too slow",
                self.allowed(bytes).as_secs_f64(),
                self.known.max(bytes)
            ),
        }
    }

    /// A miss that took longer than the slow-answer bound: a failure that
    /// counts toward the switch-off, for a server that keeps answering
    /// slowly costs every fetch that long; `None` for a miss on time.
    pub fn slow_miss(&self) -> Option<RemoteFailure> {
        let took = self.elapsed();
        (took > self.limits.slow_answer).then(|| RemoteFailure {
            kind: FailureKind::Unavailable,
            message: format!(
                "download failed: the remote took {:.1} s to say it has no entry",
                took.as_secs_f64()
            ),
        })
    }

    /// Waits for `f` until the deadline (`bytes` having been moved).
    pub async fn on_time<F: std::future::Future>(
        &self,
        what: &str,
        bytes: u64,
        f: F,
    ) -> Result<F::Output, RemoteFailure> {
        tokio::time::timeout_at(self.at(bytes), f)
            .await
            .map_err(|_| self.cut(what, bytes))
    }

    /// Waits for the next part of a stream until the stall time or the
    /// deadline, whichever is first.
    pub async fn next_part<F: std::future::Future>(
        &self,
        what: &str,
        bytes: u64,
        f: F,
    ) -> Result<F::Output, RemoteFailure> {
        let end = self.at(bytes);
        let stalled = tokio::time::Instant::now() + self.limits.stall;
        match tokio::time::timeout_at(end.min(stalled), f).await {
            Ok(v) => Ok(v),
            Err(_) if tokio::time::Instant::now() >= end => Err(self.cut(what, bytes)),
            Err(_) => Err(RemoteFailure {
                kind: FailureKind::Unavailable,
                message: format!(
                    "{what} failed: stalled, no byte for {:.1} s",
                    self.limits.stall.as_secs_f64()
                ),
            }),
        }
    }
}

/// Exponential backoff that honours a server's `Retry-After` only up to a
/// cap: a throttling server answering `Retry-After: 60` must not hold every
/// request for a minute per retry (the old Azure SDK's policy did).
#[derive(Debug, Clone)]
pub struct CappedRetry {
    retries: u32,
    delay: Duration,
    delay_max: Duration,
    retry_after_cap: Duration,
    max_elapsed: Duration,
}

impl CappedRetry {
    /// How long to wait before retry number `retry_count` (from 1), given
    /// the server's `Retry-After`, if any.
    pub fn pause(&self, retry_count: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.sleep_duration(retry_count);
        match retry_after {
            Some(asked) => backoff.max(asked.min(self.retry_after_cap)),
            None => backoff,
        }
    }

    /// Whether no retry is left after `retry_count` retries, `since_start`
    /// after the first request.
    pub fn is_expired(&self, since_start: Duration, retry_count: u32) -> bool {
        retry_count >= self.retries || since_start >= self.max_elapsed
    }

    /// The backoff before retry number `retry_count` (from 1).
    pub fn sleep_duration(&self, retry_count: u32) -> Duration {
        let exp = self
            .delay
            .saturating_mul(2u32.saturating_pow(retry_count.min(16)));
        let jitter = Duration::from_millis(u64::from(rand_byte()));
        (exp + jitter).min(self.delay_max)
    }
}

/// A byte of jitter, from the clock (no need for a random generator here).
fn rand_byte() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos >> 10) as u8
}

/// The error a [`SizeLimited`] reader fails with.
#[derive(Debug)]
pub struct OverMaxSize(pub u64);

impl fmt::Display for OverMaxSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the download went over maxSize ({} bytes)", self.0)
    }
}

impl std::error::Error for OverMaxSize {}

/// A reader that fails once more than `max` bytes came through, so a blob
/// that grew after its size was checked is not downloaded in full.
pub struct SizeLimited<R> {
    inner: R,
    max: Option<u64>,
    read: u64,
    exceeded: bool,
}

impl<R> SizeLimited<R> {
    /// Limits `inner` to `max` bytes (`None`: no limit).
    pub fn new(inner: R, max: Option<u64>) -> Self {
        SizeLimited {
            inner,
            max,
            read: 0,
            exceeded: false,
        }
    }

    /// Whether more than the limit arrived (the reader then only fails).
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl<R: Read> Read for SizeLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let over = |max| io::Error::new(io::ErrorKind::InvalidData, OverMaxSize(max));
        if let (true, Some(max)) = (self.exceeded, self.max) {
            return Err(over(max));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(max) = self.max {
            if self.read > max {
                self.exceeded = true;
                return Err(over(max));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limited_passes_up_to_the_limit_and_fails_past_it() {
        let data = vec![7u8; 1000];
        let mut exact = SizeLimited::new(&data[..], Some(1000));
        let mut out = Vec::new();
        exact.read_to_end(&mut out).unwrap();
        assert_eq!((out.len(), exact.exceeded()), (1000, false));

        let mut short = SizeLimited::new(&data[..], Some(999));
        let err = io::copy(&mut short, &mut io::sink()).unwrap_err();
        assert!(short.exceeded());
        assert!(
            err.get_ref().is_some_and(|e| e.is::<OverMaxSize>()),
            "{err}"
        );
        assert!(short.read(&mut [0u8; 8]).is_err(), "stays failed");

        let mut unlimited = SizeLimited::new(&data[..], None);
        assert_eq!(io::copy(&mut unlimited, &mut io::sink()).unwrap(), 1000);
    }

    #[test]
    fn retry_after_is_capped_and_backoff_kept() {
        let policy = Limits::default().retry_policy();
        let asked = Some(Duration::from_secs(60));
        for retry in 1..=3 {
            let p = policy.pause(retry, asked);
            assert!(
                p >= Duration::from_millis(400) && p <= RETRY_AFTER_CAP,
                "{p:?}"
            );
        }
        assert_eq!(policy.pause(1, asked), RETRY_AFTER_CAP);
        // A short Retry-After still waits at least the backoff.
        assert!(policy.pause(3, Some(Duration::from_millis(1))) >= Duration::from_millis(1600));
        assert!(policy.is_expired(Duration::ZERO, 3));
        assert!(!policy.is_expired(Duration::ZERO, 2));
    }

    #[test]
    fn deadline_grows_with_size() {
        let l = Limits::default();
        assert_eq!(l.deadline_for(0), Duration::from_secs(30));
        assert_eq!(l.deadline_for(1 << 30), Duration::from_secs(30 + 1024));
        let fast = Limits::scaled(0.1);
        assert_eq!(fast.deadline_for(0), Duration::from_secs(3));
        assert_eq!(fast.deadline_for(10 << 20), Duration::from_secs(4));
        assert_eq!(Limits::scaled(-1.0), Limits::default());
    }
}
