//! Writing an entry of the local store as a tar stream.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tar::{EntryType, Header};

use crate::store::{FileRecord, LocalStore, Manifest};

/// Writes the files and links of `manifest`, read from the store's verified
/// contents, as a tar to `out`. Only file and symlink entries are written,
/// as the JS writer does; long names use the GNU long-name extension, which
/// the JS reader understands. The length written is [`archive_size`].
///
/// `made_at` (seconds since the Unix epoch, see [`archive_time`]) is the
/// time of the links and of files whose time is not recorded: the same
/// `made_at` writes the same bytes, so an upload's two passes (one to sign,
/// one to send) agree even when a second passes between them.
pub fn write_archive(
    store: &LocalStore,
    manifest: &Manifest,
    made_at: u64,
    out: impl Write,
) -> io::Result<()> {
    let now = made_at;
    let mut builder = tar::Builder::new(out);
    for f in &manifest.files {
        let mut header = file_header(f, now);
        // Verified as it is read: a damaged store never uploads a damaged
        // archive, since the upload is only committed once all of it was read.
        let mut reader = store.open_content(&f.digest, f.size)?;
        builder
            .append_data(&mut header, &f.path, &mut reader)
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => {
                    io::Error::new(io::ErrorKind::InvalidData, format!("stored {e}"))
                }
                _ => e,
            })?;
    }
    append_links(&mut builder, manifest, now)?;
    builder.into_inner()?.flush()
}

/// The exact length in bytes of the tar [`write_archive`] writes for
/// `manifest`, without reading any content: the headers (GNU long-name and
/// long-link extensions included) are written by the same code into a
/// counter, and each file adds its size rounded up to 512-byte blocks.
pub fn archive_size(manifest: &Manifest) -> io::Result<u64> {
    // Any time: it changes no length.
    let now = archive_time();
    let mut counter = Counter(0);
    let mut builder = tar::Builder::new(&mut counter);
    let mut contents = 0u64;
    for f in &manifest.files {
        let mut header = file_header(f, now);
        // The header says f.size; no content is written, so only the
        // headers are counted here.
        builder.append_data(&mut header, &f.path, io::empty())?;
        contents += f.size.div_ceil(512) * 512;
    }
    append_links(&mut builder, manifest, now)?;
    builder.finish()?;
    drop(builder);
    Ok(counter.0 + contents)
}

/// The time to make an archive at, for [`write_archive`]: now.
pub fn archive_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn file_header(f: &FileRecord, now: u64) -> Header {
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Regular);
    header.set_size(f.size);
    header.set_mode(f.mode);
    header.set_mtime(f.mtime.unwrap_or(now));
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn append_links<W: Write>(
    builder: &mut tar::Builder<W>,
    manifest: &Manifest,
    now: u64,
) -> io::Result<()> {
    for l in &manifest.links {
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        header.set_mtime(now);
        builder.append_link(&mut header, &l.path, &l.target)?;
    }
    Ok(())
}

/// Counts what is written to it.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
