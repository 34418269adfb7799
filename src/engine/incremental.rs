//! `incrementalCaching`, as backfill defines it: a fetch that misses
//! records the digest of every file of the package; a put of the same hash
//! then stores only the output files that are new or changed since that
//! fetch (a file whose digest is the same is left out of the entry).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use crate::cache_key::CacheKey;
use crate::error::Result;
use crate::hashing::{every_file, hash_files, state_file_for, HashOptions};
use crate::output_glob::FoundOutput;

/// Digests of a package's files by package-relative path.
type Digests = BTreeMap<String, String>;

/// The package's files as the fetches that missed saw them, by hash.
#[derive(Default)]
pub struct Snapshots {
    by_hash: Mutex<HashMap<String, Digests>>,
}

impl Snapshots {
    /// Records the package's files for a put of `key` to compare with.
    pub fn take(&self, key: &CacheKey, cwd: &Path, cache_dir: &Path, states: bool) -> Result<()> {
        let files = package_files(cwd, cache_dir, states)?;
        self.lock().insert(key.as_str().to_string(), files);
        Ok(())
    }

    /// Leaves out of `outputs` the files unchanged since the fetch of `key`
    /// missed; all of them stay when that fetch was not seen. The record is
    /// used once.
    pub fn changed_only(
        &self,
        key: &CacheKey,
        outputs: &mut Vec<FoundOutput>,
        cwd: &Path,
        cache_dir: &Path,
        states: bool,
    ) -> Result<()> {
        let Some(then) = self.lock().remove(key.as_str()) else {
            return Ok(());
        };
        let now = package_files(cwd, cache_dir, states)?;
        outputs.retain(|o| match (then.get(&o.rel), now.get(&o.rel)) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Digests>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every file of the package but node_modules, .git and the cache folder;
/// with `states`, unchanged files are not read again (the file states of
/// the cache folder).
fn package_files(cwd: &Path, cache_dir: &Path, states: bool) -> Result<Digests> {
    let patterns = every_file();
    let options = HashOptions {
        gitignore: false,
        skip: Some(cache_dir.to_path_buf()),
        state_file: states.then(|| state_file_for(cache_dir, cwd, &patterns, false)),
    };
    hash_files(cwd, &patterns, &options)
}
