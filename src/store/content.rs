//! Content-addressed file contents: storing a file under its blake3 digest and
//! copying a stored content out with its digest verified.

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::LocalStore;
use crate::error::{CacheError, IoContext, Result};

/// Files up to this size are read whole, hashed and written from one buffer;
/// larger ones are streamed in chunks of this size.
const WHOLE_READ_LIMIT: u64 = 4 << 20;
const CHUNK: usize = 1 << 20;

/// A file of the outputs, now in the store.
#[derive(Debug)]
pub struct Stored {
    pub digest: String,
    pub size: u64,
    pub mode: u32,
    /// Modification time of the source, seconds since the epoch.
    pub mtime: Option<u64>,
    /// Bytes written to the store (0 when the content was already there).
    pub new_bytes: u64,
}

/// Stores the content of the regular file `src` and returns its digest.
pub fn store_file(store: &LocalStore, src: &Path) -> Result<Stored> {
    let mut file = File::open(src).at("read output", src)?;
    let meta = file.metadata().at("read output", src)?;
    let mode = meta.permissions().mode() & super::manifest::MODE_MASK;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    if meta.len() <= WHOLE_READ_LIMIT {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut buf).at("read output", src)?;
        let digest = blake3::hash(&buf).to_hex().to_string();
        let blob = store.content_path(&digest);
        let new_bytes = if blob.exists() {
            0
        } else {
            write_blob(&blob, |tmp| tmp.write_all(&buf))?;
            buf.len() as u64
        };
        return Ok(Stored {
            digest,
            size: buf.len() as u64,
            mode,
            mtime,
            new_bytes,
        });
    }
    // Large file: hash first, so content already stored costs one read.
    let (digest, hashed_size) = hash_reader(&mut file).at("read output", src)?;
    let blob = store.content_path(&digest);
    if blob.exists() {
        return Ok(Stored {
            digest,
            size: hashed_size,
            mode,
            mtime,
            new_bytes: 0,
        });
    }
    // Copy and hash again in one pass: if the file changed meanwhile, the
    // entry records what was actually copied.
    let mut file = File::open(src).at("read output", src)?;
    let stored = ingest(store, &mut file).map_err(|e| match e {
        IngestFailure::Read(e) => CacheError::io("read output", src, e),
        IngestFailure::Local(e) => e,
    })?;
    Ok(Stored {
        digest: stored.digest,
        size: stored.size,
        mode,
        mtime,
        new_bytes: stored.size,
    })
}

/// A temp file in the folder `dest` will be renamed into: a rename within
/// one folder, and creates spread over the shard folders instead of one.
fn new_temp(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let make = || {
        tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(Permissions::from_mode(0o444))
            .tempfile_in(dir)
    };
    match make() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).at("create the cache folder", dir)?;
            make().at("create a temp file in", dir)
        }
        other => other.at("create a temp file in", dir),
    }
}

fn write_blob(blob: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> Result<()> {
    let mut tmp = new_temp(blob)?;
    write(tmp.as_file_mut()).at("write to the cache", tmp.path())?;
    persist(tmp, blob)
}

/// Renames a finished temp file to `dest`, creating its folder if needed.
pub fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<()> {
    match tmp.persist(dest) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).at("create the cache folder", parent)?;
            }
            e.file
                .persist(dest)
                .map(|_| ())
                .map_err(|e| CacheError::io("write", dest, e.error))
        }
        Err(e) => Err(CacheError::io("write", dest, e.error)),
    }
}

/// Which side of a copy failed.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `src` to `out` in chunks, feeding `hasher` what passes; returns
/// the number of bytes.
fn copy_hashing(
    src: &mut impl Read,
    mut out: impl Write,
    hasher: &mut blake3::Hasher,
) -> std::result::Result<u64, CopyError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// blake3 digest and size of everything `reader` yields.
pub fn hash_reader(reader: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), total))
}

/// Why a stored content could not be restored.
#[derive(Debug)]
pub enum CopyFailure {
    /// The stored content is missing or does not match its digest: the
    /// entry is unusable. Holds a description for the warning.
    Content(String),
    /// The stored content may not be read by this user (a store written by
    /// another): the entry is unusable here but not damaged.
    Unreadable(String),
    /// The destination could not be written: a local disk failure.
    Dest(CacheError),
}

/// Copies content `digest` into a new temp file beside `dest`, verifying it,
/// with permission bits `mode` (setuid, setgid and sticky bits dropped);
/// returns the temp file, ready to rename.
pub fn copy_out(
    store: &LocalStore,
    digest: &str,
    size: u64,
    mode: u32,
    dest: &Path,
    fresh: bool,
) -> std::result::Result<Copied, CopyFailure> {
    let mode = mode & super::manifest::MODE_MASK;
    let blob = store.content_path(digest);
    let mut src = match File::open(&blob) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(CopyFailure::Content(format!("content {digest} is missing")))
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(CopyFailure::Unreadable(format!(
                "content {} cannot be read by this user ({e})",
                blob.display()
            )))
        }
        Err(e) => {
            return Err(CopyFailure::Dest(CacheError::io(
                "read cached content",
                &blob,
                e,
            )))
        }
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    // Nothing is at the destination: write it in place (one create, no
    // rename), and remove it again if the content proves bad. A file that
    // appeared meanwhile sends us back to the temp file.
    let direct = if fresh {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(dest)
            .ok()
            .map(|f| (f, dest.to_path_buf()))
    } else {
        None
    };
    let (file, out) = match direct {
        Some((f, path)) => (f, Copied::Direct(path)),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix(&crate::output_temp::prefix())
                .tempfile_in(dir)
                .map_err(|e| CopyFailure::Dest(CacheError::io("create a temp file in", dir, e)))?;
            let f = tmp
                .as_file()
                .try_clone()
                .map_err(|e| CopyFailure::Dest(CacheError::io("write", dest, e)))?;
            (f, Copied::Temp(tmp))
        }
    };
    let needs_chmod = match &out {
        Copied::Temp(_) => true,
        Copied::Direct(_) => mode & !umask() != mode,
    };
    let read_err = |e| CopyFailure::Dest(CacheError::io("read cached content", &blob, e));
    let write_err = |e| CopyFailure::Dest(CacheError::io("write", dest, e));
    let mut hasher = blake3::Hasher::new();
    let mut total = 0u64;
    let result = (|| {
        let mut out = &file;
        if size <= WHOLE_READ_LIMIT {
            let mut buf = Vec::with_capacity(size as usize);
            src.read_to_end(&mut buf).map_err(read_err)?;
            hasher.update(&buf);
            total = buf.len() as u64;
            out.write_all(&buf).map_err(write_err)?;
        } else {
            total = copy_hashing(&mut src, out, &mut hasher).map_err(|e| match e {
                CopyError::Read(e) => read_err(e),
                CopyError::Write(e) => write_err(e),
            })?;
        }
        // Temp files are created 0600; a direct file got the mode masked by
        // the umask. Either way the stored mode is set exactly.
        if needs_chmod {
            file.set_permissions(Permissions::from_mode(mode))
                .map_err(write_err)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        out.discard();
        return Err(e);
    }
    let actual = hasher.finalize().to_hex();
    if total != size || actual.as_str() != digest {
        out.discard();
        return Err(CopyFailure::Content(format!(
            "content {digest} is corrupt ({total} bytes with digest {}, expected {size} bytes)",
            &actual.as_str()[..16]
        )));
    }
    Ok(out)
}

/// A restored file: written in place, or a temp file to rename into place.
#[derive(Debug)]
pub enum Copied {
    Direct(std::path::PathBuf),
    Temp(tempfile::NamedTempFile),
}

impl Copied {
    /// Removes a file written in place (it did not exist before); a temp
    /// file removes itself when dropped.
    pub fn discard(&self) {
        if let Copied::Direct(p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The process umask, read once (without changing it) from /proc.
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
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

/// Digest of an existing file, or `None` if it cannot be read.
pub fn digest_of(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    hash_reader(&mut f).ok().map(|(d, _)| d)
}

/// Why a streamed content could not be stored.
#[derive(Debug)]
pub enum IngestFailure {
    /// The source failed (a cut download, say).
    Read(io::Error),
    /// The store could not be written.
    Local(CacheError),
}

/// A streamed content, now in the store.
#[derive(Debug)]
pub struct Ingested {
    pub digest: String,
    pub size: u64,
}

/// Stores everything `reader` yields under its digest.
pub fn ingest(
    store: &LocalStore,
    reader: &mut impl Read,
) -> std::result::Result<Ingested, IngestFailure> {
    let staged = stage(store, reader)?;
    let ingested = Ingested {
        digest: staged.digest.clone(),
        size: staged.size,
    };
    staged.commit(store).map_err(IngestFailure::Local)?;
    Ok(ingested)
}

/// A streamed content in the store's temp folder, not yet in the store:
/// [`Staged::commit`] moves it in, dropping it removes it.
#[derive(Debug)]
pub struct Staged {
    pub digest: String,
    pub size: u64,
    /// `None` when the store already holds this content.
    temp: Option<tempfile::TempPath>,
}

impl Staged {
    /// Moves the content into the store (a rename).
    pub fn commit(self, store: &LocalStore) -> Result<()> {
        let Some(temp) = self.temp else {
            return Ok(());
        };
        let dest = store.content_path(&self.digest);
        match temp.persist(&dest) {
            Ok(()) => Ok(()),
            Err(e) if e.error.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent).at("create the cache folder", parent)?;
                }
                e.path
                    .persist(&dest)
                    .map_err(|e| CacheError::io("write", &dest, e.error))
            }
            Err(e) => Err(CacheError::io("write", &dest, e.error)),
        }
    }
}

/// Writes everything `reader` yields to a temp file in the store's temp
/// folder, under a digest only known at the end. The file is closed once
/// written, so an archive of many files holds no descriptor per file.
pub fn stage(
    store: &LocalStore,
    reader: &mut impl Read,
) -> std::result::Result<Staged, IngestFailure> {
    let dir = store.tmp_dir();
    fs::create_dir_all(&dir)
        .at("create the cache folder", &dir)
        .map_err(IngestFailure::Local)?;
    let tmp = tempfile::Builder::new()
        .prefix("content-")
        .permissions(Permissions::from_mode(0o444))
        .tempfile_in(&dir)
        .at("create a temp file in", &dir)
        .map_err(IngestFailure::Local)?;
    let mut hasher = blake3::Hasher::new();
    let size = copy_hashing(reader, tmp.as_file(), &mut hasher).map_err(|e| match e {
        CopyError::Read(e) => IngestFailure::Read(e),
        CopyError::Write(e) => {
            IngestFailure::Local(CacheError::io("write to the cache", tmp.path(), e))
        }
    })?;
    let digest = hasher.finalize().to_hex().to_string();
    let temp = if store.content_path(&digest).exists() {
        None
    } else {
        Some(tmp.into_temp_path())
    };
    Ok(Staged { digest, size, temp })
}
