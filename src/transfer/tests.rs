//! Transfers against the fake remote, for what a real one cannot be made to
//! do on demand.

use super::*;
use crate::cache_key::CacheKey;
use crate::output_glob::OutputGlob;
use crate::platform::testing::skip_without_links;
use crate::store::LocalStore;
use crate::store::RestoreOptions;
use crate::test_kit::fake_remote::{FakeRemote, Fault};
use crate::test_kit::round_trip::{make_case, snapshot};

fn tar_of(name: &str, body: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, body).unwrap();
    b.into_inner().unwrap()
}

/// A blob that grew after its size was checked (the remote says nothing of
/// its size): the download stops at `maxSize` and writes no entry.
#[test]
fn a_download_over_max_size_stops_there_and_writes_no_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::new(&tmp.path().join("cache"));
    let key = CacheKey::parse("grown").unwrap();
    let tar = tar_of("lib/big.bin", &vec![1u8; 20_000]);
    let fake = FakeRemote::new();
    fake.insert("grown", tar.clone());
    fake.hide_size(true);

    let got = download(&*fake, &store, &key, &key, Some(4096), None).unwrap();
    assert!(
        matches!(
            got,
            Downloaded::OverMaxSize {
                size: None,
                max: 4096
            }
        ),
        "{got:?}"
    );
    assert!(store.read_manifest(&key).is_none(), "an entry was written");

    // Under a maxSize as large as the blob, the same blob is stored.
    let got = download(&*fake, &store, &key, &key, Some(tar.len() as u64), None).unwrap();
    assert!(matches!(got, Downloaded::Committed), "{got:?}");
    let manifest = store.read_manifest(&key).unwrap();
    assert_eq!(manifest.bytes(), 20_000);
}

/// Old code: a link's time in the archive was "now", read once per pass, so
/// an upload whose sending began in a later second than its signing failed
/// ("the archive changed between its signing and its upload") for any entry
/// holding a link.
#[test]
fn an_upload_sent_in_a_later_second_than_it_was_signed_commits_and_restores() {
    // The time in question is a link's: where links cannot be made, there
    // is nothing to test.
    if skip_without_links("an upload sent in a later second") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    make_case(
        &pkg,
        &[("lib/index.js", b"module.exports = 1\n".to_vec(), 0o644)],
        &[("lib/alias.js", "index.js")],
    );
    let store = LocalStore::new(&tmp.path().join("cache"));
    let key = CacheKey::parse("linked").unwrap();
    let outputs = OutputGlob::new(&["lib/**".into()])
        .unwrap()
        .find(&pkg, None)
        .unwrap();
    store.put(&key, &outputs).unwrap();
    let fake = FakeRemote::new();
    fake.set(Fault::NextSecond);

    let sent = upload(&*fake, &store, &key, &key, None, Some("k")).unwrap();
    assert!(matches!(sent, Uploaded::Done(_)), "{sent:?}");

    // The blob verifies (digest and signature) and restores the same tree.
    fake.set(Fault::None);
    let other = LocalStore::new(&tmp.path().join("other"));
    let got = download(&*fake, &other, &key, &key, None, Some("k")).unwrap();
    assert!(matches!(got, Downloaded::Committed), "{got:?}");
    let restored = tmp.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    other
        .restore(
            &key,
            &restored,
            RestoreOptions {
                may_write_store: true,
            },
        )
        .unwrap();
    assert_eq!(snapshot(&restored.join("lib")), snapshot(&pkg.join("lib")));
}
