//! Background uploads (`backgroundUploads: true`): the engine queues and
//! runs them (`engine/background.rs`); a put that resolved once the outputs
//! were stored locally leaves this follow-up work, which waits for its
//! upload and logs it, for `Cache` and the lage provider alike.

use super::logger::LogLine;
use super::task::{Done, Work};
use crate::config::LogLevel;
use crate::engine::{PendingUpload, RemoteScope};
use crate::notice::Notice;

/// The tail of a "stored" log line about the upload (a pull request
/// scope is named).
pub fn upload_note(
    uploaded: Option<RemoteScope>,
    bytes: u64,
    skipped: &Option<Notice>,
    pending: bool,
) -> String {
    match (uploaded, skipped, pending) {
        (Some(RemoteScope::Main), _, _) => format!(", uploaded {bytes} bytes"),
        (Some(scope), _, _) => format!(", uploaded {bytes} bytes to {}", scope.describe()),
        (None, _, true) => ", uploading in the background".to_string(),
        (None, Some(why), _) => format!(", not uploaded: {why}"),
        (None, None, _) => String::new(),
    }
}

/// Waits for the engine's background upload of a put (the engine queued
/// and runs it, and keeps its warnings for `flush`), then logs what it did:
/// a warning at warn, the upload at verbose. Nobody awaits this, so a local
/// failure is logged, not thrown.
pub fn background_upload(pending: PendingUpload, hash: String) -> Work<()> {
    Box::new(move || {
        let logs = match pending.wait() {
            Ok(up) => {
                let mut logs: Vec<LogLine> = up
                    .warning
                    .iter()
                    .map(|w| LogLine::new(LogLevel::Warn, w.message()))
                    .collect();
                let note = upload_note(up.scope, up.bytes, &up.skipped, false);
                if !note.is_empty() {
                    logs.push(LogLine::new(
                        LogLevel::Verbose,
                        format!("background upload of {hash}{note}"),
                    ));
                }
                logs
            }
            Err(e) => vec![LogLine::new(
                LogLevel::Warn,
                format!("background upload of {hash} failed: {e}"),
            )],
        };
        Done::logged(Ok(()), logs)
    })
}
