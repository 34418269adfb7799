//! Turning a connection string into where the blobs are and how to sign in.
//!
//! `azure_storage_blobs` parses connection strings but has no "client from
//! connection string", so the location is built here: a custom
//! `BlobEndpoint`, the emulator, or the public cloud from the account name.

use std::sync::Arc;

use azure_core::auth::TokenCredential;
use azure_identity::{
    AzureCliCredential, DefaultAzureCredential, EnvironmentCredential, TokenCredentialOptions,
    VirtualMachineManagedIdentityCredential, WorkloadIdentityCredential,
};
use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};

/// The `credentialName` values accepted with an account URL, as lage names them.
pub const CREDENTIAL_NAMES: &str = "environment, workload-identity, managed-identity, azure-cli";

/// Where the blobs are and the credentials to use; `endpoint` names the
/// place in messages and holds no secret.
pub struct Connection {
    pub location: CloudLocation,
    pub credentials: StorageCredentials,
    pub endpoint: String,
}

/// Parses `text`, a connection string or (as lage accepts) an account URL
/// signed in with the Azure identity `credential_name`; the error says what
/// is wrong without quoting the secret.
pub fn parse_connection(text: &str, credential_name: Option<&str>) -> Result<Connection, String> {
    let trimmed = text.trim();
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return account_url(trimmed, credential_name);
    }
    let cs = ConnectionString::new(trimmed).map_err(|_| {
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
        return Ok(Connection {
            location: CloudLocation::Emulator { address, port },
            credentials: StorageCredentials::emulator(),
            endpoint,
        });
    }

    let credentials = cs.storage_credentials().map_err(|_| {
        "it has neither an AccountKey (with AccountName) nor a SharedAccessSignature".to_string()
    })?;
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
        return Ok(Connection {
            location: CloudLocation::Custom { account, uri },
            credentials,
            endpoint,
        });
    }
    let Some(account) = cs.account_name else {
        return Err("it names no AccountName and no BlobEndpoint".into());
    };
    let protocol = match cs.default_endpoints_protocol {
        Some(azure_storage::EndpointProtocol::Http) => "http",
        _ => "https",
    };
    match cs.endpoint_suffix {
        Some(suffix) if suffix != "core.windows.net" || protocol == "http" => {
            let uri = format!("{protocol}://{account}.blob.{suffix}");
            Ok(Connection {
                endpoint: uri.clone(),
                location: CloudLocation::Custom {
                    account: account.to_string(),
                    uri,
                },
                credentials,
            })
        }
        _ => Ok(Connection {
            endpoint: format!("https://{account}.blob.core.windows.net"),
            location: CloudLocation::Public {
                account: account.to_string(),
            },
            credentials,
        }),
    }
}

/// An account URL (`https://<account>.blob.core.windows.net`) with an Azure
/// identity credential. No token is asked for until the first request.
fn account_url(text: &str, credential_name: Option<&str>) -> Result<Connection, String> {
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
    let options = TokenCredentialOptions::default();
    let unusable =
        |name: &str, needs: &str| format!("the {name} credential cannot be used here: {needs}");
    let credential: Arc<dyn TokenCredential> = match credential_name {
        None => Arc::new(
            DefaultAzureCredential::create(options)
                .map_err(|_| unusable("default Azure", "no Azure identity is available"))?,
        ),
        Some("environment") => Arc::new(EnvironmentCredential::create(options).map_err(|_| {
            unusable(
                "environment",
                "set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE",
            )
        })?),
        Some("workload-identity") => Arc::new(WorkloadIdentityCredential::create(options).map_err(|_| {
            unusable(
                "workload identity",
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE",
            )
        })?),
        Some("managed-identity") => Arc::new(VirtualMachineManagedIdentityCredential::new(options)),
        Some("azure-cli") => Arc::new(AzureCliCredential::new()),
        Some(other) => {
            return Err(format!(
                "its credentialName {other:?} is not one backfill-native supports ({CREDENTIAL_NAMES})"
            ))
        }
    };
    Ok(Connection {
        endpoint: format!(
            "{}://{}{}",
            url.scheme(),
            host,
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        location: CloudLocation::Custom { account, uri },
        credentials: StorageCredentials::token_credential(credential),
    })
}

fn url_of(text: &str) -> Result<url::Url, String> {
    url::Url::parse(text).map_err(|_| "its BlobEndpoint is not a valid URL".to_string())
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
            CloudLocation::Custom { account, uri } => {
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
            matches!(sas.location, CloudLocation::Custom { ref account, .. } if account == "acct")
        );
        let public = parse_connection(&format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"), None).unwrap();
        assert!(
            matches!(public.location, CloudLocation::Public { ref account } if account == "acct")
        );
        let dev = parse_connection("UseDevelopmentStorage=true", None).unwrap();
        assert!(matches!(
            dev.location,
            CloudLocation::Emulator { port: 10000, .. }
        ));
    }

    #[test]
    fn account_urls_with_an_azure_identity() {
        let c = parse_connection("https://acct.blob.core.windows.net/", Some("azure-cli"))
            .ok()
            .unwrap();
        assert_eq!(c.endpoint, "https://acct.blob.core.windows.net");
        assert!(
            matches!(c.location, CloudLocation::Custom { ref account, .. } if account == "acct")
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
