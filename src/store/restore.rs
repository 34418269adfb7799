//! Restoring an entry into a package directory.
//!
//! A file with nothing at its destination is written in place; one that
//! replaces an existing file goes to a temp file beside it. Every content is
//! verified as it is copied, and only when all are good are the temp files
//! renamed into place; otherwise the files written in place are removed, so
//! a missing or corrupt content leaves the outputs as they were. Files
//! already present with the same content are not rewritten.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::content::{self, copy_out, Copied, CopyFailure};
use super::lock::StoreLock;
use super::manifest::{FileRecord, Manifest};
use super::LocalStore;
use crate::cache_key::CacheKey;
use crate::error::{CacheError, IoContext, Result};

/// How a fetch may treat the store.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Whether the fetch may write to the store: record the entry as used
    /// (for purge) and remove an entry found broken. False in `READ_ONLY`.
    pub may_write_store: bool,
}

/// What a fetch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchReport {
    /// No entry for the key.
    Miss,
    /// An entry exists but cannot be used; the text says why, for a warning.
    Unusable(String),
    /// The entry was restored.
    Hit(Restored),
}

/// Counts of a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Files written.
    pub files_written: u64,
    /// Files already present with the same content, left alone.
    pub files_unchanged: u64,
    /// Symbolic links in the entry.
    pub links: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes of all files of the entry.
    pub bytes: u64,
}

enum Plan {
    Unchanged,
    ModeOnly,
    /// Replace what is there.
    Write,
    /// Nothing is there: write in place.
    Create,
}

pub fn fetch(
    store: &LocalStore,
    key: &CacheKey,
    cwd: &Path,
    options: RestoreOptions,
) -> Result<FetchReport> {
    // No lock file means nothing was ever put here with a lock; the entry
    // read below then finds nothing or what a lock-free writer left.
    let _lock = StoreLock::shared(store.root(), false)?;
    let entry = store.entry_path(key);
    let (bytes, read_inode) = match read_with_inode(&entry) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FetchReport::Miss),
        Err(e) => return Err(CacheError::io("read cache entry", &entry, e)),
    };
    let unusable = |reason: String| {
        // Only the manifest that was read: a concurrent put may have renamed
        // a good one over it since.
        let still_same = fs::metadata(&entry).is_ok_and(|m| m.ino() == read_inode);
        let removed = options.may_write_store && still_same && fs::remove_file(&entry).is_ok();
        FetchReport::Unusable(format!(
            "local cache entry for hash {} ({}) is unusable: {reason}; treated as a miss{}",
            key.as_str(),
            entry.display(),
            if removed {
                " and removed, so the next put stores it again"
            } else {
                ""
            }
        ))
    };
    let manifest = match Manifest::parse(&bytes, key.as_str()) {
        Ok(m) => m,
        Err(reason) => return Ok(unusable(reason)),
    };

    // Every folder the entry touches is checked (and made) first, so no
    // later step, not even a mode change, goes through a symbolic link.
    let mut dirs = BTreeSet::new();
    for path in manifest
        .files
        .iter()
        .map(|f| &f.path)
        .chain(manifest.links.iter().map(|l| &l.path))
    {
        add_parents(&mut dirs, path);
    }
    ensure_dirs(cwd, &dirs)?;

    // Decide per file, in parallel (it hashes files already present).
    let plans: Vec<Plan> = super::on_io_pool(|| {
        manifest
            .files
            .par_iter()
            .map(|f| plan_file(cwd, f))
            .collect::<Result<Vec<_>>>()
    })?;

    // (file, nothing is at its destination)
    let to_write: Vec<(&FileRecord, bool)> = manifest
        .files
        .iter()
        .zip(&plans)
        .filter(|(_, p)| matches!(p, Plan::Write | Plan::Create))
        .map(|(f, p)| (f, matches!(p, Plan::Create)))
        .collect();
    let copies: Vec<std::result::Result<Copied, CopyFailure>> = super::on_io_pool(|| {
        to_write
            .par_iter()
            .map(|(f, fresh)| {
                copy_out(store, &f.digest, f.size, f.mode, &cwd.join(&f.path), *fresh)
            })
            .collect()
    });
    let mut written = Vec::with_capacity(copies.len());
    let mut failure: Option<std::result::Result<String, CacheError>> = None;
    for ((f, _), c) in to_write.iter().zip(copies) {
        match c {
            Ok(copied) => written.push(copied),
            Err(CopyFailure::Dest(e)) => {
                failure.get_or_insert(Err(e));
            }
            Err(CopyFailure::Content(why)) => {
                if options.may_write_store {
                    let _ = fs::remove_file(store.content_path(&f.digest));
                }
                if !matches!(failure, Some(Err(_))) {
                    failure.get_or_insert(Ok(format!("{why} (for {})", f.path)));
                }
            }
        }
    }
    if let Some(failure) = failure {
        // Files written in place did not exist before and are removed;
        // temp files delete themselves: the outputs stay as they were.
        written.iter().for_each(Copied::discard);
        return match failure {
            Ok(why) => Ok(unusable(why)),
            Err(e) => Err(e),
        };
    }

    let mut report = Restored {
        bytes: manifest.bytes(),
        links: manifest.links.len() as u64,
        ..Restored::default()
    };
    for ((f, _), copied) in to_write.iter().zip(written) {
        if let Copied::Temp(tmp) = copied {
            let dest = cwd.join(&f.path);
            tmp.persist(&dest)
                .map_err(|e| CacheError::io("write", &dest, e.error))?;
        }
        report.files_written += 1;
        report.bytes_written += f.size;
    }
    for (f, plan) in manifest.files.iter().zip(&plans) {
        match plan {
            Plan::Write | Plan::Create => {}
            Plan::Unchanged => report.files_unchanged += 1,
            Plan::ModeOnly => {
                let dest = cwd.join(&f.path);
                fs::set_permissions(&dest, fs::Permissions::from_mode(f.mode))
                    .at("set the mode of", &dest)?;
                report.files_unchanged += 1;
            }
        }
    }
    for l in &manifest.links {
        restore_link(cwd, &l.path, &l.target)?;
    }
    if options.may_write_store {
        // Record the use for purge; failing to is not worth failing the fetch.
        if let Ok(file) = fs::File::open(&entry) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
    }
    Ok(FetchReport::Hit(report))
}

fn read_with_inode(path: &Path) -> io::Result<(Vec<u8>, u64)> {
    let mut file = fs::File::open(path)?;
    let inode = file.metadata()?.ino();
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok((bytes, inode))
}

fn plan_file(cwd: &Path, f: &FileRecord) -> Result<Plan> {
    let dest = cwd.join(&f.path);
    let meta = match fs::symlink_metadata(&dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Plan::Create),
        Err(e) => return Err(CacheError::io("check existing output", &dest, e)),
    };
    if meta.is_dir() {
        return Err(CacheError::Restore {
            path: dest,
            reason: "a folder is where the cached file goes; remove it and build again".into(),
        });
    }
    if !meta.is_file() || meta.len() != f.size {
        return Ok(Plan::Write);
    }
    if content::digest_of(&dest).as_deref() != Some(f.digest.as_str()) {
        return Ok(Plan::Write);
    }
    if meta.permissions().mode() & 0o7777 != f.mode {
        return Ok(Plan::ModeOnly);
    }
    Ok(Plan::Unchanged)
}

fn add_parents(dirs: &mut BTreeSet<String>, path: &str) {
    let mut end = 0;
    while let Some(i) = path[end..].find('/') {
        end += i;
        dirs.insert(path[..end].to_string());
        end += 1;
    }
}

/// Creates the folders outputs go into, refusing to go through a symbolic
/// link, which could lead outside the package.
fn ensure_dirs(cwd: &Path, dirs: &BTreeSet<String>) -> Result<()> {
    // BTreeSet order puts every folder after its parents.
    for rel in dirs {
        let dir = cwd.join(rel);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(CacheError::Restore {
                    path: dir,
                    reason: "it is a symbolic link, and outputs are never written through one; remove it and build again".into(),
                })
            }
            Ok(_) => {
                return Err(CacheError::Restore {
                    path: dir,
                    reason: "a file is where a cached folder goes; remove it and build again".into(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(CacheError::io("create folder", &dir, e)),
            },
            Err(e) => return Err(CacheError::io("check folder", &dir, e)),
        }
    }
    Ok(())
}

fn restore_link(cwd: &Path, rel: &str, target: &str) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dest = cwd.join(rel);
    match fs::symlink_metadata(&dest) {
        Ok(m)
            if m.file_type().is_symlink()
                && fs::read_link(&dest).ok().as_deref() == Some(Path::new(target)) =>
        {
            return Ok(());
        }
        Ok(m) if m.is_dir() => {
            return Err(CacheError::Restore {
                path: dest,
                reason: "a folder is where the cached link goes; remove it and build again".into(),
            })
        }
        _ => {}
    }
    let parent = dest.parent().unwrap_or(cwd);
    let tmp = parent.join(format!(
        "{}link-{}-{}",
        crate::output_glob::RESTORE_TEMP_PREFIX,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::os::unix::fs::symlink(target, &tmp).at("create link", &tmp)?;
    fs::rename(&tmp, &dest).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CacheError::io("create link", &dest, e)
    })
}
