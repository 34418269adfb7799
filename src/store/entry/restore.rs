//! Restoring an entry into a package directory: plan, then apply.
//!
//! The plan looks at every folder, file and link of the entry before
//! anything changes, so whatever is in the way (a folder where a file or
//! link goes, a file where a folder goes, a symbolic link on the way) is
//! found while the outputs are still untouched. Then folders are made, new
//! files are written in place and replaced ones to temp files beside them,
//! every content verified as it is copied. Only when all are good is
//! anything renamed into place, each replaced file first moved to a backup
//! beside it; if any step fails, what was changed is put back (backups
//! renamed back, new files, links and folders removed, modes reset), so the
//! outputs are exactly as before. Files already present with the same
//! content are not rewritten.
//!
//! Whether a file in place has the cached content is known from its stamp
//! (size, times, inode) when an earlier fetch read it and it has not changed
//! since (the output states, as input hashing keeps them: see
//! `file_states`); only other files are read and hashed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::manifest::{FileRecord, LinkRecord, Manifest, ManifestError, MODE_MASK};
use crate::cache_key::CacheKey;
use crate::error::{CacheError, IoContext, Result};
use crate::file_states::{self, FileState, FileStates, Stamp};
use crate::notice::{LocalProblem, Notice};
use crate::output_temp;
use crate::platform;
use crate::store::content::clone::Way;
use crate::store::content::reader::{self as content, copy_out, Copied, CopyFailure, Placed, Via};
use crate::store::lock::StoreLock;
use crate::store::LocalStore;

/// How a fetch may treat the store.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Whether the fetch may write to the store: record the entry as used
    /// (for purge) and remove an entry found broken. False in `READ_ONLY`.
    pub may_write_store: bool,
}

/// What a fetch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreReport {
    /// No entry for the key.
    Miss,
    /// An entry exists but cannot be used: why, for a warning.
    Unusable(Notice),
    /// The entry was restored.
    Hit(Restored),
}

/// Counts of a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Files written.
    pub files_written: u64,
    /// Of the files written, those cloned from the store (sharing its
    /// blocks) rather than copied.
    pub files_cloned: u64,
    /// Files already present with the same content, left alone.
    pub files_unchanged: u64,
    /// Symbolic links in the entry.
    pub links: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Bytes of all files of the entry.
    pub bytes: u64,
}

/// What a file of the entry needs.
enum FilePlan {
    Unchanged,
    /// Same content, other mode (the mode found, to put back).
    ModeOnly(u32),
    /// Something else is there: replace it.
    Replace,
    /// Nothing is there: write in place.
    Create,
}

/// What a link of the entry needs.
#[derive(Clone, Copy)]
enum LinkPlan {
    Unchanged,
    Replace,
    Create,
}

/// Advice for a store this user may not read.
fn permission_denied(e: &CacheError) -> bool {
    matches!(e, CacheError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
}

pub fn restore(
    store: &LocalStore,
    key: &CacheKey,
    cwd: &Path,
    options: RestoreOptions,
) -> Result<RestoreReport> {
    let entry = store.layout().entry(key.as_str());
    let unusable_because = |problem: LocalProblem| {
        RestoreReport::Unusable(Notice::LocalEntry {
            key: key.as_str().to_string(),
            path: entry.clone(),
            problem,
        })
    };
    let unreadable = |what: String| unusable_because(LocalProblem::Unreadable(what));
    // No lock file means nothing was ever put here with a lock; the entry
    // read below then finds nothing or what a lock-free writer left.
    let _lock = match StoreLock::shared(store.layout(), false) {
        Ok(lock) => lock,
        Err(e) if permission_denied(&e) => return Ok(unreadable(e.to_string())),
        Err(e) => return Err(e),
    };
    let (bytes, read_inode) = match read_with_inode(&entry) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(RestoreReport::Miss),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(unreadable(format!("permission denied ({e})")))
        }
        Err(e) => return Err(CacheError::io("read cache entry", &entry, e)),
    };
    let unusable = |reason: String| {
        // Only the manifest that was read: a concurrent put may have renamed
        // a good one over it since.
        let still_same = fs::metadata(&entry).is_ok_and(|m| platform::file_id(&m) == read_inode);
        let removed = options.may_write_store && still_same && fs::remove_file(&entry).is_ok();
        unusable_because(LocalProblem::Invalid { reason, removed })
    };
    let manifest = match Manifest::parse(&bytes, key.as_str()) {
        Ok(m) => m,
        // Written by another version: a miss, left alone (an older entry
        // is stored again by the next put; a newer one serves its version).
        Err(ManifestError::OtherFormat(_)) => return Ok(RestoreReport::Miss),
        Err(ManifestError::Invalid(reason)) => return Ok(unusable(reason)),
    };

    // An entry made elsewhere may hold names this system cannot: found
    // before any change, a miss with a warning; the entry stays.
    let unrestorable = |why: String| unusable_because(LocalProblem::NotRestorableHere(why));
    if let Some(why) = platform_problem(&manifest) {
        return Ok(unrestorable(why));
    }

    let states_path = output_states_path(store, cwd);
    let recorded = FileStates::load(&states_path);
    let plan = plan(cwd, &manifest, &recorded)?;
    // Leftovers of a killed fetch, in the folders this one writes to.
    crate::store::on_io_pool(|| {
        plan.existing_dirs.par_iter().for_each(|d| {
            output_temp::remove_stale_in(d);
        })
    });

    let contents_path = content_states_path(store, cwd);
    let way = Way::between(store, cwd);
    // States serve clones only: where this way copies, nothing is read.
    let known = if way.decided() == Some(false) {
        FileStates::default()
    } else {
        FileStates::load(&contents_path)
    };
    let contents = Contents { way, known };
    let mut undo = Undo::default();
    match apply(store, cwd, &manifest, &plan, options, &contents, &mut undo) {
        Ok(Applied::Done(report, read)) => {
            undo.finish();
            if options.may_write_store && !read.is_empty() {
                // Failing to record them only costs the next clone a read.
                let _ = save_content_states(&contents_path, &manifest, &contents.known, read);
            }
            if options.may_write_store && plan.states_changed {
                // What was found in place, for the next fetch; failing to
                // record it only costs that fetch a read. Nothing found in
                // place (a full restore) removes the record: no file is
                // written for it.
                if plan.states.iter().all(Option::is_none) {
                    let _ = fs::remove_file(&states_path);
                } else {
                    let _ = FileStates::save(
                        &states_path,
                        manifest
                            .files
                            .iter()
                            .zip(&plan.states)
                            .filter_map(|(f, s)| Some((f.path.as_str(), s.as_ref()?))),
                    );
                }
            }
            if options.may_write_store {
                // Record the use for purge; failing to is not worth failing
                // the fetch.
                let _ = platform::mark_used(&entry);
            }
            Ok(RestoreReport::Hit(report))
        }
        Ok(Applied::BadContent(why)) => {
            undo.roll_back();
            Ok(unusable(why))
        }
        Ok(Applied::NoLinks(why)) => {
            undo.roll_back();
            Ok(unrestorable(why))
        }
        Ok(Applied::Unreadable(why)) => {
            undo.roll_back();
            Ok(unreadable(why))
        }
        Err(e) => {
            undo.roll_back();
            Err(e)
        }
    }
}

/// Why this system cannot hold the paths of `manifest` as they are.
fn platform_problem(manifest: &Manifest) -> Option<String> {
    let paths = || {
        manifest
            .files
            .iter()
            .map(|f| f.path.as_str())
            .chain(manifest.links.iter().map(|l| l.path.as_str()))
    };
    if let Some(why) = paths().find_map(platform::name_problem) {
        return Some(why);
    }
    if platform::CASE_INSENSITIVE {
        if let Some((a, b)) = super::manifest::case_conflict(paths()) {
            return Some(format!(
                "{a:?} and {b:?} differ only in case, which this file system cannot hold apart"
            ));
        }
    }
    None
}

fn read_with_inode(path: &Path) -> io::Result<(Vec<u8>, u64)> {
    let mut file = fs::File::open(path)?;
    let inode = platform::file_id(&file.metadata()?);
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok((bytes, inode))
}

/// Everything a restore will do, decided before any change.
struct Plan {
    /// Folders to create, parents first.
    missing_dirs: Vec<PathBuf>,
    /// Folders that exist and receive outputs (the package folder included
    /// when outputs lie directly in it).
    existing_dirs: Vec<PathBuf>,
    files: Vec<FilePlan>,
    links: Vec<LinkPlan>,
    /// Per file, its state to record: files found in place with the cached
    /// content and mode (read now, or known from their recorded state).
    states: Vec<Option<FileState>>,
    /// Whether `states` differ from what was recorded.
    states_changed: bool,
}

/// How a restore's files are placed: the way between the store and the
/// package's file system, and the store contents' states recorded by the
/// last restores into this package (by digest).
struct Contents {
    way: Way,
    known: FileStates,
}

/// Where the states of the store contents last restored into package
/// folder `cwd` are kept in `store`.
pub(crate) fn content_states_path(store: &LocalStore, cwd: &Path) -> PathBuf {
    let id = blake3::hash(cwd.as_os_str().as_encoded_bytes()).to_hex();
    store.layout().content_states(id.as_str())
}

/// Records the states of the contents `read` now, keeping those recorded
/// before for other contents of `manifest` (only its contents: the record
/// does not grow with every entry restored into the package).
fn save_content_states(
    path: &Path,
    manifest: &Manifest,
    known: &FileStates,
    mut read: BTreeMap<String, FileState>,
) -> std::io::Result<()> {
    let digests: BTreeSet<&str> = manifest.files.iter().map(|f| f.digest.as_str()).collect();
    for (d, k) in digests
        .iter()
        .zip(known.get_sorted(digests.iter().copied()))
    {
        if let Some(k) = k {
            read.entry(d.to_string()).or_insert(k);
        }
    }
    FileStates::save(path, read.iter().map(|(d, s)| (d.as_str(), s)))
}

/// Where the output states of package folder `cwd` are kept in `store`.
pub(crate) fn output_states_path(store: &LocalStore, cwd: &Path) -> PathBuf {
    let id = blake3::hash(cwd.as_os_str().as_encoded_bytes()).to_hex();
    store.layout().output_states(id.as_str())
}

fn plan(cwd: &Path, manifest: &Manifest, recorded: &FileStates) -> Result<Plan> {
    let mut dirs = BTreeSet::new();
    let mut top_level = false;
    for path in manifest
        .files
        .iter()
        .map(|f| &f.path)
        .chain(manifest.links.iter().map(|l| &l.path))
    {
        top_level |= !path.contains('/');
        add_parents(&mut dirs, path);
    }
    // BTreeSet order puts every folder after its parents, and "a/b" before
    // "a/b/c"; a folder below a missing one is missing too.
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    let mut existing_dirs = Vec::new();
    if top_level {
        existing_dirs.push(cwd.to_path_buf());
    }
    for rel in &dirs {
        if parent_of(rel).is_some_and(|p| missing.contains(p)) {
            missing.insert(rel);
            continue;
        }
        let dir = cwd.join(rel);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => existing_dirs.push(dir),
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
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.insert(rel);
            }
            Err(e) => return Err(CacheError::io("check folder", &dir, e)),
        }
    }
    let in_missing = |path: &str| parent_of(path).is_some_and(|p| missing.contains(p));
    // Files are sorted by path, as the lookup needs.
    let known = recorded.get_sorted(manifest.files.iter().map(|f| f.path.as_str()));
    // Taken before any file is looked at: the time of what is read now.
    let started = file_states::now_ns();
    // Decide per file, in parallel (it hashes files present whose state is
    // not known).
    let decided = crate::store::on_io_pool(|| {
        manifest
            .files
            .par_iter()
            .zip(known.par_iter())
            .map(|(f, known)| {
                if in_missing(&f.path) {
                    Ok((FilePlan::Create, None))
                } else {
                    plan_file(cwd, f, known.as_ref(), started)
                }
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let states_changed = decided.iter().zip(&known).any(|((_, s), k)| s != k);
    let (files, states) = decided.into_iter().unzip();
    let links = manifest
        .links
        .iter()
        .map(|l| {
            if in_missing(&l.path) {
                Ok(LinkPlan::Create)
            } else {
                plan_link(cwd, l)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        missing_dirs: missing.iter().map(|rel| cwd.join(rel)).collect(),
        existing_dirs,
        files,
        links,
        states,
        states_changed,
    })
}

fn parent_of(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// What file `f` needs, and the state to record for it (`started`: when
/// this fetch began looking). A file whose recorded state `known` its stamp
/// still matches is not read.
fn plan_file(
    cwd: &Path,
    f: &FileRecord,
    known: Option<&FileState>,
    started: i64,
) -> Result<(FilePlan, Option<FileState>)> {
    let dest = cwd.join(&f.path);
    let meta = match fs::symlink_metadata(&dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((FilePlan::Create, None)),
        Err(e) => return Err(CacheError::io("check existing output", &dest, e)),
    };
    if meta.is_dir() {
        return Err(CacheError::Restore {
            path: dest,
            reason: "a folder is where the cached file goes; remove it and build again".into(),
        });
    }
    if !meta.is_file() || meta.len() != f.size {
        return Ok((FilePlan::Replace, None));
    }
    let stamp = Stamp::from(&meta);
    let (digest, state) = match known.and_then(|k| Some((k.reusable(&stamp)?, *k))) {
        Some((digest, k)) => (digest.to_hex().to_string(), k),
        None => {
            let Some(digest) = content::digest_of(&dest) else {
                return Ok((FilePlan::Replace, None));
            };
            let state = blake3::Hash::from_hex(&digest).ok().map(|d| FileState {
                stamp,
                digest: d,
                hashed_ns: started,
            });
            let Some(state) = state else {
                return Ok((FilePlan::Replace, None));
            };
            (digest, state)
        }
    };
    if digest != f.digest {
        return Ok((FilePlan::Replace, None));
    }
    if !platform::mode_matches(&meta, f.mode & MODE_MASK) {
        // Its mode is set now, which changes its stamp: read next time.
        return Ok((FilePlan::ModeOnly(platform::mode_of(&meta)), None));
    }
    Ok((FilePlan::Unchanged, Some(state)))
}

fn plan_link(cwd: &Path, l: &LinkRecord) -> Result<LinkPlan> {
    let dest = cwd.join(&l.path);
    match fs::symlink_metadata(&dest) {
        Ok(m)
            if m.file_type().is_symlink()
                && fs::read_link(&dest).ok().as_deref() == Some(Path::new(&l.target)) =>
        {
            Ok(LinkPlan::Unchanged)
        }
        Ok(m) if m.is_dir() => Err(CacheError::Restore {
            path: dest,
            reason: "a folder is where the cached link goes; remove it and build again".into(),
        }),
        Ok(_) => Ok(LinkPlan::Replace),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LinkPlan::Create),
        Err(e) => Err(CacheError::io("check existing output", &dest, e)),
    }
}

fn add_parents(dirs: &mut BTreeSet<String>, path: &str) {
    let mut end = 0;
    while let Some(i) = path[end..].find('/') {
        end += i;
        dirs.insert(path[..end].to_string());
        end += 1;
    }
}

/// How applying a plan ended, short of a local error.
enum Applied {
    /// Restored; with the states of the store's contents that were read
    /// and found good (by digest), to record.
    Done(Restored, BTreeMap<String, FileState>),
    /// A stored content is missing or damaged.
    BadContent(String),
    /// A link cannot be made on this system (Windows without the right).
    NoLinks(String),
    /// A stored content may not be read by this user.
    Unreadable(String),
}

/// Every change made so far, to put back if a later step fails.
#[derive(Default)]
struct Undo {
    created_dirs: Vec<PathBuf>,
    /// Files and links that did not exist before.
    created: Vec<PathBuf>,
    /// (destination, the backup its old file or link was moved to).
    replaced: Vec<(PathBuf, PathBuf)>,
    /// Modes changed, with the mode to put back.
    modes: Vec<(PathBuf, u32)>,
}

impl Undo {
    /// Puts everything back, last change first; best effort, since this
    /// already runs because something failed.
    fn roll_back(self) {
        for (path, mode) in self.modes.iter().rev() {
            let _ = platform::set_mode(path, *mode);
        }
        for (dest, backup) in self.replaced.iter().rev() {
            let _ = platform::rename(backup, dest);
        }
        for path in self.created.iter().rev() {
            let _ = platform::remove_file(path);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }

    /// Removes the backups once the restore is complete.
    fn finish(self) {
        for (_, backup) in &self.replaced {
            let _ = platform::remove_file(backup);
        }
    }
}

/// A name for a temp file or backup beside `dest`.
fn beside(dest: &Path, what: &str) -> PathBuf {
    dest.parent()
        .unwrap_or(Path::new("."))
        .join(output_temp::name(what))
}

/// Moves what is at `dest` to a backup beside it, recording it. Nothing
/// there (removed since the plan, maybe by a concurrent restore of the same
/// package that is about to put its own file there) needs no backup, and
/// what then ends up there is not ours to remove on a roll-back.
fn back_up(dest: &Path, undo: &mut Undo) -> Result<()> {
    let backup = beside(dest, "old");
    match platform::rename(dest, &backup) {
        Ok(()) => {
            undo.replaced.push((dest.to_path_buf(), backup));
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CacheError::io("move aside the old output", dest, e)),
    }
}

fn apply(
    store: &LocalStore,
    cwd: &Path,
    manifest: &Manifest,
    plan: &Plan,
    options: RestoreOptions,
    contents: &Contents,
    undo: &mut Undo,
) -> Result<Applied> {
    for dir in &plan.missing_dirs {
        match fs::create_dir(dir) {
            Ok(()) => undo.created_dirs.push(dir.clone()),
            // Made meanwhile by a concurrent restore of the same package.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(CacheError::io("create folder", dir, e)),
        }
    }

    // (file, nothing is at its destination)
    let to_write: Vec<(&FileRecord, bool)> = manifest
        .files
        .iter()
        .zip(&plan.files)
        .filter(|(_, p)| matches!(p, FilePlan::Replace | FilePlan::Create))
        .map(|(f, p)| (f, matches!(p, FilePlan::Create)))
        .collect();
    // What is known of the contents to write, looked up in digest order.
    let digests: BTreeSet<&str> = to_write.iter().map(|(f, _)| f.digest.as_str()).collect();
    let known: HashMap<&str, FileState> = digests
        .iter()
        .zip(contents.known.get_sorted(digests.iter().copied()))
        .filter_map(|(d, k)| Some((*d, k?)))
        .collect();
    // Before any stamp of a content is taken.
    let started = file_states::now_ns();
    let copies: Vec<std::result::Result<Placed, CopyFailure>> = crate::store::on_io_pool(|| {
        to_write
            .par_iter()
            .map(|(f, fresh)| {
                let via = Via {
                    way: &contents.way,
                    known: known.get(f.digest.as_str()),
                    started,
                };
                let dest = cwd.join(&f.path);
                copy_out(store, &f.digest, f.size, f.mode, &dest, *fresh, &via)
            })
            .collect()
    });
    let mut read = BTreeMap::new();
    let mut cloned = 0;
    let mut written = Vec::with_capacity(copies.len());
    let mut failure: Option<Result<Applied>> = None;
    for ((f, _), c) in to_write.iter().zip(copies) {
        match c {
            Ok(placed) => {
                if let Copied::Direct(path) = &placed.file {
                    undo.created.push(path.clone());
                }
                cloned += u64::from(placed.cloned);
                if let Some(state) = placed.state {
                    if known.get(f.digest.as_str()) != Some(&state) {
                        read.insert(f.digest.clone(), state);
                    }
                }
                written.push(placed.file);
            }
            Err(CopyFailure::Dest(e)) => {
                failure = Some(Err(e));
            }
            Err(CopyFailure::Content(why)) => {
                if options.may_write_store {
                    let _ = fs::remove_file(store.layout().content(&f.digest));
                }
                if !matches!(failure, Some(Err(_))) {
                    failure
                        .get_or_insert(Ok(Applied::BadContent(format!("{why} (for {})", f.path))));
                }
            }
            Err(CopyFailure::Unreadable(why)) => {
                if !matches!(failure, Some(Err(_))) {
                    failure.get_or_insert(Ok(Applied::Unreadable(why)));
                }
            }
        }
    }
    if let Some(failure) = failure {
        // Files written in place are in `undo`; temp files delete
        // themselves when dropped.
        return failure;
    }

    let mut report = Restored {
        bytes: manifest.bytes(),
        links: manifest.links.len() as u64,
        files_cloned: cloned,
        ..Restored::default()
    };
    for ((f, _), copied) in to_write.iter().zip(written) {
        if let Copied::Temp(tmp) = copied {
            let dest = cwd.join(&f.path);
            back_up(&dest, undo)?;
            platform::rename(&tmp, &dest).at("write", &dest)?;
            let _ = tmp.keep();
        }
        report.files_written += 1;
        report.bytes_written += f.size;
    }
    for (f, plan) in manifest.files.iter().zip(&plan.files) {
        match plan {
            FilePlan::Replace | FilePlan::Create => {}
            FilePlan::Unchanged => report.files_unchanged += 1,
            FilePlan::ModeOnly(old) => {
                let dest = cwd.join(&f.path);
                platform::set_mode(&dest, f.mode & MODE_MASK).at("set the mode of", &dest)?;
                undo.modes.push((dest, *old));
                report.files_unchanged += 1;
            }
        }
    }
    for (l, plan) in manifest.links.iter().zip(&plan.links) {
        if matches!(plan, LinkPlan::Unchanged) {
            continue;
        }
        let dest = cwd.join(&l.path);
        let tmp = beside(&dest, "link");
        if let Err(e) = platform::symlink(&l.target, &tmp) {
            return Ok(Applied::NoLinks(format!(
                "the link {} could not be created ({e}); {}",
                l.path,
                platform::LINK_HINT
            )));
        }
        let placed = (|| {
            if matches!(plan, LinkPlan::Replace) {
                back_up(&dest, undo)?;
            }
            platform::rename(&tmp, &dest).at("create link", &dest)
        })();
        match placed {
            Ok(()) if matches!(plan, LinkPlan::Create) => undo.created.push(dest),
            Ok(()) => {}
            Err(e) => {
                let _ = platform::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    Ok(Applied::Done(report, read))
}
