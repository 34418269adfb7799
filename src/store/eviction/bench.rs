//! The eviction benchmark (not a test: `npm run bench:evict`, which runs
//! `cargo test --release --lib eviction_bench -- --ignored --nocapture`).
//!
//! Builds a store of `BFN_EVICT_ENTRIES` entries (default 100,000) using
//! `BFN_EVICT_CONTENTS` distinct contents (default 1,000,000, spread evenly)
//! plus 1,000 contents shared by many entries, in `BFN_EVICT_DIR` (default a
//! folder in /dev/shm, tmpfs; give a folder on disk to measure the disk).
//! Contents are empty files named by digest with sizes claimed by the
//! manifests (10 KB each, so the store is 10 GB as the index counts it):
//! eviction never reads a content, it only removes it, so what is measured
//! is the same and the benchmark needs no 10 GB of memory.
//!
//! It prints, each measured in this run: the index rebuild (every manifest
//! read), an eviction removing 10% of the store, a run with nothing to
//! remove (what a put pays every interval, in the background), `stats`,
//! and the peer: `purge`, the full scan an eviction without the index would
//! need (every manifest parsed, every content listed and sized).

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;

use crate::store::*;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SHARED: usize = 1000;
const FILE_SIZE: u64 = 10_000;

fn digest_of(n: usize) -> String {
    blake3::hash(&(n as u64).to_le_bytes()).to_hex().to_string()
}

#[test]
#[ignore = "a benchmark: npm run bench:evict"]
fn eviction_bench() {
    let entries = env_number("BFN_EVICT_ENTRIES", 100_000);
    let contents = env_number("BFN_EVICT_CONTENTS", 1_000_000);
    let per_entry = contents.div_ceil(entries).max(1);
    let base =
        std::env::var("BFN_EVICT_DIR").map_or_else(|_| PathBuf::from("/dev/shm"), PathBuf::from);
    let tmp = tempfile::Builder::new()
        .prefix("bfn-evict-bench-")
        .tempdir_in(&base)
        .unwrap();
    let store = LocalStore::new(tmp.path());
    println!(
        "eviction benchmark in {} ({} entries, {} contents of their own spread {} per entry, plus {SHARED} shared)",
        base.display(),
        entries,
        contents,
        per_entry
    );

    let start = Instant::now();
    on_io_pool(|| {
        (0..contents + SHARED).into_par_iter().for_each(|n| {
            let path = store.layout().content(&digest_of(n));
            if fs::write(&path, b"").is_err() {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, b"").unwrap();
            }
        });
        let now = SystemTime::now();
        (0..entries).into_par_iter().for_each(|i| {
            let key = CacheKey::parse(&format!("entry-{i:07}")).unwrap();
            let mut files: Vec<FileRecord> = (0..per_entry)
                .map(|j| i * per_entry + j)
                .filter(|n| *n < contents)
                .map(|n| FileRecord {
                    path: format!("lib/d{}/f{n}.js", n % 7),
                    mode: 0o644,
                    size: FILE_SIZE,
                    digest: digest_of(n),
                    mtime: None,
                })
                .collect();
            files.push(FileRecord {
                path: "lib/shared.js".into(),
                mode: 0o644,
                size: FILE_SIZE,
                digest: digest_of(contents + i % SHARED),
                mtime: None,
            });
            files.sort_by(|a, b| a.path.cmp(&b.path));
            let manifest = Manifest {
                version: MANIFEST_VERSION,
                key: key.as_str().to_string(),
                files,
                links: vec![],
            };
            store.write_manifest(&key, &manifest).unwrap();
            // entry-0000000 is the least recently used.
            fs::File::open(store.layout().entry(key.as_str()))
                .unwrap()
                .set_modified(now - Duration::from_secs(3600 + (entries - i) as u64))
                .unwrap();
        });
    });
    println!(
        "  built the store in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let off = EvictPolicy {
        max_size: None,
        max_age: None,
        keep_recent: Duration::from_secs(600),
    };
    let secs = |d: Duration| d.as_secs_f64();

    // Each run: its whole time, and the part holding the exclusive lock
    // (fetches and puts wait only for that part).
    let timed = |policy: &EvictPolicy| {
        let start = Instant::now();
        let r = store.evict(policy).unwrap();
        (start.elapsed(), r)
    };
    let (rebuild, r) = timed(&off);
    assert!(r.rebuilt);
    println!(
        "  index rebuild (no index yet: {} manifests read): {:.2} s, {:.2} s of it under the lock; store as counted: {} entries, {} contents, {:.1} GB",
        r.manifests_read,
        secs(rebuild),
        secs(r.duration),
        r.entries,
        r.contents,
        r.bytes as f64 / 1e9
    );
    let (steady_time, steady) = timed(&off);
    println!(
        "  eviction with nothing to remove (every interval after a put): {:.2} s, {:.2} s under the lock ({} manifests read)",
        secs(steady_time),
        secs(steady.duration),
        steady.manifests_read
    );
    let start = Instant::now();
    let stats = store.stats().unwrap();
    println!("  stats: {:.2} s", start.elapsed().as_secs_f64());

    let cap = EvictPolicy {
        max_size: Some(stats.bytes / 10 * 9),
        ..off
    };
    let (evict_time, evicted) = timed(&cap);
    println!(
        "  eviction to 90% of the size: {:.2} s, {:.2} s under the lock; {} entries and {} contents removed, {:.1} GB left",
        secs(evict_time),
        secs(evicted.duration),
        evicted.entries_removed,
        evicted.contents_removed,
        evicted.bytes as f64 / 1e9
    );
    assert!(evicted.bytes <= stats.bytes / 10 * 9);

    // The peer: the full scan (every manifest parsed, every content listed
    // and sized) that an eviction without an index needs; nothing is old
    // enough for it to remove.
    let start = Instant::now();
    let purged = store.purge(365.0).unwrap();
    let full_scan = start.elapsed();
    assert_eq!(purged.entries_removed, 0);
    println!(
        "  peer, full scan (purge of nothing): {:.2} s",
        secs(full_scan)
    );
    println!(
        "  ratios: full scan / eviction with nothing to remove = {:.1}x; full scan / eviction of 10% = {:.1}x; full scan / index rebuild = {:.1}x",
        secs(full_scan) / secs(steady_time).max(1e-9),
        secs(full_scan) / secs(evict_time).max(1e-9),
        secs(full_scan) / secs(rebuild).max(1e-9)
    );
    let start = Instant::now();
    drop(tmp);
    println!(
        "  removed the store in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
