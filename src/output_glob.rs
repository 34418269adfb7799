//! Output globs with globby semantics: patterns relative to the package
//! directory, dot files included, files (and symlinks) only, `!pattern`
//! negates, a plain folder name stands for everything below it.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::error::{CacheError, Result};
use crate::notice::Unstorable;
use crate::output_temp;

/// One output found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundOutput {
    /// Package-relative path with `/` separators.
    pub rel: String,
    /// Absolute path.
    pub abs: PathBuf,
    /// Whether it is a symbolic link (stored as a link, not followed).
    pub is_symlink: bool,
}

/// A compiled list of output globs.
#[derive(Debug)]
pub struct OutputGlob {
    include: GlobSet,
    exclude: GlobSet,
    /// Folders to walk: the literal leading parts of the include patterns.
    bases: Vec<String>,
    /// Folders excluded whole by a `!folder/**` pattern, not walked at all.
    pruned: Vec<String>,
    /// Whether every path matches (`**/*` or `**` with no exclusion), so
    /// no path needs matching.
    all: bool,
}

fn compile(pattern: &str) -> Result<Glob> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| CacheError::Glob {
            pattern: pattern.to_string(),
            reason: e.kind().to_string(),
        })
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Strips `./`, refuses absolute paths and `..`.
fn normalize(pattern: &str) -> Result<String> {
    let refuse = |reason: &str| CacheError::Glob {
        pattern: pattern.to_string(),
        reason: reason.to_string(),
    };
    let mut p = pattern.trim();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return Err(refuse("it is empty"));
    }
    if p.starts_with('/') || Path::new(p).has_root() {
        return Err(refuse("outputs must be relative to the package directory"));
    }
    if p.split('/').any(|c| c == "..") {
        return Err(refuse(
            "outputs must stay inside the package directory ('..' is not allowed)",
        ));
    }
    Ok(p.to_string())
}

impl OutputGlob {
    /// Compiles `patterns`; an invalid pattern is an error naming it.
    pub fn new(patterns: &[String]) -> Result<Self> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let mut bases = Vec::new();
        let mut pruned = Vec::new();
        let mut all = false;
        let mut excludes = false;
        for raw in patterns {
            let (negated, body) = match raw.trim().strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw.as_str()),
            };
            let p = normalize(body)?;
            excludes |= negated;
            all |= !negated && (p == "**" || p == "**/*");
            let builder = if negated { &mut exclude } else { &mut include };
            builder.add(compile(&p)?);
            if !has_magic(&p) {
                // globby expands a folder name to everything below it.
                builder.add(compile(&format!("{p}/**"))?);
            }
            if negated {
                if let Some(dir) = p.strip_suffix("/**").filter(|d| !has_magic(d)) {
                    pruned.push(dir.to_string());
                } else if !has_magic(&p) {
                    pruned.push(p.clone());
                }
            } else {
                let literal: Vec<&str> = p.split('/').take_while(|c| !has_magic(c)).collect();
                let all_literal = literal.len() == p.split('/').count();
                // A literal pattern may name a file: walk its parent.
                let keep = if all_literal {
                    literal.len().saturating_sub(1)
                } else {
                    literal.len()
                };
                bases.push(literal[..keep].join("/"));
            }
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| CacheError::Glob {
                pattern: patterns.join(", "),
                reason: e.to_string(),
            })
        };
        bases.sort();
        bases.dedup();
        // Drop bases inside another base: they would be walked twice.
        let bases: Vec<String> = bases
            .iter()
            .filter(|b| {
                !bases
                    .iter()
                    .any(|o| o != *b && (o.is_empty() || b.starts_with(&format!("{o}/"))))
            })
            .cloned()
            .collect();
        Ok(OutputGlob {
            include: build(include)?,
            exclude: build(exclude)?,
            bases,
            pruned,
            all: all && !excludes,
        })
    }

    /// Whether a package-relative path is an output.
    pub fn matches(&self, rel: &str) -> bool {
        self.all || self.include.is_match(rel) && !self.exclude.is_match(rel)
    }

    /// Lists the outputs under `cwd`, sorted by path; `skip` (the cache
    /// folder, when it lies inside the package) is never entered. Temp
    /// files a killed fetch left there are removed on the way.
    pub fn find(&self, cwd: &Path, skip: Option<&Path>) -> Result<Vec<FoundOutput>> {
        let mut found = Vec::new();
        for base in &self.bases {
            let root = if base.is_empty() {
                cwd.to_path_buf()
            } else {
                cwd.join(base)
            };
            if std::fs::symlink_metadata(&root).is_err() {
                continue;
            }
            // Not even the base is followed when it is a link: what lies
            // behind it is outside the package ([`OutputGlob::linked_folder`]).
            let walker = WalkDir::new(&root)
                .follow_links(false)
                .follow_root_links(false)
                .into_iter()
                .filter_entry(|e| {
                    if !e.file_type().is_dir() {
                        return true;
                    }
                    if skip.is_some_and(|s| e.path() == s) {
                        return false;
                    }
                    match relative(cwd, e.path()) {
                        Some(rel) => !self.pruned.contains(&rel),
                        None => true,
                    }
                });
            for entry in walker {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&root).to_path_buf();
                    CacheError::io("list outputs in", &path, e.into())
                })?;
                let ft = entry.file_type();
                if ft.is_dir() || !(ft.is_file() || ft.is_symlink()) {
                    continue;
                }
                let Some(rel) = relative(cwd, entry.path()) else {
                    return Err(CacheError::io(
                        "store output",
                        entry.path(),
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "its path is not valid UTF-8",
                        ),
                    ));
                };
                // A fetch killed mid-restore leaves its temp files beside the
                // outputs; they are never outputs, and those whose writer is
                // gone are removed here, so a put leaves a clean package.
                let name = entry.file_name().to_string_lossy();
                let is_restore_temp = output_temp::is_temp(&name);
                if is_restore_temp && output_temp::is_stale(&name, entry.path()) {
                    let _ = crate::platform::remove_file(entry.path());
                }
                if self.matches(&rel) && !is_restore_temp {
                    found.push(FoundOutput {
                        rel,
                        abs: entry.path().to_path_buf(),
                        is_symlink: ft.is_symlink(),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        found.dedup_by(|a, b| a.rel == b.rel);
        Ok(found)
    }
}

impl OutputGlob {
    /// The first folder on the way to the outputs that is a link (`lib`
    /// linked to a folder, or `lib/out` for `lib/out/**`), package-relative:
    /// its files are not the package's, and a fetch cannot restore files
    /// through it, so a put stores nothing then.
    pub fn linked_folder(&self, cwd: &Path) -> Option<String> {
        self.bases.iter().find_map(|base| {
            let mut at = cwd.to_path_buf();
            let mut rel = String::new();
            for part in base.split('/').filter(|p| !p.is_empty()) {
                at.push(part);
                if !rel.is_empty() {
                    rel.push('/');
                }
                rel.push_str(part);
                match std::fs::symlink_metadata(&at) {
                    Ok(m) if m.file_type().is_symlink() && at.is_dir() => return Some(rel),
                    Ok(m) if m.is_dir() => {}
                    _ => return None,
                }
            }
            None
        })
    }
}

/// Why `outputs` cannot be stored so that a fetch on every supported system
/// gives them back, naming the first file in the way; `None` when they can.
/// The rules are the readers' own (a manifest's and an archive's paths, and
/// names that differ only in case), plus the characters Windows refuses.
pub fn unstorable(outputs: &[FoundOutput]) -> Option<Unstorable> {
    const WINDOWS: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];
    for out in outputs {
        if let Some(c) = out
            .rel
            .chars()
            .find(|c| WINDOWS.contains(c) || c.is_control())
        {
            return Some(Unstorable::NotPortable {
                path: out.rel.clone(),
                character: c,
            });
        }
    }
    crate::store::case_conflict(outputs.iter().map(|o| o.rel.as_str()))
        .map(|(first, second)| Unstorable::DifferInCase { first, second })
}

/// `path` relative to `cwd` with `/` separators; `None` if not UTF-8 or outside.
pub fn relative(cwd: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(cwd).ok()?;
    let mut out = String::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(s.to_str()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f.as_bytes()).unwrap();
        }
        dir
    }

    fn found(dir: &Path, globs: &[&str]) -> Vec<String> {
        let globs: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
        OutputGlob::new(&globs)
            .unwrap()
            .find(dir, None)
            .unwrap()
            .into_iter()
            .map(|f| f.rel)
            .collect()
    }

    const FILES: &[&str] = &[
        "lib/index.js",
        "lib/sub/deep.js",
        "lib/.hidden",
        "lib/index.d.ts",
        "dist/.vite/manifest.json",
        "dist/app.js",
        "src/index.ts",
        "package.json",
    ];

    #[test]
    fn globby_cases_from_backfill_compat() {
        let dir = tree(FILES);
        let d = dir.path();
        let lib = vec![
            "lib/.hidden",
            "lib/index.d.ts",
            "lib/index.js",
            "lib/sub/deep.js",
        ];
        // `lib/**` and `lib/**/*` match the same files, dot files included.
        assert_eq!(found(d, &["lib/**"]), lib);
        assert_eq!(found(d, &["lib/**/*"]), lib);
        // A folder name stands for everything below it.
        assert_eq!(found(d, &["lib"]), lib);
        // Dot folders are included.
        assert_eq!(
            found(d, &["dist/**"]),
            vec!["dist/.vite/manifest.json", "dist/app.js"]
        );
        // `!` negates.
        assert_eq!(
            found(d, &["lib/**", "!lib/**/*.d.ts"]),
            vec!["lib/.hidden", "lib/index.js", "lib/sub/deep.js"]
        );
        assert_eq!(
            found(d, &["**/*", "!lib/**", "!dist"]),
            vec!["package.json", "src/index.ts"]
        );
        // `*` does not cross folders; a plain file name matches one file.
        assert_eq!(found(d, &["lib/*.js"]), vec!["lib/index.js"]);
        assert_eq!(found(d, &["./package.json"]), vec!["package.json"]);
        // Nothing matched is an empty list, not an error.
        assert!(found(d, &["nothing/**"]).is_empty());
    }

    #[test]
    fn skips_the_cache_folder_and_keeps_symlinks_as_links() {
        if crate::platform::testing::skip_without_links(
            "skips_the_cache_folder_and_keeps_symlinks_as_links",
        ) {
            return;
        }
        let dir = tree(&["lib/a.js", "lib/.cache/x"]);
        crate::platform::testing::symlink("a.js", dir.path().join("lib/link.js")).unwrap();
        crate::platform::testing::symlink("../lib", dir.path().join("lib/dirlink")).unwrap();
        let glob = OutputGlob::new(&["lib/**".to_string()]).unwrap();
        let out = glob
            .find(dir.path(), Some(&dir.path().join("lib/.cache")))
            .unwrap();
        let rels: Vec<(&str, bool)> = out.iter().map(|f| (f.rel.as_str(), f.is_symlink)).collect();
        assert_eq!(
            rels,
            vec![
                ("lib/a.js", false),
                ("lib/dirlink", true),
                ("lib/link.js", true)
            ]
        );
    }

    #[test]
    fn refuses_patterns_leaving_the_package() {
        for (p, why) in [
            ("../x/**", "'..' is not allowed"),
            ("/etc/**", "relative to the package directory"),
            ("", "it is empty"),
            ("lib/[", "unclosed character class"),
        ] {
            let msg = OutputGlob::new(&[p.to_string()]).unwrap_err().to_string();
            assert!(msg.contains(why), "{p}: {msg}");
        }
    }
}
