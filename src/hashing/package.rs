//! The cache key of a package task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{hash_files, HashOptions};
use crate::error::Result;

/// Everything a package task's cache key depends on.
#[derive(Debug, Clone, Default)]
pub struct PackageInputs {
    /// The package directory.
    pub cwd: PathBuf,
    /// Input globs relative to the package (default: every file not ignored).
    pub inputs: Option<Vec<String>>,
    /// Files outside the package, as globs relative to `root`
    /// (like lage's `environmentGlob`).
    pub extra_inputs: Vec<String>,
    /// The folder `extra_inputs` are relative to (the workspace root).
    pub root: PathBuf,
    /// Any text that changes the result: the command and its arguments.
    pub salt: String,
    /// Names of environment variables whose values are part of the key.
    pub env_vars: Vec<String>,
    /// Keys of the packages this one depends on.
    pub dependency_hashes: Vec<String>,
}

/// The default inputs of a package: every file (not skipped or ignored).
pub fn every_file() -> Vec<String> {
    vec!["**/*".to_string()]
}

/// The cache key: blake3 (hex) of a canonical description of the inputs.
/// It depends only on paths (always with `/`), contents, the salt, the named
/// variables' values and the dependency keys: not on walk order, absolute
/// paths, mtimes, or the order dependencies are given in.
pub fn hash_package(
    inputs: &PackageInputs,
    options: &HashOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let all = every_file();
    let own = hash_files(
        &inputs.cwd,
        inputs.inputs.as_deref().unwrap_or(&all),
        options,
    )?;
    let extra = if inputs.extra_inputs.is_empty() {
        BTreeMap::new()
    } else {
        let extra_options = HashOptions {
            state_file: None,
            ..options.clone()
        };
        hash_files(&inputs.root, &inputs.extra_inputs, &extra_options)?
    };
    let mut h = blake3::Hasher::new();
    h.update(b"backfill-native package key v1\n");
    section(&mut h, "files", own.iter());
    section(&mut h, "extra", extra.iter());
    h.update(b"salt\0");
    h.update(inputs.salt.as_bytes());
    h.update(b"\n");
    let mut names = inputs.env_vars.clone();
    names.sort();
    names.dedup();
    let values: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            (
                n.clone(),
                env(n).map_or_else(|| "\0unset".to_string(), |v| format!("={v}")),
            )
        })
        .collect();
    section(&mut h, "env", values.iter().map(|(a, b)| (a, b)));
    let mut deps = inputs.dependency_hashes.clone();
    deps.sort();
    h.update(b"deps\0");
    for d in &deps {
        h.update(d.as_bytes());
        h.update(b"\n");
    }
    Ok(h.finalize().to_hex().to_string())
}

fn section<'a>(
    h: &mut blake3::Hasher,
    name: &str,
    items: impl Iterator<Item = (&'a String, &'a String)>,
) {
    h.update(name.as_bytes());
    h.update(b"\0");
    for (k, v) in items {
        // Lengths first, so no two different lists encode the same bytes.
        h.update(&(k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update(&(v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    h.update(b"\n");
}

/// The state file of a package's input hashes, in the cache folder: one
/// for each selection of inputs (patterns and whether `.gitignore` counts),
/// since a hash keeps the states of the files it selected only, and two
/// selections sharing a file would keep re-reading each other's files.
pub fn state_file_for(
    cache_dir: &Path,
    cwd: &Path,
    patterns: &[String],
    gitignore: bool,
) -> PathBuf {
    let mut h = blake3::Hasher::new();
    h.update(cwd.as_os_str().as_encoded_bytes());
    for p in patterns {
        h.update(b"\0");
        h.update(p.as_bytes());
    }
    h.update(if gitignore { b"\0gitignore" } else { b"\0all" });
    let id = h.finalize().to_hex();
    cache_dir.join("input-states-v3").join(&id.as_str()[..32])
}
