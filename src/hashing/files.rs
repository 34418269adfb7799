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

use crate::error::{CacheError, Result};
use crate::file_states::Stamp;
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
/// it exists (a dangling link does not) and has rules. A file that cannot be
/// parsed is an error, not a silent change of the inputs.
fn with_file(rules: Option<Arc<Rules>>, dir: &Path, file: &Path) -> Result<Option<Arc<Rules>>> {
    if !fs::metadata(file).is_ok_and(|m| m.is_file()) {
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

/// The folder git keeps its shared files in for work tree `repo`: `.git`
/// itself, or for a linked work tree (where `.git` is a file saying
/// `gitdir: ...`), that folder's `commondir`.
fn git_common_dir(repo: &Path) -> Option<PathBuf> {
    let dot_git = repo.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let text = fs::read_to_string(&dot_git).ok()?;
    let git_dir = repo.join(text.strip_prefix("gitdir:")?.trim());
    match fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => Some(git_dir.join(common.trim())),
        Err(_) => Some(git_dir),
    }
}

/// The rules in force at `cwd` from the folders above it, as git sees them:
/// the repository's `info/exclude`, then each `.gitignore` from the
/// repository root down to `cwd`'s parent. Outside a repository there are
/// none. `None` when `cwd` itself lies in an ignored folder, so that nothing
/// in it is an input.
fn rules_above(cwd: &Path) -> Result<Option<Option<Arc<Rules>>>> {
    let Some(repo) = cwd.ancestors().find(|a| a.join(".git").exists()) else {
        return Ok(Some(None));
    };
    let mut rules = match git_common_dir(repo) {
        Some(common) => with_file(None, repo, &common.join("info/exclude"))?,
        None => None,
    };
    let below: Vec<&Path> = cwd.ancestors().take_while(|a| *a != repo).collect();
    let mut dir = repo;
    for next in below.into_iter().rev() {
        rules = with_file(rules, dir, &dir.join(".gitignore"))?;
        if rules.is_some() && ignored(&rules, next, true) {
            return Ok(None);
        }
        dir = next;
    }
    Ok(Some(rules))
}

/// How many folder levels are walked by recursion before switching to the
/// level-by-level walk: well within a thread's stack, and deeper than
/// almost any package.
const MAX_RECURSION: usize = 48;

/// What one folder holds: its inputs, and its sub-folders to walk, in path
/// order.
enum Item {
    Input(Input),
    /// A folder's id, and its path with a trailing `/`.
    Folder(usize, String),
}

impl Item {
    /// What the items of a folder are sorted by.
    fn key(&self) -> &str {
        match self {
            Item::Input(i) => &i.rel,
            Item::Folder(_, key) => key,
        }
    }
}

/// A folder waiting to be listed.
struct Pending {
    id: usize,
    path: PathBuf,
    rel: String,
    rules: Option<Arc<Rules>>,
}

struct Walk<'a> {
    glob: &'a OutputGlob,
    skip: Option<&'a Path>,
    gitignore: bool,
}

impl Walk<'_> {
    /// Lists folder `p`: its inputs, each stat'ed relative to the open folder
    /// (no path lookup), and its sub-folders (numbered from 0 in the items;
    /// `levels` renumbers them).
    /// Files, and folders keyed with their trailing `/`, are sorted by that
    /// key, so that putting each folder's items in its place gives the whole
    /// list in path order without sorting it.
    fn list(&self, p: &Pending) -> Result<(Vec<Item>, Vec<Pending>)> {
        let listing_failed = |e: std::io::Error| CacheError::Input {
            path: p.path.clone(),
            reason: format!("the folder could not be listed ({e})"),
        };
        let entries = fs::read_dir(&p.path).map_err(listing_failed)?;
        let rules = if self.gitignore {
            with_file(p.rules.clone(), &p.path, &p.path.join(".gitignore"))?
        } else {
            p.rules.clone()
        };
        let mut items = Vec::new();
        let mut folders = Vec::new();
        for entry in entries {
            let entry = entry.map_err(listing_failed)?;
            let name = entry.file_name();
            // node_modules and .git are skipped whatever they are: a work
            // tree's `.git` file holds an absolute path.
            if ALWAYS_SKIPPED.iter().any(|s| name == *s) {
                continue;
            }
            let ft = entry.file_type().map_err(listing_failed)?;
            // FIFOs, sockets and devices are skipped: they are never
            // inputs, and reading a FIFO would hang.
            if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
                continue;
            }
            if ft.is_dir() && self.skip == Some(entry.path().as_path()) {
                continue;
            }
            if rules.is_some() && ignored(&rules, &entry.path(), ft.is_dir()) {
                continue;
            }
            let Some(name) = name.to_str() else {
                return Err(CacheError::Input {
                    path: entry.path(),
                    reason: "its path is not valid UTF-8".into(),
                });
            };
            let mut key = String::with_capacity(p.rel.len() + name.len() + 2);
            if !p.rel.is_empty() {
                key.push_str(&p.rel);
                key.push('/');
            }
            key.push_str(name);
            if ft.is_dir() {
                folders.push(Pending {
                    id: 0,
                    path: entry.path(),
                    rel: key.clone(),
                    rules: rules.clone(),
                });
                key.push('/');
                items.push(Item::Folder(folders.len() - 1, key));
            } else if self.glob.matches(&key) {
                let stamp = entry.metadata().ok().map(|m| Stamp::from(&m));
                items.push(Item::Input(Input { rel: key, stamp }));
            }
        }
        items.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        Ok((items, folders))
    }

    /// The inputs in folder `p` and below, in path order. The sub-folders
    /// are walked in parallel, recursively down to `MAX_RECURSION` levels
    /// (the fastest way), then level by level, so a deep tree needs no deep
    /// stack (an overflow would abort the whole Node process).
    fn tree(&self, p: Pending, depth: usize) -> Result<Vec<Input>> {
        if depth >= MAX_RECURSION {
            return self.levels(p);
        }
        let (items, folders) = self.list(&p)?;
        let mut below = folders
            .into_par_iter()
            .map(|f| self.tree(f, depth + 1))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Item::Input(input) => out.push(input),
                Item::Folder(i, _) => out.append(&mut below[i]),
            }
        }
        Ok(out)
    }

    /// The inputs in folder `root` and below, in path order, walking one
    /// level of folders at a time (each level in parallel) and then putting
    /// each folder's inputs in its place with an explicit stack.
    fn levels(&self, mut root: Pending) -> Result<Vec<Input>> {
        root.id = 0;
        let mut listed: Vec<Vec<Item>> = Vec::new();
        let mut level = vec![root];
        let mut next_id = 1;
        while !level.is_empty() {
            let results = level
                .par_iter()
                .map(|p| self.list(p))
                .collect::<Result<Vec<_>>>()?;
            let mut next = Vec::new();
            for (p, (mut items, folders)) in level.iter().zip(results) {
                // Give the sub-folders their ids, in the order found.
                let first = next_id;
                next_id += folders.len();
                for item in &mut items {
                    if let Item::Folder(i, _) = item {
                        *i += first;
                    }
                }
                for (i, mut f) in folders.into_iter().enumerate() {
                    f.id = first + i;
                    next.push(f);
                }
                if listed.len() <= p.id {
                    listed.resize_with(p.id + 1, Vec::new);
                }
                listed[p.id] = items;
            }
            level = next;
        }
        // Put each folder's inputs in its place, with an explicit stack.
        let mut out = Vec::new();
        let mut stack = vec![std::mem::take(&mut listed[0]).into_iter()];
        while let Some(items) = stack.last_mut() {
            match items.next() {
                Some(Item::Input(input)) => out.push(input),
                Some(Item::Folder(id, _)) => {
                    let below = std::mem::take(&mut listed[id]).into_iter();
                    stack.push(below);
                }
                None => {
                    stack.pop();
                }
            }
        }
        Ok(out)
    }
}

/// The files (and links) under `cwd` matching `patterns`, sorted by path,
/// each with its stamp. Runs on the calling rayon pool.
pub fn find_inputs(cwd: &Path, patterns: &[String], options: &HashOptions) -> Result<Vec<Input>> {
    let glob = OutputGlob::new(patterns)?;
    let walk = Walk {
        glob: &glob,
        skip: options.skip.as_deref(),
        gitignore: options.gitignore,
    };
    let rules = if options.gitignore {
        match rules_above(cwd)? {
            Some(rules) => rules,
            None => return Ok(Vec::new()),
        }
    } else {
        None
    };
    let root = Pending {
        id: 0,
        path: cwd.to_path_buf(),
        rel: String::new(),
        rules,
    };
    walk.tree(root, 0)
}
