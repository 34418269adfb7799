//! Reading contents: the one verifying reader every content passes through
//! (blake3 as it is read, size and digest checked at its end), and placing
//! a stored content into a package: cloned where the file system can
//! (`clone.rs`), else copied.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use super::clone::Way;
use crate::error::CacheError;
use crate::file_states::FileState;
use crate::platform;
use crate::store::LocalStore;

/// Contents up to this size are read in one piece; larger ones in chunks.
pub const WHOLE_READ_LIMIT: u64 = 4 << 20;
const CHUNK: usize = 1 << 20;

/// Reads `inner`, hashing every byte. With an expectation it fails
/// (`InvalidData`) as soon as the content proves not to be it: more bytes
/// than expected, fewer at its end, or another digest.
pub struct ContentReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    read: u64,
    expect: Option<(u64, String)>,
}

impl<R: Read> ContentReader<R> {
    /// A reader that only hashes.
    pub fn new(inner: R) -> Self {
        ContentReader {
            inner,
            hasher: blake3::Hasher::new(),
            read: 0,
            expect: None,
        }
    }

    /// A reader that fails unless the content is `size` bytes with `digest`.
    pub fn expecting(inner: R, size: u64, digest: &str) -> Self {
        ContentReader {
            expect: Some((size, digest.to_string())),
            ..ContentReader::new(inner)
        }
    }

    /// The blake3 digest (hex) and size of what was read.
    pub fn finish(self) -> (String, u64) {
        (self.hasher.finalize().to_hex().to_string(), self.read)
    }

    fn mismatch(&self) -> Option<io::Error> {
        let (size, digest) = self.expect.as_ref()?;
        let actual = self.hasher.finalize().to_hex();
        (self.read != *size || actual.as_str() != digest).then(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "content {digest} is corrupt ({} bytes with digest {}, expected {size} bytes)",
                    self.read,
                    &actual.as_str()[..16]
                ),
            )
        })
    }
}

impl<R: Read> Read for ContentReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if let Some((size, _)) = &self.expect {
            let at_end = n == 0 && !buf.is_empty();
            if at_end || self.read >= *size {
                if let Some(e) = self.mismatch() {
                    return Err(e);
                }
            }
        }
        Ok(n)
    }
}

/// Which side of a copy failed.
pub enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies everything `src` yields to `out`, in one piece when `size_hint`
/// is small, else in chunks; returns the number of bytes.
pub fn copy(
    src: &mut impl Read,
    mut out: impl Write,
    size_hint: u64,
) -> std::result::Result<u64, CopyError> {
    if size_hint <= WHOLE_READ_LIMIT {
        let mut buf = Vec::with_capacity(size_hint as usize);
        src.read_to_end(&mut buf).map_err(CopyError::Read)?;
        out.write_all(&buf).map_err(CopyError::Write)?;
        return Ok(buf.len() as u64);
    }
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// blake3 digest and size of everything `reader` yields.
pub fn hash_reader(reader: impl Read) -> io::Result<(String, u64)> {
    let mut reader = ContentReader::new(reader);
    io::copy(&mut reader, &mut io::sink())?;
    Ok(reader.finish())
}

/// Digest of an existing file, or `None` if it cannot be read.
pub fn digest_of(path: &Path) -> Option<String> {
    let f = File::open(path).ok()?;
    hash_reader(f).ok().map(|(d, _)| d)
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

/// How a restore places its files: the way between the store and the
/// package's file system, and what is known of the store's contents.
pub struct Via<'a> {
    pub way: &'a Way,
    /// The state recorded for this content when it was last read and
    /// found good, if any.
    pub known: Option<&'a FileState>,
    /// When the restore began looking (see [`FileState::hashed_ns`]).
    pub started: i64,
}

/// A file placed by a restore.
#[derive(Debug)]
pub struct Placed {
    pub file: Copied,
    /// Whether it was cloned rather than copied.
    pub cloned: bool,
    /// The store content's state, when its stamp was taken and its bytes
    /// known good at once: recorded, so the next clone need not read it.
    pub state: Option<FileState>,
}

/// Places content `digest` at `dest` (when `fresh`: nothing is there) or
/// in a new temp file beside it, with permission bits `mode` (setuid,
/// setgid and sticky bits dropped): cloned where `via.way` clones (see
/// [`clone_out`](super::clone::clone_out)), else copied, verifying it as
/// it is read.
pub fn copy_out(
    store: &LocalStore,
    digest: &str,
    size: u64,
    mode: u32,
    dest: &Path,
    fresh: bool,
    via: &Via<'_>,
) -> std::result::Result<Placed, CopyFailure> {
    let mode = mode & crate::store::MODE_MASK;
    let blob = store.layout().content(digest);
    let mut src = match platform::open_read(&blob) {
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
    if let Some(cloned) = super::clone::clone_out(via, &mut src, digest, size, mode, dest, fresh) {
        return cloned;
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    // Nothing is at the destination: write it in place (one create, no
    // rename), and remove it again if the content proves bad. A file that
    // appeared meanwhile sends us back to the temp file.
    let direct = if fresh {
        platform::create_new(dest, mode).ok()
    } else {
        None
    };
    // The file being written: in place, or a temp file beside it.
    enum Out {
        Direct(File),
        Temp(tempfile::NamedTempFile),
    }
    let (out, needs_chmod) = match direct {
        Some((f, needs_chmod)) => (Out::Direct(f), needs_chmod),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix(&crate::output_temp::prefix())
                .tempfile_in(dir)
                .map_err(|e| CopyFailure::Dest(CacheError::io("create a temp file in", dir, e)))?;
            (Out::Temp(tmp), true)
        }
    };
    let file = match &out {
        Out::Direct(f) => f,
        Out::Temp(t) => t.as_file(),
    };
    let write_err = |e| CopyFailure::Dest(CacheError::io("write", dest, e));
    let result = (|| {
        let mut src = ContentReader::expecting(src, size, digest);
        copy(&mut src, file, size).map_err(|e| match e {
            CopyError::Read(e) if e.kind() == io::ErrorKind::InvalidData => {
                CopyFailure::Content(e.to_string())
            }
            CopyError::Read(e) => {
                CopyFailure::Dest(CacheError::io("read cached content", &blob, e))
            }
            CopyError::Write(e) => write_err(e),
        })?;
        // Temp files are created 0600; a direct file got the mode masked by
        // the umask. Either way the stored mode is set exactly.
        if needs_chmod {
            platform::set_file_mode(file, mode).map_err(write_err)?;
        }
        Ok(())
    })();
    // Every file is closed on return: a restore replacing thousands of
    // files holds no descriptor per file while it waits to rename them.
    let placed = |file| Placed {
        file,
        cloned: false,
        state: None,
    };
    match (result, out) {
        (Ok(()), Out::Direct(_)) => Ok(placed(Copied::Direct(dest.to_path_buf()))),
        (Ok(()), Out::Temp(t)) => Ok(placed(Copied::Temp(t.into_temp_path()))),
        (Err(e), Out::Direct(f)) => {
            drop(f);
            let _ = platform::remove_file(dest);
            Err(e)
        }
        // A temp file removes itself when dropped.
        (Err(e), Out::Temp(_)) => Err(e),
    }
}

/// A restored file: written in place, or a temp file to rename into place.
#[derive(Debug)]
pub enum Copied {
    Direct(std::path::PathBuf),
    /// Closed; removed when dropped unless renamed into place.
    Temp(tempfile::TempPath),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_fails_on_any_mismatch_and_passes_the_right_content() {
        let digest = blake3::hash(b"hello").to_hex().to_string();
        let read = |bytes: &[u8], size: u64| {
            let mut r = ContentReader::expecting(bytes, size, &digest);
            io::copy(&mut r, &mut io::sink()).map_err(|e| e.to_string())
        };
        assert_eq!(read(b"hello", 5), Ok(5));
        for (bytes, size, want) in [
            (&b"hellO"[..], 5, "(5 bytes with digest"),
            (b"hell", 5, "(4 bytes with digest"),
            (b"hello!", 5, "(6 bytes with digest"),
            (b"hello", 6, "(5 bytes with digest"),
        ] {
            let err = read(bytes, size).unwrap_err();
            assert!(
                err.starts_with(&format!("content {digest} is corrupt")),
                "{err}"
            );
            assert!(err.contains(want), "{err}");
        }
        let (d, n) = hash_reader(&b"hello"[..]).unwrap();
        assert_eq!((d.as_str(), n), (digest.as_str(), 5));
    }
}
