//! The shared round trip: the cases every backend is driven through (miss,
//! put, wipe, fetch, compare the files a user would compare), and the
//! helpers that make and compare them on real files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::platform::testing::{set_mode, symlink};

/// What a user would compare: every file's bytes and mode, every link's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    File(Vec<u8>, u32),
    Link(String),
}

pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.unwrap();
        // Keys with `/` on every system, as manifests have them.
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_str().unwrap())
            .collect::<Vec<_>>()
            .join("/");
        let ft = e.file_type();
        if ft.is_symlink() {
            out.insert(
                rel,
                Node::Link(fs::read_link(e.path()).unwrap().to_str().unwrap().into()),
            );
        } else if ft.is_file() {
            let mode = crate::platform::mode_of(&e.metadata().unwrap());
            out.insert(rel, Node::File(fs::read(e.path()).unwrap(), mode));
        }
    }
    out
}

pub(crate) fn write(pkg: &Path, rel: &str, bytes: &[u8], mode: u32) {
    let p = pkg.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, bytes).unwrap();
    set_mode(&p, mode);
}

/// One round-trip case: a name, files (path, bytes, mode), links (path,
/// target).
pub(crate) type RoundTripCase = (
    &'static str,
    Vec<(&'static str, Vec<u8>, u32)>,
    Vec<(&'static str, &'static str)>,
);

/// The round-trip cases every backend is driven through: the store
/// (`store/tests.rs`), the engine local only and local plus every remote
/// (`engine/tests.rs`, through [`super::fake_remote::FakeRemote`]).
pub(crate) fn round_trip_cases() -> Vec<RoundTripCase> {
    let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
    vec![
        (
            "single file",
            vec![("lib/a.js", b"a".to_vec(), 0o644)],
            vec![],
        ),
        (
            "nested, dot files, modes",
            vec![
                ("lib/a.js", b"alpha".to_vec(), 0o644),
                ("lib/bin/cli.js", b"#!/usr/bin/env node".to_vec(), 0o755),
                ("lib/.vite/manifest.json", b"{}".to_vec(), 0o600),
                ("lib/deep/er/still/x.d.ts", b"export {}".to_vec(), 0o444),
            ],
            vec![],
        ),
        ("empty file", vec![("lib/empty", vec![], 0o644)], vec![]),
        (
            "large file, streamed",
            vec![("lib/big.bin", big, 0o644)],
            vec![],
        ),
        (
            "symlinks kept as links",
            vec![("lib/real.js", b"real".to_vec(), 0o644)],
            vec![("lib/alias.js", "real.js"), ("lib/dangling", "../nowhere")],
        ),
        ("no files: an empty entry is a hit", vec![], vec![]),
    ]
}

/// Makes the files and links of a case under `pkg`.
pub(crate) fn make_case(pkg: &Path, files: &[(&str, Vec<u8>, u32)], links: &[(&str, &str)]) {
    for (rel, bytes, mode) in files {
        write(pkg, rel, bytes, *mode);
    }
    for (rel, target) in links {
        fs::create_dir_all(pkg.join(rel).parent().unwrap()).unwrap();
        symlink(target, pkg.join(rel)).unwrap();
    }
}
