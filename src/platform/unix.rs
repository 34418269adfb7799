//! The Unix half of the platform seam.

use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Whether the usual file system ignores case (macOS's does).
pub const CASE_INSENSITIVE: bool = cfg!(target_os = "macos");

/// Whether a file's stamp (size, modification and change times, inode)
/// changes with every write: the change time cannot be set back, so a
/// recorded state can be trusted instead of reading the file.
pub const STAMPS_SHOW_EVERY_WRITE: bool = true;

/// How to let a user create symbolic links, for a warning; Unix always may.
pub const LINK_HINT: &str = "check that the file system supports symbolic links";

/// The permission bits of a file.
pub fn mode_of(meta: &Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// Whether a file's mode is `mode` as far as this system keeps modes.
pub fn mode_matches(meta: &Metadata, mode: u32) -> bool {
    mode_of(meta) == mode
}

/// Sets the mode of `path` exactly.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(mode))
}

/// Sets the mode of an open file exactly.
pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(mode))
}

/// Creates `path`, which must not exist, with `mode` (less the umask);
/// says whether the mode still needs setting once the file is written.
pub fn create_new(path: &Path, mode: u32) -> io::Result<(File, bool)> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    Ok((file, mode & !umask() != mode))
}

/// The permissions store files are created with: read-only for everyone
/// the umask allows.
pub fn store_file_permissions() -> Option<Permissions> {
    Some(Permissions::from_mode(0o444))
}

/// What identifies a file across renames: its inode.
pub fn file_id(meta: &Metadata) -> u64 {
    meta.ino()
}

/// Modification and change times, ns since the epoch, clamped to an `i64`.
pub fn stamp_times(meta: &Metadata) -> (i64, i64) {
    (
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    )
}

fn ns(secs: i64, nsecs: i64) -> i64 {
    (secs as i128 * 1_000_000_000 + nsecs as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// When the file (not following a link) last changed, a rename included.
pub fn changed_time(path: &Path) -> Option<std::time::SystemTime> {
    let meta = fs::symlink_metadata(path).ok()?;
    let ns = u64::try_from(stamp_times(&meta).1).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns))
}

/// Sets the modification time of `path` to now, as a record of its last
/// use. The owner may do it through a read-only handle (the file itself
/// may be read-only).
pub fn mark_used(path: &Path) -> io::Result<()> {
    File::open(path)?.set_modified(std::time::SystemTime::now())
}

/// Creates a symbolic link at `link` holding `target`.
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// The target of the link at `path`, as text with `/`.
pub fn link_target(path: &Path) -> io::Result<String> {
    let target = fs::read_link(path)?;
    target
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "its target is not valid UTF-8"))
}

/// Removes the file (or link) `path`.
pub fn remove_file(path: &Path) -> io::Result<()> {
    fs::remove_file(path)
}

/// Renames `from` to `to`, replacing it.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)
}

/// Why this system cannot hold a file named `path` (package-relative,
/// `/`-separated), if it cannot: Unix takes any name an entry may hold.
pub fn name_problem(_path: &str) -> Option<String> {
    None
}

/// Opens `path` for reading without updating its access time where the
/// system lets this user (Linux's `O_NOATIME`, for the file's owner): a
/// restore or a put then reads without making the disk write an inode per
/// file read (measured on btrfs: 8 MiB for 5,000 files).
pub fn open_read(path: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
    {
        // Not the owner: read as usual.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
        other => return other,
    }
    File::open(path)
}

/// The device (file system) a file lies on: contents are cloned only
/// between files of one device.
pub fn device_of(meta: &Metadata) -> Option<u64> {
    Some(meta.dev())
}

/// Creates `dest`, which must not exist, as a clone of `src` (`FICLONE` on
/// Linux, `clonefile` on macOS, through `reflink-copy`) with the
/// permission bits `mode`: it shares `src`'s blocks until either is
/// written, so nothing of the content is written. On failure nothing is
/// left at `dest`.
pub fn clone_file(src: &File, dest: &Path, mode: u32) -> io::Result<()> {
    // Linux clones into a file made with its mode: fewer calls per file
    // than a clone given `src`'s mode, then changed.
    #[cfg(target_os = "linux")]
    let cloned = {
        let (file, needs_chmod) = create_new(dest, mode)?;
        reflink_copy::reflink_file(src, &file).and_then(|()| {
            if needs_chmod {
                set_file_mode(&file, mode)
            } else {
                Ok(())
            }
        })
    };
    // `clonefile` makes the file itself.
    #[cfg(not(target_os = "linux"))]
    let cloned = {
        reflink_copy::reflink_file_to_path(src, dest)?;
        set_mode(dest, mode)
    };
    if cloned.is_err() {
        let _ = fs::remove_file(dest);
    }
    cloned
}

/// Whether a failed [`clone_file`] says the file system (or the pair of
/// them) cannot clone at all, rather than that this one file failed:
/// ext4 and tmpfs answer "not supported", two devices "cross-device", and
/// older kernels or odd file systems "invalid" or "no such ioctl".
pub fn clone_refused(e: &io::Error) -> bool {
    const EXDEV: i32 = 18;
    const EINVAL: i32 = 22;
    const ENOTTY: i32 = 25;
    const ENOSYS: i32 = 38;
    #[cfg(target_os = "linux")]
    const ENOTSUP: i32 = 95;
    #[cfg(not(target_os = "linux"))]
    const ENOTSUP: i32 = 45;
    e.kind() == io::ErrorKind::Unsupported
        || matches!(
            e.raw_os_error(),
            Some(EXDEV | EINVAL | ENOTTY | ENOSYS | ENOTSUP)
        )
}

/// Whether process `pid` is running, where the system can tell (`/proc`).
pub fn process_is_running(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// The process umask, read once (without changing it) from /proc.
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            // Unknown: assume every bit may be masked, so modes are always set.
            .unwrap_or(0o7777)
    })
}
