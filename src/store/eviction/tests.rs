//! Eviction on real files: LRU under the cap, the age limit, the recent
//! window, contents shared between entries, the index kept up to date
//! incrementally and rebuilt when damaged, and runs cut short.

use std::fs;
use std::time::{Duration, SystemTime};

use crate::output_glob::OutputGlob;
use crate::platform::testing::remove_tree;
use crate::store::tests::{fixture, write, Fixture};
use crate::store::*;

const RW: RestoreOptions = RestoreOptions {
    may_write_store: true,
};

fn key(s: &str) -> CacheKey {
    CacheKey::parse(s).unwrap()
}

/// Puts `lib/**` as `k` and dates its last use `age` ago.
fn put_aged(f: &Fixture, k: &str, age: Duration) {
    let outputs = OutputGlob::new(&["lib/**".to_string()])
        .unwrap()
        .find(&f.pkg, None)
        .unwrap();
    f.store.put(&key(k), &outputs).unwrap();
    age_entry(f, k, age);
}

fn age_entry(f: &Fixture, k: &str, age: Duration) {
    fs::File::open(f.store.layout().entry(k))
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

fn hits(f: &Fixture, k: &str) -> bool {
    remove_tree_if(f);
    matches!(
        f.store.restore(&key(k), &f.pkg, RW).unwrap(),
        RestoreReport::Hit(_)
    )
}

fn remove_tree_if(f: &Fixture) {
    if f.pkg.join("lib").exists() {
        remove_tree(f.pkg.join("lib"));
    }
}

/// Ten entries, one KiB of its own each plus one shared file, `e0` the
/// least recently used.
fn ten_entries(f: &Fixture) {
    write(&f.pkg, "lib/shared.js", &[b's'; 100], 0o644);
    for i in 0..10 {
        write(&f.pkg, "lib/own.js", &[b'a' + i as u8; 1024], 0o644);
        put_aged(f, &format!("e{i}"), Duration::from_secs(3600 * (20 - i)));
    }
}

fn policy(max_size: Option<u64>, max_age: Option<Duration>) -> EvictPolicy {
    EvictPolicy {
        max_size,
        max_age,
        keep_recent: Duration::from_secs(60),
    }
}

fn content_count(f: &Fixture) -> usize {
    walkdir::WalkDir::new(f.store.layout().contents())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn the_least_recently_used_entries_go_until_the_store_is_under_its_cap() {
    let f = fixture();
    ten_entries(&f);
    let before = f.store.stats().unwrap();
    assert_eq!((before.entries, before.contents), (10, 11));
    let per_entry = (before.bytes - 100) / 10;
    // Room for four entries and the shared file.
    let cap = 100 + 4 * per_entry + per_entry / 2;
    let r = f.store.evict(&policy(Some(cap), None)).unwrap();
    assert_eq!((r.entries_removed, r.contents_removed), (6, 6));
    assert!(r.rebuilt, "the first run builds the index");
    assert!(r.bytes <= cap, "{} over the cap {cap}", r.bytes);
    assert_eq!(f.store.stats().unwrap().bytes, r.bytes);
    assert_eq!(content_count(&f), 5);
    for i in 0..6 {
        assert!(!hits(&f, &format!("e{i}")), "e{i} should be evicted");
    }
    // Fetched: recorded as used (which the hits above did not disturb).
    for i in 6..10 {
        assert!(hits(&f, &format!("e{i}")), "e{i} should be kept");
        assert_eq!(fs::read(f.pkg.join("lib/shared.js")).unwrap(), [b's'; 100]);
    }
    // Nothing more to do; the index was not rebuilt and no manifest read again.
    let again = f.store.evict(&policy(Some(cap), None)).unwrap();
    assert_eq!(
        (again.entries_removed, again.manifests_read, again.rebuilt),
        (0, 0, false)
    );
    let stats = f.store.stats().unwrap();
    assert_eq!(stats.last_eviction.map(|e| e.entries_removed), Some(0));
    assert!(stats.oldest_used.is_some());
}

#[test]
fn entries_over_the_age_limit_go_whatever_the_size_and_recent_ones_always_stay() {
    let f = fixture();
    ten_entries(&f); // e0 used 20 hours ago ... e9 11 hours ago
    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(15 * 3600))))
        .unwrap();
    assert_eq!(r.entries_removed, 6, "e0..e5 are over 15 hours old");
    assert!(hits(&f, "e6"));
    // A cap of zero: everything but what was used within the window goes.
    write(&f.pkg, "lib/own.js", b"fresh", 0o644);
    put_aged(&f, "fresh", Duration::ZERO);
    let r = f.store.evict(&policy(Some(0), None)).unwrap();
    assert_eq!(r.entries, 2, "fresh and e6, fetched just now, stay");
    assert!(hits(&f, "fresh"));
    assert!(!hits(&f, "e9"));
    // Both off: nothing is removed.
    age_entry(&f, "fresh", Duration::from_secs(1 << 30));
    assert!(!policy(None, None).is_on());
    assert_eq!(
        f.store.evict(&policy(None, None)).unwrap().entries_removed,
        0
    );
}

#[test]
fn a_content_goes_only_when_no_remaining_entry_uses_it() {
    let f = fixture();
    write(&f.pkg, "lib/shared.js", b"shared", 0o644);
    write(&f.pkg, "lib/twice.js", b"shared", 0o644);
    put_aged(&f, "old", Duration::from_secs(7200));
    write(&f.pkg, "lib/new.js", b"new", 0o644);
    put_aged(&f, "new", Duration::from_secs(3600));
    // "new" is replaced by a put with other files: the index drops the old
    // manifest's uses and counts the new one's.
    f.store.evict(&policy(None, None)).unwrap();
    remove_tree_if(&f);
    write(&f.pkg, "lib/other.js", b"other", 0o644);
    put_aged(&f, "new", Duration::from_secs(3600));
    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(5000))))
        .unwrap();
    assert_eq!((r.entries_removed, r.manifests_read), (1, 1));
    // "old" went with the content only it used ("new.js" of the first
    // "new"); "shared" was used by "old" alone too once "new" was replaced.
    assert!(!f
        .store
        .layout()
        .content(&blake3::hash(b"new").to_hex())
        .exists());
    assert!(!f
        .store
        .layout()
        .content(&blake3::hash(b"shared").to_hex())
        .exists());
    assert!(hits(&f, "new"));
    assert_eq!(fs::read(f.pkg.join("lib/other.js")).unwrap(), b"other");
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt_from_the_folders() {
    let f = fixture();
    ten_entries(&f);
    f.store.evict(&policy(None, None)).unwrap();
    let index = f.store.layout().index();
    let mut bytes = fs::read(&index).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    fs::write(&index, &bytes).unwrap();
    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(15 * 3600))))
        .unwrap();
    assert!(r.rebuilt);
    assert_eq!((r.manifests_read, r.entries_removed, r.entries), (10, 6, 4));
    fs::write(&index, &bytes[..10]).unwrap();
    let r = f.store.evict(&policy(None, None)).unwrap();
    assert_eq!((r.rebuilt, r.entries), (true, 4));
    fs::remove_file(&index).unwrap();
    assert_eq!(f.store.stats().unwrap().entries, 4);
    for i in 6..10 {
        assert!(hits(&f, &format!("e{i}")));
    }
}

#[test]
fn a_run_cut_short_is_finished_by_the_next() {
    let f = fixture();
    ten_entries(&f);
    f.store.evict(&policy(None, None)).unwrap();
    // Killed after removing manifests, before their contents and the index;
    // and while writing the index.
    for i in 0..3 {
        fs::remove_file(f.store.layout().entry(&format!("e{i}"))).unwrap();
    }
    let half = f.store.root().join(".index-half");
    fs::write(&half, b"BFN").unwrap();
    fs::File::options()
        .write(true)
        .open(&half)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    // One being written by another run right now stays.
    let writing = f.store.root().join(".index-writing");
    fs::write(&writing, b"BFN").unwrap();
    let r = f.store.evict(&policy(None, None)).unwrap();
    assert_eq!((r.entries, r.contents_removed), (7, 3));
    assert_eq!(content_count(&f), 8);
    assert!(!half.exists());
    assert!(writing.exists());
    for i in 3..10 {
        assert!(hits(&f, &format!("e{i}")));
    }
    // A purge or a clear behind the index's back is picked up too.
    f.store.clear().unwrap();
    let r = f.store.evict(&policy(Some(0), None)).unwrap();
    assert_eq!((r.entries, r.contents, r.bytes), (0, 0, 0));
}

/// Another version sharing the store (a branch checkout on another
/// release) writes manifests this one cannot read; they may use any
/// content, so an eviction removes old manifests but no content while one
/// is there, and removes the contents left once it is gone.
#[test]
fn contents_stay_while_an_entry_of_another_version_may_use_them() {
    let f = fixture();
    write(&f.pkg, "lib/shared.js", b"shared by both versions", 0o644);
    put_aged(&f, "old", Duration::from_secs(7200));
    // Version "3" wrote this entry: its manifest names the same content.
    let digest = blake3::hash(b"shared by both versions").to_hex();
    let theirs = format!(
        r#"{{"format":3,"files":[{{"path":"lib/shared.js","digest":"{digest}","size":23}}]}}"#
    );
    let path = f.store.layout().entry("theirs");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, theirs).unwrap();
    age_entry(&f, "theirs", Duration::from_secs(600));
    let shared = f.store.layout().content(&digest);

    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(3600))))
        .unwrap();
    // Its manifest names the content it uses, so it is not opaque.
    assert_eq!(
        (r.entries_removed, r.contents_removed, r.unreadable),
        (1, 0, 0)
    );
    assert!(!hits(&f, "old"));
    assert!(
        shared.exists(),
        "a content another version's entry may use was removed"
    );
    assert!(f.store.layout().entry("theirs").exists());

    // Once it is gone, the next run the sweep reaches removes what is left.
    fs::remove_file(f.store.layout().entry("theirs")).unwrap();
    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(3600))))
        .unwrap();
    assert_eq!(r.unreadable, 0);
}

/// Bytes of every file under the store's versioned folder but the index
/// and the lock files: what the disk holds for the store.
fn on_disk(f: &Fixture) -> u64 {
    walkdir::WalkDir::new(f.store.root())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            !matches!(name.as_ref(), "index" | "lock" | "gate" | "evict.lock")
        })
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Ten entries of 10 KB each of their own, `e0` the least recently used.
fn ten_sized_entries(f: &Fixture) {
    for i in 0..10 {
        write(&f.pkg, "lib/own.js", &[b'a' + i as u8; 10_000], 0o644);
        put_aged(f, &format!("e{i}"), Duration::from_secs(3600 * (20 - i)));
    }
}

/// Rewrites `k`'s manifest as another version's format would, naming the
/// same contents (its files' digests).
fn as_another_version(f: &Fixture, k: &str) {
    let path = f.store.layout().entry(k);
    let text = fs::read_to_string(&path).unwrap();
    let format = format!("\"format\":{MANIFEST_VERSION}");
    assert!(text.starts_with(&format!("{{{format}")), "{text}");
    fs::write(&path, text.replacen(&format, "\"format\":9", 1)).unwrap();
    assert!(f.store.read_manifest(&key(k)).is_none(), "still readable");
}

/// One manifest of another version in a store over its cap: eviction
/// removed eight entries and no content, reported 802 KB freed, and
/// `stats` then said 201 KB while 1,045 KB of contents were on disk. Now
/// the store ends under its cap, `stats` says what the disk holds, and the
/// other version's entry keeps its contents.
#[test]
fn another_versions_entry_in_a_full_store_counts_and_keeps_only_its_own() {
    let f = fixture();
    ten_sized_entries(&f);
    as_another_version(&f, "e9");
    let cap = 30_000;
    let before = on_disk(&f);
    let r = f.store.evict(&policy(Some(cap), None)).unwrap();
    assert!(
        on_disk(&f) <= cap,
        "{} bytes on disk over a cap of {cap}",
        on_disk(&f)
    );
    assert_eq!(r.bytes, on_disk(&f));
    assert_eq!(r.bytes_freed, before - on_disk(&f));
    assert_eq!(f.store.stats().unwrap().bytes, on_disk(&f));
    // The other version's entry and the content it names stay.
    let theirs = blake3::hash(&[b'a' + 9; 10_000]).to_hex();
    assert!(f.store.layout().entry("e9").exists());
    assert!(f.store.layout().content(&theirs).exists());
    assert!(hits(&f, "e8"));
}

/// An entry that names nothing this version can read (damaged, or a format
/// that names contents otherwise) may use any content: none is removed
/// while it is there, but what no other entry uses counts toward the cap
/// and in `stats`, and goes with it.
#[test]
fn an_opaque_entry_holds_contents_that_still_count_and_go_with_it() {
    let f = fixture();
    ten_sized_entries(&f);
    let opaque = f.store.layout().entry("opaque");
    fs::create_dir_all(opaque.parent().unwrap()).unwrap();
    fs::write(&opaque, b"not a manifest of any version").unwrap();
    age_entry(&f, "opaque", Duration::from_secs(3600 * 15));
    // Entries e0..e4 are older than it, e5..e9 newer.
    let r = f.store.evict(&policy(Some(60_000), None)).unwrap();
    assert_eq!(r.unreadable, 1);
    assert_eq!(f.store.stats().unwrap().bytes, on_disk(&f));
    assert!(on_disk(&f) <= 60_000, "{} bytes on disk", on_disk(&f));
    assert!(!opaque.exists(), "the opaque entry was not evicted");
    assert!(hits(&f, "e9"));
    let stats = f.store.stats().unwrap();
    assert_eq!(stats.unaccounted_bytes, 0);

    // While it stays (it is recent), evicting readable entries for the
    // cap would free only their manifests: none goes for size (one went
    // wiping the whole store before), and the store stays over its cap.
    // Entries over the age limit still go; their contents stay, counted
    // as unaccounted.
    let g = fixture();
    ten_sized_entries(&g);
    let opaque = g.store.layout().entry("opaque");
    fs::create_dir_all(opaque.parent().unwrap()).unwrap();
    fs::write(&opaque, b"not a manifest of any version").unwrap();
    let r = g.store.evict(&policy(Some(30_000), None)).unwrap();
    assert_eq!(
        (r.unreadable, r.entries_removed, r.contents_removed),
        (1, 0, 0)
    );
    assert_eq!(r.bytes, on_disk(&g));
    let r = g
        .store
        .evict(&policy(Some(30_000), Some(Duration::from_secs(3600 * 18))))
        .unwrap();
    assert_eq!((r.entries_removed, r.contents_removed), (3, 0));
    let stats = g.store.stats().unwrap();
    assert_eq!(stats.bytes, on_disk(&g));
    assert_eq!(stats.unaccounted_bytes, 30_000, "{stats:?}");
    assert_eq!(r.bytes, on_disk(&g));
    // A put that stores one of those contents again counts it once.
    write(&g.pkg, "lib/own.js", &[b'a'; 10_000], 0o644);
    put_aged(&g, "again", Duration::from_secs(0));
    let stats = g.store.stats().unwrap();
    assert_eq!(stats.unaccounted_bytes, 20_000, "{stats:?}");
    assert_eq!(stats.bytes, on_disk(&g));
}

/// Three fetches interrupted with Ctrl-C left 609 MB in `v1/tmp`: `stats`
/// said 0.0 MB and no eviction removed it. Now `stats` counts it, and the
/// next eviction removes it (no process writes there while it runs).
#[test]
fn temp_files_left_by_interrupted_fetches_count_and_the_next_eviction_removes_them() {
    let f = fixture();
    ten_sized_entries(&f);
    let tmp = f.store.layout().tmp();
    fs::create_dir_all(&tmp).unwrap();
    fs::write(tmp.join("content-interrupted"), vec![0u8; 250_000]).unwrap();
    let stats = f.store.stats().unwrap();
    assert_eq!(stats.temp_bytes, 250_000);
    assert_eq!(stats.bytes, on_disk(&f));
    let r = f.store.evict(&policy(None, None)).unwrap();
    assert_eq!(r.bytes_freed, 250_000);
    assert!(!tmp.join("content-interrupted").exists());
    let stats = f.store.stats().unwrap();
    assert_eq!((stats.temp_bytes, stats.bytes), (0, on_disk(&f)));
    for i in 0..10 {
        assert!(hits(&f, &format!("e{i}")));
    }
}
