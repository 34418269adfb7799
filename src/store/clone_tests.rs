//! Clones on real file systems: XFS and btrfs images loop-mounted here
//! (`test_kit/loop_fs.rs`; skipped with the reason printed where a machine
//! cannot). What a user would check: restored bytes and modes, the store's
//! content sharing its extents with the restored file (`filefrag -v`), the
//! device writing next to nothing, the store's content unchanged by any
//! write to an output, and a store content edited in place never restored.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::content::clone::Way;
use super::*;
use crate::output_glob::OutputGlob;
use crate::platform::testing::mode as mode_of;
use crate::test_kit::local_detail;
use crate::test_kit::loop_fs::{shares_extents, Kind, LoopFs};
use crate::test_kit::round_trip::write;

const RW: RestoreOptions = RestoreOptions {
    may_write_store: true,
};

/// Outputs of many sizes and modes: (path, bytes, mode).
fn outputs() -> Vec<(String, Vec<u8>, u32)> {
    let bytes = |n: usize, seed: u8| -> Vec<u8> {
        (0..n)
            .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[0] ^ seed)
            .collect()
    };
    let mut files = vec![
        ("lib/big.bin".to_string(), bytes(8 << 20, 1), 0o644),
        ("lib/larger.bin".to_string(), bytes(6 << 20, 2), 0o755),
        ("lib/ro.bin".to_string(), bytes(4 << 20, 3), 0o444),
        ("lib/tiny.txt".to_string(), b"tiny".to_vec(), 0o644),
        ("lib/empty".to_string(), Vec::new(), 0o600),
    ];
    for i in 0..20 {
        files.push((format!("lib/d/f{i}.js"), bytes(256 << 10, i as u8), 0o644));
    }
    files
}

const BIG: &[&str] = &["lib/big.bin", "lib/larger.bin", "lib/ro.bin"];

struct Setup {
    fs: LoopFs,
    store: LocalStore,
    pkg: PathBuf,
    files: Vec<(String, Vec<u8>, u32)>,
}

fn key(s: &str) -> CacheKey {
    CacheKey::parse(s).unwrap()
}

/// A store and a package on a fresh `kind` file system, the package's
/// outputs put as `k`.
fn setup(kind: Kind, test: &str) -> Option<Setup> {
    let fs = LoopFs::mount(kind, test)?;
    let store = LocalStore::new(&fs.dir("cache"));
    let pkg = fs.dir("pkg");
    let files = outputs();
    for (p, b, m) in &files {
        write(&pkg, p, b, *m);
    }
    let found = OutputGlob::new(&["lib/**".to_string()])
        .unwrap()
        .find(&pkg, None)
        .unwrap();
    store.put(&key("k"), &found).unwrap();
    Some(Setup {
        fs,
        store,
        pkg,
        files,
    })
}

fn restore(s: &Setup, pkg: &Path) -> RestoreReport {
    s.store.restore(&key("k"), pkg, RW).unwrap()
}

fn hit(r: RestoreReport) -> Restored {
    match r {
        RestoreReport::Hit(r) => r,
        other => panic!("expected a hit, got {other:?}"),
    }
}

/// The stored content of output `rel`.
fn content_of(s: &Setup, rel: &str) -> PathBuf {
    let m = s.store.read_manifest(&key("k")).unwrap();
    let f = m.files.iter().find(|f| f.path == rel).unwrap();
    s.store.layout().content(&f.digest)
}

fn assert_restored(s: &Setup, pkg: &Path) {
    for (p, b, m) in &s.files {
        let got = fs::read(pkg.join(p)).unwrap();
        assert!(got == *b, "{p}: restored bytes differ");
        assert_eq!(mode_of(pkg.join(p)), *m, "{p}: mode");
    }
}

fn total_bytes(s: &Setup) -> u64 {
    s.files.iter().map(|(_, b, _)| b.len() as u64).sum()
}

#[test]
fn puts_and_restores_clone_and_write_next_to_nothing() {
    for kind in Kind::ALL {
        let Some(s) = setup(kind, "puts_and_restores_clone_and_write_next_to_nothing") else {
            continue;
        };
        // The put cloned: each large content shares its blocks with the
        // output it came from.
        for rel in BIG {
            assert!(
                shares_extents(&content_of(&s, rel)),
                "{kind:?}: {rel} stored by a clone"
            );
        }
        fs::remove_dir_all(s.pkg.join("lib")).unwrap();
        let before = s.fs.written_bytes();
        let r = hit(restore(&s, &s.pkg));
        let written = s.fs.written_bytes() - before;
        assert_eq!(r.files_written, s.files.len() as u64, "{kind:?}");
        assert_eq!(
            r.files_cloned,
            s.files.len() as u64,
            "{kind:?}: every file cloned"
        );
        assert_restored(&s, &s.pkg);
        for rel in BIG {
            assert!(
                shares_extents(&s.pkg.join(rel)),
                "{kind:?}: {rel} restored by a clone"
            );
        }
        // A copy would write every byte (about 26 MiB); a clone writes
        // metadata only. A tenth is the goal, and generous here.
        let total = total_bytes(&s);
        eprintln!("{kind:?}: a restore of {total} bytes wrote {written} bytes to the device");
        assert!(
            written < total / 10,
            "{kind:?}: {written} of {total} bytes written"
        );
    }
}

#[test]
fn outputs_replaced_in_place_are_cloned_through_a_temp_file() {
    for kind in Kind::ALL {
        let Some(s) = setup(
            kind,
            "outputs_replaced_in_place_are_cloned_through_a_temp_file",
        ) else {
            continue;
        };
        // Other bytes of the same size, and a folder's files gone.
        write(&s.pkg, "lib/big.bin", &vec![7u8; 8 << 20], 0o600);
        fs::remove_dir_all(s.pkg.join("lib/d")).unwrap();
        let r = hit(restore(&s, &s.pkg));
        assert_eq!((r.files_written, r.files_cloned), (21, 21), "{kind:?}");
        assert_restored(&s, &s.pkg);
        assert!(shares_extents(&s.pkg.join("lib/big.bin")), "{kind:?}");
    }
}

#[test]
fn writes_to_a_cloned_output_never_reach_the_store() {
    for kind in Kind::ALL {
        let Some(s) = setup(kind, "writes_to_a_cloned_output_never_reach_the_store") else {
            continue;
        };
        fs::remove_dir_all(s.pkg.join("lib")).unwrap();
        hit(restore(&s, &s.pkg));
        let stored: Vec<(PathBuf, Vec<u8>)> = BIG
            .iter()
            .chain(["lib/tiny.txt"].iter())
            .map(|rel| {
                let c = content_of(&s, rel);
                let b = fs::read(&c).unwrap();
                (c, b)
            })
            .collect();
        let open = |rel: &str| {
            let p = s.pkg.join(rel);
            crate::platform::testing::set_mode(&p, 0o644);
            OpenOptions::new().write(true).open(p).unwrap()
        };
        // Rewritten in place, truncated, appended to, and chmod-ed.
        let mut f = open("lib/big.bin");
        f.seek(SeekFrom::Start(4096)).unwrap();
        f.write_all(&[0xAB; 65536]).unwrap();
        drop(f);
        open("lib/larger.bin").set_len(100).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(s.pkg.join("lib/tiny.txt"))
            .unwrap();
        f.write_all(b" and more").unwrap();
        drop(f);
        crate::platform::testing::set_mode(s.pkg.join("lib/ro.bin"), 0o777);
        drop(open("lib/ro.bin"));
        for (c, b) in &stored {
            assert!(
                fs::read(c).unwrap() == *b,
                "{kind:?}: {} changed",
                c.display()
            );
            assert_eq!(mode_of(c), 0o444, "{kind:?}: {} mode", c.display());
        }
        // Still whole and verifying: a restore into another package gives
        // every original byte back.
        let other = s.fs.dir("other");
        hit(restore(&s, &other));
        assert_restored(&s, &other);
        // And the edited outputs are put back as they were cached.
        let r = hit(restore(&s, &s.pkg));
        assert_eq!((r.files_written, r.files_unchanged), (3, 22), "{kind:?}");
        assert_restored(&s, &s.pkg);
    }
}

#[test]
fn writes_to_an_output_after_its_put_never_reach_the_store() {
    for kind in Kind::ALL {
        let Some(s) = setup(
            kind,
            "writes_to_an_output_after_its_put_never_reach_the_store",
        ) else {
            continue;
        };
        // The put cloned the outputs: the next build rewrites one in place
        // and appends to another, as a compiler or a bundler may.
        let mut f = OpenOptions::new()
            .write(true)
            .open(s.pkg.join("lib/big.bin"))
            .unwrap();
        f.write_all(&[0xCD; 1 << 20]).unwrap();
        drop(f);
        let mut f = OpenOptions::new()
            .append(true)
            .open(s.pkg.join("lib/larger.bin"))
            .unwrap();
        f.write_all(b"appended").unwrap();
        drop(f);
        let other = s.fs.dir("other");
        let r = hit(restore(&s, &other));
        assert_eq!(r.files_cloned, s.files.len() as u64, "{kind:?}");
        assert_restored(&s, &other);
    }
}

/// Edits the stored content `c` in place, keeping its size, and sets its
/// modification time back: only its change time tells.
fn damage_in_place(c: &Path) {
    let mtime = fs::metadata(c).unwrap().modified().unwrap();
    crate::platform::testing::set_mode(c, 0o644);
    let mut f = OpenOptions::new().write(true).open(c).unwrap();
    f.seek(SeekFrom::Start(1000)).unwrap();
    f.write_all(b"damaged!").unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    crate::platform::testing::set_mode(c, 0o444);
}

/// Damages the stored content of `rel` in place and restores with the
/// outputs gone: a miss saying the content is corrupt, nothing of the entry
/// left behind.
fn assert_damage_caught(s: &Setup, kind: Kind, rel: &str) {
    damage_in_place(&content_of(s, rel));
    fs::remove_dir_all(s.pkg.join("lib")).unwrap();
    match restore(s, &s.pkg) {
        RestoreReport::Unusable(n) => {
            assert!(local_detail(&n).contains("is corrupt"), "{kind:?}: {n:?}")
        }
        other => panic!("{kind:?}: a damaged content was restored: {other:?}"),
    }
    assert!(!s.pkg.join("lib").exists(), "{kind:?}: outputs left behind");
}

#[test]
fn a_store_content_edited_in_place_is_never_restored() {
    for kind in Kind::ALL {
        let Some(s) = setup(kind, "a_store_content_edited_in_place_is_never_restored") else {
            continue;
        };
        // Contents settle (older than the file system's granularity), so
        // the next restore records their states after reading them once,
        // and the one after trusts them without reading.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        fs::remove_dir_all(s.pkg.join("lib")).unwrap();
        let accessed = |rel| {
            fs::metadata(content_of(&s, rel))
                .unwrap()
                .accessed()
                .unwrap()
        };
        let atime = accessed("lib/big.bin");
        hit(restore(&s, &s.pkg));
        // Read without touching its access time (relatime would have: it
        // is older than the content's change time), so reading writes no
        // inode per content.
        assert_eq!(accessed("lib/big.bin"), atime, "{kind:?}: access time");
        let states = super::entry::content_states_path(&s.store, &s.pkg);
        let recorded = crate::file_states::FileStates::load(&states).len();
        assert_eq!(
            recorded,
            s.files.len(),
            "{kind:?}: every content's state recorded"
        );
        fs::remove_dir_all(s.pkg.join("lib")).unwrap();
        assert_eq!(hit(restore(&s, &s.pkg)).files_cloned, s.files.len() as u64);

        assert_damage_caught(&s, kind, "lib/big.bin");
    }
}

#[test]
fn a_content_damaged_before_its_first_restore_is_caught() {
    for kind in Kind::ALL {
        let Some(s) = setup(kind, "a_content_damaged_before_its_first_restore_is_caught") else {
            continue;
        };
        assert_damage_caught(&s, kind, "lib/d/f3.js");
    }
}

#[test]
fn another_device_copies_without_trying_to_clone() {
    for kind in Kind::ALL {
        let Some(s) = setup(kind, "another_device_copies_without_trying_to_clone") else {
            continue;
        };
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            Way::between(&s.store, elsewhere.path()).decided(),
            Some(false)
        );
        let r = hit(restore(&s, elsewhere.path()));
        assert_eq!((r.files_written, r.files_cloned), (s.files.len() as u64, 0));
        assert_restored(&s, elsewhere.path());
    }
}

/// Where the temp folder cannot clone (ext4, tmpfs), the first file
/// decides: the way copies after one restore, and restores stay right.
#[test]
fn a_file_system_that_cannot_clone_copies_decided_once() {
    let f = super::tests::fixture();
    let way = Way::between(&f.store, &f.pkg);
    for i in 0..50 {
        write(
            &f.pkg,
            &format!("lib/f{i}"),
            format!("{i}").as_bytes(),
            0o644,
        );
    }
    let found = OutputGlob::new(&["lib/**".to_string()])
        .unwrap()
        .find(&f.pkg, None)
        .unwrap();
    f.store.put(&key("k"), &found).unwrap();
    fs::remove_dir_all(f.pkg.join("lib")).unwrap();
    let r = hit(f.store.restore(&key("k"), &f.pkg, RW).unwrap());
    assert_eq!(r.files_written, 50);
    let decided = Way::between(&f.store, &f.pkg).decided();
    match r.files_cloned {
        0 => assert_eq!(decided, Some(false), "a refusal decides the copy"),
        50 => {
            assert_eq!(decided, Some(true));
            eprintln!("the temp folder's file system clones: the copy case was not exercised");
        }
        n => panic!("{n} of 50 cloned"),
    }
    drop(way);
    for i in 0..50 {
        assert_eq!(
            fs::read(f.pkg.join(format!("lib/f{i}"))).unwrap(),
            format!("{i}").as_bytes()
        );
    }
}
