//! The resolved configuration as JavaScript sees it (`loadConfig()`,
//! `cache.config`), secrets redacted.

use napi_derive::napi;

use super::error::js_error;
use super::options::{self, CacheOptions};
use crate::config::Config;

/// Resolves the configuration the engine would use for package directory
/// `cwd` (default: the current directory) from `options`, the nearest `.env`
/// and the environment, in that order of precedence. Secrets are redacted.
///
/// Throws (with `error.code` `BACKFILL_NATIVE_CONFIG`) when a value is invalid.
#[napi]
pub fn load_config(
    env: napi::Env,
    cwd: Option<String>,
    options: Option<CacheOptions>,
) -> napi::Result<ResolvedConfig> {
    let (dir, opts) = options::resolve(cwd, options);
    Config::load(&dir, &opts)
        .map(|c| ResolvedConfig::from(&c))
        .map_err(|e| js_error(&env, &e))
}

/// Remote options as shown by `loadConfig`, the connection string redacted.
#[napi(object)]
pub struct RemoteConfig {
    /// Always `"<redacted>"`: the connection string is never shown.
    pub connection_string: String,
    /// Container holding one blob per hash.
    pub container: String,
    /// Largest blob fetched and largest output uploaded, in bytes.
    pub max_size: Option<f64>,
    /// Azure identity credential used with an account URL.
    pub credential_name: Option<String>,
    /// Whether uploads are signed and downloads checked with a signing key
    /// (the key itself is never shown).
    pub signed: bool,
}

/// The turborepo remote's options as shown by `loadConfig`, the token
/// redacted.
#[napi(object)]
pub struct TurborepoConfig {
    /// The server's API base (`apiUrl` or `TURBO_API`; turbo's default,
    /// Vercel, when neither is set).
    pub api_url: String,
    /// Always `"<redacted>"`: the token is never shown.
    pub token: String,
    /// The team's id (`teamId` or `TURBO_TEAMID`), sent as `teamId`.
    pub team_id: Option<String>,
    /// The team's slug (`teamSlug` or `TURBO_TEAM`), sent as `slug`.
    pub team_slug: Option<String>,
    /// Largest artifact fetched and largest output uploaded, in bytes.
    pub max_size: Option<f64>,
    /// Whether uploads are signed and downloads checked with a signing key
    /// (the key itself is never shown).
    pub signed: bool,
}

/// `s3` remote options as shown by `loadConfig`. No credentials are among
/// them: the remote takes those from the AWS credential chain.
#[napi(object)]
pub struct S3RemoteConfig {
    /// The bucket holding one object per hash.
    pub bucket: String,
    /// The signing region (from the options, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, or `us-east-1`).
    pub region: String,
    /// The endpoint URL (from the options, `AWS_ENDPOINT_URL_S3` or
    /// `AWS_ENDPOINT_URL`); absent for AWS S3 itself.
    pub endpoint: Option<String>,
    /// Objects are named `<prefix>/<hash>`; empty: `<hash>`.
    pub prefix: String,
    /// Whether the bucket is in the URL's path rather than its host name.
    pub force_path_style: bool,
    /// The AWS profile the credentials come from, when one is named.
    pub profile: Option<String>,
    /// Largest object fetched and largest output uploaded, in bytes.
    pub max_size: Option<f64>,
    /// Whether uploads are signed and downloads checked with a signing key
    /// (the key itself is never shown).
    pub signed: bool,
}

/// The resolved configuration, secrets redacted.
#[napi(object)]
pub struct ResolvedConfig {
    /// The package directory.
    pub cwd: String,
    /// The workspace root found for it.
    pub workspace_root: String,
    /// `local`, `local-skip`, `azure-blob`, `s3` or `turborepo`.
    #[napi(ts_type = "'local' | 'local-skip' | 'azure-blob' | 's3' | 'turborepo'")]
    pub provider: String,
    /// Remote options when the provider is `azure-blob`.
    pub remote: Option<RemoteConfig>,
    /// Remote options when the provider is `s3`.
    pub s3: Option<S3RemoteConfig>,
    /// Remote options when the provider is `turborepo`.
    pub turborepo: Option<TurborepoConfig>,
    /// Whether puts upload to the remote cache.
    pub write_remote_cache: bool,
    /// The local cache folder.
    pub cache_folder: String,
    /// Output globs used when `put` gives none.
    pub output_glob: Vec<String>,
    /// `READ_WRITE`, `READ_ONLY`, `WRITE_ONLY` or `PASS`.
    #[napi(ts_type = "'READ_WRITE' | 'READ_ONLY' | 'WRITE_ONLY' | 'PASS'")]
    pub mode: String,
    /// Lowest level sent to the logger.
    #[napi(ts_type = "'silly' | 'verbose' | 'info' | 'warn' | 'error' | 'mute'")]
    pub log_level: String,
    /// The local store's size cap in bytes; absent when off.
    pub cache_max_size: Option<f64>,
    /// The local store's age limit in days; absent when off.
    pub cache_max_age_days: Option<f64>,
    /// Least seconds between two evictions of the store.
    pub evict_interval_seconds: f64,
    /// Seconds a fetched or stored entry is never evicted.
    pub evict_keep_recent_seconds: f64,
    /// Branches whose builds may upload; absent: any that is not a pull request.
    pub upload_branches: Option<Vec<String>>,
    /// Why this build does not upload (a pull request, a branch not
    /// allowed); absent when it may (or remote writes are off).
    pub upload_refused: Option<super::results::Notice>,
    /// The pull request scope this build reads after the main scope, when
    /// it has one.
    pub pull_request_scope: Option<PullRequestScopeConfig>,
    /// Whether a put stores only the files changed since the fetch that missed.
    pub incremental_caching: bool,
    /// Whether the local store is skipped (lage's `--skip-local-cache`).
    pub skip_local_cache: bool,
    /// The `.env` file that was read, if any.
    pub env_file: Option<String>,
    /// Problems that are not errors, such as an unknown provider.
    pub warnings: Vec<super::results::Notice>,
}

/// The pull request scope as shown by `loadConfig`.
#[napi(object)]
pub struct PullRequestScopeConfig {
    /// The pull request's number.
    pub number: f64,
    /// Where the number was read (`GITHUB_REF=refs/pull/12/merge`).
    pub from: String,
    /// Whether this build uploads there: the pull request's own CI build
    /// with remote writes on (it then never uploads to the main scope).
    pub writes: bool,
    /// Where the scope's entries are (`bucket 'cache-pr' prefix 'ci'`);
    /// they are named `pr-<number>-<hash>`.
    pub place: String,
}

impl From<&Config> for ResolvedConfig {
    fn from(c: &Config) -> Self {
        let path = |p: &std::path::Path| p.display().to_string();
        ResolvedConfig {
            cwd: path(&c.cwd),
            workspace_root: path(&c.workspace_root),
            provider: c.provider.as_str().to_string(),
            remote: c.azure.as_ref().map(|a| RemoteConfig {
                connection_string: "<redacted>".to_string(),
                container: a.container.clone(),
                max_size: a.max_size.map(|m| m as f64),
                credential_name: a.credential_name.clone(),
                signed: a.signing_key.is_some(),
            }),
            turborepo: c.turborepo.as_ref().map(|t| TurborepoConfig {
                api_url: t.api_url.clone(),
                token: "<redacted>".to_string(),
                team_id: t.team_id.clone(),
                team_slug: t.team_slug.clone(),
                max_size: t.max_size.map(|m| m as f64),
                signed: t.signing_key.is_some(),
            }),
            s3: c.s3.as_ref().map(|o| S3RemoteConfig {
                bucket: o.bucket.clone(),
                region: o.region.clone(),
                endpoint: o.endpoint.clone(),
                prefix: o.prefix.clone(),
                force_path_style: o.force_path_style,
                profile: o.profile.clone(),
                max_size: o.max_size.map(|m| m as f64),
                signed: o.signing_key.is_some(),
            }),
            write_remote_cache: c.write_remote_cache,
            cache_folder: path(&c.cache_dir),
            output_glob: c.output_glob.clone(),
            mode: c.mode.as_str().to_string(),
            log_level: c.log_level.as_str().to_string(),
            cache_max_size: c.eviction.max_size.map(|m| m as f64),
            cache_max_age_days: c.eviction.max_age.map(|a| a.as_secs_f64() / 86_400.0),
            evict_interval_seconds: c.eviction.interval.as_secs_f64(),
            evict_keep_recent_seconds: c.eviction.keep_recent.as_secs_f64(),
            upload_branches: c.upload_trust.branches.clone(),
            upload_refused: c
                .upload_trust
                .refusal
                .clone()
                .map(|r| crate::notice::Notice::UploadNotTrusted(r).into()),
            pull_request_scope: c
                .pull_request_scope
                .as_ref()
                .map(|p| PullRequestScopeConfig {
                    number: p.number as f64,
                    from: p.from.clone(),
                    writes: p.writes && c.write_remote_cache,
                    place: p.remote.place(),
                }),
            incremental_caching: c.incremental_caching,
            skip_local_cache: c.skip_local_cache,
            env_file: c.env_file.as_deref().map(path),
            warnings: super::results::notices(c.warnings.clone()),
        }
    }
}
