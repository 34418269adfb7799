//! Mapping the configuration's [`AzureConnection`] to the Azure SDK: the
//! cloud location and the storage credentials, Azure identity credentials
//! included (built here, not at configuration time).
//!
//! The connection string was parsed and checked by the configuration
//! (`src/config/azure_connection.rs`); what can still fail here is an Azure
//! identity that cannot be used in this environment.

use std::sync::Arc;

use azure_core::auth::{Secret as SdkSecret, TokenCredential};
use azure_identity::{
    AzureCliCredential, DefaultAzureCredential, EnvironmentCredential, TokenCredentialOptions,
    VirtualMachineManagedIdentityCredential, WorkloadIdentityCredential,
};
use azure_storage::{CloudLocation, StorageCredentials};

use crate::config::{AzureAuth, AzureConnection, AzureIdentity, AzureLocation};

/// Where the blobs are and the credentials to use, as the SDK takes them.
pub struct SdkConnection {
    pub location: CloudLocation,
    pub credentials: StorageCredentials,
}

/// The SDK location and credentials of `connection`; the error says what is
/// missing without quoting a secret. No token is asked for until the first
/// request.
pub fn sdk_connection(connection: &AzureConnection) -> Result<SdkConnection, String> {
    Ok(SdkConnection {
        location: location(&connection.location),
        credentials: credentials(&connection.auth)?,
    })
}

fn location(location: &AzureLocation) -> CloudLocation {
    match location {
        AzureLocation::Public { account } => CloudLocation::Public {
            account: account.clone(),
        },
        AzureLocation::Emulator { address, port } => CloudLocation::Emulator {
            address: address.clone(),
            port: *port,
        },
        AzureLocation::Custom { account, uri } => CloudLocation::Custom {
            account: account.clone(),
            uri: uri.clone(),
        },
    }
}

fn credentials(auth: &AzureAuth) -> Result<StorageCredentials, String> {
    match auth {
        AzureAuth::Key { account, key } => Ok(StorageCredentials::access_key(
            account.clone(),
            SdkSecret::new(key.expose().to_string()),
        )),
        // The SDK reads the token as a URL query, which always parses.
        AzureAuth::Sas(sas) => StorageCredentials::sas_token(sas.expose())
            .map_err(|_| "its SharedAccessSignature could not be read as a SAS token".to_string()),
        AzureAuth::Emulator => Ok(StorageCredentials::emulator()),
        AzureAuth::Identity(identity) => Ok(StorageCredentials::token_credential(
            token_credential(*identity)?,
        )),
    }
}

fn token_credential(identity: AzureIdentity) -> Result<Arc<dyn TokenCredential>, String> {
    let options = TokenCredentialOptions::default();
    let unusable =
        |name: &str, needs: &str| format!("the {name} credential cannot be used here: {needs}");
    Ok(match identity {
        AzureIdentity::Default => Arc::new(
            DefaultAzureCredential::create(options)
                .map_err(|_| unusable("default Azure", "no Azure identity is available"))?,
        ),
        AzureIdentity::Environment => Arc::new(EnvironmentCredential::create(options).map_err(|_| {
            unusable(
                "environment",
                "set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE",
            )
        })?),
        AzureIdentity::WorkloadIdentity => Arc::new(WorkloadIdentityCredential::create(options).map_err(|_| {
            unusable(
                "workload identity",
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE",
            )
        })?),
        AzureIdentity::ManagedIdentity => Arc::new(VirtualMachineManagedIdentityCredential::new(options)),
        AzureIdentity::AzureCli => Arc::new(AzureCliCredential::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_connection;

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn every_parsed_connection_maps_to_the_sdk() {
        let sdk = |text: &str, credential: Option<&str>| {
            sdk_connection(&parse_connection(text, credential).unwrap()).ok()
        };
        let key = sdk(&format!("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:10123/devstoreaccount1/;"), None).unwrap();
        assert!(matches!(
            key.location,
            CloudLocation::Custom { ref account, ref uri }
                if account == "devstoreaccount1" && uri == "http://127.0.0.1:10123/devstoreaccount1"
        ));
        let public = sdk(&format!("AccountName=acct;AccountKey={KEY}"), None).unwrap();
        assert!(
            matches!(public.location, CloudLocation::Public { ref account } if account == "acct")
        );
        let sas = sdk(
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=abc",
            None,
        );
        assert!(sas.is_some());
        let dev = sdk("UseDevelopmentStorage=true", None).unwrap();
        assert!(matches!(
            dev.location,
            CloudLocation::Emulator { port: 10000, .. }
        ));
        for name in ["azure-cli", "managed-identity"] {
            assert!(
                sdk("https://acct.blob.core.windows.net", Some(name)).is_some(),
                "{name}"
            );
        }
    }
}
