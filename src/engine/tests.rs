//! The engine's policy through a fake remote: the store's round-trip table
//! driven through `Engine` local only and local plus remote, as turborepo's
//! shared test cases drive both its backends, then every way a remote can
//! fail (404, 403, 503, a cut stream, tampered metadata, a transfer past
//! its deadline) and what the engine makes of each: a miss, at most one
//! warning per kind, the switch-off, nothing stored, the package untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::notice::{Notice, Unstorable};
use crate::remote::{SharedRemote, FAILURES_BEFORE_OFF};
use crate::test_kit::fake_remote::{FakeRemote, Fault};
use crate::test_kit::round_trip::{make_case, round_trip_cases, snapshot, write};

/// A package folder and its engine, with its own local store.
struct Machine {
    _tmp: tempfile::TempDir,
    pkg: PathBuf,
    engine: Engine,
}

fn config(pkg: &Path, cache: &Path) -> Config {
    let options = Options {
        cache_folder: Some(cache.display().to_string()),
        ..Options::default()
    };
    Config::load_with_env(pkg, &options, &HashMap::new()).unwrap()
}

/// A machine using `remote` (uploading when `write`), or the local store
/// only.
fn machine(remote: Option<&Arc<SharedRemote>>, write: bool) -> Machine {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let config = config(&pkg, &tmp.path().join("cache"));
    Machine {
        engine: Engine::assemble(config, layer(remote, write), None),
        pkg,
        _tmp: tmp,
    }
}

/// The policy layer over `remote` (uploading when `write`), as a
/// configuration without maxSize, signing or a trust refusal makes it.
fn layer(remote: Option<&Arc<SharedRemote>>, write: bool) -> Option<Arc<RemoteLayer>> {
    remote
        .map(|shared| RemoteLayer {
            shared: shared.clone(),
            scope: RemoteScope::Main,
            name_prefix: String::new(),
            max_size: None,
            signing_key: None,
            write,
            provider: crate::config::Provider::AzureBlob,
            refusal: None,
            write_check: None,
        })
        .map(Arc::new)
}

fn shared(fake: &Arc<FakeRemote>) -> Arc<SharedRemote> {
    SharedRemote::new(fake.clone())
}

fn wipe(pkg: &Path) {
    if pkg.join("lib").exists() {
        crate::platform::testing::remove_tree(pkg.join("lib"));
    }
}

#[test]
fn the_round_trip_table_through_the_engine_local_only() {
    for (name, files, links) in round_trip_cases() {
        if !links.is_empty() && crate::platform::testing::skip_without_links(name) {
            continue;
        }
        let m = machine(None, false);
        make_case(&m.pkg, &files, &links);
        let want = snapshot(&m.pkg);
        assert!(!m.engine.fetch("k").unwrap().hit(), "{name}");
        let put = m.engine.put("k", None).unwrap();
        assert_eq!(
            (put.stored, put.files as usize, put.links as usize),
            (true, files.len(), links.len()),
            "{name}"
        );
        wipe(&m.pkg);
        let got = m.engine.fetch("k").unwrap();
        assert_eq!(got.source, Some(Source::Local), "{name}");
        assert_eq!(got.warnings, Vec::<Notice>::new(), "{name}");
        assert_eq!(snapshot(&m.pkg), want, "{name}: restored tree differs");
    }
}

#[test]
fn the_round_trip_table_through_the_engine_local_plus_remote() {
    for (name, files, links) in round_trip_cases() {
        if !links.is_empty() && crate::platform::testing::skip_without_links(name) {
            continue;
        }
        let fake = FakeRemote::new();
        let remote = shared(&fake);
        let ci = machine(Some(&remote), true);
        make_case(&ci.pkg, &files, &links);
        let want = snapshot(&ci.pkg);
        let put = ci.engine.put("k", None).unwrap();
        assert!(put.uploaded, "{name}: {:?}", put.upload_skipped);
        assert_eq!(put.warnings, Vec::<Notice>::new(), "{name}");
        // Another machine, empty local store: served by the remote, which
        // fills its local store.
        let dev = machine(Some(&shared(&fake)), false);
        let got = dev.engine.fetch("k").unwrap();
        assert_eq!(
            got.source,
            Some(Source::Remote(RemoteScope::Main)),
            "{name}"
        );
        assert_eq!(got.warnings, Vec::<Notice>::new(), "{name}");
        assert_eq!(snapshot(&dev.pkg), want, "{name}: restored tree differs");
        wipe(&dev.pkg);
        fake.set(Fault::Unavailable);
        let again = dev.engine.fetch("k").unwrap();
        assert_eq!(again.source, Some(Source::Local), "{name}");
        assert_eq!(snapshot(&dev.pkg), want, "{name}");
    }
}

/// A machine whose remote holds one good blob for "k" (outputs `lib/a.js`).
fn remote_with_blob() -> (Arc<FakeRemote>, Vec<u8>) {
    let fake = FakeRemote::new();
    let ci = machine(Some(&shared(&fake)), true);
    write(&ci.pkg, "lib/a.js", &[7u8; 3000], 0o644);
    assert!(ci.engine.put("k", None).unwrap().uploaded);
    let blob = fake.blobs.lock().unwrap()["k"].0.clone();
    (fake, blob)
}

/// The codes of `notices`.
fn codes(notices: &[Notice]) -> Vec<&'static str> {
    notices.iter().map(Notice::code).collect()
}

/// What a remote failure said, for the detail its warning carries.
fn failure_detail(notice: &Notice) -> String {
    match notice {
        Notice::RemoteFailed { failure, .. } | Notice::RemoteReadOnly { failure, .. } => {
            failure.message.clone()
        }
        Notice::RemoteEntryBadSignature { why, .. } | Notice::RemoteEntryRefused { why, .. } => {
            why.clone()
        }
        other => panic!("not a remote failure: {other:?}"),
    }
}

/// Asserts a fetch of "k" was a miss with warnings of these codes and left
/// the package and the local store without the entry; gives the warnings.
fn assert_miss(m: &Machine, want: &[&str]) -> Vec<Notice> {
    let got = m.engine.fetch("k").unwrap();
    assert_eq!(got.source, None);
    assert_eq!(codes(&got.warnings), want, "{:?}", got.warnings);
    assert!(!m.pkg.join("lib").exists(), "the package was written");
    let key = CacheKey::parse("k").unwrap();
    assert!(
        m.engine.store().read_manifest(&key).is_none(),
        "an entry was stored"
    );
    got.warnings
}

#[test]
fn a_missing_blob_is_a_plain_miss() {
    let (fake, _) = remote_with_blob();
    fake.set(Fault::NotFound);
    let m = machine(Some(&shared(&fake)), false);
    assert_miss(&m, &[]);
}

#[test]
fn each_kind_of_remote_failure_is_a_miss_with_one_warning() {
    // (fault, the warning's code, what it says of the failure)
    let cases: Vec<(Fault, &str, &str)> = vec![
        (
            Fault::Forbidden,
            "REMOTE_FORBIDDEN",
            "download failed: HTTP 403 AuthorizationPermissionMismatch",
        ),
        (
            Fault::Unavailable,
            "REMOTE_UNAVAILABLE",
            "download failed: HTTP 503 ServerBusy",
        ),
        (
            Fault::CutAfter(1500),
            "REMOTE_UNAVAILABLE",
            "download of k failed: connection reset",
        ),
        (
            Fault::PastDeadline,
            "REMOTE_UNAVAILABLE",
            "download of k failed: download failed: it did not finish within its deadline",
        ),
        (
            Fault::TamperedMetadata,
            "REMOTE_ENTRY_BAD_SIGNATURE",
            "its content does not match the digest stored with it",
        ),
    ];
    for (fault, code, detail) in cases {
        let (fake, _) = remote_with_blob();
        fake.set(fault);
        let m = machine(Some(&shared(&fake)), false);
        let said = assert_miss(&m, &[code]);
        assert!(
            failure_detail(&said[0]).starts_with(detail),
            "{fault:?}: {:?}",
            said[0]
        );
        // The same failure again is not warned about again.
        if fault != Fault::TamperedMetadata {
            assert_miss(&m, &[]);
        }
        // Healed, the same machine is served.
        fake.set(Fault::None);
        let got = m.engine.fetch("k").unwrap();
        assert_eq!(
            got.source,
            Some(Source::Remote(RemoteScope::Main)),
            "{fault:?}"
        );
        assert_eq!(std::fs::read(m.pkg.join("lib/a.js")).unwrap(), [7u8; 3000]);
    }
}

#[test]
fn repeated_failures_switch_the_remote_off_for_every_engine_sharing_it() {
    let (fake, _) = remote_with_blob();
    fake.set(Fault::Unavailable);
    let remote = shared(&fake);
    let m = machine(Some(&remote), true);
    for _ in 0..FAILURES_BEFORE_OFF {
        m.engine.fetch("k").unwrap();
    }
    let before = fake.requests();
    fake.set(Fault::None);
    // Another engine of the same process (another lage target) shares the
    // switch-off: no request reaches the remote any more.
    let other = machine(Some(&remote), true);
    let got = other.engine.fetch("k").unwrap();
    assert_eq!(got.source, None);
    write(&other.pkg, "lib/b.js", b"b", 0o644);
    let put = other.engine.put("k2", None).unwrap();
    assert!(put.stored && !put.uploaded);
    assert_eq!(put.upload_skipped, Some(Notice::RemoteSwitchedOff));
    assert_eq!(fake.requests(), before);
}

#[test]
fn a_read_only_credential_refuses_uploads_once_and_the_outputs_stay_cached_locally() {
    let fake = FakeRemote::new();
    fake.set(Fault::Forbidden);
    let m = machine(Some(&shared(&fake)), true);
    write(&m.pkg, "lib/a.js", b"a", 0o644);
    let first = m.engine.put("k1", None).unwrap();
    assert!(first.stored && !first.uploaded);
    assert_eq!(codes(&first.warnings), ["REMOTE_READ_ONLY"]);
    let second = m.engine.put("k2", None).unwrap();
    assert_eq!(second.warnings, Vec::<Notice>::new(), "said once");
    assert_eq!(second.upload_skipped, Some(Notice::UploadRefusedByRemote));
    wipe(&m.pkg);
    assert_eq!(m.engine.fetch("k1").unwrap().source, Some(Source::Local));
}

#[test]
fn an_entry_restored_from_the_remote_is_not_uploaded_back() {
    let (fake, _) = remote_with_blob();
    let m = machine(Some(&shared(&fake)), true);
    assert_eq!(
        m.engine.fetch("k").unwrap().source,
        Some(Source::Remote(RemoteScope::Main))
    );
    let requests = fake.requests();
    let put = m.engine.put("k", None).unwrap();
    assert_eq!(put.upload_skipped, Some(Notice::UploadFromRemote));
    assert_eq!(fake.requests(), requests);
}

#[test]
fn remote_writes_off_uploads_nothing() {
    let fake = FakeRemote::new();
    let m = machine(Some(&shared(&fake)), false);
    write(&m.pkg, "lib/a.js", b"a", 0o644);
    let put = m.engine.put("k", None).unwrap();
    assert!(put.stored && !put.uploaded);
    assert_eq!(put.upload_skipped, Some(Notice::UploadWritesOff));
    assert_eq!(fake.requests(), 0);
}

/// Eviction runs by itself after puts, off the put's path: once the
/// background run ends (`idle` waits for it), the store is under its cap
/// and the evicted entries are misses.
#[test]
fn puts_evict_in_the_background_down_to_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let options = Options {
        cache_folder: Some(tmp.path().join("cache").display().to_string()),
        cache_max_size: Some(serde_json::json!("20KB")),
        evict_interval: Some(serde_json::json!(0)),
        evict_keep_recent: Some(serde_json::json!(0)),
        ..Options::default()
    };
    let engine = Engine::new(&pkg, &options).unwrap();
    for i in 0..12 {
        std::fs::create_dir_all(pkg.join("lib")).unwrap();
        std::fs::write(pkg.join("lib/out.bin"), vec![i as u8; 4000]).unwrap();
        assert!(engine.put(&format!("k{i}"), None).unwrap().stored);
        // Distinct last-use times, oldest first.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    futures::executor::block_on(engine.idle());
    let stats = engine.store_stats().unwrap();
    assert!(stats.bytes <= 20_000, "{} bytes over the cap", stats.bytes);
    assert!(stats.entries >= 3, "kept {} entries", stats.entries);
    assert!(stats.last_eviction.is_some());
    wipe(&pkg);
    assert_eq!(
        engine.fetch("k0").unwrap().source,
        None,
        "the oldest is evicted"
    );
    assert_eq!(engine.fetch("k11").unwrap().source, Some(Source::Local));
    assert_eq!(
        std::fs::read(pkg.join("lib/out.bin")).unwrap(),
        vec![11u8; 4000]
    );
}

/// A machine whose configuration `adjust` changes first.
fn machine_with(
    adjust: impl FnOnce(&mut Config),
    remote: Option<&Arc<SharedRemote>>,
    write: bool,
) -> Machine {
    let mut m = machine(remote, write);
    let mut config = m.engine.config.clone();
    adjust(&mut config);
    m.engine = Engine::assemble(config, layer(remote, write), None);
    m
}

/// `local-skip` as backfill defines it: nothing stored, the last hash put
/// remembered per package, and a fetch of that hash a hit that restores
/// nothing (the outputs are still in place); any other hash misses.
#[test]
fn local_skip_remembers_the_last_hash_put_and_stores_no_outputs() {
    let m = machine_with(|c| c.provider = Provider::LocalSkip, None, false);
    write(&m.pkg, "lib/a.js", b"a", 0o644);
    assert_eq!(m.engine.fetch("k1").unwrap().source, None);
    let put = m.engine.put("k1", None).unwrap();
    assert!(!put.stored && put.files == 0, "{put:?}");
    let got = m.engine.fetch("k1").unwrap();
    assert_eq!(got.source, Some(Source::LocalSkip));
    assert_eq!(got.files_restored, 0);
    assert_eq!(m.engine.fetch("k2").unwrap().source, None);
    assert_eq!(
        m.engine.store_stats().unwrap().entries,
        0,
        "outputs were stored"
    );

    // Only the last hash: after a put of k2, k1 misses.
    m.engine.put("k2", None).unwrap();
    assert_eq!(m.engine.fetch("k1").unwrap().source, None);
    assert_eq!(
        m.engine.fetch("k2").unwrap().source,
        Some(Source::LocalSkip)
    );

    // A second engine on the same package (another process) sees it too;
    // one on another package does not.
    let again = Engine::assemble(m.engine.config.clone(), None, None);
    assert_eq!(again.fetch("k2").unwrap().source, Some(Source::LocalSkip));
    let other_pkg = m.pkg.parent().unwrap().join("other");
    std::fs::create_dir(&other_pkg).unwrap();
    let mut other = m.engine.config.clone();
    other.cwd = other_pkg;
    assert_eq!(
        Engine::assemble(other, None, None)
            .fetch("k2")
            .unwrap()
            .source,
        None
    );

    // clear forgets it.
    m.engine.clear(&|_| {}).unwrap();
    assert_eq!(m.engine.fetch("k2").unwrap().source, None);
}

/// `incrementalCaching` as backfill defines it: the put after a missed
/// fetch stores only the outputs that are new or changed since that fetch.
#[test]
fn incremental_caching_stores_only_the_files_changed_since_the_fetch() {
    let m = machine_with(|c| c.incremental_caching = true, None, false);
    write(&m.pkg, "lib/same.js", b"same", 0o644);
    write(&m.pkg, "lib/changed.js", b"old", 0o644);
    assert_eq!(m.engine.fetch("k").unwrap().source, None);
    write(&m.pkg, "lib/changed.js", b"new", 0o644);
    write(&m.pkg, "lib/added.js", b"added", 0o644);
    // Rewritten with the same bytes: unchanged.
    write(&m.pkg, "lib/same.js", b"same", 0o644);
    let put = m.engine.put("k", None).unwrap();
    assert_eq!(put.files, 2, "{put:?}");
    wipe(&m.pkg);
    assert_eq!(m.engine.fetch("k").unwrap().source, Some(Source::Local));
    let mut restored: Vec<_> = snapshot(&m.pkg.join("lib")).into_keys().collect();
    restored.sort();
    assert_eq!(restored, ["added.js", "changed.js"]);

    // A put with no fetch before it stores every output.
    write(&m.pkg, "lib/same.js", b"same", 0o644);
    assert_eq!(m.engine.put("k-no-fetch", None).unwrap().files, 3);

    // Off (the default): every output.
    let plain = machine(None, false);
    write(&plain.pkg, "lib/same.js", b"same", 0o644);
    plain.engine.fetch("k").unwrap();
    assert_eq!(plain.engine.put("k", None).unwrap().files, 1);
}

/// lage's `--skip-local-cache`: the local store is neither read nor
/// written; the remote is still fetched from and uploaded to.
#[test]
fn skip_local_cache_never_writes_the_local_store() {
    let fake = FakeRemote::new();
    let remote = shared(&fake);
    let m = machine_with(|c| c.skip_local_cache = true, Some(&remote), true);
    write(&m.pkg, "lib/a.js", b"a", 0o644);
    let put = m.engine.put("k", None).unwrap();
    assert!(!put.stored && put.uploaded, "{put:?}");
    assert_eq!(put.files, 1);
    wipe(&m.pkg);
    assert_eq!(
        m.engine.fetch("k").unwrap().source,
        Some(Source::Remote(RemoteScope::Main))
    );
    assert_eq!(std::fs::read(m.pkg.join("lib/a.js")).unwrap(), b"a");
    assert_eq!(
        m.engine.store_stats().unwrap().entries,
        0,
        "the local store was written"
    );

    // Without a remote, nothing is cached at all.
    let local = machine_with(|c| c.skip_local_cache = true, None, false);
    write(&local.pkg, "lib/a.js", b"a", 0o644);
    assert!(!local.engine.put("k", None).unwrap().stored);
    assert_eq!(local.engine.store_stats().unwrap().entries, 0);
}

/// Outputs a put accepted and no fetch gave back: a `\` in a name (every
/// local fetch then refused the entry), names that differ only in case
/// (every remote reader refused the archive), and a linked folder (the put
/// stored files from outside the package). Each is refused by the put with
/// one warning naming the file; nothing is stored or uploaded.
#[test]
fn a_put_refuses_outputs_no_fetch_could_give_back() {
    type Setup = fn(&Path);
    let cases: Vec<(&str, Setup, Unstorable)> = vec![
        (
            "a backslash",
            |pkg| write(pkg, "lib/x\\y.js", b"x", 0o644),
            Unstorable::NotPortable {
                path: "lib/x\\y.js".into(),
                character: '\\',
            },
        ),
        (
            "a colon",
            |pkg| write(pkg, "lib/a:b.js", b"x", 0o644),
            Unstorable::NotPortable {
                path: "lib/a:b.js".into(),
                character: ':',
            },
        ),
        (
            "names differing in case",
            |pkg| {
                write(pkg, "lib/A.js", b"A", 0o644);
                write(pkg, "lib/a.js", b"a", 0o644);
            },
            Unstorable::DifferInCase {
                first: "lib/A.js".into(),
                second: "lib/a.js".into(),
            },
        ),
    ];
    let mut all = cases;
    if cfg!(unix) {
        all.push((
            "lib linked to a folder outside",
            |pkg| {
                write(&pkg.join("../outside"), "secret.txt", b"secret", 0o644);
                crate::platform::testing::symlink("../outside", pkg.join("lib")).unwrap();
            },
            Unstorable::ThroughLinkedFolder { link: "lib".into() },
        ));
    }
    for (name, setup, warning) in all {
        // Windows holds none of these names, nor two names differing in
        // case (the second write replaces the first).
        if cfg!(windows) {
            continue;
        }
        let fake = FakeRemote::new();
        let m = machine(Some(&shared(&fake)), true);
        setup(&m.pkg);
        let put = m.engine.put("k", None).unwrap();
        assert!(!put.stored, "{name}");
        assert!(!put.uploaded, "{name}");
        let notice = Notice::Unstorable(warning);
        assert_eq!(put.warnings, vec![notice.clone()], "{name}");
        assert_eq!(put.skipped, Some(notice), "{name}");
        let key = CacheKey::parse("k").unwrap();
        assert!(m.engine.store().read_manifest(&key).is_none(), "{name}");
        assert!(fake.blobs.lock().unwrap().is_empty(), "{name}");
        assert_eq!(fake.requests(), 0, "{name}");
    }
}

/// A glob through a linked folder (`lib/out/**`, `lib/out` a link) stored
/// the files behind the link; it is refused. A link inside the outputs is
/// still stored as a link, not followed.
#[cfg(unix)]
#[test]
fn a_glob_through_a_linked_folder_stores_nothing_from_outside() {
    let m = machine(None, false);
    write(&m.pkg.join("../outside"), "secret.txt", b"secret", 0o644);
    write(&m.pkg, "lib/a.js", b"a", 0o644);
    crate::platform::testing::symlink("../../outside", m.pkg.join("lib/out")).unwrap();
    let put = m
        .engine
        .put("k", Some(&["lib/out/**".to_string()]))
        .unwrap();
    assert!(!put.stored);
    assert_eq!(
        put.warnings,
        vec![Notice::Unstorable(Unstorable::ThroughLinkedFolder {
            link: "lib/out".into()
        })]
    );
    let put = m.engine.put("k", Some(&["lib/**".to_string()])).unwrap();
    assert_eq!((put.stored, put.files, put.links), (true, 1, 1));
    crate::platform::testing::remove_tree(m.pkg.join("lib"));
    let got = m.engine.fetch("k").unwrap();
    assert_eq!(got.source, Some(Source::Local));
    assert_eq!(std::fs::read(m.pkg.join("lib/a.js")).unwrap(), b"a");
    assert!(std::fs::symlink_metadata(m.pkg.join("lib/out"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// With background uploads, the engine itself queues and runs the upload of
/// a put (a Rust caller got `upload_pending` and had to upload itself): the
/// put returns stored, and the pending upload ends with the blob on the
/// remote, counted in the engine's stats.
#[test]
fn background_uploads_are_the_engines_own() {
    let fake = FakeRemote::new();
    let m = machine_with(|c| c.background_uploads = true, Some(&shared(&fake)), true);
    let engine = &m.engine;
    for (i, hash) in ["k1", "k2"].iter().enumerate() {
        write(&m.pkg, "lib/a.js", format!("v{i}").as_bytes(), 0o644);
        let put = engine.put(hash, None).unwrap();
        assert!(put.stored);
        assert!(!put.uploaded);
        let up = put
            .pending_upload
            .expect("no upload was queued")
            .wait()
            .unwrap();
        assert!(up.uploaded, "{:?}", up.skipped);
        assert!(fake.blobs.lock().unwrap().contains_key(*hash));
    }
    assert_eq!(engine.stats().uploads, 2);
    assert!(engine.take_background_warnings().is_empty());
}

/// On XFS and btrfs (loop-mounted, `test_kit/loop_fs.rs`), a remote hit
/// writes each byte once: staged into the store as it downloads, then
/// cloned into the package (the restored files share the store's blocks).
#[test]
fn a_remote_hit_on_a_file_system_that_clones_writes_each_byte_once() {
    use crate::test_kit::loop_fs::{shares_extents, Kind, LoopFs};
    for kind in Kind::ALL {
        let test = "a_remote_hit_on_a_file_system_that_clones_writes_each_byte_once";
        let Some(fs) = LoopFs::mount(kind, test) else {
            continue;
        };
        let fake = FakeRemote::new();
        let ci = machine(Some(&shared(&fake)), true);
        let mut total = 0;
        for i in 0..12u8 {
            let bytes: Vec<u8> = (0..2u32 << 20)
                .map(|n| n.wrapping_mul(2654435761).to_le_bytes()[1] ^ i)
                .collect();
            total += bytes.len() as u64;
            write(&ci.pkg, &format!("lib/f{i}.bin"), &bytes, 0o644);
        }
        let want = snapshot(&ci.pkg);
        assert!(ci.engine.put("k", None).unwrap().uploaded);

        let pkg = fs.dir("pkg");
        let dev = Engine::assemble(
            config(&pkg, &fs.mount.join("cache")),
            layer(Some(&shared(&fake)), false),
            None,
        );
        let before = fs.written_bytes();
        let got = dev.fetch("k").unwrap();
        let written = fs.written_bytes() - before;
        assert_eq!(
            got.source,
            Some(Source::Remote(RemoteScope::Main)),
            "{kind:?}"
        );
        assert_eq!(snapshot(&pkg), want, "{kind:?}: restored tree differs");
        assert!(
            shares_extents(&pkg.join("lib/f0.bin")),
            "{kind:?}: not cloned"
        );
        eprintln!("{kind:?}: a remote hit of {total} bytes wrote {written} bytes to the device");
        // A copy out of the store would write them twice.
        assert!(
            written < total * 11 / 10,
            "{kind:?}: {written} of {total} bytes written"
        );
    }
}

/// The remote scopes a build has, as `Engine::from_config` makes them.
struct Scopes<'a> {
    main: &'a Arc<FakeRemote>,
    /// The pull request scope: its remote and number.
    pull_request: Option<(&'a Arc<FakeRemote>, u64)>,
    /// Whether this build is the pull request's own CI build (a trusted
    /// build writes the main scope; a pull request build, its own).
    ci_pull_request: bool,
    signing_key: Option<&'a str>,
}

fn scoped_machine(s: Scopes) -> Machine {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let config = config(&pkg, &tmp.path().join("cache"));
    let key = s.signing_key.map(str::to_string);
    let mut main = Arc::into_inner(layer(Some(&shared(s.main)), true).unwrap()).unwrap();
    main.signing_key = key.clone();
    if s.ci_pull_request {
        main.refusal = Some(crate::notice::Refusal::PullRequest {
            source: "GitHub Actions".into(),
            why: "GITHUB_EVENT_NAME=pull_request".into(),
        });
    }
    let main = Arc::new(main);
    let pull_request = s.pull_request.map(|(fake, n)| {
        Arc::new(RemoteLayer {
            scope: RemoteScope::PullRequest(n),
            name_prefix: format!("pr-{n}-"),
            write: s.ci_pull_request,
            signing_key: key.clone(),
            write_check: s.ci_pull_request.then(|| main.clone()),
            ..Arc::into_inner(layer(Some(&shared(fake)), false).unwrap()).unwrap()
        })
    });
    Machine {
        engine: Engine::assemble(config, Some(main), pull_request),
        pkg,
        _tmp: tmp,
    }
}

fn blob_names(fake: &FakeRemote) -> Vec<String> {
    let mut names: Vec<String> = fake.blobs.lock().unwrap().keys().cloned().collect();
    names.sort();
    names
}

/// A pull request build uploads into its own scope only, as `pr-<n>-<hash>`;
/// its rerun on an empty machine hits there; main's builds and another pull
/// request's never read it.
#[test]
fn a_pull_request_writes_its_own_scope_and_only_it_reads_it() {
    let (main, prs) = (FakeRemote::new(), FakeRemote::new());
    let pr = |n: u64| Scopes {
        main: &main,
        pull_request: Some((&prs, n)),
        ci_pull_request: true,
        signing_key: None,
    };
    let first = scoped_machine(pr(12));
    write(&first.pkg, "lib/a.js", b"built in pull request 12", 0o644);
    assert!(!first.engine.fetch("k").unwrap().hit());
    let put = first.engine.put("k", None).unwrap();
    assert!(put.uploaded, "{:?}", put.upload_skipped);
    assert_eq!(put.upload_scope, Some(RemoteScope::PullRequest(12)));
    assert_eq!(blob_names(&prs), ["pr-12-k"]);
    // The main scope's credential of this build could write: said once,
    // with the marker that found it out the only thing written there.
    let codes: Vec<&str> = put.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["PULL_REQUEST_CAN_WRITE_MAIN"]);
    assert_eq!(blob_names(&main), [remote_policy::WRITE_CHECK_NAME]);
    main.blobs.lock().unwrap().clear();

    // The rerun, on an empty machine: main misses, the scope serves it.
    // Its main scope refuses writes, as it should: nothing is said.
    let rerun = scoped_machine(pr(12));
    write(&rerun.pkg, "lib/b.js", b"another target", 0o644);
    main.set(Fault::Forbidden);
    let put = rerun.engine.put("j", None).unwrap();
    assert!(put.uploaded);
    assert_eq!(put.warnings, Vec::<Notice>::new());
    main.set(Fault::None);
    std::fs::remove_file(rerun.pkg.join("lib/b.js")).unwrap();
    let got = rerun.engine.fetch("k").unwrap();
    assert_eq!(
        got.source,
        Some(Source::Remote(RemoteScope::PullRequest(12)))
    );
    assert_eq!(
        std::fs::read(rerun.pkg.join("lib/a.js")).unwrap(),
        b"built in pull request 12"
    );
    let stats = rerun.engine.stats();
    assert_eq!((stats.remote_hits, stats.pull_request_hits), (1, 1));

    // Another pull request's build does not read it.
    let other = scoped_machine(pr(13));
    assert_eq!(other.engine.fetch("k").unwrap().source, None);
    // Nor does a trusted build, even with the blob under the bare hash's
    // prefix-less name in a scope it cannot see.
    let trusted = scoped_machine(Scopes {
        main: &main,
        pull_request: None,
        ci_pull_request: false,
        signing_key: None,
    });
    assert_eq!(trusted.engine.fetch("k").unwrap().source, None);
    // The trusted build's put goes to the main scope, under the hash.
    write(&trusted.pkg, "lib/a.js", b"built on main", 0o644);
    assert!(trusted.engine.put("k", None).unwrap().uploaded);
    assert_eq!(blob_names(&main), ["k"]);
    assert_eq!(blob_names(&prs), ["pr-12-j", "pr-12-k"]);
}

/// The main scope is read first: where both scopes hold a hash, main's
/// entry is restored; a developer asking for a pull request's scope reads
/// it but never writes it.
#[test]
fn the_main_scope_is_read_first_and_a_developer_only_reads_a_scope() {
    let (main, prs) = (FakeRemote::new(), FakeRemote::new());
    // Pull request 4's scope (or none), in its CI build or a developer's.
    let build = |scope: bool, ci_pull_request: bool| {
        scoped_machine(Scopes {
            main: &main,
            pull_request: scope.then_some((&prs, 4)),
            ci_pull_request,
            signing_key: None,
        })
    };
    let trusted = build(false, false);
    write(&trusted.pkg, "lib/a.js", b"main", 0o644);
    assert!(trusted.engine.put("k", None).unwrap().uploaded);
    let pr = build(true, true);
    write(&pr.pkg, "lib/a.js", b"pull request", 0o644);
    assert!(pr.engine.put("k", None).unwrap().uploaded);

    let rerun = build(true, true);
    let got = rerun.engine.fetch("k").unwrap();
    assert_eq!(got.source, Some(Source::Remote(RemoteScope::Main)));
    assert_eq!(std::fs::read(rerun.pkg.join("lib/a.js")).unwrap(), b"main");
    assert_eq!(rerun.engine.stats().pull_request_hits, 0);

    let developer = build(true, false);
    write(&developer.pkg, "lib/b.js", b"local", 0o644);
    let before = prs.requests();
    let put = developer.engine.put("j", None).unwrap();
    assert_eq!(blob_names(&prs), ["pr-4-k"], "{:?}", put.upload_skipped);
    assert_eq!(prs.requests(), before);
}

/// With a signing key, the signature covers the blob's name, so a signed
/// blob moved from a pull request scope into the main scope's names (or
/// into another pull request's) is refused; in its own place it verifies.
#[test]
fn a_signed_blob_moved_out_of_its_scope_is_refused() {
    let (main, prs) = (FakeRemote::new(), FakeRemote::new());
    let scopes = |n: u64, ci: bool| Scopes {
        main: &main,
        pull_request: Some((&prs, n)),
        ci_pull_request: ci,
        signing_key: Some("team key"),
    };
    let pr = scoped_machine(scopes(12, true));
    write(&pr.pkg, "lib/a.js", b"pull request 12", 0o644);
    assert!(pr.engine.put("k", None).unwrap().uploaded);
    let blob = prs.blobs.lock().unwrap()["pr-12-k"].clone();
    main.blobs.lock().unwrap().insert("k".into(), blob.clone());
    prs.blobs.lock().unwrap().insert("pr-13-k".into(), blob);

    let trusted = scoped_machine(Scopes {
        main: &main,
        pull_request: None,
        ci_pull_request: false,
        signing_key: Some("team key"),
    });
    let got = trusted.engine.fetch("k").unwrap();
    assert_eq!(got.source, None);
    let codes: Vec<&str> = got.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["REMOTE_ENTRY_BAD_SIGNATURE"]);
    assert!(!trusted.pkg.join("lib/a.js").exists());

    main.blobs.lock().unwrap().clear();
    let other = scoped_machine(scopes(13, true));
    let got = other.engine.fetch("k").unwrap();
    assert_eq!(got.source, None);
    let codes: Vec<&str> = got.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["REMOTE_ENTRY_BAD_SIGNATURE"]);

    let own = scoped_machine(scopes(12, false));
    let got = own.engine.fetch("k").unwrap();
    assert_eq!(
        got.source,
        Some(Source::Remote(RemoteScope::PullRequest(12)))
    );
}
