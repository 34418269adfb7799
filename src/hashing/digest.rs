//! The digest of one input file.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use crate::error::{CacheError, IoContext, Result};

/// Files at least this large are hashed with several threads.
const PARALLEL_FROM: u64 = 16 << 20;
const CHUNK: usize = 8 << 20;

/// The blake3 digest of a regular file's bytes; of a symbolic link,
/// the digest of its target text (as git does), so a broken link hashes
/// fine. Anything else (a FIFO, a socket) is refused rather than read,
/// since reading a FIFO could hang.
pub fn digest_file(path: &Path) -> Result<blake3::Hash> {
    let meta = fs::symlink_metadata(path).at("read input", path)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(path).at("read input link", path)?;
        let mut h = blake3::Hasher::new();
        h.update(b"symlink\0");
        h.update(target.as_os_str().as_encoded_bytes());
        return Ok(h.finalize());
    }
    if !ft.is_file() {
        return Err(CacheError::Input {
            path: path.to_path_buf(),
            reason: "it is not a regular file or a link (a FIFO, socket or device), so it cannot be an input; \
                     exclude it from the input globs"
                .into(),
        });
    }
    let mut file = File::open(path).at("read input", path)?;
    if meta.len() < PARALLEL_FROM {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut buf).at("read input", path)?;
        return Ok(blake3::hash(&buf));
    }
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).at("read input", path)?;
        if n == 0 {
            break;
        }
        h.update_rayon(&buf[..n]);
    }
    Ok(h.finalize())
}
