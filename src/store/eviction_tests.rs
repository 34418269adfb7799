//! Eviction on real files: LRU under the cap, the age limit, the recent
//! window, contents shared between entries, the index kept up to date
//! incrementally and rebuilt when damaged, and runs cut short.

use std::fs;
use std::time::{Duration, SystemTime};

use super::tests::{fixture, write, Fixture};
use super::*;
use crate::output_glob::OutputGlob;
use crate::platform::testing::remove_tree;

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
    fs::File::open(f.store.entry_path(&key(k)))
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
    walkdir::WalkDir::new(f.store.root().join("content"))
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
        .content_path(&blake3::hash(b"new").to_hex())
        .exists());
    assert!(!f
        .store
        .content_path(&blake3::hash(b"shared").to_hex())
        .exists());
    assert!(hits(&f, "new"));
    assert_eq!(fs::read(f.pkg.join("lib/other.js")).unwrap(), b"other");
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt_from_the_folders() {
    let f = fixture();
    ten_entries(&f);
    f.store.evict(&policy(None, None)).unwrap();
    let index = f.store.root().join("index");
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
        fs::remove_file(f.store.entry_path(&key(&format!("e{i}")))).unwrap();
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
    let path = f.store.entry_path(&key("theirs"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, theirs).unwrap();
    age_entry(&f, "theirs", Duration::from_secs(600));
    let shared = f.store.content_path(&digest);

    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(3600))))
        .unwrap();
    assert_eq!(
        (r.entries_removed, r.contents_removed, r.unreadable),
        (1, 0, 1)
    );
    assert!(!hits(&f, "old"));
    assert!(
        shared.exists(),
        "a content another version's entry may use was removed"
    );
    assert!(f.store.entry_path(&key("theirs")).exists());

    // Once it is gone, the next run the sweep reaches removes what is left.
    fs::remove_file(f.store.entry_path(&key("theirs"))).unwrap();
    let r = f
        .store
        .evict(&policy(None, Some(Duration::from_secs(3600))))
        .unwrap();
    assert_eq!(r.unreadable, 0);
}
