//! Talking to the logger lage passes (backfill's logger): only the methods it
//! has are called, and a failing logger never fails the cache.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use napi::bindgen_prelude::*;

use crate::config::LogLevel;

/// One line for the logger.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub level: LogLevel,
    pub text: String,
    /// Report this text at most once per process (configuration warnings
    /// that every target would otherwise repeat).
    pub once: bool,
}

impl LogLine {
    pub fn new(level: LogLevel, text: String) -> Self {
        LogLine {
            level,
            text,
            once: false,
        }
    }
    pub fn once(level: LogLevel, text: String) -> Self {
        LogLine {
            level,
            text,
            once: true,
        }
    }
}

/// Says `text` on the process's standard error at once: for what a call
/// says while it is still running (a `clear` waiting for the store), which
/// cannot wait for the call's answer to reach the logger.
pub fn to_stderr(notice: &crate::notice::Notice) {
    eprintln!("backfill-native: {}", notice.message());
}

fn first_time(text: &str) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
        .lock()
        .map(|mut seen| seen.insert(text.to_string()))
        .unwrap_or(true)
}

/// Sends `lines` at or above `threshold` to `logger`.
pub fn emit(env: &Env, logger: &Object, threshold: LogLevel, lines: &[LogLine]) {
    for line in lines {
        if line.level < threshold || threshold == LogLevel::Mute {
            continue;
        }
        if line.once && !first_time(&line.text) {
            continue;
        }
        let method = line.level.as_str();
        if let Ok(Some(f)) = logger.get::<Function<String, Unknown>>(method) {
            if f.apply(logger, format!("backfill-native: {}", line.text))
                .is_err()
            {
                clear_pending_exception(env);
            }
        }
    }
}

/// A logger method that threw leaves its exception pending; left there it
/// would surface as an uncaught exception in lage. Logging is best effort.
fn clear_pending_exception(env: &Env) {
    let mut exception = std::ptr::null_mut();
    // SAFETY: called on the JS thread that owns `env`, which is alive for the
    // duration of the call that handed it to us.
    unsafe {
        napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut exception);
    }
}
