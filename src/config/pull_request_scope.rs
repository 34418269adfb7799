//! The pull request scope: a remote cache of a pull request's own, kept
//! apart from the main scope that trusted builds write and everyone reads.
//!
//! A pull request build reads the main scope, then its own scope, and
//! writes only its own. The scope is where `BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS`
//! points: its fields laid over the main options (`BACKFILL_CACHE_PROVIDER_OPTIONS`),
//! so it names only what differs, typically its container or bucket and its
//! credential. Its entries are named `pr-<number>-<hash>`, so one pull
//! request's builds never read another's. The number comes from the CI's
//! variables (`upload_trust::detect`), or from `BACKFILL_NATIVE_PULL_REQUEST`,
//! which lets a developer read a pull request's scope.

use serde_json::Value;

use super::layers::{Layers, Origin, Raw};
use super::provider_options::{parse_options_object, Fields, VAR as MAIN_VAR};
use super::redact::shown;
use super::values::invalid;
use super::{
    AzureBlobOptions, Build, Provider, S3Options, TurborepoOptions, AZURE_BLOB_FIELDS, S3_FIELDS,
    TURBOREPO_FIELDS,
};
use crate::error::{CacheError, Result};
use crate::notice::Notice;

/// The pull request scope's options, laid over the main options.
pub const OPTIONS_VAR: &str = "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS";

/// A pull request whose scope a build outside its CI run reads.
pub const NUMBER_VAR: &str = "BACKFILL_NATIVE_PULL_REQUEST";

/// The pull request scope a build uses.
#[derive(Debug, Clone)]
pub struct PullRequestScope {
    /// The pull request's number.
    pub number: u64,
    /// Where the number was read (`GITHUB_REF=refs/pull/12/merge`).
    pub from: String,
    /// Whether this build may upload to the scope: only the CI's own build
    /// of a pull request does (a developer who asks for a scope reads it).
    pub writes: bool,
    /// The scope's remote options (the one of the provider).
    pub remote: ScopeRemote,
}

/// The options of the scope's remote, for the configured provider.
#[derive(Debug, Clone)]
pub enum ScopeRemote {
    AzureBlob(AzureBlobOptions),
    S3(S3Options),
    Turborepo(TurborepoOptions),
}

impl ScopeRemote {
    /// Where the scope's blobs are: `container 'c' at <endpoint>`,
    /// `bucket 'b' prefix 'p'`, `server <apiUrl>` (no secret).
    pub fn place(&self) -> String {
        match self {
            ScopeRemote::AzureBlob(o) => {
                format!("container '{}' at {}", o.container, o.connection.endpoint)
            }
            ScopeRemote::S3(o) if o.prefix.is_empty() => format!("bucket '{}'", o.bucket),
            ScopeRemote::S3(o) => format!("bucket '{}' prefix '{}'", o.bucket, o.prefix),
            ScopeRemote::Turborepo(o) => format!("server {}", o.api_url),
        }
    }

    /// Where the scope is, when that is where the main scope is too (the
    /// same container, bucket and prefix, or server and team): then the
    /// storage cannot keep a pull request's credential out of main's
    /// entries.
    pub fn same_place(
        &self,
        azure: Option<&AzureBlobOptions>,
        s3: Option<&S3Options>,
        turborepo: Option<&TurborepoOptions>,
    ) -> Option<String> {
        let same = match (self, azure, s3, turborepo) {
            (ScopeRemote::AzureBlob(pr), Some(main), _, _) => {
                pr.connection.location == main.connection.location && pr.container == main.container
            }
            (ScopeRemote::S3(pr), _, Some(main), _) => {
                pr.endpoint == main.endpoint && pr.bucket == main.bucket && pr.prefix == main.prefix
            }
            (ScopeRemote::Turborepo(pr), _, _, Some(main)) => {
                pr.api_url == main.api_url
                    && pr.team_id == main.team_id
                    && pr.team_slug == main.team_slug
            }
            _ => false,
        };
        same.then(|| self.place())
    }
}

impl PullRequestScope {
    /// The prefix of the scope's entry names: `pr-<number>-`.
    pub fn name_prefix(&self) -> String {
        format!("pr-{}-", self.number)
    }
}

/// The raw inputs of the scope: its options and a number asked for.
pub(super) struct ScopeInputs {
    options: Option<(Value, Origin)>,
    asked: Option<(u64, String)>,
}

impl ScopeInputs {
    /// Reads both variables (the options also from code), checking each
    /// whatever the provider, so a broken value is never ignored.
    pub(super) fn read(layers: &Layers, code: Option<Value>) -> Result<ScopeInputs> {
        let options = layers.resolve(OPTIONS_VAR, code.map(Raw::Json), |raw, origin| {
            Ok((
                parse_options_object(raw, origin, OPTIONS_VAR)?,
                origin.clone(),
            ))
        })?;
        let asked = layers.resolve(NUMBER_VAR, None, |raw, origin| {
            let text = raw.into_text();
            let t = text.trim();
            match t.strip_prefix('#').unwrap_or(t).parse::<u64>() {
                Ok(n) if n > 0 => Ok(Some((n, format!("{NUMBER_VAR}={n}")))),
                _ if t.is_empty() => Ok(None),
                _ => Err(invalid(
                    NUMBER_VAR,
                    origin,
                    "a pull request's number, such as 12",
                    shown(&text),
                    "give the number alone, or unset it to read the main scope only",
                )),
            }
        })?;
        Ok(ScopeInputs {
            options,
            asked: asked.flatten(),
        })
    }

    /// Whether the build must be looked at (its CI variables) to decide.
    pub(super) fn needs_build(&self) -> bool {
        self.options.is_some()
    }
}

/// The scope this build uses, if any; `main` is the main options object
/// (`None` when only variables configure the remote, as turbo's may).
/// A pull request build that cannot say its number is a warning, and the
/// main scope alone is used.
pub(super) fn resolve(
    inputs: ScopeInputs,
    provider: Provider,
    main: Option<&Value>,
    build: Option<&Build>,
    parse: impl FnOnce(Value, &Origin) -> Result<Option<ScopeRemote>>,
    warnings: &mut Vec<Notice>,
) -> Result<Option<PullRequestScope>> {
    let Some((options, origin)) = inputs.options else {
        if let Some((n, _)) = inputs.asked {
            return Err(CacheError::Config {
                variable: NUMBER_VAR.into(),
                origin: "(set)".into(),
                expected: "a pull request scope to read, configured by BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS".into(),
                received: format!("pull request {n}, with no pull request scope configured"),
                fix: "set BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS as the pull request builds have it, or unset BACKFILL_NATIVE_PULL_REQUEST".into(),
            });
        }
        return Ok(None);
    };
    if !provider.is_remote() {
        return Ok(None);
    }
    let in_pull_request = build.and_then(|b| b.pull_request.as_ref());
    let number = inputs
        .asked
        .or_else(|| build.and_then(|b| b.pull_request_number.clone()));
    let Some((number, from)) = number else {
        if let (Some(why), Some(build)) = (in_pull_request, build) {
            warnings.push(Notice::PullRequestNumberUnknown {
                source: build.source.clone(),
                why: why.clone(),
            });
        }
        // A trusted build (or a developer's) reads the main scope only.
        return Ok(None);
    };
    // Unknown fields are said against the scope's own variable.
    let known = match provider {
        Provider::S3 => S3_FIELDS,
        Provider::Turborepo => TURBOREPO_FIELDS,
        _ => AZURE_BLOB_FIELDS,
    };
    let fields = Fields::new(&options, &origin, provider.as_str(), known)?;
    let mut own = Vec::new();
    fields.warn_unknown(&mut own);
    for w in &mut own {
        if let Notice::ConfigUnknownField { variable, .. } = w {
            *variable = OPTIONS_VAR;
        }
    }
    warnings.extend(own);
    let mut merged = main.cloned().unwrap_or(Value::Object(Default::default()));
    if let (Some(into), Some(from)) = (merged.as_object_mut(), options.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
    let remote = parse(merged, &origin).map_err(|e| match e {
        CacheError::Config {
            variable,
            origin,
            expected,
            received,
            fix,
        } if variable == MAIN_VAR => CacheError::Config {
            variable: format!("{OPTIONS_VAR} (laid over {MAIN_VAR})"),
            origin,
            expected,
            received,
            fix,
        },
        other => other,
    })?;
    // A provider without a remote has no scope (checked above too).
    let Some(remote) = remote else {
        return Ok(None);
    };
    Ok(Some(PullRequestScope {
        number,
        from,
        writes: in_pull_request.is_some(),
        remote,
    }))
}
