//! Integrity and signatures of remote blobs, kept in blob metadata so that
//! the JS provider, which reads no metadata, still reads the blob.
//!
//! What is written: `backfillnative_entry`, the digest of what the blob
//! restores (`store::entry_digest`: every file's path, mode, size, content
//! digest and time, every link), and with a shared signing key
//! `backfillnative_mac3`, blake3's keyed hash (a MAC, like HMAC), under a
//! key derived from it, of the blob's name (its cache key, in its scope)
//! and that digest: a signed blob copied under another name does not verify
//! there. A put knows the digest from its manifest, so it signs without
//! reading its contents; a download computes it from what it ingested.
//!
//! What is still read: blobs of earlier versions, whose
//! `backfillnative_blake3` is the blake3 digest of the blob's bytes and
//! `backfillnative_mac2` the MAC of its name and bytes ([`Signer`]). The
//! oldest `backfillnative_mac` covered the bytes alone, so a blob signed
//! that way is refused with a signing key.

/// Metadata name of the blob digest.
pub const DIGEST_KEY: &str = "backfillnative_blake3";
/// Metadata name of the blob MAC (of its name and its bytes).
pub const MAC_KEY: &str = "backfillnative_mac2";
/// Metadata name of the older MAC, of the bytes alone: refused.
pub const OLD_MAC_KEY: &str = "backfillnative_mac";

/// Metadata name of the entry digest (what the blob restores).
pub const ENTRY_KEY: &str = "backfillnative_entry";
/// Metadata name of the entry signature (of the blob's name and entry digest).
pub const ENTRY_MAC_KEY: &str = "backfillnative_mac3";

const CORRUPT: &str = "its content does not match the digest stored with it (corrupt or tampered)";
const OLDER: &str = "it is signed the older way (backfillnative_mac), which does not cover its \
    hash; it is used again once a build allowed to upload puts it signed the current way";
const UNSIGNED: &str = "it is not signed, and a signing key is configured";
const WRONG: &str = "its signature does not match the configured signing key and its hash \
    (signed with another key, or copied from another entry)";

fn entry_mac(key: &str, name: &str, digest: &[u8; 32]) -> blake3::Hash {
    let mut mac = blake3::Hasher::new_keyed(&blake3::derive_key(
        "backfill-native blob signature v3",
        key.as_bytes(),
    ));
    mac.update(&(name.len() as u64).to_le_bytes());
    mac.update(name.as_bytes());
    mac.update(digest);
    mac.finalize()
}

/// The metadata of the blob `name` whose entry digest is `digest`: the
/// digest and, with a signing key, the signature.
pub fn entry_metadata(
    key: Option<&str>,
    name: &str,
    digest: &[u8; 32],
) -> Vec<(&'static str, String)> {
    let mut out = vec![(ENTRY_KEY, blake3::Hash::from(*digest).to_hex().to_string())];
    if let Some(k) = key {
        out.push((
            ENTRY_MAC_KEY,
            entry_mac(k, name, digest).to_hex().to_string(),
        ));
    }
    out
}

fn get<'a>(metadata: &'a std::collections::HashMap<String, String>, k: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(k))
        .map(|(_, v)| v.as_str())
}

/// Whether the blob carries an entry digest: its download checks what it
/// restores ([`verify_entry`]) rather than its bytes ([`Signer`]).
pub fn is_entry_signed(metadata: &std::collections::HashMap<String, String>) -> bool {
    get(metadata, ENTRY_KEY).is_some()
}

/// Checks the entry digest of a downloaded blob (what was ingested) against
/// its metadata, and with a signing key its signature: `Err` says why it
/// must not be used.
pub fn verify_entry(
    metadata: &std::collections::HashMap<String, String>,
    key: Option<&str>,
    name: &str,
    digest: &[u8; 32],
) -> Result<(), String> {
    // With a key, a blob not signed this way is refused for that first.
    let mac = match (key, get(metadata, ENTRY_MAC_KEY)) {
        (Some(_), None) if get(metadata, OLD_MAC_KEY).is_some() => return Err(OLDER.into()),
        (Some(_), None) => return Err(UNSIGNED.into()),
        (Some(k), Some(mac)) => Some((k, mac)),
        (None, _) => None,
    };
    if get(metadata, ENTRY_KEY) != Some(blake3::Hash::from(*digest).to_hex().as_str()) {
        return Err(CORRUPT.into());
    }
    match mac {
        Some((k, mac)) if mac != entry_mac(k, name, digest).to_hex().as_str() => Err(WRONG.into()),
        _ => Ok(()),
    }
}

/// Hashes a blob of an earlier version as it streams (the plain digest
/// and, with a key, the MAC of its name and bytes), to check it.
pub struct Signer {
    digest: blake3::Hasher,
    mac: Option<blake3::Hasher>,
}

impl Signer {
    /// A signer of the blob named `name` (its cache key); `key` is the
    /// shared signing key, if one is configured.
    pub fn new(key: Option<&str>, name: &str) -> Self {
        Signer {
            digest: blake3::Hasher::new(),
            mac: key.map(|k| {
                let mut mac = blake3::Hasher::new_keyed(&blake3::derive_key(
                    "backfill-native blob signature v2",
                    k.as_bytes(),
                ));
                // The name's length first, so no name and blob run into
                // another pair.
                mac.update(&(name.len() as u64).to_le_bytes());
                mac.update(name.as_bytes());
                mac
            }),
        }
    }

    /// Adds bytes of the blob.
    pub fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        if let Some(m) = &mut self.mac {
            m.update(bytes);
        }
    }

    /// The metadata an earlier version stored with the blob (for tests
    /// that make such blobs).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(DIGEST_KEY, self.digest.finalize().to_hex().to_string())];
        if let Some(m) = &self.mac {
            out.push((MAC_KEY, m.finalize().to_hex().to_string()));
        }
        out
    }

    /// Checks a downloaded blob against its metadata: `Err` says why it must
    /// not be used. Without a key, a blob with no digest (written by the JS
    /// provider) is accepted; with a key, an unsigned blob is refused.
    pub fn verify(
        &self,
        metadata: &std::collections::HashMap<String, String>,
    ) -> Result<(), String> {
        let get = |k: &str| get(metadata, k);
        // With a key, a blob not signed this way is refused for that first.
        if self.mac.is_some() && get(MAC_KEY).is_none() {
            return Err(if get(OLD_MAC_KEY).is_some() {
                OLDER
            } else {
                UNSIGNED
            }
            .into());
        }
        if let Some(expected) = get(DIGEST_KEY) {
            if expected != self.digest.finalize().to_hex().as_str() {
                return Err(CORRUPT.into());
            }
        }
        match (&self.mac, get(MAC_KEY)) {
            (Some(mac), Some(expected)) if expected != mac.finalize().to_hex().as_str() => {
                Err(WRONG.into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn signed(key: Option<&str>, bytes: &[u8]) -> HashMap<String, String> {
        signed_as(key, "h1", bytes)
    }

    fn signed_as(key: Option<&str>, name: &str, bytes: &[u8]) -> HashMap<String, String> {
        let mut s = Signer::new(key, name);
        s.update(bytes);
        s.metadata()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn check(
        key: Option<&str>,
        bytes: &[u8],
        meta: &HashMap<String, String>,
    ) -> Result<(), String> {
        check_as(key, "h1", bytes, meta)
    }

    fn check_as(
        key: Option<&str>,
        name: &str,
        bytes: &[u8],
        meta: &HashMap<String, String>,
    ) -> Result<(), String> {
        let mut s = Signer::new(key, name);
        s.update(bytes);
        s.verify(meta)
    }

    #[test]
    fn digests_and_signatures() {
        let meta = signed(None, b"tar bytes");
        assert_eq!(check(None, b"tar bytes", &meta), Ok(()));
        assert!(check(None, b"tar bytez", &meta)
            .unwrap_err()
            .contains("does not match the digest"));
        // A blob from the JS provider has no metadata: fine without a key.
        assert_eq!(check(None, b"anything", &HashMap::new()), Ok(()));
        let meta = signed(Some("k1"), b"tar bytes");
        assert_eq!(check(Some("k1"), b"tar bytes", &meta), Ok(()));
        assert!(check(Some("k2"), b"tar bytes", &meta)
            .unwrap_err()
            .contains("signature does not match"));
        assert!(check(Some("k1"), b"tar bytes", &signed(None, b"tar bytes"))
            .unwrap_err()
            .contains("not signed"));
    }

    // Old code: the MAC covered the bytes alone, so a signed blob copied
    // under another hash verified there and restored the other entry.
    #[test]
    fn a_signature_covers_the_blob_name() {
        let meta = signed_as(Some("k1"), "hash-a", b"tar bytes");
        assert_eq!(check_as(Some("k1"), "hash-a", b"tar bytes", &meta), Ok(()));
        assert!(check_as(Some("k1"), "hash-b", b"tar bytes", &meta)
            .unwrap_err()
            .contains("copied from another entry"));
        // No name and blob run into another pair.
        let split = signed_as(Some("k1"), "ab", b"c");
        assert!(check_as(Some("k1"), "a", b"bc", &split).is_err());
    }

    /// The current signature: of the blob's name and the digest of what it
    /// restores.
    #[test]
    fn entry_signatures_cover_the_name_and_what_is_restored() {
        let (d1, d2) = ([1u8; 32], [2u8; 32]);
        let meta = |key: Option<&str>, name: &str, d: &[u8; 32]| -> HashMap<String, String> {
            entry_metadata(key, name, d)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
        };
        let m = meta(None, "h1", &d1);
        assert!(is_entry_signed(&m));
        assert_eq!(verify_entry(&m, None, "h1", &d1), Ok(()));
        assert_eq!(verify_entry(&m, None, "h1", &d2), Err(CORRUPT.to_string()));
        assert_eq!(
            verify_entry(&m, Some("k1"), "h1", &d1),
            Err(UNSIGNED.to_string())
        );
        let m = meta(Some("k1"), "h1", &d1);
        assert_eq!(verify_entry(&m, Some("k1"), "h1", &d1), Ok(()));
        assert_eq!(
            verify_entry(&m, Some("k2"), "h1", &d1),
            Err(WRONG.to_string())
        );
        assert_eq!(
            verify_entry(&m, Some("k1"), "pr-1-h1", &d1),
            Err(WRONG.to_string())
        );
        assert_eq!(
            verify_entry(&m, Some("k1"), "h1", &d2),
            Err(CORRUPT.to_string())
        );
        let mut older = meta(None, "h1", &d1);
        older.insert(OLD_MAC_KEY.into(), "ab".repeat(32));
        assert_eq!(
            verify_entry(&older, Some("k1"), "h1", &d1),
            Err(OLDER.to_string())
        );
        assert!(!is_entry_signed(&signed(Some("k1"), b"tar bytes")));
    }

    #[test]
    fn a_blob_signed_the_older_way_is_refused_and_says_so() {
        let mut meta = signed(None, b"tar bytes");
        meta.insert(OLD_MAC_KEY.into(), "ab".repeat(32));
        assert!(check(Some("k1"), b"tar bytes", &meta)
            .unwrap_err()
            .contains("signed the older way"));
        // Without a key, it is read as before (its digest checked).
        assert_eq!(check(None, b"tar bytes", &meta), Ok(()));
    }
}
