//! The `s3` provider's fields of `BACKFILL_CACHE_PROVIDER_OPTIONS`, and the
//! AWS variables that stand in for the ones not given: where the bucket is
//! (`region`, `endpoint`), under which prefix, and how it is addressed.
//!
//! Credentials are not read here: the remote signs with the AWS credential
//! chain (the `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` variables, a profile, web identity, instance
//! metadata), so a key never passes through the configuration. The AWS
//! variables are read from the process environment only, as the AWS tools
//! and that chain read them; `.env` holds backfill's variables.

use std::collections::HashMap;

use serde_json::Value;

use super::layers::Origin;
use super::provider_options::{normalize, Fields, VAR};
use super::redact::{secret_kind, shown, Secret};
use super::values::invalid;
use crate::error::{CacheError, Result};
use crate::notice::Notice;

/// Options of the `s3` provider (any S3-compatible storage).
#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    /// The bucket holding one object per hash.
    pub bucket: String,
    /// The signing region: `region`, else `AWS_REGION`, else
    /// `AWS_DEFAULT_REGION`, else [`DEFAULT_REGION`].
    pub region: String,
    /// The endpoint URL (no trailing `/`): `endpoint`, else
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `None` is AWS S3 in
    /// `region`.
    pub endpoint: Option<String>,
    /// Objects are named `<prefix>/<hash>`; empty: `<hash>`. Without
    /// leading or trailing `/`.
    pub prefix: String,
    /// Whether the bucket goes in the path (`endpoint/bucket/key`) rather
    /// than the host name (`bucket.endpoint/key`). Default: path style with
    /// an endpoint (MinIO, Ceph, moto, most S3-compatible servers), the host
    /// name on AWS.
    pub force_path_style: bool,
    /// The AWS profile the credentials (and nothing else) come from; `None`:
    /// `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// Objects and outputs larger than this many bytes are skipped.
    pub max_size: Option<u64>,
    /// Shared key to sign uploads with and to check downloads against.
    pub signing_key: Option<Secret>,
    /// Multiplies every time bound of the remote (`timeoutScale`, default 1).
    pub timeout_scale: f64,
}

/// The region used when neither the options nor the AWS variables name one
/// (AWS's own default; S3-compatible servers mostly ignore it).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Every field the `s3` provider reads; others are warned about (with the
/// closest one) and ignored.
pub const S3_FIELDS: &[&str] = &[
    "bucket",
    "region",
    "endpoint",
    "prefix",
    "forcePathStyle",
    "profile",
    "maxSize",
    "signingKey",
    "timeoutScale",
];

/// Fields that would hold AWS credentials, as people name them (compared
/// without case, `_` and `-`): an error, never read and never shown.
const CREDENTIAL_FIELDS: &[&str] = &[
    "accesskeyid",
    "accesskey",
    "awsaccesskeyid",
    "secretaccesskey",
    "secretkey",
    "awssecretaccesskey",
    "sessiontoken",
    "awssessiontoken",
    "credentials",
];

/// The options of the `s3` provider from the provider options that were
/// given (with their origin; they are required, for the bucket) and the AWS
/// variables of `env`.
pub(super) fn s3_options(
    given: Option<(Value, Origin)>,
    env: &HashMap<String, String>,
    warnings: &mut Vec<Notice>,
) -> Result<S3Options> {
    let Some((json, origin)) = given else {
        return Err(CacheError::Config {
            variable: VAR.into(),
            origin: "(not set)".into(),
            expected: "a JSON object with a bucket, because BACKFILL_CACHE_PROVIDER is s3".into(),
            received: "nothing".into(),
            fix: "set it in the environment or in .env, for example BACKFILL_CACHE_PROVIDER_OPTIONS={\"bucket\":\"my-cache\",\"region\":\"eu-west-1\"}".into(),
        });
    };
    let origin = &origin;
    if let Some(key) = json.as_object().and_then(|o| {
        o.keys()
            .find(|k| CREDENTIAL_FIELDS.contains(&normalize(k).as_str()))
    }) {
        return Err(invalid(
            VAR,
            origin,
            "no credentials: the s3 provider takes them from the AWS credential chain",
            format!("a field {} (its value is not shown)", shown(key)),
            &format!(
                "remove {} and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment, \
                 or use a profile (\"profile\" or AWS_PROFILE), web identity or the instance's role",
                shown(key)
            ),
        ));
    }
    let fields = Fields::new(&json, origin, "s3", S3_FIELDS)?;

    let bucket = fields.string("bucket", true)?.unwrap_or_default();
    if secret_kind(&bucket).is_some()
        || bucket.len() > 255
        || bucket
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            VAR,
            origin,
            "\"bucket\" to be the name of a bucket (no \"/\" or spaces)",
            shown(&bucket),
            "set \"bucket\" to the bucket's name only; a folder in it goes in \"prefix\", the server in \"endpoint\"",
        ));
    }

    let region = match fields.string("region", false)? {
        Some(r) => region(&r, "region", VAR, origin)?,
        None => match aws_var(env, &["AWS_REGION", "AWS_DEFAULT_REGION"]) {
            Some((name, r)) => region(r, "the region", name, &Origin::Env)?,
            None => DEFAULT_REGION.to_string(),
        },
    };

    let endpoint = match fields.string("endpoint", false)? {
        Some(e) => Some(endpoint(&e, "\"endpoint\"", VAR, origin)?),
        None => match aws_var(env, &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
            Some((name, e)) => Some(endpoint(e, "the endpoint", name, &Origin::Env)?),
            None => None,
        },
    };

    let prefix = prefix(fields.string("prefix", false)?.as_deref(), origin)?;
    let force_path_style = fields
        .boolean("forcePathStyle")?
        .unwrap_or(endpoint.is_some());
    let profile = fields.string("profile", false)?;
    if let Some(p) = profile.as_deref().filter(|p| secret_kind(p).is_some()) {
        return Err(invalid(
            VAR,
            origin,
            "\"profile\" to be the name of a profile in the AWS config files",
            shown(p),
            "set \"profile\" to the profile's name; its keys stay in ~/.aws/credentials",
        ));
    }
    let signing_key = fields.signing_key()?;
    let max_size = fields.max_size()?;
    let timeout_scale = fields.timeout_scale()?;
    fields.warn_unknown(warnings);
    Ok(S3Options {
        bucket,
        region,
        endpoint,
        prefix,
        force_path_style,
        profile,
        max_size,
        signing_key,
        timeout_scale,
    })
}

/// The first of `names` set (and not blank) in `env`, with its value.
fn aws_var<'a>(
    env: &'a HashMap<String, String>,
    names: &[&'static str],
) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|name| {
        env.get(*name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| (*name, v))
    })
}

/// A region name, as AWS and S3-compatible stores spell them
/// (`eu-west-1`, `auto`).
fn region(value: &str, what: &str, variable: &str, origin: &Origin) -> Result<String> {
    let value = value.trim();
    if value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Ok(value.to_string());
    }
    Err(invalid(
        variable,
        origin,
        &format!("{what} to be a region name such as eu-west-1"),
        shown(value),
        "give the bucket's region (letters, digits and \"-\"), or leave it out for us-east-1",
    ))
}

/// An endpoint: an `http` or `https` URL with no user, password, query or
/// fragment; returned without its trailing `/`.
fn endpoint(value: &str, what: &str, variable: &str, origin: &Origin) -> Result<String> {
    let value = value.trim();
    let fail = |received: String, fix: &str| {
        Err(invalid(
            variable,
            origin,
            &format!("{what} to be the URL of an S3-compatible server, such as https://s3.eu-west-1.amazonaws.com"),
            received,
            fix,
        ))
    };
    let Ok(url) = url::Url::parse(value) else {
        return fail(
            shown(value),
            "give a URL starting with https:// (or http:// for a server on this machine)",
        );
    };
    if !url.username().is_empty() || url.password().is_some() {
        return fail(
            "a URL with a user name or password in it (not shown)".into(),
            "remove them from the URL: credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or the instance's role",
        );
    }
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return fail(
            shown(value),
            "give the server's URL only, starting with https:// (or http://), with no query; the bucket goes in \"bucket\"",
        );
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// `prefix` without leading or trailing `/`; a prefix with an empty, `.` or
/// `..` segment or a control character is refused (the objects would be
/// named differently by different tools).
fn prefix(value: Option<&str>, origin: &Origin) -> Result<String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let trimmed = value.trim().trim_matches('/');
    if trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
        && !trimmed.is_empty()
        || trimmed.chars().any(char::is_control)
        || secret_kind(trimmed).is_some()
    {
        return Err(invalid(
            VAR,
            origin,
            "\"prefix\" to be a folder in the bucket, such as \"backfill\" or \"team/cache\"",
            shown(value),
            "give folder names separated by single \"/\", with no \".\" or \"..\"",
        ));
    }
    Ok(trimmed.to_string())
}
