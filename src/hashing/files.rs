//! Finding a package's input files: globby patterns as for outputs, always
//! skipping `node_modules`, `.git` and the cache folder, optionally honouring
//! `.gitignore` (through the `ignore` crate, the walker ripgrep uses).

use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

use crate::error::{CacheError, Result};
use crate::output_glob::{relative, FoundOutput, OutputGlob};

/// How to find and hash inputs.
#[derive(Debug, Clone, Default)]
pub struct HashOptions {
    /// Honour `.gitignore` files (and `.git/info/exclude`).
    pub gitignore: bool,
    /// A folder never walked (the cache folder), besides node_modules and .git.
    pub skip: Option<PathBuf>,
    /// Where to remember file states, so unchanged files are not re-read.
    pub state_file: Option<PathBuf>,
}

/// Folders never walked for inputs.
const ALWAYS_SKIPPED: [&str; 2] = ["node_modules", ".git"];

/// The files (and links) under `cwd` matching `patterns`, sorted by path.
pub fn find_inputs(
    cwd: &Path,
    patterns: &[String],
    options: &HashOptions,
) -> Result<Vec<FoundOutput>> {
    let glob = OutputGlob::new(patterns)?;
    let skip = options.skip.clone();
    let mut walker = WalkBuilder::new(cwd);
    walker
        .hidden(false)
        .follow_links(false)
        .git_ignore(options.gitignore)
        .git_exclude(options.gitignore)
        .git_global(false)
        .ignore(false)
        .parents(options.gitignore)
        .require_git(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && (ALWAYS_SKIPPED.iter().any(|s| e.file_name() == *s)
                    || skip.as_deref() == Some(e.path())))
        });
    // Walk on several threads: an unchanged tree's rehash is mostly this
    // walk and the stat of each file.
    let found = std::sync::Mutex::new(Vec::new());
    let failure = std::sync::Mutex::new(None);
    walker.threads(
        std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8),
    );
    walker.build_parallel().run(|| {
        let glob = &glob;
        let found = &found;
        let failure = &failure;
        Box::new(move |entry| {
            use ignore::WalkState;
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    failure
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(CacheError::Input {
                            path: cwd.to_path_buf(),
                            reason: format!("the folder could not be listed ({e})"),
                        });
                    return WalkState::Quit;
                }
            };
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            if ft.is_dir() {
                return WalkState::Continue;
            }
            let Some(rel) = relative(cwd, entry.path()) else {
                failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(CacheError::Input {
                        path: entry.path().to_path_buf(),
                        reason: "its path is not valid UTF-8".into(),
                    });
                return WalkState::Quit;
            };
            // FIFOs, sockets and devices are skipped: they are never inputs,
            // and reading a FIFO would hang.
            if (ft.is_file() || ft.is_symlink()) && glob.matches(&rel) {
                found
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(FoundOutput {
                        rel,
                        abs: entry.path().to_path_buf(),
                        is_symlink: ft.is_symlink(),
                    });
            }
            WalkState::Continue
        })
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found)
}
