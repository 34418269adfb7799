//! Input hashing: blake3 digests of a package's files, and the cache key of a
//! package task built from them.
//!
//! `files.rs` finds the input files, `digest.rs` hashes one file,
//! `file_states.rs` remembers what was hashed so an unchanged tree rehashes
//! almost for free, and `package.rs` combines everything into one key.

mod digest;
mod file_states;
mod files;
mod package;

pub use digest::digest_file;
pub use file_states::{FileState, FileStates, Stamp};
pub use files::{find_inputs, HashOptions, Input};
pub use package::{hash_package, state_file_for, PackageInputs};

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{CacheError, Result};

/// blake3 digests (lower-case hex) of the files under `cwd` matching
/// `patterns`, keyed by package-relative path with `/` separators.
/// With `options.state_file`, unchanged files are not read again.
pub fn hash_files(
    cwd: &Path,
    patterns: &[String],
    options: &HashOptions,
) -> Result<BTreeMap<String, String>> {
    // Every file read by this hash is recorded as hashed at its start, before
    // any stamp is taken: an edit at any moment after the stamp then falls
    // within the racy window and is read again next time.
    let started = file_states::now_ns();
    let (states, files) = crate::store::on_io_pool(|| {
        let found = find_inputs(cwd, patterns, options)?;
        let states = match &options.state_file {
            Some(path) => FileStates::load(path),
            None => FileStates::default(),
        };
        // Only files whose stamps changed are read. The stamp was taken
        // before the read, so a file changed while being read shows a newer
        // stamp next time and is read again.
        let files = found
            .into_par_iter()
            .map(|f| {
                let old = states.get(&f.rel);
                let state = match (f.stamp, old) {
                    (Some(stamp), Some(old)) if old.reusable(&stamp).is_some() => old,
                    (Some(stamp), _) => FileState {
                        stamp,
                        digest: digest_file(&cwd.join(&f.rel))?,
                        hashed_ns: started,
                    },
                    (None, _) => {
                        // Not stat'able: reading it says why, or it is
                        // hashed and not remembered.
                        let digest = digest_file(&cwd.join(&f.rel))?;
                        return Ok((f.rel, digest, None));
                    }
                };
                Ok((f.rel, state.digest, Some((state, old != Some(state)))))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok::<_, CacheError>((states, files))
    })?;
    if let Some(path) = &options.state_file {
        let changed = files.len() != states.len()
            || files.iter().any(|(_, _, s)| s.is_none_or(|(_, new)| new));
        if changed {
            // The state file only saves time: failing to write it is not
            // worth failing the hash.
            let _ = FileStates::save(
                path,
                files
                    .iter()
                    .filter_map(|(rel, _, s)| s.as_ref().map(|(state, _)| (rel.as_str(), state))),
            );
        }
    }
    // Already sorted by path: the map is built in one pass.
    Ok(files
        .into_iter()
        .map(|(rel, digest, _)| (rel, digest.to_hex().to_string()))
        .collect())
}

#[cfg(test)]
mod tests;
