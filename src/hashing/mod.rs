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
pub use file_states::FileStates;
pub use files::{find_inputs, HashOptions};
pub use package::{hash_package, state_file_for, PackageInputs};

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
    let found = find_inputs(cwd, patterns, options)?;
    let mut states = match &options.state_file {
        Some(path) => FileStates::load(path),
        None => FileStates::default(),
    };
    let digests: Vec<(String, String, Option<file_states::Stamp>)> =
        crate::store::on_io_pool(|| {
            found
                .par_iter()
                .map(|f| {
                    // Stamp first: a file changed while being read then shows a
                    // newer stamp next time, and is read again.
                    let stamp = file_states::Stamp::of(&f.abs);
                    if let Some(digest) = stamp.as_ref().and_then(|s| states.reusable(&f.rel, s)) {
                        return Ok((f.rel.clone(), digest.to_string(), None));
                    }
                    let digest = digest_file(&f.abs)?;
                    Ok((f.rel.clone(), digest, stamp))
                })
                .collect::<Result<Vec<_>>>()
        })?;
    let mut out = BTreeMap::new();
    let mut changed = false;
    for (rel, digest, stamp) in digests {
        if let Some(stamp) = stamp {
            states.record(&rel, stamp, &digest);
            changed = true;
        }
        out.insert(rel, digest);
    }
    if let Some(path) = &options.state_file {
        if changed || states.len() != out.len() {
            states.retain(|rel| out.contains_key(rel));
            // The state file only saves time: failing to write it is not
            // worth failing the hash.
            let _ = states.save(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
