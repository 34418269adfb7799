//! The `turborepo` provider: a cache server speaking turborepo's artifacts
//! API. Its fields in `BACKFILL_CACHE_PROVIDER_OPTIONS`, and where one is
//! not given, the variables turbo users already have: `TURBO_API`,
//! `TURBO_TOKEN`, `TURBO_TEAM` (the team's slug) and `TURBO_TEAMID`.
//!
//! The token is a [`Secret`]: no message shows it, nor any value of the
//! options object.

use serde_json::Value;

use super::layers::{Layers, Origin};
use super::provider_options::{Fields, VAR};
use super::redact::{secret_kind, shown, Secret};
use super::values::invalid;
use crate::error::{CacheError, Result};
use crate::notice::Notice;

/// Options of the `turborepo` provider.
#[derive(Debug, Clone, PartialEq)]
pub struct TurborepoOptions {
    /// The server's API base, without a trailing `/` (requests go to
    /// `<apiUrl>/v8/artifacts/<hash>`); never holds a user name, password
    /// or query.
    pub api_url: String,
    /// The bearer token; never printed.
    pub token: Secret,
    /// The team's id, sent as `teamId`.
    pub team_id: Option<String>,
    /// The team's slug, sent as `slug`.
    pub team_slug: Option<String>,
    /// Artifacts and outputs larger than this many bytes are skipped.
    pub max_size: Option<u64>,
    /// Shared key to sign uploads with and to check downloads against.
    pub signing_key: Option<Secret>,
    /// Multiplies every time bound of the remote (`timeoutScale`, default 1).
    pub timeout_scale: f64,
}

/// Every field the `turborepo` provider reads; any other is warned about
/// (with the closest of these) and ignored.
pub const TURBOREPO_FIELDS: &[&str] = &[
    "apiUrl",
    "token",
    "teamId",
    "teamSlug",
    "maxSize",
    "signingKey",
    "timeoutScale",
];

/// Where the server is when neither `apiUrl` nor `TURBO_API` says: turbo's
/// own default, Vercel Remote Cache.
pub const DEFAULT_API_URL: &str = "https://vercel.com/api";

/// The options of the `turborepo` provider, from the provider options (when
/// given, with their origin) and turbo's variables. Unknown fields add a
/// warning to `warnings`; a near miss of `signingKey` is an error.
pub(super) fn turborepo_options(
    given: Option<(Value, Origin)>,
    layers: &Layers,
    warnings: &mut Vec<Notice>,
) -> Result<TurborepoOptions> {
    let (json, origin) = given.unwrap_or((Value::Object(Default::default()), Origin::Options));
    let fields = Fields::new(&json, &origin, "turborepo", TURBOREPO_FIELDS)?;
    let field = |name: &str| -> Result<Option<String>> {
        Ok(fields.string(name, false)?.map(|v| v.trim().to_string()))
    };
    // Each of these falls back to turbo's variable when the options leave
    // it out; the variable's own origin goes into any error about it.
    let from_var = |var: &str| -> Result<Option<(String, Origin)>> {
        layers
            .resolve(var, None, |raw, origin| {
                Ok((raw.into_text().trim().to_string(), origin.clone()))
            })
            .map(|v| v.filter(|(text, _)| !text.is_empty()))
    };
    let either = |name: &str, var: &str| -> Result<Option<(String, String, Origin)>> {
        Ok(match field(name)? {
            Some(v) => Some((v, VAR.to_string(), origin.clone())),
            None => from_var(var)?.map(|(v, o)| (v, var.to_string(), o)),
        })
    };

    let api_url = match either("apiUrl", "TURBO_API")? {
        Some((url, variable, origin)) => api_url(&url, &variable, &origin)?,
        None => DEFAULT_API_URL.to_string(),
    };
    let token = match either("token", "TURBO_TOKEN")? {
        Some((token, variable, origin)) => {
            // A header cannot carry a control character or a space; the
            // request would fail at each fetch with a less useful message.
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    &variable,
                    &origin,
                    "a token of visible ASCII characters (it is sent as a bearer token)",
                    "a token with spaces, control or non-ASCII characters (not shown: it is a secret)"
                        .into(),
                    "copy the token again, without quotes, spaces or line breaks",
                ));
            }
            Secret::new(token)
        }
        None => {
            return Err(CacheError::Config {
                variable: "TURBO_TOKEN".into(),
                origin: "(not set)".into(),
                expected: "the cache server's token, because BACKFILL_CACHE_PROVIDER is turborepo"
                    .into(),
                received: "nothing (and no \"token\" in BACKFILL_CACHE_PROVIDER_OPTIONS)".into(),
                fix: "set TURBO_TOKEN as turbo reads it (in CI, from the pipeline's secrets), or give \"token\" in BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
            })
        }
    };
    // The team is one setting: given in the options, turbo's variables are
    // not read, so a TURBO_TEAM left over from another setup is not mixed in.
    // (`"teamId": null` too: it says there is no team id.)
    let (team_id, team_slug) = if fields.has("teamId") || fields.has("teamSlug") {
        let given = |name: &str| -> Result<_> {
            Ok(field(name)?.map(|v| (v, VAR.to_string(), origin.clone())))
        };
        (given("teamId")?, given("teamSlug")?)
    } else {
        (
            from_var("TURBO_TEAMID")?.map(|(v, o)| (v, "TURBO_TEAMID".to_string(), o)),
            from_var("TURBO_TEAM")?.map(|(v, o)| (v, "TURBO_TEAM".to_string(), o)),
        )
    };
    let team = |given: Option<(String, String, Origin)>, what: &str| -> Result<Option<String>> {
        match given {
            Some((value, variable, origin)) if secret_kind(&value).is_some() => Err(invalid(
                &variable,
                &origin,
                &format!("the team's {what}"),
                shown(&value),
                "set the team's id or slug there; the token goes in TURBO_TOKEN or \"token\"",
            )),
            other => Ok(other.map(|(v, _, _)| v)),
        }
    };
    let team_id = team(team_id, "id")?;
    let team_slug = team(team_slug, "slug")?;

    let signing_key = fields.signing_key()?;
    let max_size = fields.max_size()?;
    let timeout_scale = fields.timeout_scale()?;
    fields.warn_unknown(warnings);
    Ok(TurborepoOptions {
        api_url,
        token,
        team_id,
        team_slug,
        max_size,
        signing_key,
        timeout_scale,
    })
}

/// The API base: an `http` or `https` URL with a host and neither
/// credentials, query nor fragment (which would be printed where the
/// remote is named, or sent on every request), without a trailing `/`.
fn api_url(text: &str, variable: &str, origin: &Origin) -> Result<String> {
    const EXPECTED: &str =
        "the cache server's base URL, such as https://cache.example.com or https://vercel.com/api";
    let bad = |received: String, fix: &str| invalid(variable, origin, EXPECTED, received, fix);
    let url = url::Url::parse(text).map_err(|e| {
        bad(
            format!("{} ({e})", shown(text)),
            "give the URL with its scheme, such as https://cache.example.com",
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "a URL with a user name or password in it (not shown)".into(),
            "remove the credentials from the URL; the token goes in TURBO_TOKEN or \"token\"",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a URL with a query or fragment (not shown: it may hold a secret)".into(),
            "give the base URL only; the team goes in teamId / teamSlug (TURBO_TEAMID / TURBO_TEAM)",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            shown(text),
            "give an http:// or https:// URL with a host",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
