//! Everything that differs between Unix and Windows, behind one small seam:
//! file modes, file identity and timestamps, symbolic links, the umask,
//! whether a process runs, renames over files others hold open, and the
//! names a file system refuses. The rest of the engine calls these and
//! never `std::os::*` itself; `unix.rs` and `windows.rs` each implement the
//! same functions.
//!
//! What differs on Windows:
//! - There is no exec bit or group and other bits. A put records 0o644, or
//!   0o444 for a read-only file; a restore makes a file read-only exactly
//!   when its stored mode has no write bit, and otherwise leaves it as
//!   Windows makes it. Stored modes are kept as they are, so an entry put on
//!   Linux keeps its modes when a Windows machine fetches it from the remote
//!   and fills its local store.
//! - Store files are not made read-only: Windows cannot rename over a
//!   read-only file, and manifests are replaced that way.
//! - A file's identity is its creation time (std has no stable file index),
//!   and its change time is its last write time. Neither shows every write,
//!   so recorded file states are not trusted there: input hashing and a
//!   fetch over outputs in place read the files.
//! - Creating a symbolic link needs Developer Mode or administrator rights.
//! - Renames over a file another process holds open (an antivirus, an
//!   editor, a watcher) fail for a moment: they are retried briefly.
//! - Contents are cloned with `FSCTL_DUPLICATE_EXTENTS_TO_FILE` (ReFS, Dev
//!   Drives) instead of `FICLONE` or `clonefile`; std gives no volume id, so
//!   whether to clone is decided per store, and any failure decides "copy".
//! - Some names cannot exist (`CON`, `aux.js`, `a:b`, a trailing dot or
//!   space): an entry holding one is a miss with a warning there.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub use imp::{
    changed_time, clone_file, clone_refused, create_new, device_of, file_id, link_target,
    mark_used, mode_matches, mode_of, name_problem, open_read, process_is_running, remove_file,
    rename, set_file_mode, set_mode, stamp_times, store_file_permissions, symlink,
    CASE_INSENSITIVE, LINK_HINT, STAMPS_SHOW_EVERY_WRITE,
};

/// For tests on either system: a link at `link` to `target`, and a mode.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    /// Creates a symbolic link (see [`super::symlink`]).
    pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> std::io::Result<()> {
        let target = target.as_ref().to_str().expect("a UTF-8 link target");
        super::symlink(&target.replace('\\', "/"), link.as_ref())
    }

    /// Sets the mode of `path` (see [`super::set_mode`]).
    pub fn set_mode(path: impl AsRef<Path>, mode: u32) {
        super::set_mode(path.as_ref(), mode).unwrap()
    }

    /// Whether this system makes real symbolic links (wine, for one, does
    /// not): tests of links say they are skipped where it does not.
    pub fn links_work() -> bool {
        static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WORKS.get_or_init(|| {
            let Ok(dir) = tempfile::tempdir() else {
                return false;
            };
            std::fs::write(dir.path().join("t"), b"t").is_ok()
                && super::symlink("t", &dir.path().join("l")).is_ok()
                && std::fs::symlink_metadata(dir.path().join("l"))
                    .is_ok_and(|m| m.file_type().is_symlink())
        })
    }

    /// Says a test is skipped because this system makes no links.
    pub fn skip_without_links(test: &str) -> bool {
        let skip = !links_work();
        if skip {
            eprintln!("{test}: skipped, this system does not create symbolic links");
        }
        skip
    }

    /// Removes the folder `path` and everything in it, read-only files too
    /// (Windows refuses to delete those).
    pub fn remove_tree(path: impl AsRef<Path>) {
        let path = path.as_ref();
        if cfg!(windows) {
            for e in walkdir::WalkDir::new(path).into_iter().flatten() {
                if e.file_type().is_file() {
                    let _ = super::set_mode(e.path(), 0o644);
                }
            }
        }
        std::fs::remove_dir_all(path).unwrap()
    }

    /// The mode of `path`, as this system keeps it.
    pub fn mode(path: impl AsRef<Path>) -> u32 {
        super::mode_of(&std::fs::metadata(path.as_ref()).unwrap())
    }
}
