//! Integrity and signatures of remote blobs, kept in blob metadata so that
//! the JS provider, which reads no metadata, still reads the blob.
//!
//! `backfillnative_blake3` is the blake3 digest of the blob; with a shared
//! signing key, `backfillnative_mac2` is blake3's keyed hash (a MAC, like
//! HMAC), under a key derived from it, of the blob's name (its cache key)
//! and then the blob: a signed blob copied under another name does not
//! verify there. The older `backfillnative_mac` covered the blob alone, so
//! a blob signed that way is refused with a signing key.

/// Metadata name of the blob digest.
pub const DIGEST_KEY: &str = "backfillnative_blake3";
/// Metadata name of the blob MAC (of its name and its bytes).
pub const MAC_KEY: &str = "backfillnative_mac2";
/// Metadata name of the older MAC, of the bytes alone: refused.
pub const OLD_MAC_KEY: &str = "backfillnative_mac";

/// Hashes a blob as it streams: the plain digest and, with a key, the MAC.
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

    /// The metadata to store with the blob.
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
        let get = |k: &str| {
            metadata
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        if let Some(expected) = get(DIGEST_KEY) {
            if expected != self.digest.finalize().to_hex().as_str() {
                return Err(
                    "its content does not match the digest stored with it (corrupt or tampered)"
                        .into(),
                );
            }
        }
        if let Some(mac) = &self.mac {
            match get(MAC_KEY) {
                None if get(OLD_MAC_KEY).is_some() => return Err(
                    "it is signed the older way (backfillnative_mac), which does not cover its \
                         hash; it is used again once a build allowed to upload puts it signed the \
                         current way"
                        .into(),
                ),
                None => return Err("it is not signed, and a signing key is configured".into()),
                Some(expected) if expected != mac.finalize().to_hex().as_str() => {
                    return Err(
                        "its signature does not match the configured signing key and its \
                                hash (signed with another key, or copied from another entry)"
                            .into(),
                    )
                }
                Some(_) => {}
            }
        }
        Ok(())
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
