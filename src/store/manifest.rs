//! The manifest of one cache entry: which files and links a hash restores.
//!
//! Stored as versioned JSON; content is referenced by blake3 digest so that
//! equal files are kept once across hashes and packages.

use serde::{Deserialize, Serialize};

/// Version of the manifest format; a manifest of another version is a miss.
pub const MANIFEST_VERSION: u32 = 1;

/// One regular file of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Package-relative path with `/` separators.
    pub path: String,
    /// Unix permission bits.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// blake3 digest of the content, lower-case hex.
    pub digest: String,
    /// Modification time in seconds since the Unix epoch, when known; used
    /// for the remote archive, whose readers set it on the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<u64>,
}

/// One symbolic link of an entry, kept with its raw target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Package-relative path with `/` separators.
    pub path: String,
    /// The link target exactly as read.
    pub target: String,
}

/// What one hash restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version, [`MANIFEST_VERSION`].
    pub version: u32,
    /// The cache key.
    pub key: String,
    /// Files, sorted by path.
    pub files: Vec<FileRecord>,
    /// Symbolic links, sorted by path.
    pub links: Vec<LinkRecord>,
}

impl Manifest {
    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Parses a manifest; `Err` holds why it cannot be used.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Manifest, String> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| format!("it is not valid ({e})"))?;
        if m.version != MANIFEST_VERSION {
            return Err(format!(
                "it has format version {}, expected {MANIFEST_VERSION}",
                m.version
            ));
        }
        if m.key != key {
            return Err(format!("it belongs to another hash ({:?})", m.key));
        }
        for path in m
            .files
            .iter()
            .map(|f| &f.path)
            .chain(m.links.iter().map(|l| &l.path))
        {
            if !is_safe_relative(path) {
                return Err(format!("it names a path outside the package ({path:?})"));
            }
        }
        if let Some(f) = m.files.iter().find(|f| !is_digest(&f.digest)) {
            return Err(format!("it has a malformed digest for {:?}", f.path));
        }
        Ok(m)
    }
}

/// A package-relative path that cannot leave the package.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// A lower-case 64-digit hex string.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_leave_the_package() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
        ] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
        for ok in ["a", "lib/a.js", ".vite/manifest.json", "a..b"] {
            assert!(is_safe_relative(ok), "{ok}");
        }
    }

    #[test]
    fn parse_checks_version_key_paths_and_digests() {
        let good = Manifest {
            version: MANIFEST_VERSION,
            key: "k".into(),
            files: vec![FileRecord {
                path: "lib/a".into(),
                mode: 0o644,
                size: 1,
                digest: "a".repeat(64),
                mtime: None,
            }],
            links: vec![],
        };
        let bytes = serde_json::to_vec(&good).unwrap();
        assert_eq!(Manifest::parse(&bytes, "k").unwrap(), good);
        assert!(Manifest::parse(&bytes, "other")
            .unwrap_err()
            .contains("another hash"));
        let mut bad = good.clone();
        bad.version = 99;
        let err = Manifest::parse(&serde_json::to_vec(&bad).unwrap(), "k").unwrap_err();
        assert!(err.contains("format version 99"), "{err}");
        let mut bad = good.clone();
        bad.files[0].path = "../../etc/x".into();
        let err = Manifest::parse(&serde_json::to_vec(&bad).unwrap(), "k").unwrap_err();
        assert!(err.contains("outside the package"), "{err}");
        let mut bad = good;
        bad.files[0].digest = "zz".into();
        let err = Manifest::parse(&serde_json::to_vec(&bad).unwrap(), "k").unwrap_err();
        assert!(err.contains("malformed digest"), "{err}");
        assert!(Manifest::parse(b"{\"version\":1", "k")
            .unwrap_err()
            .contains("not valid"));
    }
}
