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
        let bytes = std::fs::read(&path).map_err(|e| CacheError::Config {
            variable: ".env file".to_string(),
            origin: format!("(at {})", path.display()),
            expected: "a readable file".to_string(),
            received: format!("a file that cannot be read ({e})"),
            fix: "make it readable or remove it".to_string(),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(EnvFile {
            path: Some(path),
            vars: parse(&text),
        })
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
    use super::parse;

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
