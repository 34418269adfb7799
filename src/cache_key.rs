//! Validation of cache keys (the hash lage passes to `fetch` and `put`).
//!
//! A key becomes a file name in the local store and a blob name remotely, so
//! it is checked before any disk access.

use crate::error::{CacheError, Result};

/// Longest key accepted, in bytes; leaves room for a suffix within the
/// 255-byte file name limit of common file systems.
pub const MAX_KEY_LEN: usize = 200;

/// A cache key known to be a safe, single file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// Checks `hash` and wraps it; the error says what is wrong with it.
    pub fn parse(hash: &str) -> Result<Self> {
        let refuse = |reason: &str| CacheError::Hash {
            shown: shown(hash),
            reason: reason.to_string(),
            max: MAX_KEY_LEN,
        };
        if hash.is_empty() {
            return Err(refuse("it is empty"));
        }
        if hash.len() > MAX_KEY_LEN {
            return Err(refuse(&format!("it is {} bytes long", hash.len())));
        }
        if hash.starts_with('.') {
            return Err(refuse("it starts with '.'"));
        }
        if let Some(c) = hash
            .chars()
            .find(|c| matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        {
            return Err(refuse(&format!("it contains {c:?}")));
        }
        if hash.chars().any(char::is_control) {
            return Err(refuse("it contains a control character"));
        }
        Ok(CacheKey(hash.to_string()))
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of this key in a remote scope whose names start with
    /// `prefix` (`pr-12-`); the key itself when `prefix` is empty. Only a
    /// remote's name: the local store keeps the key.
    pub fn in_scope(&self, prefix: &str) -> CacheKey {
        CacheKey(format!("{prefix}{}", self.0))
    }
}

/// The key as shown in messages: quoted, escaped, and cut if very long.
fn shown(hash: &str) -> String {
    let cut: String = hash.chars().take(80).collect();
    if cut.len() < hash.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hex_and_common_hash_alphabets() {
        for ok in [
            "a",
            "0123abcdef",
            "abc-def_1.2+x=",
            &"f".repeat(MAX_KEY_LEN),
        ] {
            assert_eq!(CacheKey::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_unsafe_names_with_the_reason() {
        let cases = [
            ("", "it is empty"),
            ("..", "it starts with '.'"),
            (".hidden", "it starts with '.'"),
            ("a/b", "it contains '/'"),
            ("..\\x", "it starts with '.'"),
            ("a\\b", "it contains '\\\\'"),
            ("a\nb", "it contains a control character"),
            ("a\0b", "it contains a control character"),
        ];
        for (hash, reason) in cases {
            let msg = CacheKey::parse(hash).unwrap_err().to_string();
            assert!(msg.contains(reason), "{hash:?}: {msg}");
            assert!(msg.starts_with("invalid cache hash "), "{msg}");
        }
        let long = "a".repeat(MAX_KEY_LEN + 1);
        let msg = CacheKey::parse(&long).unwrap_err().to_string();
        assert!(msg.contains("it is 201 bytes long"), "{msg}");
    }
}
