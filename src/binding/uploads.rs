//! Background uploads (`backgroundUploads: true`): a put that resolved once
//! the outputs were stored locally leaves its upload to this follow-up work,
//! which `Cache` and the lage provider both queue.

use std::sync::Arc;

use super::logger::LogLine;
use super::task::{Done, Work};
use crate::config::LogLevel;
use crate::engine::Engine;

/// The tail of a "stored" log line about the upload.
pub fn upload_note(uploaded: bool, bytes: u64, skipped: &Option<String>, pending: bool) -> String {
    match (uploaded, skipped, pending) {
        (true, _, _) => format!(", uploaded {bytes} bytes"),
        (false, _, true) => ", uploading in the background".to_string(),
        (false, Some(why), _) => format!(", not uploaded: {why}"),
        (false, None, _) => String::new(),
    }
}

/// The upload of a put whose upload was left pending: its warnings go to the
/// logger and to the engine's list for `flush`; a local failure is reported,
/// not thrown, since nobody awaits it. Counted as under way from now, so
/// `flush` waits for it even before it starts.
pub fn background_upload(engine: Arc<Engine>, hash: String) -> Work<()> {
    let busy = engine.begin();
    Box::new(move || {
        let _busy = busy;
        let logs = match engine.upload(&hash) {
            Ok(up) => {
                let mut logs: Vec<LogLine> = up
                    .warning
                    .iter()
                    .map(|w| LogLine::new(LogLevel::Warn, w.clone()))
                    .collect();
                let note = upload_note(up.uploaded, up.bytes, &up.skipped, false);
                if !note.is_empty() {
                    logs.push(LogLine::new(
                        LogLevel::Verbose,
                        format!("background upload of {hash}{note}"),
                    ));
                }
                engine.note_background(up.warning);
                logs
            }
            Err(e) => {
                let text = format!("background upload of {hash} failed: {e}");
                engine.note_background(Some(text.clone()));
                vec![LogLine::new(LogLevel::Warn, text)]
            }
        };
        Done::logged(Ok(()), logs)
    })
}
