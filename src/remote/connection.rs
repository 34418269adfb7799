//! Turning a connection string into where the blobs are and how to sign in.
//!
//! `azure_storage_blobs` parses connection strings but has no "client from
//! connection string", so the location is built here: a custom
//! `BlobEndpoint`, the emulator, or the public cloud from the account name.

use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};

/// Where the blobs are and the credentials to use; `endpoint` names the
/// place in messages and holds no secret.
pub struct Connection {
    pub location: CloudLocation,
    pub credentials: StorageCredentials,
    pub endpoint: String,
}

/// Parses `text`; the error says what is wrong without quoting it.
pub fn parse_connection(text: &str) -> Result<Connection, String> {
    let trimmed = text.trim();
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(
            "it is an account URL; signing in with an Azure identity (credentialName) is not supported by this version \
             of backfill-native: use a connection string with an AccountKey or a SharedAccessSignature"
                .into(),
        );
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
        ))
        .unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:10123");
        match c.location {
            CloudLocation::Custom { account, uri } => {
                assert_eq!(account, "devstoreaccount1");
                assert_eq!(
                    uri, "http://127.0.0.1:10123/devstoreaccount1",
                    "trailing slash kept"
                );
            }
            _ => panic!("expected a custom location"),
        }
        let sas = parse_connection(
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=abc",
        )
        .unwrap();
        assert!(
            matches!(sas.location, CloudLocation::Custom { ref account, .. } if account == "acct")
        );
        let public = parse_connection(&format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net")).unwrap();
        assert!(
            matches!(public.location, CloudLocation::Public { ref account } if account == "acct")
        );
        let dev = parse_connection("UseDevelopmentStorage=true").unwrap();
        assert!(matches!(
            dev.location,
            CloudLocation::Emulator { port: 10000, .. }
        ));
    }

    #[test]
    fn errors_never_quote_the_secret() {
        for (text, why) in [
            ("AccountName=acct", "neither an AccountKey"),
            ("not a connection string", "could not be parsed"),
            ("https://acct.blob.core.windows.net", "account URL"),
            (
                &format!("AccountKey={KEY};SharedAccessSignature=sig=zzz;BlobEndpoint=::bad"),
                "not a valid URL",
            ),
        ] {
            let err = parse_connection(text).err().unwrap();
            assert!(err.contains(why), "{text}: {err}");
            assert!(!err.contains(KEY) && !err.contains("zzz"), "{err}");
        }
    }
}
