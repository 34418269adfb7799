//! Resolved configuration: defaults < options passed in code < the nearest
//! `.env` < the process environment (the order backfill uses).

mod azure_connection;
mod env_file;
mod provider_options;
mod redact;
mod workspace_root;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use azure_connection::{
    parse_connection, AzureAuth, AzureConnection, AzureIdentity, AzureLocation, CREDENTIAL_NAMES,
};
pub use env_file::EnvFile;
pub use provider_options::AZURE_BLOB_FIELDS;
pub use redact::secret_kind;
pub use workspace_root::workspace_root;

use provider_options::{azure_options, parse_provider_options};
use redact::{fix_for, shown};

use crate::error::{CacheError, Result};

/// Options passed in code; every field is optional and loses to `.env` and
/// the environment. Its `Debug` output hides the provider options, which
/// hold the connection string, and any other value that looks like a secret.
#[derive(Clone, Default)]
pub struct Options {
    /// `BACKFILL_CACHE_PROVIDER`.
    pub provider: Option<String>,
    /// `BACKFILL_CACHE_PROVIDER_OPTIONS`, already a JSON value.
    pub provider_options: Option<Value>,
    /// `BACKFILL_INTERNAL_CACHE_FOLDER`.
    pub cache_folder: Option<String>,
    /// `BACKFILL_OUTPUT_GLOB`.
    pub output_glob: Option<Vec<String>>,
    /// `BACKFILL_MODE`.
    pub mode: Option<String>,
    /// `BACKFILL_LOG_LEVEL`.
    pub log_level: Option<String>,
    /// `LAGE_WRITE_REMOTE_CACHE`.
    pub write_remote_cache: Option<bool>,
    /// Upload after `put` returns instead of before.
    pub background_uploads: Option<bool>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |v: &Option<String>| v.as_deref().map(shown);
        let globs = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|l| l.iter().map(|g| shown(g)).collect::<Vec<_>>())
        };
        f.debug_struct("Options")
            .field("provider", &text(&self.provider))
            .field(
                "provider_options",
                &self.provider_options.as_ref().map(|_| "<redacted>"),
            )
            .field("cache_folder", &text(&self.cache_folder))
            .field("output_glob", &globs(&self.output_glob))
            .field("mode", &text(&self.mode))
            .field("log_level", &text(&self.log_level))
            .field("write_remote_cache", &self.write_remote_cache)
            .field("background_uploads", &self.background_uploads)
            .finish()
    }
}

/// Which cache backs the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// The local store only.
    Local,
    /// No cache at all: every fetch misses, puts do nothing.
    LocalSkip,
    /// The local store with an Azure Blob Storage fallback.
    AzureBlob,
}

impl Provider {
    /// The name used in `BACKFILL_CACHE_PROVIDER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::LocalSkip => "local-skip",
            Provider::AzureBlob => "azure-blob",
        }
    }
}

/// `BACKFILL_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetch and put.
    ReadWrite,
    /// Fetch only; never writes.
    ReadOnly,
    /// Put only; every fetch misses without reading.
    WriteOnly,
    /// Neither: the cache is bypassed.
    Pass,
}

impl Mode {
    /// The name used in `BACKFILL_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READ_WRITE",
            Mode::ReadOnly => "READ_ONLY",
            Mode::WriteOnly => "WRITE_ONLY",
            Mode::Pass => "PASS",
        }
    }
    /// Whether fetches may read the cache.
    pub fn reads(self) -> bool {
        matches!(self, Mode::ReadWrite | Mode::ReadOnly)
    }
    /// Whether puts may write the cache.
    pub fn writes(self) -> bool {
        matches!(self, Mode::ReadWrite | Mode::WriteOnly)
    }
}

/// `BACKFILL_LOG_LEVEL`, from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Silly,
    Verbose,
    Info,
    Warn,
    Error,
    Mute,
}

impl LogLevel {
    const ALL: [(&'static str, LogLevel); 6] = [
        ("silly", LogLevel::Silly),
        ("verbose", LogLevel::Verbose),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("mute", LogLevel::Mute),
    ];
    /// The name used in `BACKFILL_LOG_LEVEL` and as the logger method.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("info", |(n, _)| n)
    }
}

/// A value that must never be printed (connection strings, keys).
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Options of the `azure-blob` provider.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureBlobOptions {
    /// Connection string or account URL; never printed.
    pub connection_string: Secret,
    /// What `connection_string` (with `credential_name`) says: where the
    /// blobs are and how to sign in.
    pub connection: AzureConnection,
    /// Container holding one blob per hash.
    pub container: String,
    /// Blobs and outputs larger than this many bytes are skipped.
    pub max_size: Option<u64>,
    /// Azure identity credential to use with an account URL.
    pub credential_name: Option<String>,
    /// Shared key to sign uploads with and to check downloads against.
    pub signing_key: Option<Secret>,
    /// Multiplies every time bound of the remote (`timeoutScale`, default 1).
    pub timeout_scale: f64,
}

/// The configuration one engine runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The package directory outputs are stored from and restored into.
    pub cwd: PathBuf,
    /// The workspace root found for `cwd`.
    pub workspace_root: PathBuf,
    /// Which cache backs the engine.
    pub provider: Provider,
    /// Remote options when the provider is `azure-blob`.
    pub azure: Option<AzureBlobOptions>,
    /// Whether puts may upload to the remote cache.
    pub write_remote_cache: bool,
    /// Whether uploads run after `put` returns.
    pub background_uploads: bool,
    /// Folder of the local store.
    pub cache_dir: PathBuf,
    /// Default output globs for puts that give none.
    pub output_glob: Vec<String>,
    /// `BACKFILL_MODE`.
    pub mode: Mode,
    /// `BACKFILL_LOG_LEVEL`.
    pub log_level: LogLevel,
    /// The `.env` file that was read, if any.
    pub env_file: Option<PathBuf>,
    /// Problems that are not errors (an unknown provider, say), to be logged.
    pub warnings: Vec<String>,
}

/// Output globs used when neither code nor environment gives any (backfill's).
pub const DEFAULT_OUTPUT_GLOB: &str = "lib/**";

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Env,
    EnvFile(PathBuf),
    Options,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env => f.write_str("(from the environment)"),
            Origin::EnvFile(p) => write!(f, "(from {})", p.display()),
            Origin::Options => f.write_str("(from the options passed in code)"),
        }
    }
}

/// A raw value with its origin.
enum Raw {
    Text(String),
    Json(Value),
    List(Vec<String>),
    Bool(bool),
}

struct Layers<'a> {
    env: &'a HashMap<String, String>,
    file: &'a EnvFile,
}

impl Layers<'_> {
    /// The environment, then the `.env` file.
    fn var(&self, name: &str) -> Option<(String, Origin)> {
        if let Some(v) = self.env.get(name) {
            return Some((v.clone(), Origin::Env));
        }
        let path = self.file.path.clone()?;
        self.file
            .vars
            .get(name)
            .map(|v| (v.clone(), Origin::EnvFile(path)))
    }

    /// The environment, then `.env`, then the code option.
    fn layered(&self, name: &str, option: Option<Raw>) -> Option<(Raw, Origin)> {
        self.var(name)
            .map(|(v, o)| (Raw::Text(v), o))
            .or_else(|| option.map(|v| (v, Origin::Options)))
    }
}

fn invalid(
    variable: &str,
    origin: &Origin,
    expected: &str,
    received: String,
    fix: &str,
) -> CacheError {
    CacheError::Config {
        variable: variable.to_string(),
        origin: origin.to_string(),
        expected: expected.to_string(),
        received,
        fix: fix.to_string(),
    }
}

impl Config {
    /// Resolves the configuration of package directory `cwd` from `options`,
    /// the nearest `.env` and the process environment.
    pub fn load(cwd: &Path, options: &Options) -> Result<Config> {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::load_with_env(cwd, options, &env)
    }

    /// As [`Config::load`], with the environment given (for tests).
    pub fn load_with_env(
        cwd: &Path,
        options: &Options,
        env: &HashMap<String, String>,
    ) -> Result<Config> {
        let cwd = absolute_dir(cwd)?;
        let workspace_root = workspace_root(&cwd);
        let file = EnvFile::nearest(&cwd, &workspace_root)?;
        let layers = Layers { env, file: &file };
        let mut warnings = Vec::new();

        let provider = match layers.layered(
            "BACKFILL_CACHE_PROVIDER",
            options.provider.clone().map(Raw::Text),
        ) {
            None => Provider::Local,
            Some((raw, origin)) => {
                let name = raw_text(raw);
                match name.as_str() {
                    "" | "local" => Provider::Local,
                    "local-skip" => Provider::LocalSkip,
                    "azure-blob" => Provider::AzureBlob,
                    other => {
                        let hint = match secret_kind(other) {
                            Some(_) => format!(
                                ". To fix it, set it to one of those; {}",
                                redact::SECRET_FIX
                            ),
                            None => String::new(),
                        };
                        warnings.push(format!(
                            "BACKFILL_CACHE_PROVIDER {origin} is {}, which backfill-native does not support; \
                             using the local cache. Supported: local, local-skip, azure-blob{hint}",
                            shown(other)
                        ));
                        Provider::Local
                    }
                }
            }
        };

        let provider_options = match layers.layered(
            "BACKFILL_CACHE_PROVIDER_OPTIONS",
            options.provider_options.clone().map(Raw::Json),
        ) {
            None => None,
            Some((raw, origin)) => Some((parse_provider_options(raw, &origin)?, origin)),
        };
        let azure = match (provider, provider_options) {
            (Provider::AzureBlob, Some((json, origin))) => {
                Some(azure_options(&json, &origin, &mut warnings)?)
            }
            (Provider::AzureBlob, None) => {
                return Err(CacheError::Config {
                    variable: "BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
                    origin: "(not set)".into(),
                    expected: "a JSON object with connectionString and container, because BACKFILL_CACHE_PROVIDER is azure-blob".into(),
                    received: "nothing".into(),
                    fix: "set it in the environment or in .env, for example BACKFILL_CACHE_PROVIDER_OPTIONS={\"connectionString\":\"...\",\"container\":\"...\"}".into(),
                })
            }
            _ => None,
        };

        let write_remote_cache = {
            let legacy = match layers.layered(
                "LAGE_WRITE_REMOTE_CACHE",
                options.write_remote_cache.map(Raw::Bool),
            ) {
                None => false,
                Some((Raw::Bool(b), _)) => b,
                Some((raw, origin)) => {
                    parse_bool("LAGE_WRITE_REMOTE_CACHE", &raw_text(raw), &origin)?
                }
            };
            let lage2 = match layers.var("LAGE_WRITE_CACHE") {
                None => None,
                Some((v, _)) if v.trim().is_empty() => None,
                Some((v, origin)) => Some(parse_bool("LAGE_WRITE_CACHE", &v, &origin)?),
            };
            match lage2 {
                Some(false) => false,
                Some(true) => true,
                None => legacy,
            }
        };

        let cache_dir = match layers.layered(
            "BACKFILL_INTERNAL_CACHE_FOLDER",
            options.cache_folder.clone().map(Raw::Text),
        ) {
            None => None,
            Some((raw, origin)) => {
                let folder = raw_text(raw);
                if folder.trim().is_empty() {
                    return Err(invalid(
                        "BACKFILL_INTERNAL_CACHE_FOLDER",
                        &origin,
                        "a folder path, relative to the package directory or absolute",
                        "an empty value".into(),
                        "unset it to use the default folder, or give a path",
                    ));
                }
                if secret_kind(&folder).is_some() {
                    return Err(invalid(
                        "BACKFILL_INTERNAL_CACHE_FOLDER",
                        &origin,
                        "a folder path, relative to the package directory or absolute",
                        shown(&folder),
                        &fix_for(
                            &folder,
                            "unset it to use the default folder, or give a path",
                        ),
                    ));
                }
                Some(cwd.join(folder))
            }
        };
        let cache_dir =
            cache_dir.unwrap_or_else(|| workspace_root.join("node_modules/.cache/backfill-native"));

        let output_glob = match layers.layered(
            "BACKFILL_OUTPUT_GLOB",
            options.output_glob.clone().map(Raw::List),
        ) {
            None => vec![DEFAULT_OUTPUT_GLOB.to_string()],
            Some((Raw::List(list), origin)) => checked_globs(list, &origin)?,
            Some((raw, origin)) => {
                checked_globs(parse_glob_list(&raw_text(raw), &origin)?, &origin)?
            }
        };

        let mode = match layers.layered("BACKFILL_MODE", options.mode.clone().map(Raw::Text)) {
            None => Mode::ReadWrite,
            Some((raw, origin)) => {
                let text = raw_text(raw);
                [Mode::ReadWrite, Mode::ReadOnly, Mode::WriteOnly, Mode::Pass]
                    .into_iter()
                    .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
                    .ok_or_else(|| {
                        invalid(
                            "BACKFILL_MODE",
                            &origin,
                            "one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS",
                            shown(&text),
                            &fix_for(
                                &text,
                                "set one of those values or unset it (READ_WRITE is the default)",
                            ),
                        )
                    })?
            }
        };

        let log_level = match layers.layered(
            "BACKFILL_LOG_LEVEL",
            options.log_level.clone().map(Raw::Text),
        ) {
            None => LogLevel::Info,
            Some((raw, origin)) => {
                let text = raw_text(raw);
                LogLevel::ALL
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(text.trim()))
                    .map(|(_, l)| *l)
                    .ok_or_else(|| {
                        invalid(
                            "BACKFILL_LOG_LEVEL",
                            &origin,
                            "one of silly, verbose, info, warn, error, mute",
                            shown(&text),
                            &fix_for(
                                &text,
                                "set one of those values or unset it (info is the default)",
                            ),
                        )
                    })?
            }
        };

        Ok(Config {
            cwd,
            workspace_root,
            provider,
            azure,
            write_remote_cache,
            background_uploads: options.background_uploads.unwrap_or(false),
            cache_dir,
            output_glob,
            mode,
            log_level,
            env_file: file.path.clone(),
            warnings,
        })
    }
}

fn absolute_dir(cwd: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(cwd).map_err(|e| CacheError::Cwd {
        path: cwd.to_path_buf(),
        reason: format!("cannot be resolved ({e})"),
    })?;
    match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => Ok(abs),
        Ok(_) => Err(CacheError::Cwd {
            path: abs,
            reason: "is not a directory".into(),
        }),
        Err(e) => Err(CacheError::Cwd {
            path: abs,
            reason: format!("cannot be read ({e})"),
        }),
    }
}

fn raw_text(raw: Raw) -> String {
    match raw {
        Raw::Text(s) => s,
        Raw::Json(v) => v.to_string(),
        Raw::List(l) => serde_json::to_string(&l).unwrap_or_default(),
        Raw::Bool(b) => b.to_string(),
    }
}

/// `true`, `1`, `yes` are on; `false`, `0`, `no` and empty are off.
fn parse_bool(variable: &str, value: &str, origin: &Origin) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(invalid(
            variable,
            origin,
            "true, 1, yes, false, 0, no or an empty value",
            shown(value),
            &fix_for(
                value,
                "set it to true to turn remote writes on, or false (or unset it) to leave them off",
            ),
        )),
    }
}

const GLOB_VAR: &str = "BACKFILL_OUTPUT_GLOB";
const GLOB_EXPECTED: &str = "a JSON array of glob strings such as [\"lib/**\",\"dist/**\"]";

fn parse_glob_list(text: &str, origin: &Origin) -> Result<Vec<String>> {
    let trimmed = text.trim();
    let parsed = if trimmed.starts_with('[') && trimmed.ends_with(']') {
        serde_json::from_str::<Vec<String>>(trimmed).ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        invalid(
            GLOB_VAR,
            origin,
            GLOB_EXPECTED,
            shown(text),
            &fix_for(
                text,
                "write the globs as a JSON array of strings, starting with [ and ending with ]",
            ),
        )
    })
}

/// The globs, unless one looks like a secret (they are shown by `loadConfig`).
fn checked_globs(globs: Vec<String>, origin: &Origin) -> Result<Vec<String>> {
    match globs.iter().find(|g| secret_kind(g).is_some()) {
        None => Ok(globs),
        Some(g) => Err(invalid(
            GLOB_VAR,
            origin,
            GLOB_EXPECTED,
            format!("an array holding {}", shown(g)),
            &fix_for(g, "give only output globs"),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests;
