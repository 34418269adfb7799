//! The manifest of one cache entry: which files and links a hash restores.
//!
//! Stored as versioned JSON; content is referenced by blake3 digest so that
//! equal files are kept once across hashes and packages. The file is an
//! envelope, `{"format":2,"digest":"<blake3 hex>","manifest":{...}}`, whose digest
//! covers the manifest's bytes exactly as stored: a manifest edited or
//! damaged on disk is refused, never restored.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Version of the manifest format. Version 1 had no digest; such an entry
/// is a plain miss and is stored again by the next put.
pub const MANIFEST_VERSION: u32 = 2;

/// The permission bits an entry keeps: setuid, setgid and sticky bits are
/// never stored or restored.
pub const MODE_MASK: u32 = 0o777;

/// One regular file of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Package-relative path with `/` separators.
    pub path: String,
    /// Unix permission bits (within [`MODE_MASK`]).
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

/// Why a stored manifest is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Written in another format (an older version, or a newer one sharing
    /// the store): a plain miss, and the entry is left alone.
    OtherFormat(u32),
    /// Damaged, edited or unsafe; the text says why, for a warning.
    Invalid(String),
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestError::OtherFormat(v) => {
                write!(f, "it has format version {v}, expected {MANIFEST_VERSION}")
            }
            ManifestError::Invalid(why) => f.write_str(why),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    format: Option<u32>,
    digest: String,
    #[serde(borrow)]
    manifest: &'a serde_json::value::RawValue,
}

/// The format of a stored file that is not an envelope: `format` of
/// another layout, or `version` of a version-1 file.
#[derive(Deserialize)]
struct FormatOnly {
    format: Option<u32>,
    version: Option<u32>,
}

/// The digest of what an entry restores, independent of how it was
/// packed: every file's path, mode, size, content digest and time (`made_at`
/// where none is recorded, as the archive writes it), and every link's path
/// and target, in path order. A remote archive's signature covers it, so a
/// put signs without reading its contents and a download checks exactly
/// what it will restore (anything else in a tar is never restored).
pub fn entry_digest(files: &[FileRecord], links: &[LinkRecord], made_at: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("backfill-native entry digest v1");
    let text = |h: &mut blake3::Hasher, s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    let mut files: Vec<&FileRecord> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut links: Vec<&LinkRecord> = links.iter().collect();
    links.sort_by(|a, b| a.path.cmp(&b.path));
    h.update(&(files.len() as u64).to_le_bytes());
    for f in files {
        text(&mut h, &f.path);
        h.update(&f.mode.to_le_bytes());
        h.update(&f.size.to_le_bytes());
        text(&mut h, &f.digest);
        h.update(&f.mtime.unwrap_or(made_at).to_le_bytes());
    }
    h.update(&(links.len() as u64).to_le_bytes());
    for l in links {
        text(&mut h, &l.path);
        text(&mut h, &l.target);
    }
    *h.finalize().as_bytes()
}

impl Manifest {
    /// [`entry_digest`] of this manifest's files and links.
    pub fn entry_digest(&self, made_at: u64) -> [u8; 32] {
        entry_digest(&self.files, &self.links, made_at)
    }

    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The bytes stored for this manifest: the envelope with its digest.
    pub fn encode(&self) -> serde_json::Result<Vec<u8>> {
        let body = serde_json::to_string(self)?;
        let digest = blake3::hash(body.as_bytes()).to_hex();
        Ok(
            format!(
                "{{\"format\":{MANIFEST_VERSION},\"digest\":\"{digest}\",\"manifest\":{body}}}"
            )
            .into_bytes(),
        )
    }

    /// Parses a stored manifest, checking its digest, version, key, paths
    /// and digests, and that its paths can all exist at once.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Manifest, ManifestError> {
        let invalid = ManifestError::Invalid;
        // Another format (older, or written by a newer version sharing the
        // store) is not damage: it is left alone. Only a file that is not an
        // envelope is read a second time, to tell which.
        let other = |v: Option<u32>| v.filter(|v| *v != MANIFEST_VERSION);
        let envelope: Envelope = match serde_json::from_slice(bytes) {
            Ok(e) => e,
            Err(e) => {
                return Err(match serde_json::from_slice::<FormatOnly>(bytes) {
                    Ok(f) => match other(f.format.or(f.version)) {
                        Some(v) => ManifestError::OtherFormat(v),
                        None => invalid(format!("it is not valid ({e})")),
                    },
                    Err(_) => invalid(format!("it is not valid ({e})")),
                })
            }
        };
        if let Some(v) = other(envelope.format) {
            return Err(ManifestError::OtherFormat(v));
        }
        let body = envelope.manifest.get();
        if blake3::hash(body.as_bytes()).to_hex().as_str() != envelope.digest {
            return Err(invalid(
                "its digest does not match its content (it was edited or damaged)".into(),
            ));
        }
        let m: Manifest =
            serde_json::from_str(body).map_err(|e| invalid(format!("it is not valid ({e})")))?;
        if m.version != MANIFEST_VERSION {
            return Err(invalid(format!(
                "it has format version {}, expected {MANIFEST_VERSION}",
                m.version
            )));
        }
        if m.key != key {
            return Err(invalid(format!("it belongs to another hash ({:?})", m.key)));
        }
        for path in m
            .files
            .iter()
            .map(|f| &f.path)
            .chain(m.links.iter().map(|l| &l.path))
        {
            if !is_safe_relative(path) {
                return Err(invalid(format!(
                    "it names a path outside the package ({path:?})"
                )));
            }
        }
        if let Some(f) = m.files.iter().find(|f| !is_digest(&f.digest)) {
            return Err(invalid(format!(
                "it has a malformed digest for {:?}",
                f.path
            )));
        }
        if let Some(why) = layout_conflict(&m.files, &m.links, &[]) {
            return Err(invalid(format!("its paths conflict: {why}")));
        }
        Ok(m)
    }
}

/// What a path of an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    File,
    Link,
    Folder,
}

impl PathKind {
    fn name(self) -> &'static str {
        match self {
            PathKind::File => "a file",
            PathKind::Link => "a link",
            PathKind::Folder => "a folder",
        }
    }
}

/// Why the paths of an entry cannot all exist at once, if they cannot: a
/// name that is two things, or a path below a file or a link. `folders` are
/// folders named explicitly (archive folder entries); parents are implied.
pub fn layout_conflict(
    files: &[FileRecord],
    links: &[LinkRecord],
    folders: &[String],
) -> Option<String> {
    let mut kinds: BTreeMap<&str, PathKind> = BTreeMap::new();
    let named = files
        .iter()
        .map(|f| (f.path.as_str(), PathKind::File))
        .chain(links.iter().map(|l| (l.path.as_str(), PathKind::Link)))
        .chain(folders.iter().map(|d| (d.as_str(), PathKind::Folder)));
    for (path, kind) in named {
        if let Some(old) = kinds.insert(path, kind) {
            if old != kind || kind != PathKind::Folder {
                return Some(format!(
                    "{path:?} is both {} and {}",
                    old.name(),
                    kind.name()
                ));
            }
        }
    }
    for (path, kind) in &kinds {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            let parent = &path[..end];
            match kinds.get(parent) {
                Some(PathKind::Folder) | None => {}
                Some(other) => {
                    return Some(format!(
                        "{} {path:?} lies below {parent:?}, which is {}",
                        capitalized(kind.name()),
                        other.name()
                    ))
                }
            }
            end += 1;
        }
    }
    None
}

/// Two paths of an entry (or their folders) that differ only in case, which
/// a case-insensitive file system (macOS and Windows by default) would
/// merge into one.
pub fn case_conflict<'a>(paths: impl Iterator<Item = &'a str>) -> Option<(String, String)> {
    let mut seen: HashMap<String, &'a str> = HashMap::new();
    for path in paths {
        let mut end = 0;
        loop {
            let next = path[end..].find('/').map(|i| end + i);
            let prefix = &path[..next.unwrap_or(path.len())];
            match seen.get(&prefix.to_lowercase()) {
                Some(other) if *other != prefix => {
                    return Some((other.to_string(), prefix.to_string()))
                }
                Some(_) => {}
                None => {
                    seen.insert(prefix.to_lowercase(), prefix);
                }
            }
            match next {
                Some(i) => end = i + 1,
                None => break,
            }
        }
    }
    None
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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

    fn file(path: &str) -> FileRecord {
        FileRecord {
            path: path.into(),
            mode: 0o644,
            size: 1,
            digest: "a".repeat(64),
            mtime: None,
        }
    }

    fn link(path: &str) -> LinkRecord {
        LinkRecord {
            path: path.into(),
            target: "x".into(),
        }
    }

    fn manifest(files: Vec<FileRecord>, links: Vec<LinkRecord>) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            key: "k".into(),
            files,
            links,
        }
    }

    fn parse_err(m: &Manifest) -> String {
        Manifest::parse(&m.encode().unwrap(), "k")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parse_checks_version_key_paths_and_digests() {
        let good = manifest(vec![file("lib/a")], vec![]);
        let bytes = good.encode().unwrap();
        assert_eq!(Manifest::parse(&bytes, "k").unwrap(), good);
        assert!(Manifest::parse(&bytes, "other")
            .unwrap_err()
            .to_string()
            .contains("another hash"));
        let mut bad = good.clone();
        bad.version = 99;
        let err = parse_err(&bad);
        assert!(err.contains("format version 99"), "{err}");
        let mut bad = good.clone();
        bad.files[0].path = "../../etc/x".into();
        let err = parse_err(&bad);
        assert!(err.contains("outside the package"), "{err}");
        let mut bad = good;
        bad.files[0].digest = "zz".into();
        let err = parse_err(&bad);
        assert!(err.contains("malformed digest"), "{err}");
        assert!(Manifest::parse(b"{\"version\":1", "k")
            .unwrap_err()
            .to_string()
            .contains("not valid"));
    }

    #[test]
    fn an_edited_manifest_is_refused_by_its_digest() {
        let good = manifest(vec![file("lib/a.js")], vec![]);
        let text = String::from_utf8(good.encode().unwrap()).unwrap();
        for (what, edited) in [
            ("a renamed path", text.replace("lib/a.js", "lib/b.js")),
            (
                "a setuid mode",
                text.replace("\"mode\":420", "\"mode\":2541"),
            ),
            ("a changed size", text.replace("\"size\":1", "\"size\":2")),
        ] {
            assert_ne!(edited, text, "{what}: the edit did not apply");
            let err = Manifest::parse(edited.as_bytes(), "k").unwrap_err();
            assert_eq!(
                err,
                ManifestError::Invalid(
                    "its digest does not match its content (it was edited or damaged)".into()
                ),
                "{what}"
            );
        }
    }

    #[test]
    fn manifests_of_other_formats_are_left_alone_not_damage() {
        let v1 = br#"{"version":1,"key":"k","files":[],"links":[]}"#;
        assert_eq!(
            Manifest::parse(v1, "k").unwrap_err(),
            ManifestError::OtherFormat(1)
        );
        let newer = br#"{"format":3,"whatever":"it holds"}"#;
        assert_eq!(
            Manifest::parse(newer, "k").unwrap_err(),
            ManifestError::OtherFormat(3)
        );
    }

    #[test]
    fn conflicting_paths_are_found() {
        type Case = (Vec<FileRecord>, Vec<LinkRecord>, Vec<String>, &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![file("lib/index.js"), file("lib/index.js/x")],
                vec![],
                vec![],
                "A file \"lib/index.js/x\" lies below \"lib/index.js\", which is a file",
            ),
            (
                vec![file("lib/a/b/c")],
                vec![link("lib/a")],
                vec![],
                "A file \"lib/a/b/c\" lies below \"lib/a\", which is a link",
            ),
            (
                vec![file("lib/x")],
                vec![link("lib/x")],
                vec![],
                "\"lib/x\" is both a file and a link",
            ),
            (
                vec![file("lib/x")],
                vec![],
                vec!["lib/x".into()],
                "\"lib/x\" is both a file and a folder",
            ),
            (
                vec![file("lib/x")],
                vec![],
                vec!["lib/x/y".into()],
                "A folder \"lib/x/y\" lies below \"lib/x\", which is a file",
            ),
        ];
        for (files, links, folders, want) in cases {
            assert_eq!(
                layout_conflict(&files, &links, &folders).as_deref(),
                Some(want)
            );
        }
        assert_eq!(
            layout_conflict(
                &[file("lib/a/b"), file("lib/a/c")],
                &[link("lib/l")],
                &["lib".into(), "lib/a".into(), "lib".into()]
            ),
            None
        );
        let m = manifest(vec![file("lib/index.js"), file("lib/index.js/x")], vec![]);
        assert!(parse_err(&m).starts_with("its paths conflict: A file"));
    }

    #[test]
    fn case_only_differences_are_found_in_names_and_folders() {
        assert_eq!(
            case_conflict(["lib/A.js", "lib/a.js"].into_iter()),
            Some(("lib/A.js".into(), "lib/a.js".into()))
        );
        assert_eq!(
            case_conflict(["Lib/x.js", "lib/y.js"].into_iter()),
            Some(("Lib".into(), "lib".into()))
        );
        assert_eq!(
            case_conflict(["lib/ä.js", "lib/Ä.js"].into_iter()),
            Some(("lib/ä.js".into(), "lib/Ä.js".into()))
        );
        assert_eq!(
            case_conflict(["lib/a.js", "lib/b.js", "lib/a.js"].into_iter()),
            None
        );
    }

    /// The entry digest a remote signature covers: every restored detail
    /// changes it, the order of the records does not, and a file without a
    /// recorded time counts as the archive's time.
    #[test]
    fn the_entry_digest_covers_everything_restored_and_nothing_else() {
        let f = |path: &str, mode: u32, size: u64, d: char, mtime: Option<u64>| FileRecord {
            path: path.into(),
            mode,
            size,
            digest: d.to_string().repeat(64),
            mtime,
        };
        let l = |path: &str, target: &str| LinkRecord {
            path: path.into(),
            target: target.into(),
        };
        let base = || {
            (
                vec![
                    f("lib/a.js", 0o644, 3, 'a', Some(5)),
                    f("lib/b.js", 0o755, 4, 'b', None),
                ],
                vec![l("lib/c.js", "a.js")],
            )
        };
        let (files, links) = base();
        let d = entry_digest(&files, &links, 9);
        let mut reversed = files.clone();
        reversed.reverse();
        assert_eq!(entry_digest(&reversed, &links, 9), d);
        let mut filled = files.clone();
        filled[1].mtime = Some(9);
        assert_eq!(
            entry_digest(&filled, &links, 0),
            d,
            "no time recorded: the archive's"
        );
        type Change = Box<dyn Fn(&mut Vec<FileRecord>, &mut Vec<LinkRecord>)>;
        let changes: Vec<Change> = vec![
            Box::new(|f, _| f[0].path = "lib/z.js".into()),
            Box::new(|f, _| f[0].mode = 0o600),
            Box::new(|f, _| f[0].size = 2),
            Box::new(|f, _| f[0].digest = "c".repeat(64)),
            Box::new(|f, _| f[0].mtime = Some(6)),
            Box::new(|f, _| {
                f.pop();
            }),
            Box::new(|_, l| l[0].target = "b.js".into()),
            Box::new(|_, l| l[0].path = "lib/d.js".into()),
            Box::new(|_, l| l.clear()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let (mut files, mut links) = base();
            change(&mut files, &mut links);
            assert_ne!(
                entry_digest(&files, &links, 9),
                d,
                "change {i} went unnoticed"
            );
        }
    }
}
