//! The temp files a fetch writes beside a package's outputs: how they are
//! named, and removing those a killed fetch left behind.
//!
//! A restore writes each replaced file (and each link, and the backup of
//! what it replaces) to `.backfill-native-<pid>-<random>` in the folder of
//! its destination, then renames it into place. A fetch killed between the
//! two leaves the temp file there. Names carry the writer's process id, so
//! the next fetch or put of the package can tell a leftover (its writer is
//! gone) from the temp file of a restore still running in another process
//! or thread, and removes only the leftovers. Nothing but names of this
//! exact shape is ever removed.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Prefix of every temp file a restore writes beside outputs; such files
/// are never outputs themselves.
pub const PREFIX: &str = ".backfill-native-";

/// Temp files from before names carried a process id
/// (`.backfill-native-XXXXXX`) are removed once older than this.
const UNOWNED_AGE: Duration = Duration::from_secs(60 * 60);

/// The prefix for this process's temp files; `tempfile` appends random
/// characters, [`name`] a purpose and a counter.
pub fn prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

/// A unique temp name for this process, `what` saying what it holds.
pub fn name(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}{what}{}",
        prefix(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `file_name` is one of our temp files.
pub fn is_temp(file_name: &str) -> bool {
    file_name.starts_with(PREFIX)
}

/// Whether the temp file `path` (named `file_name`) was left by a writer
/// that is gone. Names of another shape are never stale.
pub fn is_stale(file_name: &str, path: &Path) -> bool {
    let Some(rest) = file_name.strip_prefix(PREFIX) else {
        return false;
    };
    // Links of the first format: `link-<pid>-<n>`.
    let rest = rest.strip_prefix("link-").unwrap_or(rest);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && rest.as_bytes().get(digits) == Some(&b'-') {
        let Ok(pid) = rest[..digits].parse::<u32>() else {
            return false;
        };
        return match crate::platform::process_is_running(pid) {
            Some(running) => !running,
            // A backup is a user's old output renamed aside: its times are
            // the old file's, so only a change time (which the rename set)
            // tells its age; where there is none (Windows), it is kept.
            None if rest[digits + 1..].starts_with("old") => {
                crate::platform::changed_time(path).is_some_and(|t| older(t, UNOWNED_AGE))
            }
            None => older_than(path, UNOWNED_AGE),
        };
    }
    // `tempfile`'s six random characters, as the first format named them
    // (with a digit or a capital, so that a word such as `config` is not
    // taken for one).
    rest.len() == 6
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        && rest
            .bytes()
            .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && older_than(path, UNOWNED_AGE)
}

/// Removes the stale temp files directly in `dir`; returns how many. A
/// folder that cannot be listed is left alone: this is housekeeping, never
/// a reason to fail.
pub fn remove_stale_in(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_temp(name) {
            continue;
        }
        let path = entry.path();
        let is_file_or_link = entry
            .file_type()
            .is_ok_and(|t| t.is_file() || t.is_symlink());
        if is_file_or_link && is_stale(name, &path) && crate::platform::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| older(t, age))
}

fn older(t: SystemTime, age: Duration) -> bool {
    SystemTime::now().duration_since(t).is_ok_and(|d| d > age)
}

// Unix only: the test starts `true` and `sleep`; on Windows process liveness
// is not told (leftovers go by age).
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_leftovers_of_gone_writers_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let gone = {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let pid = child.id();
            child.wait().unwrap();
            pid
        };
        let mut alive = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let names = [
            (format!("{PREFIX}{gone}-AbC123"), true),
            (format!("{PREFIX}{gone}-old7"), true),
            (format!("{PREFIX}link-{gone}-3"), true),
            (format!("{PREFIX}{}-AbC123", alive.id()), false),
            (format!("{}AbC123", prefix()), false),
            (format!("{PREFIX}notes.txt"), false),
            (format!("{PREFIX}AbC123"), false), // unowned, but new
            ("index.js".to_string(), false),
        ];
        for (name, _) in &names {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        // Older than an hour, without a process id: the first format's
        // random names go, a word that only looks like one stays.
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for (name, _) in [
            (format!("{PREFIX}Ab12cd"), true),
            (format!("{PREFIX}config"), false),
        ] {
            let f = fs::File::create(dir.path().join(&name)).unwrap();
            f.set_modified(two_hours_ago).unwrap();
        }
        assert_eq!(remove_stale_in(dir.path()), 4);
        assert!(!dir.path().join(format!("{PREFIX}Ab12cd")).exists());
        assert!(dir.path().join(format!("{PREFIX}config")).exists());
        for (name, stale) in &names {
            assert_eq!(!dir.path().join(name).exists(), *stale, "{name}");
        }
        let _ = alive.kill();
        let _ = alive.wait();
    }
}
