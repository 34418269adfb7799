//! The one rule deciding what may be printed.
//!
//! Every value the configuration echoes (in an error, a warning, or the
//! resolved configuration shown by `loadConfig()`, `cache.config` and
//! `backfill-native config`) goes through [`secret_kind`] first, whatever
//! variable it came from: a connection string pasted into the wrong variable
//! must not be printed by the message that says it is in the wrong place.
//! Text from outside (a transport error, a server's answer) goes through
//! [`redact_text`], which applies the same rule to each of its parts.

use std::sync::OnceLock;

use regex::Regex;

/// What kind of secret `value` looks like, or `None` when it may be printed.
///
/// A value looks like a secret when it is (or holds) a JSON object, an
/// `AccountKey=`, a `SharedAccessSignature=`, a SAS `sig=`, two or more
/// `Name=value` pairs separated by `;` (a connection string), or a long
/// key-like token: a run of 32 or more base64 characters (`A-Z a-z 0-9 + /
/// =`) that is hexadecimal with both digits and letters, or in which at least
/// 40% of the neighbouring letters and digits switch between upper case,
/// lower case and digit, as in random keys and unlike words, paths or globs.
pub fn secret_kind(value: &str) -> Option<&'static str> {
    let lower = value.to_ascii_lowercase();
    if is_json_object(value) {
        Some("a JSON object, such as the provider options")
    } else if lower.contains("accountkey=") {
        Some("an Azure Storage connection string with an account key")
    } else if lower.contains("sharedaccesssignature=") {
        Some("an Azure Storage SAS connection string")
    } else if has_sas_signature(&lower) {
        Some("a SAS token")
    } else if is_connection_string(value) {
        Some("a connection string")
    } else if has_key_like_token(value) {
        Some("a long key-like token")
    } else {
        None
    }
}

/// How much of a value a message shows, in characters.
pub const SHOWN_CHARS: usize = 120;

/// `value` quoted (its first [`SHOWN_CHARS`] characters when longer), or
/// what kind of secret it looks like, for a message.
pub fn shown(value: &str) -> String {
    match secret_kind(value) {
        None => match value.char_indices().nth(SHOWN_CHARS) {
            None => format!("{value:?}"),
            Some((cut, _)) => format!("{:?}... ({} bytes in all)", &value[..cut], value.len()),
        },
        Some(kind) => format!("a value that is not shown because it looks like a secret ({kind})"),
    }
}

/// How much of an outside text (a transport error, a server's words) a
/// message keeps, in characters.
pub const TEXT_CHARS: usize = 300;

/// `text` from outside made fit to print: URL queries (SAS tokens) and
/// `AccountKey=`, `SharedAccessSignature=` and `sig=` values replaced by
/// `<redacted>`, control characters removed, and at most [`TEXT_CHARS`]
/// characters kept.
pub fn redact_text(text: &str) -> String {
    static PATTERNS: OnceLock<Option<(Regex, Regex)>> = OnceLock::new();
    let Some((query, keys)) = PATTERNS
        .get_or_init(|| {
            Some((
                Regex::new(r#"\?[^\s"')]*"#).ok()?,
                Regex::new(r"(?i)(AccountKey|SharedAccessSignature|sig)=[^;&\s]*").ok()?,
            ))
        })
        .as_ref()
    else {
        return "(details withheld)".into();
    };
    // Control characters first: one inside `sig=` would hide it.
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let text = query.replace_all(&text, "?<redacted>");
    // Key-like tokens are not looked for here: outside text names blobs
    // and URLs by hashes, which look alike and are no secret.
    let text = keys.replace_all(&text, "$1=<redacted>").into_owned();
    match text.char_indices().nth(TEXT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// What to add to the fix of a message about a value that looks like a secret.
pub const SECRET_FIX: &str =
    "secrets and provider options belong in BACKFILL_CACHE_PROVIDER_OPTIONS only";

/// `fix`, followed by [`SECRET_FIX`] when `value` looks like a secret.
pub fn fix_for(value: &str, fix: &str) -> String {
    match secret_kind(value) {
        None => fix.to_string(),
        Some(_) => format!("{fix}; {SECRET_FIX}"),
    }
}

/// A value that must never be printed (connection strings, keys): its
/// `Debug` output is `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the code that authenticates.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A JSON object, or the start of one (`{"name":`); not a glob's `{a,b}`.
fn is_json_object(value: &str) -> bool {
    value.trim_start().starts_with('{')
        && (serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(value).is_ok()
            || value.contains("\":"))
}

/// `sig=` at the start of a query parameter (`lower` is lower case).
fn has_sas_signature(lower: &str) -> bool {
    lower.match_indices("sig=").any(|(i, _)| {
        i == 0
            || matches!(
                lower.as_bytes()[i - 1],
                b'?' | b'&' | b';' | b'"' | b'\'' | b' ' | b'\t' | b'\n'
            )
    })
}

/// Two or more `Name=value` pairs separated by `;`.
fn is_connection_string(value: &str) -> bool {
    value
        .split(';')
        .filter(|part| {
            let part = part.trim();
            part.split_once('=').is_some_and(|(name, rest)| {
                !rest.is_empty()
                    && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric())
            })
        })
        .count()
        >= 2
}

fn has_key_like_token(value: &str) -> bool {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    value
        .split(|c: char| !is_token_char(c))
        .filter(|token| token.len() >= 32)
        .any(|token| {
            let hex = token.chars().all(|c| c.is_ascii_hexdigit());
            if hex {
                return token.chars().any(|c| c.is_ascii_digit())
                    && token.chars().any(|c| c.is_ascii_alphabetic());
            }
            let class = |c: u8| match c {
                b'A'..=b'Z' => Some(0),
                b'a'..=b'z' => Some(1),
                b'0'..=b'9' => Some(2),
                _ => None,
            };
            let (mut pairs, mut switches) = (0usize, 0usize);
            for w in token.as_bytes().windows(2) {
                if let (Some(a), Some(b)) = (class(w[0]), class(w[1])) {
                    pairs += 1;
                    switches += usize::from(a != b);
                }
            }
            pairs > 0 && switches * 5 >= pairs * 2
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn secrets_are_recognised_whatever_their_shape() {
        let conn = format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
        );
        let cases = [
            (
                format!(r#"{{"connectionString":"{conn}","container":"c"}}"#),
                "a JSON object, such as the provider options",
            ),
            (
                conn.clone(),
                "an Azure Storage connection string with an account key",
            ),
            (
                format!(r#"["lib/**","{conn}"]"#),
                "an Azure Storage connection string with an account key",
            ),
            (
                "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sp=rl&sig=abc"
                    .to_string(),
                "an Azure Storage SAS connection string",
            ),
            (
                "sv=2022-11-02&ss=b&srt=co&sp=rl&sig=Z%2FRHIX5Xcg0Mq2rqI3OlWTjEg2tYkboXr1P9ZUXDtkk%3D"
                    .to_string(),
                "a SAS token",
            ),
            (
                "BlobEndpoint=https://a.blob.core.windows.net;AccountName=a".to_string(),
                "a connection string",
            ),
            (
                r#"{"connectionString": "UseDevelopmentStorage=true""#.to_string(),
                "a JSON object, such as the provider options",
            ),
            (ACCOUNT_KEY.to_string(), "a long key-like token"),
            (
                "3b7d0c5e9f1a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c".to_string(),
                "a long key-like token",
            ),
            (
                "q8Zs3kVt0Lr5Nw2Px7Jm4Hc9Gb6Fd1Sa3Eo0Iu8=".to_string(),
                "a long key-like token",
            ),
        ];
        for (value, kind) in cases {
            assert_eq!(secret_kind(&value), Some(kind), "{value}");
            assert!(!shown(&value).contains("Eby8vdM02"), "{value}");
        }
    }

    /// Outside text: queries and keys redacted, control
    /// characters gone, cut short (the remote had a rule of its own).
    #[test]
    fn outside_text_is_redacted_stripped_and_cut() {
        let msg = "error sending request for url (http://127.0.0.1:1/devstoreaccount1/c/k?sv=2022&sig=SECRET): AccountKey=SECRET2;x";
        let out = redact_text(msg);
        assert!(!out.contains("SECRET"), "{out}");
        assert!(
            out.contains("http://127.0.0.1:1/devstoreaccount1/c/k?<redacted>"),
            "{out}"
        );
        assert_eq!(redact_text("bad\u{1b}[31mred\nline"), "bad[31mredline");
        assert_eq!(redact_text("x sig\u{7}=SECRET"), "x sig=<redacted>");
        let long = "x".repeat(1000);
        assert_eq!(redact_text(&long), format!("{}...", "x".repeat(TEXT_CHARS)));
    }

    /// A long value is cut in messages (a 200 MB value was echoed whole).
    #[test]
    fn long_values_are_cut() {
        let value = "ab-".repeat(1_000_000);
        let text = shown(&value);
        assert_eq!(
            text,
            format!("{:?}... (3000000 bytes in all)", &value[..SHOWN_CHARS])
        );
        let exact = "x".repeat(SHOWN_CHARS);
        assert_eq!(shown(&exact), format!("{exact:?}"));
    }

    #[test]
    fn ordinary_values_are_shown() {
        for value in [
            "azure-blob",
            "READ_WRITE",
            "FAST",
            "verbose",
            "maybe",
            "",
            "lib/**",
            r#"["lib/**","!**/*.map",".vite/manifest.json"]"#,
            "node_modules/.cache/backfill-native",
            "/home/runner/work/MyRepo2024/MyRepo2024/node_modules/.cache/x",
            "/Users/JaneDoe/Projects2024/SomeVeryLongMonorepoName/packages/app",
            "packages/MyComponentLibrary2024Edition/lib/**",
            "{lib,dist}/**",
            "my-container-3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "UseDevelopmentStorage=true",
            "https://acct.blob.core.windows.net",
            "workload-identity",
            "design=x",
        ] {
            assert_eq!(secret_kind(value), None, "{value}");
            assert_eq!(shown(value), format!("{value:?}"));
        }
    }
}
