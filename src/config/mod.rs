//! The configuration one engine runs with, and [`Config::load`], which
//! resolves it. What decides what:
//!
//! - `layers.rs`: where each value comes from and which wins (environment >
//!   `.env` > options passed in code > defaults);
//! - `values.rs`: the value types (provider, mode, log level, booleans, the
//!   cache folder, output globs) and how each is parsed;
//! - `provider_options.rs`: the `azure-blob` fields of the provider options,
//!   and the field rules every remote's options follow;
//! - `turborepo_options.rs`: the `turborepo` fields and turbo's variables;
//! - `s3_options.rs`: the `s3` fields and the AWS variables (region,
//!   endpoint) standing in for them;
//! - `azure_connection.rs`: what the connection string says (where the blobs
//!   are, how to sign in), as plain data for the remote;
//! - `redact.rs`: what may be printed;
//! - `env_file.rs` and `workspace_root.rs`: which `.env` is read, and where
//!   the workspace root (and the shared store) is.

mod azure_connection;
mod env_file;
mod eviction;
mod layers;
mod provider_options;
mod pull_request_scope;
mod redact;
mod s3_options;
mod turborepo_options;
mod upload_trust;
mod values;
mod workspace_root;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use azure_connection::{
    parse_connection, AzureAuth, AzureConnection, AzureIdentity, AzureLocation, CREDENTIAL_NAMES,
};
pub use env_file::EnvFile;
pub use eviction::{describe_size, Eviction, DEFAULT_LOCK_WAIT};
pub use provider_options::{AzureBlobOptions, AZURE_BLOB_FIELDS};
pub use pull_request_scope::{PullRequestScope, ScopeRemote};
pub use redact::{redact_text, secret_kind, Secret, SECRET_FIX};
pub use s3_options::{S3Options, DEFAULT_REGION as S3_DEFAULT_REGION, S3_FIELDS};
pub use turborepo_options::{TurborepoOptions, DEFAULT_API_URL, TURBOREPO_FIELDS};
pub use upload_trust::{detect as detect_build, Build, UploadTrust};
pub use values::{LogLevel, Mode, Provider};
pub use workspace_root::workspace_root;

use layers::{Layers, Raw};
use provider_options::{azure_blob_options, parse_provider_options};
use redact::shown;
use values::{
    parse_bool, parse_cache_folder, parse_optional_bool, parse_output_glob, parse_switch,
};

use crate::error::{CacheError, Result};
use crate::notice::Notice;

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
    /// `BACKFILL_NATIVE_CACHE_MAX_SIZE`: bytes, a size with a unit, or off.
    pub cache_max_size: Option<Value>,
    /// `BACKFILL_NATIVE_CACHE_MAX_AGE`: days, a duration, or off.
    pub cache_max_age: Option<Value>,
    /// `BACKFILL_NATIVE_EVICT_INTERVAL`: seconds or a duration.
    pub evict_interval: Option<Value>,
    /// `BACKFILL_NATIVE_EVICT_KEEP_RECENT`: seconds or a duration.
    pub evict_keep_recent: Option<Value>,
    /// `BACKFILL_NATIVE_LOCK_WAIT`: seconds or a duration.
    pub lock_wait: Option<Value>,
    /// `BACKFILL_NATIVE_UPLOAD_BRANCHES`: branch names or globs.
    pub upload_branches: Option<Vec<String>>,
    /// `BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS`, already a JSON value:
    /// the pull request scope's fields, laid over the provider options.
    pub pull_request_provider_options: Option<Value>,
    /// `BACKFILL_INCREMENTAL_CACHING`: a put stores only the files changed
    /// since the fetch that missed.
    pub incremental_caching: Option<bool>,
    /// lage's `--skip-local-cache`: the local store is neither read nor
    /// written (code only).
    pub skip_local_cache: Option<bool>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |v: &Option<String>| v.as_deref().map(shown);
        let globs = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|l| l.iter().map(|g| shown(g)).collect::<Vec<_>>())
        };
        let json = |v: &Option<Value>| v.as_ref().map(|v| shown(&v.to_string()));
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
            .field("cache_max_size", &json(&self.cache_max_size))
            .field("cache_max_age", &json(&self.cache_max_age))
            .field("evict_interval", &json(&self.evict_interval))
            .field("evict_keep_recent", &json(&self.evict_keep_recent))
            .field("lock_wait", &json(&self.lock_wait))
            .field("upload_branches", &globs(&self.upload_branches))
            .field(
                "pull_request_provider_options",
                &self
                    .pull_request_provider_options
                    .as_ref()
                    .map(|_| "<redacted>"),
            )
            .field("incremental_caching", &self.incremental_caching)
            .field("skip_local_cache", &self.skip_local_cache)
            .finish()
    }
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
    /// Remote options when the provider is `turborepo`.
    pub turborepo: Option<TurborepoOptions>,
    /// Remote options when the provider is `s3`.
    pub s3: Option<S3Options>,
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
    /// The local store's eviction settings.
    pub eviction: Eviction,
    /// Which builds may upload, and whether this one may.
    pub upload_trust: UploadTrust,
    /// The pull request scope this build reads (after the main scope) and,
    /// in the pull request's own CI build, writes instead of the main one.
    pub pull_request_scope: Option<PullRequestScope>,
    /// `BACKFILL_INCREMENTAL_CACHING`: a put stores only the files that
    /// changed since the fetch of the same hash missed.
    pub incremental_caching: bool,
    /// The local store is neither read nor written (lage's
    /// `--skip-local-cache`); a remote is still used.
    pub skip_local_cache: bool,
    /// The `.env` file that was read, if any.
    pub env_file: Option<PathBuf>,
    /// Problems that are not errors (an unknown provider, say), to be logged.
    pub warnings: Vec<Notice>,
}

/// Output globs used when neither code nor environment gives any (backfill's).
pub const DEFAULT_OUTPUT_GLOB: &str = "lib/**";

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
        let text = |option: &Option<String>| option.clone().map(Raw::Text);
        let mut warnings = Vec::new();

        let provider = layers
            .resolve(
                "BACKFILL_CACHE_PROVIDER",
                text(&options.provider),
                |raw, origin| Ok(Provider::parse(raw, origin, &mut warnings)),
            )?
            .unwrap_or(Provider::Local);
        // Parsed whatever the provider, so a broken value is never ignored.
        let provider_options = layers.resolve(
            "BACKFILL_CACHE_PROVIDER_OPTIONS",
            options.provider_options.clone().map(Raw::Json),
            |raw, origin| Ok((parse_provider_options(raw, origin)?, origin.clone())),
        )?;
        let remote_options = |given: Option<(Value, layers::Origin)>,
                              warnings: &mut Vec<Notice>|
         -> Result<Option<ScopeRemote>> {
            Ok(Some(match provider {
                Provider::AzureBlob => {
                    let mut azure = azure_blob_options(given, warnings)?;
                    let name =
                        layers.resolve("AZURE_IDENTITY_CREDENTIAL_NAME", None, |raw, origin| {
                            Ok((raw.into_text(), origin.clone()))
                        })?;
                    if let Some((name, origin)) = name {
                        identity_from_env(&mut azure, &name, &origin)?;
                    }
                    ScopeRemote::AzureBlob(azure)
                }
                Provider::Turborepo => ScopeRemote::Turborepo(
                    turborepo_options::turborepo_options(given, &layers, warnings)?,
                ),
                Provider::S3 => ScopeRemote::S3(s3_options::s3_options(given, env, warnings)?),
                Provider::Local | Provider::LocalSkip => return Ok(None),
            }))
        };
        let main_json = provider_options.as_ref().map(|(v, _)| v.clone());
        let (mut azure, mut turborepo, mut s3) = (None, None, None);
        match remote_options(provider_options, &mut warnings)? {
            Some(ScopeRemote::AzureBlob(o)) => azure = Some(o),
            Some(ScopeRemote::Turborepo(o)) => turborepo = Some(o),
            Some(ScopeRemote::S3(o)) => s3 = Some(o),
            None => {}
        }
        let scope_inputs = pull_request_scope::ScopeInputs::read(
            &layers,
            options.pull_request_provider_options.clone(),
        )?;

        let legacy_write = layers.resolve(
            "LAGE_WRITE_REMOTE_CACHE",
            options.write_remote_cache.map(Raw::Bool),
            |raw, origin| parse_bool("LAGE_WRITE_REMOTE_CACHE", raw, origin),
        )?;
        // lage 2's variable, when set, decides over the legacy one.
        let lage2_write = layers.resolve("LAGE_WRITE_CACHE", None, |raw, origin| {
            parse_optional_bool("LAGE_WRITE_CACHE", raw, origin)
        })?;
        let write_remote_cache = lage2_write.flatten().or(legacy_write).unwrap_or(false);

        let cache_dir = layers
            .resolve(
                "BACKFILL_INTERNAL_CACHE_FOLDER",
                text(&options.cache_folder),
                parse_cache_folder,
            )?
            .map_or_else(
                || folder_under(&workspace_root, "node_modules/.cache/backfill-native"),
                |folder| folder_under(&cwd, &folder),
            );
        let output_glob = layers
            .resolve(
                "BACKFILL_OUTPUT_GLOB",
                options.output_glob.clone().map(Raw::List),
                parse_output_glob,
            )?
            .unwrap_or_else(|| vec![DEFAULT_OUTPUT_GLOB.to_string()]);
        let mode = layers
            .resolve("BACKFILL_MODE", text(&options.mode), Mode::parse)?
            .unwrap_or(Mode::ReadWrite);
        let log_level = layers
            .resolve(
                "BACKFILL_LOG_LEVEL",
                text(&options.log_level),
                LogLevel::parse,
            )?
            .unwrap_or(LogLevel::Info);

        let eviction = eviction::resolve(&layers, options)?;
        let writes = write_remote_cache && provider.is_remote();
        // The CI's variables (else git) are read only when they decide
        // something: whether this build may upload, which pull request it is.
        let build = (writes || scope_inputs.needs_build()).then(|| detect_build(env, &cwd));
        let upload_trust = upload_trust::resolve(
            &layers,
            options.upload_branches.clone(),
            build.as_ref().filter(|_| writes),
        )?;
        let pull_request_scope = pull_request_scope::resolve(
            scope_inputs,
            provider,
            main_json.as_ref(),
            build.as_ref(),
            |json, origin| {
                // The main options' warnings were given already.
                let mut again = Vec::new();
                remote_options(Some((json, origin.clone())), &mut again)
            },
            &mut warnings,
        )?;
        if let Some(scope) = &pull_request_scope {
            if let Some(place) =
                scope
                    .remote
                    .same_place(azure.as_ref(), s3.as_ref(), turborepo.as_ref())
            {
                warnings.push(Notice::PullRequestScopeIsMain { place });
            }
        }

        let incremental_caching = layers
            .resolve(
                "BACKFILL_INCREMENTAL_CACHING",
                options.incremental_caching.map(Raw::Bool),
                |raw, origin| {
                    parse_switch(
                        "BACKFILL_INCREMENTAL_CACHING",
                        raw,
                        origin,
                        "set it to true to store only the files changed since the fetch, or false (or unset it)",
                    )
                },
            )?
            .unwrap_or(false);

        Ok(Config {
            incremental_caching,
            skip_local_cache: options.skip_local_cache.unwrap_or(false),
            eviction,
            upload_trust,
            pull_request_scope,
            cwd,
            workspace_root,
            provider,
            azure,
            turborepo,
            s3,
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

/// `AZURE_IDENTITY_CREDENTIAL_NAME`, read as backfill's azure-blob provider
/// reads it: with an account URL and no `credentialName` in the options, it
/// names the Azure identity; a name that is not one is an error. With a
/// key or SAS connection string (or a `credentialName`) it is not used.
fn identity_from_env(
    azure: &mut AzureBlobOptions,
    name: &str,
    origin: &layers::Origin,
) -> Result<()> {
    if azure.credential_name.is_some() || !matches!(azure.connection.auth, AzureAuth::Identity(_)) {
        return Ok(());
    }
    let identity = AzureIdentity::named(Some(name)).map_err(|_| {
        values::invalid(
            "AZURE_IDENTITY_CREDENTIAL_NAME",
            origin,
            &format!("one of {CREDENTIAL_NAMES}"),
            shown(name),
            &redact::fix_for(
                name,
                "set one of those names, or unset it (the default Azure credential chain is used)",
            ),
        )
    })?;
    azure.connection.auth = AzureAuth::Identity(identity);
    azure.credential_name = Some(name.to_string());
    Ok(())
}

/// `folder` (relative to `base`, or absolute) with this system's one kind
/// of separator: on Windows `C:\repo\node_modules\.cache`, never a mix of
/// `\` and `/`.
fn folder_under(base: &Path, folder: &str) -> PathBuf {
    let mut path = base.to_path_buf();
    path.extend(Path::new(folder).components());
    path
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

#[cfg(test)]
mod tests;
