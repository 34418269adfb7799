//! Input hashing for JavaScript: `hashFiles` and `hashPackage`, each with a
//! `Sync` twin running the same code.

use std::path::PathBuf;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::digests::Digests;
use super::task::{run_sync, Done, EngineTask};
use crate::config::{Config, Options};
use crate::hashing::{self, HashOptions, PackageInputs};

/// How `hashFiles` finds and hashes files.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct HashFilesOptions {
    /// Skip files that `.gitignore` files ignore, as git does: the
    /// repository's `.git/info/exclude` and every `.gitignore` from the
    /// repository root down (outside a repository, those in the package).
    /// @default false
    pub gitignore: Option<bool>,
    /// Remember file states in the cache folder so that unchanged files are
    /// not read again (they are re-read when touched within the last two
    /// seconds of the previous hash, as git does).
    /// @default true
    pub incremental: Option<bool>,
}

/// What a package task's cache key is made of (see `hashPackage`).
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct HashPackageOptions {
    /// The package directory.
    pub cwd: String,
    /// Input globs relative to the package.
    /// @default ["**/*"]
    pub inputs: Option<Vec<String>>,
    /// Globs of files outside the package, relative to the workspace root
    /// (like lage's `environmentGlob`).
    /// @default []
    pub extra_inputs: Option<Vec<String>>,
    /// Text that changes the key: the command and its arguments.
    /// @default ""
    pub salt: Option<String>,
    /// Environment variables whose values are part of the key.
    /// @default []
    pub env_vars: Option<Vec<String>>,
    /// Keys of the packages this one depends on (any order).
    /// @default []
    pub dependency_hashes: Option<Vec<String>>,
    /// Skip files that `.gitignore` files ignore, as git does: the
    /// repository's `.git/info/exclude` and every `.gitignore` from the
    /// repository root down (outside a repository, those in the package).
    /// @default false
    pub gitignore: Option<bool>,
    /// Remember file states to rehash unchanged trees almost for free.
    /// @default true
    pub incremental: Option<bool>,
}

/// Options of the walk for `patterns` in package `cwd`: the cache folder is
/// skipped and holds the file states.
fn walk_options(
    cwd: &std::path::Path,
    patterns: &[String],
    gitignore: Option<bool>,
    incremental: Option<bool>,
) -> crate::Result<(HashOptions, Config)> {
    let config = Config::load(cwd, &Options::default())?;
    let gitignore = gitignore.unwrap_or(false);
    let options = HashOptions {
        gitignore,
        skip: Some(config.cache_dir.clone()),
        state_file: incremental
            .unwrap_or(true)
            .then(|| hashing::state_file_for(&config.cache_dir, &config.cwd, patterns, gitignore)),
    };
    Ok((options, config))
}

fn files_task(
    cwd: String,
    patterns: Vec<String>,
    options: Option<HashFilesOptions>,
) -> EngineTask<Digests> {
    let options = options.unwrap_or_default();
    EngineTask::new(Box::new(move || {
        let cwd = PathBuf::from(cwd);
        Done::quiet(
            walk_options(&cwd, &patterns, options.gitignore, options.incremental)
                .and_then(|(o, c)| hashing::hash_file_list(&c.cwd, &patterns, &o))
                .map(Digests),
        )
    }))
}

fn package_task(p: HashPackageOptions) -> EngineTask<String> {
    EngineTask::new(Box::new(move || {
        let cwd = PathBuf::from(&p.cwd);
        let patterns = p.inputs.clone().unwrap_or_else(hashing::every_file);
        Done::quiet(
            walk_options(&cwd, &patterns, p.gitignore, p.incremental).and_then(
                |(options, config)| {
                    let inputs = PackageInputs {
                        cwd: config.cwd.clone(),
                        inputs: p.inputs,
                        extra_inputs: p.extra_inputs.unwrap_or_default(),
                        root: config.workspace_root.clone(),
                        salt: p.salt.unwrap_or_default(),
                        env_vars: p.env_vars.unwrap_or_default(),
                        dependency_hashes: p.dependency_hashes.unwrap_or_default(),
                    };
                    hashing::hash_package(&inputs, &options, &|name| std::env::var(name).ok())
                },
            ),
        )
    }))
}

/// blake3 digests (hex) of the files under `cwd` matching `patterns`
/// (globby semantics, as for outputs), keyed by package-relative path with
/// `/`. `node_modules`, `.git` and the cache folder are always skipped;
/// symbolic links hash their target text; FIFOs and sockets are skipped.
#[napi(ts_return_type = "Promise<Record<string, string>>")]
pub fn hash_files(
    cwd: String,
    patterns: Vec<String>,
    options: Option<HashFilesOptions>,
) -> AsyncTask<EngineTask<Digests>> {
    AsyncTask::new(files_task(cwd, patterns, options))
}

/// `hashFiles` on the calling thread.
#[napi(ts_return_type = "Record<string, string>")]
pub fn hash_files_sync(
    env: Env,
    cwd: String,
    patterns: Vec<String>,
    options: Option<HashFilesOptions>,
) -> Result<Digests> {
    run_sync(&env, files_task(cwd, patterns, options))
}

/// The cache key of a package task (blake3 hex): its input files, extra
/// files outside the package, a salt, selected environment variables and the
/// keys of its dependencies. Stable across machines: independent of walk
/// order, absolute paths and mtimes.
#[napi(ts_return_type = "Promise<string>")]
pub fn hash_package(options: HashPackageOptions) -> AsyncTask<EngineTask<String>> {
    AsyncTask::new(package_task(options))
}

/// `hashPackage` on the calling thread.
#[napi]
pub fn hash_package_sync(env: Env, options: HashPackageOptions) -> Result<String> {
    run_sync(&env, package_task(options))
}
