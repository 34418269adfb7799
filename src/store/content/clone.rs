//! Cloning contents instead of copying them, as pnpm and uv install from
//! their stores: where the store and the outputs are on one file system
//! that can clone (btrfs, XFS, APFS, ReFS), a restored file shares the
//! store content's blocks and a put's content shares the output's, so no
//! byte of the content is written. Anywhere else the contents are copied.
//!
//! Which of the two is decided once per store and device, in each process:
//! two devices are never tried; on one device the first clone is tried
//! alone, and a refusal (ext4, tmpfs) makes every later file copy without
//! trying. A single file that fails to clone for another reason is copied.
//!
//! A clone reads nothing, so it is verified another way (see
//! [`clone_out`]): through the store content's stamp when it was read
//! before, else by reading it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::reader::{ContentReader, Copied, CopyFailure, Placed, Via};
use crate::error::CacheError;
use crate::file_states::{FileState, Stamp};
use crate::platform;
use crate::store::LocalStore;

// 0: not decided yet.
const CLONE: u8 = 1;
const COPY: u8 = 2;

/// The decision for one store and device.
#[derive(Default)]
struct Decision {
    state: AtomicU8,
    /// Held by the one clone that decides, so no other file tries meanwhile.
    probe: Mutex<()>,
}

type Key = (PathBuf, Option<u64>);

fn decisions() -> &'static Mutex<HashMap<Key, Arc<Decision>>> {
    static DECISIONS: OnceLock<Mutex<HashMap<Key, Arc<Decision>>>> = OnceLock::new();
    DECISIONS.get_or_init(Default::default)
}

/// How contents go between a store and one folder's file system: cloned
/// where that works, else copied.
#[derive(Clone)]
pub struct Way(Option<Arc<Decision>>);

impl Way {
    /// The way between `store` and the folder `dir` (which must exist).
    /// Another device, or one that cannot be told, is a copy, never tried.
    pub fn between(store: &LocalStore, dir: &Path) -> Way {
        let dev = |p: &Path| std::fs::metadata(p).ok().map(|m| platform::device_of(&m));
        let (Some(store_dev), Some(dir_dev)) = (dev(store.root()), dev(dir)) else {
            return Way(None);
        };
        if store_dev != dir_dev {
            return Way(None);
        }
        let key = (store.root().to_path_buf(), dir_dev);
        let mut map = decisions().lock().unwrap_or_else(|e| e.into_inner());
        Way(Some(map.entry(key).or_default().clone()))
    }

    /// A way that always copies.
    pub fn copy() -> Way {
        Way(None)
    }

    /// Whether files are cloned (`Some(true)`), copied (`Some(false)`), or
    /// not decided yet.
    pub fn decided(&self) -> Option<bool> {
        match self.0.as_ref().map(|d| d.state.load(Ordering::Acquire)) {
            None | Some(COPY) => Some(false),
            Some(CLONE) => Some(true),
            _ => None,
        }
    }

    /// Runs `clone` unless this way copies: `None` then, else what it gave.
    /// While undecided, one clone at a time runs and its outcome decides.
    pub fn attempt<T>(&self, clone: impl FnOnce() -> io::Result<T>) -> Option<io::Result<T>> {
        let d = self.0.as_ref()?;
        match d.state.load(Ordering::Acquire) {
            CLONE => return Some(clone()),
            COPY => return None,
            _ => {}
        }
        let _probe = d.probe.lock().unwrap_or_else(|e| e.into_inner());
        match d.state.load(Ordering::Acquire) {
            CLONE => Some(clone()),
            COPY => None,
            _ => {
                let made = clone();
                match &made {
                    Ok(_) => d.state.store(CLONE, Ordering::Release),
                    Err(e) if platform::clone_refused(e) => {
                        d.state.store(COPY, Ordering::Release);
                        return None;
                    }
                    // One file's failure decides nothing.
                    Err(_) => {}
                }
                Some(made)
            }
        }
    }
}

/// Clones `src` to `dest` (when `fresh`: nothing is there) or to a temp
/// file beside it, with the permission bits `mode`.
fn clone_to(src: &File, dest: &Path, fresh: bool, mode: u32) -> io::Result<Copied> {
    if fresh {
        match platform::clone_file(src, dest, mode) {
            Ok(()) => return Ok(Copied::Direct(dest.to_path_buf())),
            // Appeared meanwhile: replaced through a temp file instead.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(&crate::output_temp::prefix())
        .make_in(dir, |p| platform::clone_file(src, p, mode))
        .map(|t| Copied::Temp(t.into_temp_path()))
}

fn path_of(copied: &Copied) -> &Path {
    match copied {
        Copied::Direct(p) => p,
        Copied::Temp(t) => t,
    }
}

fn discard(copied: Copied) {
    if let Copied::Direct(p) = copied {
        let _ = platform::remove_file(&p);
    }
    // A temp file removes itself when dropped.
}

/// Reads `reader` to its end through the verifying reader.
fn verify(reader: impl io::Read, size: u64, digest: &str) -> io::Result<()> {
    let mut r = ContentReader::expecting(reader, size, digest);
    io::copy(&mut r, &mut io::sink()).map(|_| ())
}

/// Clones the stored content `digest` (open as `src`) into `dest` with the
/// permission bits `mode` (`via` says how, and what is known of it), or
/// says to copy it instead (`None`: this way copies, or this clone failed;
/// `src` is then back at its start).
///
/// What is restored is verified as a copy is:
/// - the content's stamp matches `via.known`, a state recorded when it was
///   read and found good, and had settled then (as input hashing trusts a
///   file): nothing is read;
/// - else, when it had settled (its times are more than the file system's
///   granularity older than `started`), the store content is read and
///   checked before the clone, and its state is returned for next time;
/// - else (just written, or changed while it was cloned) the clone itself
///   is read and checked.
///
/// In the first two cases the stamp is taken again after the clone: a
/// content changed meanwhile has its clone read instead.
pub fn clone_out(
    via: &Via<'_>,
    src: &mut File,
    digest: &str,
    size: u64,
    mode: u32,
    dest: &Path,
    fresh: bool,
) -> Option<Result<Placed, CopyFailure>> {
    let (way, known, started) = (via.way, via.known, via.started);
    // Undecided or cloning: anything else copies without a look.
    way.decided().is_none_or(|clones| clones).then_some(())?;
    let before = Stamp::from(&src.metadata().ok()?);
    let hash = blake3::Hash::from_hex(digest).ok()?;
    let trusted = known.is_some_and(|k| k.digest == hash && k.reusable(&before).is_some());
    let read_now = FileState {
        stamp: before,
        digest: hash,
        hashed_ns: started,
    };
    let settled = read_now.reusable(&before).is_some();
    if !trusted && settled {
        let checked = verify(&*src, size, digest);
        // Back to its start for a copy, should the clone not happen.
        if let Err(e) = src.rewind() {
            return Some(Err(CopyFailure::Dest(CacheError::io(
                "read the cached content of",
                dest,
                e,
            ))));
        }
        match checked {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Some(Err(CopyFailure::Content(e.to_string())))
            }
            // Left to the copy, which says what failed.
            Err(_) => return None,
        }
    }
    let copied = match way.attempt(|| clone_to(src, dest, fresh, mode))? {
        Ok(c) => c,
        Err(_) => return None,
    };
    let unchanged = src
        .metadata()
        .is_ok_and(|m| Stamp::from(&m) == before && (trusted || settled));
    if !unchanged {
        // A mode without the owner's read bit (rare) makes this fail, and
        // the content is copied instead.
        let read = platform::open_read(path_of(&copied)).and_then(|f| verify(f, size, digest));
        match read {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                discard(copied);
                return Some(Err(CopyFailure::Content(e.to_string())));
            }
            Err(_) => {
                discard(copied);
                return None;
            }
        }
    }
    let state = match (unchanged, trusted) {
        (false, _) => None,
        (true, true) => known.copied(),
        (true, false) => Some(read_now),
    };
    Some(Ok(Placed {
        file: copied,
        cloned: true,
        state,
    }))
}
