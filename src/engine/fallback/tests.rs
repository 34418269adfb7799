//! The fallback against a fake remote, for what a real one cannot be made
//! to do on demand.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::remote::{ArchiveWriter, RemoteBlob};

/// Serves `tar` for every key and says nothing of its size, as a remote
/// whose size check (HEAD) was passed by a smaller, older blob.
struct Grown {
    tar: Vec<u8>,
}

impl Remote for Grown {
    fn describe(&self) -> String {
        "fake remote 'grown'".into()
    }

    fn open(
        &self,
        _key: &CacheKey,
        _max: Option<u64>,
    ) -> std::result::Result<Lookup, RemoteFailure> {
        Ok(Lookup::Found(RemoteBlob {
            size: None,
            metadata: HashMap::new(),
            body: Box::new(io::Cursor::new(self.tar.clone())),
        }))
    }

    fn upload(
        &self,
        _key: &CacheKey,
        _size: u64,
        _write: &mut ArchiveWriter<'_>,
    ) -> std::result::Result<u64, RemoteFailure> {
        unreachable!("no upload here")
    }
}

fn tar_of(name: &str, body: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, name, body).unwrap();
    b.into_inner().unwrap()
}

fn layer(tar: Vec<u8>, max_size: Option<u64>) -> RemoteLayer {
    RemoteLayer {
        shared: SharedRemote::new(Arc::new(Grown { tar })),
        max_size,
        signing_key: None,
        write: false,
        refusal: None,
    }
}

#[test]
fn a_download_over_max_size_stops_there_and_writes_no_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::new(&tmp.path().join("cache"));
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    let key = CacheKey::parse("grown").unwrap();
    let tar = tar_of("lib/big.bin", &vec![1u8; 20_000]);
    let options = RestoreOptions {
        may_write_store: true,
    };

    let got = layer(tar.clone(), Some(4096))
        .fetch(&store, &key, &pkg, options)
        .unwrap();
    match got {
        RemoteFetch::Miss { warning, note } => {
            assert_eq!(warning, None);
            assert!(
                note.as_deref()
                    .is_some_and(|n| n.contains("over maxSize (4096)")),
                "{note:?}"
            );
        }
        RemoteFetch::Hit(_) => panic!("a blob over maxSize was restored"),
    }
    assert!(store.read_manifest(&key).is_none(), "an entry was written");
    assert!(!pkg.join("lib").exists(), "the package was written");

    // Under a maxSize as large as the blob, the same blob is a hit.
    let got = layer(tar.clone(), Some(tar.len() as u64))
        .fetch(&store, &key, &pkg, options)
        .unwrap();
    assert!(matches!(got, RemoteFetch::Hit(_)));
    assert_eq!(
        std::fs::read(pkg.join("lib/big.bin")).unwrap().len(),
        20_000
    );
}
