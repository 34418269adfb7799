//! `BACKFILL_CACHE_PROVIDER_OPTIONS`: the JSON object and the fields the
//! `azure-blob` provider reads from it.
//!
//! No value of a field is ever echoed (the object holds the connection
//! string); field names are, through the redaction rule.

use serde_json::Value;

use super::azure_connection::{parse_connection, AzureConnection};
use super::layers::{Origin, Raw};
use super::redact::{secret_kind, shown, Secret};
use super::values::{invalid, json_kind};
use crate::error::{CacheError, Result};
use crate::notice::Notice;

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

/// Every field the `azure-blob` provider reads. A field not listed here is
/// warned about (with the closest listed one) and ignored: a new option is
/// one more line here, plus the code that reads it in `azure_options`.
pub const AZURE_BLOB_FIELDS: &[&str] = &[
    "connectionString",
    "container",
    "maxSize",
    "credentialName",
    "signingKey",
    "timeoutScale",
];

/// Fields a misspelling of which is an error, not a warning: ignoring a
/// misspelt `signingKey` would silently turn off the protection the user
/// asked for.
const SECURITY_FIELDS: &[&str] = &["signingKey"];

pub(super) const VAR: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS";

/// Parses the variable's text (or takes the code option's value) and checks
/// that it is a JSON object; errors never show the text.
pub(super) fn parse_provider_options(raw: Raw, origin: &Origin) -> Result<Value> {
    parse_options_object(raw, origin, VAR)
}

/// As [`parse_provider_options`], for the options object of `variable`.
pub(super) fn parse_options_object(raw: Raw, origin: &Origin, variable: &str) -> Result<Value> {
    const EXPECTED: &str =
        "a JSON object such as {\"connectionString\":\"...\",\"container\":\"...\"}";
    let value = match raw {
        Raw::Json(v) => v,
        other => {
            let text = other.into_text();
            serde_json::from_str::<Value>(&text).map_err(|e| {
                // Only the position is shown: the value may hold a secret.
                invalid(
                    variable,
                    origin,
                    EXPECTED,
                    format!(
                        "text that could not be parsed as JSON (error at line {} column {}; the value is not shown because it may hold a secret)",
                        e.line(),
                        e.column()
                    ),
                    "check the quoting: in a shell or .env file, wrap the whole JSON in single quotes",
                )
            })?
        }
    };
    if !value.is_object() {
        return Err(invalid(
            variable,
            origin,
            EXPECTED,
            format!("a JSON {}", json_kind(&value)),
            "give a JSON object",
        ));
    }
    Ok(value)
}

/// The options of the `azure-blob` provider, from the provider options that
/// were given (with their origin); they are required.
pub(super) fn azure_blob_options(
    given: Option<(Value, Origin)>,
    warnings: &mut Vec<Notice>,
) -> Result<AzureBlobOptions> {
    match given {
        Some((json, origin)) => azure_options(&json, &origin, warnings),
        None => Err(CacheError::Config {
            variable: VAR.into(),
            origin: "(not set)".into(),
            expected: "a JSON object with connectionString and container, because BACKFILL_CACHE_PROVIDER is azure-blob".into(),
            received: "nothing".into(),
            fix: "set it in the environment or in .env, for example BACKFILL_CACHE_PROVIDER_OPTIONS={\"connectionString\":\"...\",\"container\":\"...\"}".into(),
        }),
    }
}

/// The options of the `azure-blob` provider. Unknown fields add a warning to
/// `warnings`; a near miss of a security field is an error.
fn azure_options(
    json: &Value,
    origin: &Origin,
    warnings: &mut Vec<Notice>,
) -> Result<AzureBlobOptions> {
    let fields = Fields::new(json, origin, "azure-blob", AZURE_BLOB_FIELDS)?;
    let connection_string = fields.string("connectionString", true)?.unwrap_or_default();
    let credential_name = fields.string("credentialName", false)?;
    if let Some(name) = credential_name
        .as_deref()
        .filter(|n| secret_kind(n).is_some())
    {
        return Err(invalid(
            VAR,
            origin,
            "\"credentialName\" to be environment, workload-identity, managed-identity or azure-cli",
            shown(name),
            "set \"credentialName\" to one of those names; the connection string or account URL goes in \"connectionString\"",
        ));
    }
    let connection = parse_connection(
        &connection_string,
        credential_name.as_deref(),
    )
    .map_err(|why| {
        invalid(
            VAR,
            origin,
            "\"connectionString\" to be an Azure Storage connection string with an AccountKey or a SharedAccessSignature, \
             or an account URL with a \"credentialName\"",
            format!("a connection string where {why} (the value is not shown because it holds a secret)"),
            "copy the connection string again from the storage account's \"Access keys\" or \"Shared access signature\" page",
        )
    })?;
    let signing_key = fields.signing_key()?;
    let container = fields.string("container", true)?.unwrap_or_default();
    if secret_kind(&container).is_some() {
        return Err(invalid(
            VAR,
            origin,
            "\"container\" to be the name of a blob container",
            shown(&container),
            "set \"container\" to the container's name; the connection string goes in \"connectionString\"",
        ));
    }
    let max_size = fields.max_size()?;
    let timeout_scale = fields.timeout_scale()?;
    fields.warn_unknown(warnings);
    Ok(AzureBlobOptions {
        connection_string: Secret::new(connection_string),
        connection,
        container,
        max_size,
        credential_name,
        signing_key,
        timeout_scale,
    })
}

/// The fields of one provider's options object: what every remote reads the
/// same way (strings, `maxSize`, `signingKey`, `timeoutScale`, booleans) and
/// the unknown fields, warned about with the closest known one. A remote's
/// options are read through it, so they all say the same things.
pub(super) struct Fields<'a> {
    json: &'a Value,
    origin: &'a Origin,
    /// The provider's name, as messages say it ("azure-blob").
    provider: &'static str,
    /// Every field the provider reads.
    known: &'static [&'static str],
    /// The fields given that are not in `known`.
    unknown: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    /// The fields of `json` for `provider`, which reads `known`; a near miss
    /// of a security field (`signingKey`) is an error, since ignoring it would
    /// silently turn off the protection the user asked for.
    pub(super) fn new(
        json: &'a Value,
        origin: &'a Origin,
        provider: &'static str,
        known: &'static [&'static str],
    ) -> Result<Fields<'a>> {
        let unknown: Vec<&str> = json
            .as_object()
            .map(|o| {
                o.keys()
                    .map(String::as_str)
                    .filter(|k| !known.contains(k))
                    .collect()
            })
            .unwrap_or_default();
        for key in &unknown {
            // With the field itself given, a near miss is a stray duplicate
            // (warned about later): the protection is on.
            if let Some(field) = SECURITY_FIELDS
                .iter()
                .filter(|f| json.get(**f).is_none())
                .find(|f| distance(&normalize(key), &normalize(f)) <= 2)
            {
                return Err(invalid(
                    VAR,
                    origin,
                    &format!("the field \"{field}\" (spelled exactly so)"),
                    format!(
                        "a field {}, which is not read, so uploads would not be signed and downloads not checked",
                        shown(key)
                    ),
                    &format!("rename {} to \"{field}\"", shown(key)),
                ));
            }
        }
        Ok(Fields {
            json,
            origin,
            provider,
            known,
            unknown,
        })
    }

    /// Whether `field` is given (with any value, null included).
    pub(super) fn has(&self, field: &str) -> bool {
        self.json.get(field).is_some()
    }

    /// A string field. A field that may be left out is `None` when absent or
    /// null, except a security field: `"signingKey": null` would turn
    /// signing off as silently as a misspelling would.
    pub(super) fn string(&self, field: &str, required: bool) -> Result<Option<String>> {
        let security = SECURITY_FIELDS.contains(&field);
        match self.json.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            None if !required => Ok(None),
            Some(Value::Null) if !required && !security => Ok(None),
            other => {
                let near = self
                    .unknown
                    .iter()
                    .find(|k| closest(k, self.known) == Some(field))
                    .filter(|_| other.is_none());
                let received = match (other, near) {
                    (None, Some(k)) => format!(
                        "no such field, but a field {} (did you mean \"{field}\"?)",
                        shown(k)
                    ),
                    (None, None) => "no such field".to_string(),
                    (Some(Value::String(_)), _) => "an empty string".to_string(),
                    (Some(v), _) => format!("a JSON {}", json_kind(v)),
                };
                let fix = match (other, near) {
                    (None, Some(k)) => format!("rename {} to \"{field}\"", shown(k)),
                    (None, None) => format!("add \"{field}\" to the JSON object"),
                    (Some(_), _) if security => format!(
                        "give \"{field}\" the key as a string, or remove the field to turn signing off"
                    ),
                    (Some(_), _) if required => format!("give \"{field}\" as a non-empty string"),
                    (Some(_), _) => format!(
                        "give \"{field}\" as a non-empty string, or remove the field"
                    ),
                };
                Err(invalid(
                    VAR,
                    self.origin,
                    &format!(
                        "\"{field}\" to be a non-empty string for the {} provider",
                        self.provider
                    ),
                    received,
                    &fix,
                ))
            }
        }
    }

    /// A boolean field; absent or null is `None`.
    pub(super) fn boolean(&self, field: &str) -> Result<Option<bool>> {
        number_field(
            self.json,
            self.origin,
            field,
            Value::as_bool,
            &format!("\"{field}\" to be true or false"),
            &format!("give {field} as true or false (no quotes), or leave it out"),
        )
    }

    /// `signingKey`: the key uploads are signed with and downloads checked
    /// against.
    pub(super) fn signing_key(&self) -> Result<Option<Secret>> {
        Ok(self.string("signingKey", false)?.map(Secret::new))
    }

    /// `maxSize`: a whole number of bytes.
    pub(super) fn max_size(&self) -> Result<Option<u64>> {
        number_field(
            self.json,
            self.origin,
            "maxSize",
            whole_bytes,
            "\"maxSize\" to be a whole number of bytes",
            "give maxSize as a number of bytes, or leave it out",
        )
    }

    /// `timeoutScale`: multiplies every time bound (1 by default).
    pub(super) fn timeout_scale(&self) -> Result<f64> {
        Ok(number_field(
            self.json,
            self.origin,
            "timeoutScale",
            |v| {
                v.as_f64()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1000.0)
            },
            "\"timeoutScale\" to be a number above 0 and at most 1000",
            "give timeoutScale as a number such as 2 (twice the default time bounds), or leave it out",
        )?
        .unwrap_or(1.0))
    }

    /// Adds a warning for each unknown field, naming the closest known one.
    pub(super) fn warn_unknown(self, warnings: &mut Vec<Notice>) {
        for key in self.unknown {
            warnings.push(Notice::ConfigUnknownField {
                variable: VAR,
                origin: self.origin.to_string(),
                field: shown(key),
                closest: closest(key, self.known),
                known: self.known,
            });
        }
    }
}

/// A whole, non-negative number of bytes. A number from JavaScript above
/// 2^32 arrives as a float (`5368709120.0` for 5 GiB): a whole one up to
/// 2^53, where floats still count every byte, is taken.
fn whole_bytes(v: &Value) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= EXACT)
            .map(|f| f as u64)
    })
}

/// A number (or other typed) field: absent or null is `None`; `read` gives the value it
/// accepts, anything else is an error naming what was expected.
fn number_field<T>(
    json: &Value,
    origin: &Origin,
    field: &str,
    read: impl Fn(&Value) -> Option<T>,
    expected: &str,
    fix: &str,
) -> Result<Option<T>> {
    match json.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v).map(Some).ok_or_else(|| {
            invalid(
                VAR,
                origin,
                expected,
                match v {
                    Value::Number(n) => format!("{n}"),
                    other => format!("a JSON {}", json_kind(other)),
                },
                fix,
            )
        }),
    }
}

/// The known field `key` is most likely a misspelling of, if any: the
/// nearest by edit distance (ignoring case, `_` and `-`) within 3 edits, or
/// one that contains it or that it contains.
fn closest(key: &str, known: &'static [&'static str]) -> Option<&'static str> {
    let k = normalize(key);
    known
        .iter()
        .map(|f| (distance(&k, &normalize(f)), *f))
        .filter(|(d, f)| {
            let n = normalize(f);
            *d <= 3 || (k.len() >= 4 && (n.contains(&k) || k.contains(&n)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// `name` in lower case without `_`, `-` and spaces.
pub(super) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
