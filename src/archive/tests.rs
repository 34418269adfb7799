//! Round trips through the archive format, forged hostile archives, and
//! interop with GNU tar as an independent implementation.

use std::fs;
#[cfg(unix)]
use std::io::Write;
use std::path::Path;
#[cfg(unix)]
use std::process::Command;

use super::*;
use crate::cache_key::CacheKey;
use crate::output_glob::OutputGlob;
use crate::store::{LocalStore, Manifest, RestoreOptions, RestoreReport};

fn key(s: &str) -> CacheKey {
    CacheKey::parse(s).unwrap()
}

/// A raw tar header with any name and type, as an attacker would write it
/// (the tar crate's own path setter refuses `..`).
fn raw_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, body: &[u8]) {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn store() -> (tempfile::TempDir, LocalStore) {
    let tmp = tempfile::tempdir().unwrap();
    let s = LocalStore::new(&tmp.path().join("cache"));
    (tmp, s)
}

/// Ingests `bytes` as entry `k` and commits it.
fn ingest(store: &LocalStore, bytes: &[u8]) -> Result<Manifest, IngestError> {
    ingest_as(store, "k", bytes)
}

/// Ingests `reader` as entry `k` and commits it.
fn ingest_as(
    store: &LocalStore,
    k: &str,
    reader: impl std::io::Read,
) -> Result<Manifest, IngestError> {
    let mut entry = store.begin_entry(&key(k)).unwrap();
    ingest_archive(&mut entry, reader)?;
    Ok(entry.commit().unwrap())
}

#[test]
fn hostile_archives_are_refused_with_the_reason() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            {
                let mut v = vec![];
                raw_entry(&mut v, "../evil", b'0', "", b"x");
                v
            },
            "entry \"../evil\" points outside the package",
        ),
        (
            "absolute",
            {
                let mut v = vec![];
                raw_entry(&mut v, "/tmp/evil", b'0', "", b"x");
                v
            },
            "entry \"/tmp/evil\" points outside",
        ),
        (
            "nested dot-dot",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/../../evil", b'0', "", b"x");
                v
            },
            "points outside the package",
        ),
        (
            "link out",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/link", b'2', "../../outside", b"");
                v
            },
            "link \"lib/link\" points outside the package (\"../../outside\")",
        ),
        (
            "absolute link",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/etc", b'2', "/etc", b"");
                v
            },
            "link \"lib/etc\" points outside",
        ),
        (
            "write through a link",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/dir", b'2', ".", b"");
                raw_entry(&mut v, "lib/dir/x.js", b'0', "", b"x");
                v
            },
            "entry \"lib/dir/x.js\" goes through the link \"lib/dir\"",
        ),
        (
            "escape through a chain of links",
            {
                let mut v = vec![];
                raw_entry(&mut v, "d/a", b'2', "..", b"");
                raw_entry(&mut v, "d/b", b'2', "a/..", b"");
                v
            },
            "link \"d/b\" points outside the package (\"a/..\")",
        ),
        (
            "device",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/dev", b'3', "", b"");
                v
            },
            "is a Char, which outputs never are",
        ),
        (
            "fifo",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/fifo", b'6', "", b"");
                v
            },
            "is a Fifo",
        ),
        (
            "hard link",
            {
                let mut v = vec![];
                raw_entry(&mut v, "lib/h", b'1', "/etc/passwd", b"");
                v
            },
            "is a Link",
        ),
    ];
    for (name, bytes, why) in cases {
        let (_tmp, s) = store();
        match ingest(&s, &finish(bytes)) {
            Err(IngestError::Refused(reason)) => assert!(reason.contains(why), "{name}: {reason}"),
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        assert!(!s.contains(&key("k")), "{name}: an entry was written");
    }
}

#[test]
fn a_cut_stream_is_a_stream_error_and_no_entry() {
    let (_tmp, s) = store();
    let mut v = vec![];
    raw_entry(&mut v, "lib/a.js", b'0', "", &[7u8; 5000]);
    let cut = &v[..3000];
    assert!(matches!(ingest(&s, cut), Err(IngestError::Stream(_))));
    assert!(!s.contains(&key("k")));
}

#[test]
fn accepts_what_other_writers_produce() {
    let (_tmp, s) = store();
    let mut v = vec![];
    raw_entry(&mut v, "./lib/", b'5', "", b"");
    raw_entry(&mut v, "./lib/a.js", b'0', "", b"alpha");
    raw_entry(&mut v, "lib/up", b'2', "../lib/a.js", b"");
    raw_entry(&mut v, "lib/a.js", b'0', "", b"alpha again");
    let m = ingest(&s, &finish(v)).unwrap();
    assert_eq!(
        m.files.len(),
        1,
        "the later entry for a path wins, as in tar"
    );
    assert_eq!(m.files[0].path, "lib/a.js");
    assert_eq!(m.files[0].size, 11);
    assert_eq!(m.links[0].target, "../lib/a.js");
}

fn make_tree(dir: &Path) {
    let long = format!(
        "lib/{}/{}.js",
        "very-long-folder-name".repeat(5),
        "file-name".repeat(12)
    );
    for (rel, body, mode) in [
        ("lib/a.js", b"alpha".to_vec(), 0o644),
        ("lib/bin/cli.js", b"#!/usr/bin/env node".to_vec(), 0o755),
        ("lib/.vite/manifest.json", b"{}".to_vec(), 0o600),
        ("lib/empty", vec![], 0o644),
        ("lib/big.bin", vec![9u8; 3 << 20], 0o644),
        (long.as_str(), b"long".to_vec(), 0o644),
        ("lib/ünïcödé.js", b"unicode".to_vec(), 0o644),
    ] {
        let p = dir.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        crate::platform::testing::set_mode(&p, mode);
    }
    // Where links cannot be made (wine), the tree has none.
    if crate::platform::testing::links_work() {
        crate::platform::testing::symlink("a.js", dir.join("lib/alias.js")).unwrap();
    }
}

/// Compares two trees like a user would, printing only the paths on failure.
fn assert_same_tree(got: &Path, want: &Path, what: &str) {
    let (g, w) = (
        crate::store::tests::snapshot(got),
        crate::store::tests::snapshot(want),
    );
    if g != w {
        let differ: Vec<_> = w
            .keys()
            .chain(g.keys())
            .filter(|k| g.get(*k) != w.get(*k))
            .collect();
        panic!("{what}: paths that differ: {differ:?}");
    }
}

/// A package made by `make_tree`, stored as entry `k` of a new store.
fn stored_package(tmp: &Path, k: &str) -> (std::path::PathBuf, LocalStore, Manifest) {
    let pkg = tmp.join("pkg");
    make_tree(&pkg);
    let store = LocalStore::new(&tmp.join("s"));
    let outputs = OutputGlob::new(&["lib/**".into()])
        .unwrap()
        .find(&pkg, None)
        .unwrap();
    store.put(&key(k), &outputs).unwrap();
    let manifest = store.read_manifest(&key(k)).unwrap();
    (pkg, store, manifest)
}

/// Writes `manifest` as entry `k` and restores it into a new folder `out`.
fn restore_into(store: &LocalStore, k: &str, manifest: &Manifest, out: &Path) {
    store.write_manifest(&key(k), manifest).unwrap();
    fs::create_dir(out).unwrap();
    let options = RestoreOptions {
        may_write_store: true,
    };
    store.restore(&key(k), out, options).unwrap();
}

#[test]
fn round_trip_through_our_writer_and_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let (pkg, a, manifest) = stored_package(tmp.path(), "k");
    let mut tar_bytes = vec![];
    write_archive(&a, &manifest, archive_time(), &mut tar_bytes).unwrap();

    let b = LocalStore::new(&tmp.path().join("b"));
    let ingested = ingest_as(&b, "k", tar_bytes.as_slice()).unwrap();
    let strip = |m: &Manifest| {
        let mut m = m.clone();
        m.files.iter_mut().for_each(|f| f.mtime = None);
        m
    };
    assert_eq!(strip(&ingested), strip(&manifest));
    let out = tmp.path().join("out");
    restore_into(&b, "k", &ingested, &out);
    assert_same_tree(&out, &pkg, "our round trip");
}

// Unix only: it runs GNU tar, which Windows (and wine) does not have.
#[cfg(unix)]
#[test]
fn gnu_tar_reads_our_archives_and_we_read_gnu_tar_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let (pkg, s, manifest) = stored_package(tmp.path(), "ours");
    let ours = tmp.path().join("ours.tar");
    let mut file = fs::File::create(&ours).unwrap();
    write_archive(&s, &manifest, archive_time(), &mut file).unwrap();
    file.flush().unwrap();

    let tar = |args: &[&str]| assert!(Command::new("tar").args(args).status().unwrap().success());
    let extracted = tmp.path().join("gnu-extracted");
    fs::create_dir(&extracted).unwrap();
    tar(&[
        "-xpf",
        ours.to_str().unwrap(),
        "-C",
        extracted.to_str().unwrap(),
    ]);
    assert_same_tree(&extracted, &pkg, "GNU tar read our archive differently");

    // `-C pkg .` as people write it: the archive starts with a "./" entry.
    let dot = tmp.path().join("dot.tar");
    tar(&[
        "-cf",
        dot.to_str().unwrap(),
        "-C",
        pkg.to_str().unwrap(),
        ".",
    ]);
    let m = ingest_as(&s, "dot", fs::File::open(&dot).unwrap()).unwrap();
    assert_eq!(m.files.len(), manifest.files.len());

    let gnu = tmp.path().join("gnu.tar");
    tar(&[
        "--format=posix",
        "-cf",
        gnu.to_str().unwrap(),
        "-C",
        pkg.to_str().unwrap(),
        "lib",
    ]);
    let m = ingest_as(&s, "gnu", fs::File::open(&gnu).unwrap()).unwrap();
    let out = tmp.path().join("out");
    restore_into(&s, "gnu", &m, &out);
    assert_same_tree(&out, &pkg, "we read GNU tar's PAX archive differently");
}

#[test]
fn a_damaged_store_content_fails_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let (_pkg, s, m) = stored_package(tmp.path(), "k");
    let f = m.files.iter().find(|f| f.path == "lib/a.js").unwrap();
    let blob = s.layout().content(&f.digest);
    crate::platform::testing::set_mode(&blob, 0o644);
    fs::write(&blob, b"ALPHA").unwrap();
    let err = write_archive(&s, &m, archive_time(), std::io::sink()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("stored content {} is corrupt", f.digest)),
        "{err}"
    );
}

/// Every file under `dir` but the store's lock, relative, for "nothing was
/// written" checks.
fn files_under(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return vec![];
    }
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        // The lock files are the store's, not an entry's.
        .filter(|e| !e.file_type().is_dir() && e.file_name() != "lock" && e.file_name() != "gate")
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

#[test]
fn archives_whose_entries_conflict_are_refused_and_store_nothing() {
    type Entries = Vec<(&'static str, u8, &'static str)>;
    let cases: Vec<(&str, Entries, &str)> = vec![
        (
            "a file and a path below it",
            vec![("lib/index.js", b'0', ""), ("lib/index.js/x", b'0', "")],
            "its entries cannot all exist at once: A file \"lib/index.js/x\" lies below \"lib/index.js\", which is a file",
        ),
        (
            "the path below first",
            vec![("lib/index.js/x", b'0', ""), ("lib/index.js", b'0', "")],
            "A file \"lib/index.js/x\" lies below \"lib/index.js\", which is a file",
        ),
        (
            "a folder entry below a file",
            vec![("lib/a", b'0', ""), ("lib/a/b/", b'5', "")],
            "A folder \"lib/a/b\" lies below \"lib/a\", which is a file",
        ),
        (
            "a name as a file, then as a link",
            vec![("lib/x", b'0', ""), ("lib/x", b'2', "y")],
            "entry \"lib/x\" appears twice, as a file and as a link",
        ),
        (
            "a name as a link, then as a file",
            vec![("lib/x", b'2', "y"), ("lib/x", b'0', "")],
            "entry \"lib/x\" appears twice, as a link and as a file",
        ),
        (
            "a name as a folder, then as a file",
            vec![("lib/x/", b'5', ""), ("lib/x", b'0', "")],
            "entry \"lib/x\" appears twice, as a folder and as a file",
        ),
        (
            "a path through a link that comes later",
            vec![("lib/d/x.js", b'0', ""), ("lib/d", b'2', ".")],
            "entry \"lib/d/x.js\" goes through the link \"lib/d\"",
        ),
        (
            "names differing only in case",
            vec![("lib/Index.js", b'0', ""), ("lib/index.js", b'0', "")],
            "entries \"lib/Index.js\" and \"lib/index.js\" differ only in case, which a case-insensitive file system (macOS, Windows) cannot hold apart",
        ),
        (
            "folders differing only in case",
            vec![("Lib/a.js", b'0', ""), ("lib/b.js", b'0', "")],
            "entries \"Lib\" and \"lib\" differ only in case",
        ),
    ];
    for (name, entries, why) in cases {
        let (tmp, s) = store();
        let mut v = vec![];
        for (i, (path, kind, link)) in entries.iter().enumerate() {
            let body = format!("content {i} of {name}");
            let body = if *kind == b'0' { body.as_bytes() } else { b"" };
            raw_entry(&mut v, path, *kind, link, body);
        }
        let mut entry = s.begin_entry(&key("k")).unwrap();
        let result = ingest_archive(&mut entry, finish(v).as_slice());
        drop(entry);
        match result {
            Err(IngestError::Refused(reason)) => assert!(reason.contains(why), "{name}: {reason}"),
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        assert_eq!(
            files_under(&tmp.path().join("cache")),
            Vec::<String>::new(),
            "{name}: something was left in the store"
        );
    }
}

#[test]
fn an_archive_is_stored_only_when_committed() {
    let (tmp, s) = store();
    let mut v = vec![];
    raw_entry(&mut v, "lib/a.js", b'0', "", b"alpha");
    raw_entry(&mut v, "lib/b.js", b'0', "", b"beta");
    let mut entry = s.begin_entry(&key("k")).unwrap();
    ingest_archive(&mut entry, finish(v).as_slice()).unwrap();
    assert!(!s
        .layout()
        .content(&blake3::hash(b"alpha").to_hex())
        .exists());
    drop(entry);
    assert_eq!(files_under(&tmp.path().join("cache")), Vec::<String>::new());
}

#[test]
fn an_archive_without_its_end_marker_is_refused() {
    let (_tmp, s) = store();
    let mut v = vec![];
    raw_entry(&mut v, "lib/a.js", b'0', "", b"alpha");
    raw_entry(&mut v, "lib/b.js", b'0', "", &[1u8; 1000]);
    // Cut after the last entry: every header and body is whole, the two
    // zero blocks are missing, as when an upload was cut short.
    match ingest(&s, &v) {
        Err(IngestError::Refused(reason)) => assert_eq!(
            reason,
            "it has no end-of-archive marker, so it was cut short (an interrupted upload?)"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // One zero block is enough to end an archive, as for tar itself.
    let mut one = v.clone();
    one.extend_from_slice(&[0u8; 512]);
    assert_eq!(ingest(&s, &one).unwrap().files.len(), 2);
}

#[test]
fn setuid_bits_in_an_archive_are_dropped() {
    let (_tmp, s) = store();
    let mut h = tar::Header::new_ustar();
    h.set_path("lib/run").unwrap();
    h.set_size(1);
    h.set_mode(0o6755);
    h.set_cksum();
    let mut v = h.as_bytes().to_vec();
    v.push(b'x');
    v.resize(1024, 0);
    assert_eq!(ingest(&s, &finish(v)).unwrap().files[0].mode, 0o755);
}

#[test]
fn archive_size_is_the_exact_length_written() {
    let long_dir = format!("lib/{}/{}", "d".repeat(90), "e".repeat(90));
    let long_leaf = format!("lib/{}.js", "n".repeat(150));
    // (path, Some(file size) or None for a link, link target)
    type Entry = (String, Option<usize>, Option<String>);
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        ("empty", vec![]),
        ("one small file", vec![("lib/a.js".into(), Some(3), None)]),
        ("zero-byte file", vec![("lib/empty".into(), Some(0), None)]),
        ("exactly one block", vec![("lib/b".into(), Some(512), None)]),
        ("one byte over", vec![("lib/c".into(), Some(513), None)]),
        (
            "long path split into the ustar prefix",
            vec![(format!("{long_dir}/x.js"), Some(10), None)],
        ),
        (
            "long name needing the GNU extension",
            vec![(long_leaf.clone(), Some(700), None)],
        ),
        (
            "links, one with a long target",
            vec![
                ("lib/t.js".into(), Some(1), None),
                ("lib/short".into(), None, Some("t.js".into())),
                (
                    format!("lib/{}", "l".repeat(120)),
                    None,
                    Some("t.js".into()),
                ),
                (
                    "lib/far".into(),
                    None,
                    Some(format!("{}/t.js", "./".repeat(80))),
                ),
            ],
        ),
        (
            "many files",
            (0..200)
                .map(|i| (format!("lib/f{i}.txt"), Some(i * 37), None))
                .collect(),
        ),
    ];
    for (what, entries) in cases {
        if entries.iter().any(|(_, _, link)| link.is_some())
            && crate::platform::testing::skip_without_links(what)
        {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("pkg");
        fs::create_dir_all(pkg.join("lib")).unwrap();
        for (path, size, link) in &entries {
            let p = pkg.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            match (size, link) {
                (Some(n), _) => fs::write(&p, vec![b'x'; *n]).unwrap(),
                (None, Some(t)) => crate::platform::testing::symlink(t, &p).unwrap(),
                _ => unreachable!(),
            }
        }
        let store = LocalStore::new(&tmp.path().join("s"));
        let outputs = OutputGlob::new(&["lib/**".into()])
            .unwrap()
            .find(&pkg, None)
            .unwrap();
        store.put(&key("k"), &outputs).unwrap();
        let manifest = store.read_manifest(&key("k")).unwrap();
        let mut written = vec![];
        write_archive(&store, &manifest, archive_time(), &mut written).unwrap();
        assert_eq!(
            archive_size(&manifest).unwrap(),
            written.len() as u64,
            "{what}"
        );
        assert!(written.len() as u64 >= manifest.bytes() + 1024, "{what}");
    }
}

/// An entry made on Linux may hold names Windows refuses. On Windows each
/// is a miss with a warning naming the path and why, before anything is
/// written; Unix holds them all.
#[test]
fn names_windows_refuses_are_a_miss_there_and_restore_elsewhere() {
    let cases = [
        ("lib/CON", "which Windows reserves for a device"),
        ("lib/aux.js", "which Windows reserves for a device"),
        ("lib/com1.d.ts", "which Windows reserves for a device"),
        ("lib/a:b", "holds ':', which Windows file names cannot"),
        ("lib/q?.js", "holds '?', which Windows file names cannot"),
        ("lib/dot.", "ending in a dot or a space"),
        ("lib/space /x.js", "ending in a dot or a space"),
    ];
    for (path, why) in cases {
        let (tmp, s) = store();
        let mut v = vec![];
        raw_entry(&mut v, "lib/fine.js", b'0', "", b"fine");
        raw_entry(&mut v, path, b'0', "", b"odd");
        ingest(&s, &finish(v)).unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();
        let options = RestoreOptions {
            may_write_store: true,
        };
        let report = s.restore(&key("k"), &out, options).unwrap();
        if cfg!(windows) {
            match report {
                RestoreReport::Unusable(warning) => {
                    assert_eq!(warning.code(), "LOCAL_ENTRY_NOT_RESTORABLE_HERE");
                    let detail = crate::test_kit::local_detail(&warning);
                    assert!(
                        detail.contains(&format!("{path:?}")) && detail.contains(why),
                        "{path}: {warning}"
                    );
                }
                other => panic!("{path}: expected a miss with a warning, got {other:?}"),
            }
            assert_eq!(
                files_under(&out),
                Vec::<String>::new(),
                "{path}: something was written"
            );
        } else {
            assert!(
                matches!(report, RestoreReport::Hit(_)),
                "{path}: {report:?}"
            );
            assert_eq!(fs::read(out.join(path)).unwrap(), b"odd");
        }
    }
}

/// Where links cannot be made (Windows without Developer Mode, wine), an
/// entry holding one is a miss with one warning saying how to enable them,
/// and the package is left exactly as it was.
#[test]
fn an_entry_with_a_link_where_links_cannot_be_made_changes_nothing() {
    if crate::platform::testing::links_work() {
        eprintln!(
            "an_entry_with_a_link_where_links_cannot_be_made_changes_nothing: \
             skipped, this system makes links (the Windows run under wine checks it)"
        );
        return;
    }
    let (tmp, s) = store();
    let mut v = vec![];
    raw_entry(&mut v, "lib/a.js", b'0', "", b"new a");
    raw_entry(&mut v, "lib/new/b.js", b'0', "", b"new b");
    raw_entry(&mut v, "lib/zz", b'2', "a.js", b"");
    ingest(&s, &finish(v)).unwrap();
    let out = tmp.path().join("out");
    fs::create_dir_all(out.join("lib")).unwrap();
    fs::write(out.join("lib/a.js"), b"old a").unwrap();
    let before = files_under(&out);
    let options = RestoreOptions {
        may_write_store: true,
    };
    match s.restore(&key("k"), &out, options).unwrap() {
        RestoreReport::Unusable(warning) => {
            let detail = crate::test_kit::local_detail(&warning);
            assert!(
                detail.contains("the link lib/zz could not be created")
                    && detail.contains(crate::platform::LINK_HINT),
                "{warning}"
            )
        }
        other => panic!("expected a miss with a warning, got {other:?}"),
    }
    assert_eq!(files_under(&out), before);
    assert_eq!(fs::read(out.join("lib/a.js")).unwrap(), b"old a");
    assert!(!out.join("lib/new").exists(), "a folder was left");
}

/// An entry put on Linux keeps its modes through a machine that cannot
/// hold them (Windows): the remote archive's modes are stored as they are,
/// and the archive made again from the store carries them unchanged, so a
/// Linux machine fetching what a Windows one passed on gets its exec bits.
#[test]
fn stored_modes_pass_through_unchanged_on_every_system() {
    let (_tmp, s) = store();
    let mut v = vec![];
    for (path, mode) in [
        ("lib/cli.js", 0o755),
        ("lib/secret.json", 0o600),
        ("lib/a.d.ts", 0o444),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(1);
        h.set_mode(mode);
        h.set_cksum();
        v.extend_from_slice(h.as_bytes());
        v.push(b'x');
        v.resize(v.len().div_ceil(512) * 512, 0);
    }
    let manifest = ingest(&s, &finish(v)).unwrap();
    let modes = |m: &Manifest| -> Vec<(String, u32)> {
        m.files.iter().map(|f| (f.path.clone(), f.mode)).collect()
    };
    let want = vec![
        ("lib/a.d.ts".to_string(), 0o444),
        ("lib/cli.js".to_string(), 0o755),
        ("lib/secret.json".to_string(), 0o600),
    ];
    let mut got = modes(&manifest);
    got.sort();
    assert_eq!(got, want);

    let mut again = vec![];
    write_archive(&s, &manifest, archive_time(), &mut again).unwrap();
    let mut from_tar: Vec<(String, u32)> = tar::Archive::new(again.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let path = e.path().unwrap().to_str().unwrap().to_string();
            (path, e.header().mode().unwrap())
        })
        .collect();
    from_tar.sort();
    assert_eq!(from_tar, want);
}
