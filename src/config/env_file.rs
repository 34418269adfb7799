//! Finding and reading the nearest `.env` file, as the backfill CLI does.
//!
//! The syntax is that of the npm `dotenv` package the JS tools use, not the
//! shell-like one of Rust's dotenv crates: the user doc's
//! `BACKFILL_CACHE_PROVIDER_OPTIONS={"connectionString":"..."}` is an
//! unquoted value whose inner quotes must be kept, which shell-like parsers
//! strip. The file is parsed into a map; the process environment is never
//! modified, because lage runs many packages in one process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use crate::error::{CacheError, Result};

/// The largest `.env` file read. A `.env` holds a few variables (a
/// connection string is under 1 KB); a larger file is a mistake, and reading
/// it whole would cost seconds and gigabytes before any error.
pub const MAX_ENV_FILE: u64 = 1 << 20;

/// The variables of one `.env` file. Its `Debug` output shows the names,
/// never the values, which may be secrets.
#[derive(Default, Clone)]
pub struct EnvFile {
    /// Where the file was found, if one was.
    pub path: Option<PathBuf>,
    /// Its variables.
    pub vars: HashMap<String, String>,
}

impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("names", &names)
            .finish()
    }
}

impl EnvFile {
    /// Reads the nearest `.env` walking up from `cwd` to `root` (the
    /// workspace root), both included, and never above `root`, so that a
    /// `.env` in a home folder does not configure every repository below it.
    /// No file is not an error.
    pub fn nearest(cwd: &Path, root: &Path) -> Result<Self> {
        let Some(path) = cwd
            .ancestors()
            .take_while(|d| d.starts_with(root))
            .map(|d| d.join(".env"))
            .find(|p| p.is_file())
        else {
            return Ok(EnvFile::default());
        };
        let unreadable = |e: std::io::Error| CacheError::Config {
            variable: ".env file".to_string(),
            origin: format!("(at {})", path.display()),
            expected: "a readable file".to_string(),
            received: format!("a file that cannot be read ({e})"),
            fix: "make it readable or remove it".to_string(),
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(
                std::fs::File::open(&path).map_err(unreadable)?,
                MAX_ENV_FILE + 1,
            ),
            &mut bytes,
        )
        .map_err(unreadable)?;
        if bytes.len() as u64 > MAX_ENV_FILE {
            return Err(CacheError::Config {
                variable: ".env file".to_string(),
                origin: format!("(at {})", path.display()),
                expected: format!("a file of at most {} KiB", MAX_ENV_FILE >> 10),
                received: "a larger file (it was not read)".to_string(),
                fix:
                    "keep only the variables in it; a value that large belongs in a file of its own"
                        .to_string(),
            });
        }
        let text = decode(&bytes);
        Ok(EnvFile {
            path: Some(path),
            vars: parse(&text),
        })
    }
}

/// The text of a `.env` file: UTF-8, with or without a byte-order mark
/// (Notepad and PowerShell's `-Encoding UTF8` write one), or UTF-16 with its
/// mark (PowerShell 5's `>` and `Out-File`). npm `dotenv` reads the first
/// line after a UTF-8 mark because JavaScript's `\s` matches it; Rust's does
/// not, so the mark is taken off here.
fn decode(bytes: &[u8]) -> String {
    let utf16 = |rest: &[u8], read: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| read([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Parses `.env` text with the rules of npm `dotenv` 16: `KEY=value`,
/// optional `export `, `#` comments, values in '', "" or `` (which may span
/// lines; "" expands \n and \r), unquoted values trimmed and cut at `#`.
/// Lines that are not assignments are ignored, as dotenv does.
pub fn parse(text: &str) -> HashMap<String, String> {
    static LINE: OnceLock<Regex> = OnceLock::new();
    let line = LINE.get_or_init(|| {
        Regex::new(
            r#"(?m)^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?$"#,
        )
        .expect("the .env line pattern is valid")
    });
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut vars = HashMap::new();
    for caps in line.captures_iter(&text) {
        let key = caps[1].to_string();
        let raw = caps.get(2).map_or("", |m| m.as_str()).trim();
        let quote = raw.chars().next().filter(|c| matches!(c, '\'' | '"' | '`'));
        let value = match quote {
            Some(q) if raw.len() >= 2 && raw.ends_with(q) => {
                let inner = &raw[1..raw.len() - 1];
                if q == '"' {
                    inner.replace("\\n", "\n").replace("\\r", "\r")
                } else {
                    inner.to_string()
                }
            }
            _ => raw.to_string(),
        };
        vars.insert(key, value);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::{decode, parse, EnvFile, MAX_ENV_FILE};

    const TEXT: &str = "BACKFILL_CACHE_PROVIDER=azure-blob\r\nBACKFILL_MODE=READ_ONLY\r\n";

    /// A `.env` saved by Notepad or PowerShell keeps its first line (it was
    /// dropped: the provider fell back to local with no warning).
    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_line() {
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], TEXT.as_bytes()].concat();
        let utf16 = |le: bool| {
            let mut out = if le {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for unit in TEXT.encode_utf16() {
                out.extend(if le {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                });
            }
            out
        };
        for bytes in [
            TEXT.as_bytes().to_vec(),
            utf8_bom,
            utf16(true),
            utf16(false),
        ] {
            let vars = parse(&decode(&bytes));
            assert_eq!(
                vars.get("BACKFILL_CACHE_PROVIDER").map(String::as_str),
                Some("azure-blob")
            );
            assert_eq!(
                vars.get("BACKFILL_MODE").map(String::as_str),
                Some("READ_ONLY")
            );
            assert_eq!(vars.len(), 2);
        }
    }

    /// A huge `.env` is refused before it is read, with the limit and a fix
    /// (a 200 MB value took 14 s and 1.2 GB, and was echoed whole).
    #[test]
    fn a_huge_env_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let value = "x".repeat(MAX_ENV_FILE as usize);
        std::fs::write(dir.path().join(".env"), format!("BACKFILL_MODE={value}\n")).unwrap();
        let err = EnvFile::nearest(dir.path(), dir.path()).unwrap_err();
        assert_eq!(err.code(), "BACKFILL_NATIVE_CONFIG");
        let text = err.to_string();
        assert!(
            text.contains("expected a file of at most 1024 KiB"),
            "{text}"
        );
        assert!(!text.contains("xxxx"), "{text}");
        std::fs::write(dir.path().join(".env"), "BACKFILL_MODE=READ_ONLY\n").unwrap();
        let file = EnvFile::nearest(dir.path(), dir.path()).unwrap();
        assert_eq!(file.vars["BACKFILL_MODE"], "READ_ONLY");
    }

    #[test]
    fn follows_npm_dotenv() {
        let text = r#"
# comment
BACKFILL_CACHE_PROVIDER="azure-blob"
BACKFILL_CACHE_PROVIDER_OPTIONS={"connectionString":"A=1;B=x/y+z==","container":"CONTAINER NAME"}
export EXPORTED=yes
SINGLE='{"a": "b"}'
DOUBLE="line1\nline2"
SPACED =  padded value   # trailing comment
EMPTY=
GLOB=["lib/**", "dist/**"]
MULTI="first
second"
not a variable line
"#;
        let v = parse(text);
        assert_eq!(v["BACKFILL_CACHE_PROVIDER"], "azure-blob");
        assert_eq!(
            v["BACKFILL_CACHE_PROVIDER_OPTIONS"],
            r#"{"connectionString":"A=1;B=x/y+z==","container":"CONTAINER NAME"}"#
        );
        assert_eq!(v["EXPORTED"], "yes");
        assert_eq!(v["SINGLE"], r#"{"a": "b"}"#);
        assert_eq!(v["DOUBLE"], "line1\nline2");
        assert_eq!(v["SPACED"], "padded value");
        assert_eq!(v["EMPTY"], "");
        assert_eq!(v["GLOB"], r#"["lib/**", "dist/**"]"#);
        assert_eq!(v["MULTI"], "first\nsecond");
        assert_eq!(v.len(), 9);
    }
}
