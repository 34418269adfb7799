//! `connectionString` (with `credentialName`): where the blobs are and how
//! to sign in, parsed once, at configuration time, into plain data.
//!
//! Nothing here uses the Azure SDK or builds a credential: the remote maps
//! an [`AzureConnection`] to SDK types (`src/remote/connection.rs`). The
//! location is decided here: a custom `BlobEndpoint`, the emulator, or the
//! public cloud from the account name. Secrets are kept in [`Secret`].

use super::Secret;

/// The `credentialName` values accepted with an account URL, as lage names them.
pub const CREDENTIAL_NAMES: &str = "environment, workload-identity, managed-identity, azure-cli";

/// Where the blobs are and how to sign in; `endpoint` names the place in
/// messages and holds no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureConnection {
    /// Where the blob service is.
    pub location: AzureLocation,
    /// How requests are authorised.
    pub auth: AzureAuth,
    /// Scheme, host and port of the blob service, for messages.
    pub endpoint: String,
}

/// Where the blob service of an account is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureLocation {
    /// The public cloud: `https://<account>.blob.core.windows.net`.
    Public {
        /// The storage account.
        account: String,
    },
    /// The local emulator (Azurite), account `devstoreaccount1`.
    Emulator {
        /// Host of the emulator.
        address: String,
        /// Port of its blob service.
        port: u16,
    },
    /// Any other blob endpoint.
    Custom {
        /// The storage account.
        account: String,
        /// The endpoint, without a trailing slash.
        uri: String,
    },
}

/// How requests are authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureAuth {
    /// Shared key: `AccountName` with `AccountKey`.
    Key {
        /// The storage account.
        account: String,
        /// The account key.
        key: Secret,
    },
    /// A shared access signature (`SharedAccessSignature`).
    Sas(Secret),
    /// The emulator's well-known account and key.
    Emulator,
    /// An Azure identity, for an account URL.
    Identity(AzureIdentity),
}

/// The Azure identity credential named by `credentialName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureIdentity {
    /// No `credentialName`: the default Azure credential chain.
    Default,
    /// `environment`: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` with
    /// `AZURE_CLIENT_SECRET` or `AZURE_FEDERATED_TOKEN_FILE`.
    Environment,
    /// `workload-identity`.
    WorkloadIdentity,
    /// `managed-identity`.
    ManagedIdentity,
    /// `azure-cli`.
    AzureCli,
}

impl AzureIdentity {
    /// The identity `credentialName` names; `None` names the default chain.
    pub(super) fn named(name: Option<&str>) -> Result<Self, String> {
        Ok(match name {
            None => AzureIdentity::Default,
            Some("environment") => AzureIdentity::Environment,
            Some("workload-identity") => AzureIdentity::WorkloadIdentity,
            Some("managed-identity") => AzureIdentity::ManagedIdentity,
            Some("azure-cli") => AzureIdentity::AzureCli,
            Some(other) => {
                return Err(format!(
                    "its credentialName {other:?} is not one backfill-native supports ({CREDENTIAL_NAMES})"
                ))
            }
        })
    }
}

/// Parses `text`, a connection string or (as lage accepts) an account URL
/// signed in with the Azure identity `credential_name`; the error says what
/// is wrong without quoting the secret.
pub fn parse_connection(
    text: &str,
    credential_name: Option<&str>,
) -> Result<AzureConnection, String> {
    let trimmed = text.trim();
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return account_url(trimmed, credential_name);
    }
    let cs = ConnectionString::parse(trimmed).ok_or_else(|| {
        "it could not be parsed: expected Key=Value pairs separated by ';'".to_string()
    })?;

    if cs.use_development_storage == Some(true) {
        let (address, port) = match cs.development_storage_proxy_uri {
            Some(uri) => {
                let url = url_of(uri)?;
                (
                    url.host_str().unwrap_or("127.0.0.1").to_string(),
                    url.port().unwrap_or(10000),
                )
            }
            None => ("127.0.0.1".to_string(), 10000),
        };
        let endpoint = format!("http://{address}:{port}/devstoreaccount1");
        return Ok(AzureConnection {
            location: AzureLocation::Emulator { address, port },
            auth: AzureAuth::Emulator,
            endpoint,
        });
    }

    // A SAS wins over an account key, as in the SDK.
    let auth = match (cs.sas, cs.account_name, cs.account_key) {
        (Some(sas), _, _) => AzureAuth::Sas(Secret::new(sas)),
        (None, Some(account), Some(key)) => AzureAuth::Key {
            account: account.to_string(),
            key: Secret::new(key),
        },
        _ => {
            return Err(
                "it has neither an AccountKey (with AccountName) nor a SharedAccessSignature"
                    .into(),
            )
        }
    };
    if let Some(endpoint) = cs.blob_endpoint {
        // A trailing slash would make every request path start with "//",
        // which the service answers with 400.
        let uri = endpoint.trim_end_matches('/').to_string();
        let url = url_of(&uri)?;
        let account = cs
            .account_name
            .map(str::to_string)
            .or_else(|| {
                url.path_segments()
                    .and_then(|mut s| s.next())
                    .map(str::to_string)
            })
            .filter(|a| !a.is_empty())
            .or_else(|| {
                url.host_str()
                    .and_then(|h| h.split('.').next())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let endpoint = format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        );
        return Ok(AzureConnection {
            location: AzureLocation::Custom { account, uri },
            auth,
            endpoint,
        });
    }
    let Some(account) = cs.account_name else {
        return Err("it names no AccountName and no BlobEndpoint".into());
    };
    let protocol = if cs.http { "http" } else { "https" };
    match cs.endpoint_suffix {
        Some(suffix) if suffix != "core.windows.net" || protocol == "http" => {
            let uri = format!("{protocol}://{account}.blob.{suffix}");
            Ok(AzureConnection {
                endpoint: uri.clone(),
                location: AzureLocation::Custom {
                    account: account.to_string(),
                    uri,
                },
                auth,
            })
        }
        _ => Ok(AzureConnection {
            endpoint: format!("https://{account}.blob.core.windows.net"),
            location: AzureLocation::Public {
                account: account.to_string(),
            },
            auth,
        }),
    }
}

/// An account URL (`https://<account>.blob.core.windows.net`) with an Azure
/// identity credential, which the remote builds; no token is asked for
/// until the first request.
fn account_url(text: &str, credential_name: Option<&str>) -> Result<AzureConnection, String> {
    let uri = text.trim_end_matches('/').to_string();
    let url = url::Url::parse(&uri).map_err(|_| "it is not a valid account URL".to_string())?;
    if url.query().is_some() {
        return Err("it is an account URL with a query (a SAS?): give SAS tokens as a SAS connection string".into());
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let account = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| host.split('.').next().unwrap_or_default().to_string());
    let identity = AzureIdentity::named(credential_name)?;
    Ok(AzureConnection {
        endpoint: format!(
            "{}://{}{}",
            url.scheme(),
            host,
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        location: AzureLocation::Custom { account, uri },
        auth: AzureAuth::Identity(identity),
    })
}

fn url_of(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text).map_err(|_| "its BlobEndpoint is not a valid URL".to_string())
}

/// The fields of a connection string this engine reads, with the rules of
/// the Azure SDK's parser (`azure_storage::ConnectionString`): names are
/// case-sensitive, an unknown name, a pair without `=` or with an empty
/// name or value is an error, and a repeated name keeps the last value.
#[derive(Default)]
struct ConnectionString<'a> {
    account_name: Option<&'a str>,
    account_key: Option<&'a str>,
    sas: Option<&'a str>,
    endpoint_suffix: Option<&'a str>,
    /// `DefaultEndpointsProtocol=http`.
    http: bool,
    use_development_storage: Option<bool>,
    development_storage_proxy_uri: Option<&'a str>,
    blob_endpoint: Option<&'a str>,
}

/// Names the SDK accepts that do not concern blobs; they are ignored.
const OTHER_SERVICE_NAMES: &[&str] = &[
    "BlobSecondaryEndpoint",
    "TableEndpoint",
    "TableSecondaryEndpoint",
    "QueueEndpoint",
    "QueueSecondaryEndpoint",
    "FileEndpoint",
    "FileSecondaryEndpoint",
];

impl<'a> ConnectionString<'a> {
    /// `None` when `text` is not a connection string (never says why: the
    /// reason would quote it).
    fn parse(text: &'a str) -> Option<Self> {
        let mut cs = ConnectionString::default();
        for pair in text.split(';').filter(|s| !s.trim().is_empty()) {
            let (name, value) = pair.trim().split_once('=')?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || value.is_empty() {
                return None;
            }
            match name {
                "AccountName" => cs.account_name = Some(value),
                "AccountKey" => cs.account_key = Some(value),
                "SharedAccessSignature" => cs.sas = Some(value),
                "EndpointSuffix" => cs.endpoint_suffix = Some(value),
                "DefaultEndpointsProtocol" => {
                    cs.http = match value {
                        "http" => true,
                        "https" => false,
                        _ => return None,
                    }
                }
                "UseDevelopmentStorage" => {
                    cs.use_development_storage = Some(match value {
                        "true" => true,
                        "false" => false,
                        _ => return None,
                    })
                }
                "DevelopmentStorageProxyUri" => cs.development_storage_proxy_uri = Some(value),
                "BlobEndpoint" => cs.blob_endpoint = Some(value),
                other if OTHER_SERVICE_NAMES.contains(&other) => {}
                _ => return None,
            }
        }
        Some(cs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn the_connection_string_forms() {
        let c = parse_connection(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10123/devstoreaccount1/;"
        ), None)
        .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:10123");
        match c.location {
            AzureLocation::Custom { account, uri } => {
                assert_eq!(account, "devstoreaccount1");
                assert_eq!(
                    uri, "http://127.0.0.1:10123/devstoreaccount1",
                    "trailing slash trimmed"
                );
            }
            _ => panic!("expected a custom location"),
        }
        let sas = parse_connection(
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=abc",
            None,
        )
        .unwrap();
        assert!(
            matches!(sas.location, AzureLocation::Custom { ref account, .. } if account == "acct")
        );
        let public = parse_connection(&format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"), None).unwrap();
        assert!(
            matches!(public.location, AzureLocation::Public { ref account } if account == "acct")
        );
        assert!(
            matches!(c.auth, AzureAuth::Key { ref account, ref key } if account == "devstoreaccount1" && key.expose() == KEY)
        );
        assert!(matches!(sas.auth, AzureAuth::Sas(ref s) if s.expose() == "sv=2022&sig=abc"));
        let dev = parse_connection("UseDevelopmentStorage=true", None).unwrap();
        assert_eq!(dev.auth, AzureAuth::Emulator);
        assert!(matches!(
            dev.location,
            AzureLocation::Emulator { port: 10000, .. }
        ));
    }

    #[test]
    fn account_urls_with_an_azure_identity() {
        let c = parse_connection("https://acct.blob.core.windows.net/", Some("azure-cli"))
            .ok()
            .unwrap();
        assert_eq!(c.endpoint, "https://acct.blob.core.windows.net");
        assert_eq!(c.auth, AzureAuth::Identity(AzureIdentity::AzureCli));
        assert!(
            matches!(c.location, AzureLocation::Custom { ref account, .. } if account == "acct")
        );
        assert!(parse_connection(
            "http://127.0.0.1:10000/devstoreaccount1",
            Some("managed-identity")
        )
        .is_ok());
        let err = parse_connection(
            "https://acct.blob.core.windows.net",
            Some("visual-studio-code"),
        )
        .err()
        .unwrap();
        assert!(
            err.contains("not one backfill-native supports (environment, workload-identity"),
            "{err}"
        );
    }

    #[test]
    fn what_the_sdk_parser_refuses_is_refused() {
        for text in [
            "AccountName=",
            "AccountName    =",
            "MissingEquals",
            "=",
            "x=123;",
            "AccountName=a;AccountKey=k;DefaultEndpointsProtocol=ftp",
            "UseDevelopmentStorage=yes",
            "accountname=a;accountkey=k",
        ] {
            let err = parse_connection(text, None).err().unwrap();
            assert!(err.contains("could not be parsed"), "{text}: {err}");
        }
        let c = parse_connection(
            &format!("AccountName=acct;AccountKey={KEY};QueueEndpoint=https://q;AccountName=other"),
            None,
        )
        .unwrap();
        assert_eq!(
            c.location,
            AzureLocation::Public {
                account: "other".into()
            },
            "other services ignored, the last value wins"
        );
    }

    #[test]
    fn errors_never_quote_the_secret() {
        for (text, why) in [
            ("AccountName=acct", "neither an AccountKey"),
            ("not a connection string", "could not be parsed"),
            (
                "https://acct.blob.core.windows.net?sv=1&sig=zzz",
                "account URL with a query",
            ),
            (
                &format!("AccountKey={KEY};SharedAccessSignature=sig=zzz;BlobEndpoint=::bad"),
                "not a valid URL",
            ),
        ] {
            let err = parse_connection(text, None).err().unwrap();
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains(KEY) && !err.contains("zzz"), "{err}");
        }
    }
}
