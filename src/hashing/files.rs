//! Finding a package's input files: globby patterns as for outputs, always
//! skipping `node_modules`, `.git` and the cache folder, optionally honouring
//! `.gitignore` files (parsed and matched by the `ignore` crate, the one
//! ripgrep uses).
//!
//! The walk is its own, rather than `ignore`'s walker, because an unchanged
//! tree's rehash is almost only this walk: each folder is listed once and
//! each input is stat'ed relative to the open folder (no path lookup), on
//! several threads, in the same pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use rayon::prelude::*;

use super::file_states::Stamp;
use crate::error::{CacheError, Result};
use crate::output_glob::OutputGlob;

/// How to find and hash inputs.
#[derive(Debug, Clone, Default)]
pub struct HashOptions {
    /// Honour `.gitignore` files (and `.git/info/exclude`) from the
    /// repository root down.
    pub gitignore: bool,
    /// A folder never walked (the cache folder), besides node_modules and .git.
    pub skip: Option<PathBuf>,
    /// Where to remember file states, so unchanged files are not re-read.
    pub state_file: Option<PathBuf>,
}

/// Folders never walked for inputs.
const ALWAYS_SKIPPED: [&str; 2] = ["node_modules", ".git"];

/// An input file (or link) found by the walk.
#[derive(Debug, Clone)]
pub struct Input {
    /// Package-relative path with `/` separators.
    pub rel: String,
    /// What the file system said of it during the walk; `None` if it could
    /// not be stat'ed (it vanished, say), and reading it will tell why.
    pub stamp: Option<Stamp>,
}

/// The `.gitignore` rules in force in a folder: its own, then its parents'.
struct Rules {
    matcher: Gitignore,
    parent: Option<Arc<Rules>>,
}

/// Whether the innermost rule about `path` ignores it (a `!` rule whitelists).
fn ignored(rules: &Option<Arc<Rules>>, path: &Path, is_dir: bool) -> bool {
    let mut at = rules.as_deref();
    while let Some(r) = at {
        match r.matcher.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => at = r.parent.as_deref(),
        }
    }
    false
}

/// `rules` with the ignore file `file` (of folder `dir`) added inside, if
/// it exists and has rules. A file that cannot be parsed is an error, not a
/// silent change of the inputs.
fn with_file(rules: Option<Arc<Rules>>, dir: &Path, file: &Path) -> Result<Option<Arc<Rules>>> {
    if fs::symlink_metadata(file).is_err() {
        return Ok(rules);
    }
    let mut b = GitignoreBuilder::new(dir);
    if let Some(e) = b.add(file) {
        return Err(CacheError::Input {
            path: file.to_path_buf(),
            reason: format!("the ignore file cannot be read ({e})"),
        });
    }
    let matcher = b.build().map_err(|e| CacheError::Input {
        path: file.to_path_buf(),
        reason: format!("the ignore file cannot be parsed ({e})"),
    })?;
    Ok(if matcher.is_empty() {
        rules
    } else {
        Some(Arc::new(Rules {
            matcher,
            parent: rules,
        }))
    })
}

/// The rules of the folders above `cwd`, as git sees them: the repository's
/// `.git/info/exclude`, then each `.gitignore` from the repository root down
/// to `cwd`'s parent. Outside a repository there are none.
fn rules_above(cwd: &Path) -> Result<Option<Arc<Rules>>> {
    let Some(repo) = cwd.ancestors().find(|a| a.join(".git").exists()) else {
        return Ok(None);
    };
    let mut rules = with_file(None, repo, &repo.join(".git/info/exclude"))?;
    let mut above: Vec<&Path> = cwd.ancestors().skip(1).take_while(|a| *a != repo).collect();
    if cwd != repo {
        above.push(repo);
    }
    for dir in above.into_iter().rev() {
        rules = with_file(rules, dir, &dir.join(".gitignore"))?;
    }
    Ok(rules)
}

struct Walk<'a> {
    cwd: &'a Path,
    glob: &'a OutputGlob,
    skip: Option<&'a Path>,
    gitignore: bool,
}

impl Walk<'_> {
    /// The inputs in folder `dir` (`rel` from the package) and below.
    fn dir(&self, dir: &Path, rel: &str, rules: Option<Arc<Rules>>) -> Result<Vec<Input>> {
        let listing_failed = |e: std::io::Error| CacheError::Input {
            path: dir.to_path_buf(),
            reason: format!("the folder could not be listed ({e})"),
        };
        let entries = fs::read_dir(dir).map_err(listing_failed)?;
        let rules = if self.gitignore {
            with_file(rules, dir, &dir.join(".gitignore"))?
        } else {
            rules
        };
        // Files, and folders keyed with their trailing `/`: sorted by that
        // key, and each folder's inputs put in its place, the whole list
        // comes out sorted by path, with no sort of the whole list.
        let mut items = Vec::new();
        for entry in entries {
            let entry = entry.map_err(listing_failed)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(CacheError::Input {
                    path: entry.path(),
                    reason: "its path is not valid UTF-8".into(),
                });
            };
            let ft = entry.file_type().map_err(listing_failed)?;
            let mut child = String::with_capacity(rel.len() + name.len() + 2);
            if !rel.is_empty() {
                child.push_str(rel);
                child.push('/');
            }
            child.push_str(name);
            if ft.is_dir() {
                let path = entry.path();
                if ALWAYS_SKIPPED.contains(&name)
                    || self.skip == Some(path.as_path())
                    || (rules.is_some() && ignored(&rules, &path, true))
                {
                    continue;
                }
                child.push('/');
                items.push((child, Some(path), None));
            } else if ft.is_file() || ft.is_symlink() {
                // FIFOs, sockets and devices are skipped: they are never
                // inputs, and reading a FIFO would hang.
                if !self.glob.matches(&child)
                    || (rules.is_some() && ignored(&rules, &entry.path(), false))
                {
                    continue;
                }
                // Stat'ed relative to the open folder: no path lookup.
                let stamp = entry.metadata().ok().map(|m| Stamp::from(&m));
                items.push((child, None, stamp));
            }
        }
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let below = items
            .par_iter()
            .filter_map(|(key, path, _)| {
                let rel = key.strip_suffix('/')?;
                Some(self.dir(path.as_deref()?, rel, rules.clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut below = below.into_iter();
        let mut inputs = Vec::with_capacity(items.len());
        for (rel, path, stamp) in items {
            match path {
                Some(_) => inputs.extend(below.next().unwrap_or_default()),
                None => inputs.push(Input { rel, stamp }),
            }
        }
        Ok(inputs)
    }
}

/// The files (and links) under `cwd` matching `patterns`, sorted by path,
/// each with its stamp. Runs on the calling rayon pool.
pub fn find_inputs(cwd: &Path, patterns: &[String], options: &HashOptions) -> Result<Vec<Input>> {
    let glob = OutputGlob::new(patterns)?;
    let walk = Walk {
        cwd,
        glob: &glob,
        skip: options.skip.as_deref(),
        gitignore: options.gitignore,
    };
    let rules = if options.gitignore {
        rules_above(cwd)?
    } else {
        None
    };
    walk.dir(walk.cwd, "", rules)
}
