//! Input hashing: blake3 digests of a package's files, and the cache key of a
//! package task built from them.
//!
//! `files.rs` finds the input files, `digest.rs` hashes one file,
//! `crate::file_states` remembers what was hashed so an unchanged tree
//! rehashes almost for free, and `package.rs` combines everything into one
//! key.

mod digest;
mod files;
mod package;

pub use crate::file_states::{FileState, FileStates, Stamp};
pub use digest::digest_file;
pub use files::{find_inputs, HashOptions, Input};
pub use package::{every_file, hash_package, state_file_for, PackageInputs};

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::Result;

/// blake3 digests (lower-case hex) of the files under `cwd` matching
/// `patterns`, keyed by package-relative path with `/` separators.
/// With `options.state_file`, unchanged files are not read again.
pub fn hash_files(
    cwd: &Path,
    patterns: &[String],
    options: &HashOptions,
) -> Result<BTreeMap<String, String>> {
    Ok(hash_file_list(cwd, patterns, options)?
        .into_iter()
        .map(|(rel, digest)| (rel, digest.to_hex().to_string()))
        .collect())
}

/// What `hash_files` gives, as a list sorted by path with the digests as
/// bytes.
pub fn hash_file_list(
    cwd: &Path,
    patterns: &[String],
    options: &HashOptions,
) -> Result<Vec<(String, blake3::Hash)>> {
    // Every file read by this hash is recorded as hashed at its start, before
    // any stamp is taken: an edit at any moment after the stamp then falls
    // within the racy window and is read again next time.
    let started = crate::file_states::now_ns();
    // The walk is bound by the CPU (the kernel's stat), so it runs on rayon's
    // pool of one thread a core; reading files waits on the disk, so it runs
    // on the I/O pool.
    let found = find_inputs(cwd, patterns, options)?;
    let recorded = match &options.state_file {
        Some(path) => FileStates::load(path),
        None => FileStates::default(),
    };
    // The recorded state of each input, if its stamp shows it unchanged.
    let mut known = recorded.get_sorted(found.iter().map(|f| f.rel.as_str()));
    for (k, f) in known.iter_mut().zip(&found) {
        let reusable =
            matches!((&k, &f.stamp), (Some(old), Some(stamp)) if old.reusable(stamp).is_some());
        if !reusable {
            *k = None;
        }
    }
    // Only the others are read.
    let stale: Vec<usize> = (0..found.len()).filter(|&i| known[i].is_none()).collect();
    let fresh = crate::store::on_io_pool(|| {
        stale
            .into_par_iter()
            .map(|i| Ok((i, digest_file(&cwd.join(&found[i].rel))?)))
            .collect::<Result<Vec<_>>>()
    })?;
    let changed = !fresh.is_empty() || found.len() != recorded.len();
    let mut digests: Vec<Option<blake3::Hash>> =
        known.iter().map(|k| k.map(|s| s.digest)).collect();
    for (i, digest) in fresh {
        digests[i] = Some(digest);
        // A file that could not be stat'ed is hashed but not remembered.
        known[i] = found[i].stamp.map(|stamp| FileState {
            stamp,
            digest,
            hashed_ns: started,
        });
    }
    if let (Some(path), true) = (&options.state_file, changed) {
        // The state file only saves time: failing to write it is not worth
        // failing the hash.
        let _ = FileStates::save(
            path,
            found
                .iter()
                .zip(&known)
                .filter_map(|(f, k)| Some((f.rel.as_str(), k.as_ref()?))),
        );
    }
    // Every input has a digest: a recorded one, or one just read.
    debug_assert!(digests.iter().all(Option::is_some));
    Ok(found
        .into_iter()
        .zip(digests)
        .filter_map(|(f, d)| Some((f.rel, d?)))
        .collect())
}

#[cfg(test)]
mod tests;
