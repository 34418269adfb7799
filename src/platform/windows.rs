//! The Windows half of the platform seam (see the module doc of
//! `platform` for what differs).

use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::windows::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// Windows file systems ignore case.
pub const CASE_INSENSITIVE: bool = true;

/// Whether a file's stamp changes with every write. Not here: the last
/// write time can be set back (copies keep it), the creation time survives
/// a rewrite in place and, by tunneling, a rename over the same name, and
/// std offers neither the change time nor the file index. So recorded
/// states are never trusted and files are always read.
pub const STAMPS_SHOW_EVERY_WRITE: bool = false;

/// How to let a user create symbolic links, for a warning.
pub const LINK_HINT: &str = "creating symbolic links on Windows needs Developer Mode \
    (Settings > System > For developers) or running as an administrator";

/// The mode Windows can tell: read-only or not; no exec or group bits.
pub fn mode_of(meta: &Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// Whether a file's mode is `mode` as far as Windows keeps modes: the
/// read-only attribute against the write bits.
pub fn mode_matches(meta: &Metadata, mode: u32) -> bool {
    meta.permissions().readonly() == (mode & 0o222 == 0)
}

fn with_mode(mut p: Permissions, mode: u32) -> Permissions {
    p.set_readonly(mode & 0o222 == 0);
    p
}

/// Makes `path` read-only exactly when `mode` has no write bit.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    let p = fs::metadata(path)?.permissions();
    fs::set_permissions(path, with_mode(p, mode))
}

/// As [`set_mode`], for an open file.
pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    let p = file.metadata()?.permissions();
    file.set_permissions(with_mode(p, mode))
}

/// Creates `path`, which must not exist; says whether the mode still needs
/// setting once the file is written (a read-only file is made read-only
/// after its content).
pub fn create_new(path: &Path, mode: u32) -> io::Result<(File, bool)> {
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    Ok((file, mode & 0o222 == 0))
}

/// Store files are left writable: Windows cannot rename over a read-only
/// file, and manifests are replaced by rename.
pub fn store_file_permissions() -> Option<Permissions> {
    None
}

/// 100 ns intervals from 1601 to 1970.
const EPOCH_DIFF: i128 = 116_444_736_000_000_000;

fn ns(filetime: u64) -> i64 {
    ((filetime as i128 - EPOCH_DIFF) * 100).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// What identifies a file across renames: its creation time (the file
/// index is not in stable std).
pub fn file_id(meta: &Metadata) -> u64 {
    meta.creation_time()
}

/// Last write and creation times, ns since the epoch: a replaced file has a
/// new creation time, as a Unix one has a new change time.
pub fn stamp_times(meta: &Metadata) -> (i64, i64) {
    (ns(meta.last_write_time()), ns(meta.creation_time()))
}

/// Windows keeps no time a rename sets.
pub fn changed_time(_path: &Path) -> Option<std::time::SystemTime> {
    None
}

/// Sets the modification time of `path` to now, as a record of its last
/// use: Windows wants a handle opened for writing attributes, which a
/// read-only handle is not.
pub fn mark_used(path: &Path) -> io::Result<()> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_WRITE_ATTRIBUTES: u32 = 0x100;
    OpenOptions::new()
        .access_mode(FILE_WRITE_ATTRIBUTES)
        .open(path)?
        .set_modified(std::time::SystemTime::now())
}

/// Creates a symbolic link at `link` holding `target` (with `\`), as a
/// folder link when the target is a folder.
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    let target = target.replace('/', "\\");
    let resolved = link.parent().unwrap_or(Path::new(".")).join(&target);
    if resolved.is_dir() {
        std::os::windows::fs::symlink_dir(&target, link)?;
    } else {
        std::os::windows::fs::symlink_file(&target, link)?;
    }
    // Some systems (wine) answer success without making a link: what is
    // not a link now is no link, and anything made in its place goes.
    match fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => Ok(()),
        Ok(_) => {
            let _ = remove_file(link);
            Err(io::Error::other("the system made a plain file instead"))
        }
        Err(_) => Err(io::Error::other(
            "the system reported it made, but it does not exist",
        )),
    }
}

/// The target of the link at `path`, as text with `/`: no `\\` ever
/// enters a manifest.
pub fn link_target(path: &Path) -> io::Result<String> {
    let target = fs::read_link(path)?;
    target
        .to_str()
        .map(|t| t.replace('\\', "/"))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "its target is not valid UTF-8"))
}

/// Removes the file (or link) `path`, read-only or not: Windows refuses to
/// delete a read-only file, and a backup of a read-only output is one.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let meta = fs::symlink_metadata(path)?;
            let mut p = meta.permissions();
            if !p.readonly() {
                return Err(e);
            }
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            fs::set_permissions(path, p)?;
            fs::remove_file(path)
        }
        other => other,
    }
}

/// Renames `from` to `to`, replacing it; a file another process holds open
/// (an antivirus, an editor, a watcher) is retried for about 2 seconds.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::rename(from, to) {
            Err(e) if tries < 40 && is_busy(&e) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn is_busy(e: &io::Error) -> bool {
    // ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
    matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

/// Why Windows cannot hold a file named `path` (package-relative,
/// `/`-separated), if it cannot.
pub fn name_problem(path: &str) -> Option<String> {
    for part in path.split('/') {
        if let Some(c) = part
            .chars()
            .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\') || c.is_control())
        {
            return Some(format!(
                "{path:?} holds {c:?}, which Windows file names cannot"
            ));
        }
        if part.ends_with('.') || part.ends_with(' ') {
            return Some(format!(
                "{path:?} has a name ending in a dot or a space, which Windows drops"
            ));
        }
        let stem = part
            .split('.')
            .next()
            .unwrap_or("")
            .trim_end()
            .to_ascii_uppercase();
        let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || (stem.len() == 4
                && (stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.as_bytes()[3].is_ascii_digit()
                && stem.as_bytes()[3] != b'0');
        if reserved {
            return Some(format!(
                "{path:?} uses the name {part:?}, which Windows reserves for a device"
            ));
        }
    }
    None
}

/// Opens `path` for reading.
pub fn open_read(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// The device a file lies on: std has no stable volume id on Windows, so
/// the decision to clone is taken per store there (see [`clone_refused`]).
pub fn device_of(_meta: &Metadata) -> Option<u64> {
    None
}

/// Creates `dest`, which must not exist, as a block clone of `src`
/// (`FSCTL_DUPLICATE_EXTENTS_TO_FILE` through `reflink-copy`: ReFS and Dev
/// Drives), with the mode `mode` as Windows keeps modes (see
/// [`set_mode`]). On failure nothing is left at `dest`.
pub fn clone_file(src: &File, dest: &Path, mode: u32) -> io::Result<()> {
    reflink_copy::reflink_file_to_path(src, dest)?;
    set_mode(dest, mode).inspect_err(|_| {
        let _ = remove_file(dest);
    })
}

/// Whether a failed [`clone_file`] means cloning should not be tried
/// again: on Windows any failure does (NTFS, another volume, no right),
/// since its error codes for these are not told apart here.
pub fn clone_refused(_e: &io::Error) -> bool {
    true
}

/// Whether a process runs cannot be told here without more system calls:
/// leftovers are then judged by age.
pub fn process_is_running(pid: u32) -> Option<bool> {
    (pid == std::process::id()).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::windows::fs::OpenOptionsExt;
    use std::time::Instant;

    /// Opens `path` as an antivirus or an editor may: shared with no one.
    fn hold(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .share_mode(0)
            .open(path)
            .unwrap()
    }

    #[test]
    fn a_rename_over_a_file_held_open_waits_for_it_then_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("new"), tmp.path().join("out.js"));
        fs::write(&to, b"old").unwrap();

        // Let go after a moment: the rename waits and succeeds.
        fs::write(&from, b"new").unwrap();
        let held = hold(&to);
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        rename(&from, &to).unwrap();
        letting_go.join().unwrap();
        assert_eq!(fs::read(&to).unwrap(), b"new");

        // Held for good: an error after about two seconds, the file intact.
        fs::write(&from, b"newer").unwrap();
        let _held = hold(&to);
        let start = Instant::now();
        let err = rename(&from, &to).unwrap_err();
        assert!(is_busy(&err), "{err}");
        assert!(
            start.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
        drop(_held);
        assert_eq!(fs::read(&to).unwrap(), b"new");
        assert_eq!(fs::read(&from).unwrap(), b"newer");
    }

    #[test]
    fn names_windows_refuses_are_told_and_others_are_fine() {
        for bad in [
            "CON",
            "lib/aux.js",
            "lib/Com1.d.ts",
            "lpt9",
            "a/b:c",
            "x/y?",
            "dot.",
            "sp /x",
        ] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "lib/con-fig.js",
            "lib/console.js",
            "com0",
            "lib/.env",
            "a b/c.d",
        ] {
            assert_eq!(name_problem(good), None, "{good}");
        }
    }
}
