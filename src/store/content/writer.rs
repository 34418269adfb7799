//! Writing contents into the store: a file of the outputs stored under its
//! blake3 digest, or a streamed content staged in the store's temp folder
//! until the entry it belongs to is accepted.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::clone::Way;
use super::reader::{copy, hash_reader, ContentReader, CopyError, WHOLE_READ_LIMIT};
use crate::error::{CacheError, IoContext, Result};
use crate::platform;
use crate::store::LocalStore;

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

/// Stores the content of the regular file `src` and returns its digest:
/// cloned into the store where `way` clones, else copied.
pub fn store_file(store: &LocalStore, src: &Path, way: &Way) -> Result<Stored> {
    let mut file = platform::open_read(src).at("read output", src)?;
    let meta = file.metadata().at("read output", src)?;
    let mode = platform::mode_of(&meta) & crate::store::MODE_MASK;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    if way.decided() != Some(false) {
        // Hashed first, from the page cache of a file just built: a content
        // already stored costs that read only, no clone.
        let (digest, size) = hash_reader(&mut file).at("read output", src)?;
        let stored = |digest, size, new_bytes| Stored {
            digest,
            size,
            mode,
            mtime,
            new_bytes,
        };
        if store.layout().content(&digest).exists() {
            return Ok(stored(digest, size, 0));
        }
        if let Some(cloned) = clone_in(store, way, &file, mode) {
            return cloned.map(|(digest, size, new_bytes)| stored(digest, size, new_bytes));
        }
        file.rewind().at("read output", src)?;
    }
    if meta.len() <= WHOLE_READ_LIMIT {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        let mut reader = ContentReader::new(&mut file);
        reader.read_to_end(&mut buf).at("read output", src)?;
        let (digest, _) = reader.finish();
        let blob = store.layout().content(&digest);
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
    let blob = store.layout().content(&digest);
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
    let mut file = platform::open_read(src).at("read output", src)?;
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

/// Clones the output `file` into the store's temp folder and hashes the
/// clone there (again: the output was hashed to find it new), so the store
/// holds exactly the bytes hashed even if the output changed meanwhile (a clone is taken whole, under the file
/// system's locks); then renames it under its digest. Gives the digest,
/// size and bytes new to the store, or `None` to copy instead.
fn clone_in(
    store: &LocalStore,
    way: &Way,
    file: &File,
    mode: u32,
) -> Option<Result<(String, u64, u64)>> {
    let dir = store.layout().tmp();
    fs::create_dir_all(&dir).ok()?;
    let made = way.attempt(|| {
        tempfile::Builder::new()
            .prefix("content-")
            .make_in(&dir, |p| platform::clone_file(file, p, mode))
    })?;
    let temp = made.ok()?.into_temp_path();
    Some((|| {
        // Read-only, as every store file (the clone has the output's mode).
        if let Some(p) = platform::store_file_permissions() {
            fs::set_permissions(&temp, p).at("write to the cache", &temp)?;
        }
        let (digest, size) = platform::open_read(&temp)
            .and_then(hash_reader)
            .at("read the cache", &temp)?;
        let blob = store.layout().content(&digest);
        if blob.exists() {
            return Ok((digest, size, 0));
        }
        move_into(temp, &blob)?;
        Ok((digest, size, size))
    })())
}

/// A temp file in the folder `dest` will be renamed into: a rename within
/// one folder, and creates spread over the shard folders instead of one.
fn new_temp(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let make = || {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".tmp-");
        if let Some(p) = platform::store_file_permissions() {
            builder.permissions(p);
        }
        builder.tempfile_in(dir)
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
    move_into(tmp.into_temp_path(), dest)
}

/// Renames the closed temp file `temp` to `dest`, creating its folder if
/// needed (through the platform's rename, which waits out a file held open
/// for a moment on Windows).
fn move_into(temp: tempfile::TempPath, dest: &Path) -> Result<()> {
    let moved = match platform::rename(&temp, dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).at("create the cache folder", parent)?;
            }
            platform::rename(&temp, dest)
        }
        other => other,
    };
    moved.map_err(|e| CacheError::io("write", dest, e))?;
    // Renamed away: nothing is left for the guard to delete.
    let _ = temp.keep();
    Ok(())
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
    let staged = stage(store, reader, u64::MAX)?;
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
        move_into(temp, &store.layout().content(&self.digest))
    }
}

/// Writes everything `reader` yields to a temp file in the store's temp
/// folder, under a digest only known at the end. The file is closed once
/// written, so an archive of many files holds no descriptor per file.
/// `size_hint` is the size the source claims (`u64::MAX` when unknown): a
/// small one is read in one piece, into a buffer of that size.
pub fn stage(
    store: &LocalStore,
    reader: &mut impl Read,
    size_hint: u64,
) -> std::result::Result<Staged, IngestFailure> {
    let dir = store.layout().tmp();
    let mut builder = tempfile::Builder::new();
    builder.prefix("content-");
    if let Some(p) = platform::store_file_permissions() {
        builder.permissions(p);
    }
    // The temp folder exists but for the first content of a store: it is
    // made when missing, not checked for each content.
    let tmp = match builder.tempfile_in(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(&dir)
                .at("create the cache folder", &dir)
                .map_err(IngestFailure::Local)?;
            builder.tempfile_in(&dir)
        }
        made => made,
    }
    .at("create a temp file in", &dir)
    .map_err(IngestFailure::Local)?;
    let mut reader = ContentReader::new(reader);
    copy(&mut reader, tmp.as_file(), size_hint).map_err(|e| match e {
        CopyError::Read(e) => IngestFailure::Read(e),
        CopyError::Write(e) => {
            IngestFailure::Local(CacheError::io("write to the cache", tmp.path(), e))
        }
    })?;
    let (digest, size) = reader.finish();
    let temp = if store.layout().content(&digest).exists() {
        None
    } else {
        Some(tmp.into_temp_path())
    };
    Ok(Staged { digest, size, temp })
}
