//! Finding and reading the nearest `.env` file, as the backfill CLI does.
//!
//! The file is parsed into a map; the process environment is never modified,
//! because lage runs many packages in one process and worker threads share it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{CacheError, Result};

/// The variables of one `.env` file.
#[derive(Debug, Default, Clone)]
pub struct EnvFile {
    /// Where the file was found, if one was.
    pub path: Option<PathBuf>,
    /// Its variables.
    pub vars: HashMap<String, String>,
}

impl EnvFile {
    /// Reads the nearest `.env` walking up from `cwd`; no file is not an error.
    pub fn nearest(cwd: &Path) -> Result<Self> {
        let Some(path) = cwd
            .ancestors()
            .map(|d| d.join(".env"))
            .find(|p| p.is_file())
        else {
            return Ok(EnvFile::default());
        };
        let iter = dotenvy::from_path_iter(&path).map_err(|e| parse_error(&path, e))?;
        let mut vars = HashMap::new();
        for item in iter {
            let (key, value) = item.map_err(|e| parse_error(&path, e))?;
            vars.insert(key, value);
        }
        Ok(EnvFile {
            path: Some(path),
            vars,
        })
    }
}

fn parse_error(path: &Path, err: dotenvy::Error) -> CacheError {
    // dotenvy's parse errors quote the offending line, which may hold a
    // connection string: only say where it is.
    let received = match err {
        dotenvy::Error::LineParse(_, index) => {
            format!("a line it cannot parse (at character {index})")
        }
        dotenvy::Error::Io(e) => format!("a file it cannot read ({e})"),
        _ => "a file it cannot parse".to_string(),
    };
    CacheError::Config {
        variable: ".env file".to_string(),
        origin: format!("(at {})", path.display()),
        expected: "lines of KEY=value".to_string(),
        received,
        fix: "correct or remove that line of the file".to_string(),
    }
}
