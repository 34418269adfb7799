//! Integrity and signatures of remote blobs, kept in blob metadata so that
//! the JS provider, which reads no metadata, still reads the blob.
//!
//! `backfillnative_blake3` is the blake3 digest of the blob; with a shared
//! signing key, `backfillnative_mac` is blake3's keyed hash (a MAC, like
//! HMAC) of the blob under a key derived from it.

/// Metadata name of the blob digest.
pub const DIGEST_KEY: &str = "backfillnative_blake3";
/// Metadata name of the blob MAC.
pub const MAC_KEY: &str = "backfillnative_mac";

/// Hashes a blob as it streams: the plain digest and, with a key, the MAC.
pub struct Signer {
    digest: blake3::Hasher,
    mac: Option<blake3::Hasher>,
}

impl Signer {
    /// A signer; `key` is the shared signing key, if one is configured.
    pub fn new(key: Option<&str>) -> Self {
        Signer {
            digest: blake3::Hasher::new(),
            mac: key.map(|k| {
                blake3::Hasher::new_keyed(&blake3::derive_key(
                    "backfill-native blob signature v1",
                    k.as_bytes(),
                ))
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
                None => return Err("it is not signed, and a signing key is configured".into()),
                Some(expected) if expected != mac.finalize().to_hex().as_str() => {
                    return Err("its signature does not match the configured signing key".into())
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
        let mut s = Signer::new(key);
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
        let mut s = Signer::new(key);
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
}
