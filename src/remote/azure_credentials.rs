//! How the Azure remote signs its requests: the configuration's
//! [`AzureAuth`] as the credential chain OpenDAL's `azblob` service signs
//! with (`reqsign-azure-storage`): an account key, a SAS, the emulator's
//! well-known key, or an Azure identity.
//!
//! The connection string was parsed and checked by the configuration
//! (`src/config/azure_connection.rs`). What can still be wrong here is an
//! identity whose variables are missing: that is a configuration error when
//! the remote is made, never a silent fall back to another credential. No
//! token is asked for until the first request.
//!
//! No credential here signs with a private RSA key: the client-certificate
//! credential is never made, and the default chain is built without it.
//! That keeps `rsa` (RUSTSEC-2023-0071, a timing side channel with no fixed
//! release, compiled in through `reqsign-azure-storage`) out of every code
//! path; `.cargo/audit.toml` says why the audit may ignore it, and
//! `__test__/layers.test.js` keeps it true.

use reqsign_azure_storage::{
    AzureCliCredentialProvider, ClientSecretCredentialProvider, Credential,
    DefaultCredentialProvider, ImdsCredentialProvider, StaticCredentialProvider,
    WorkloadIdentityCredentialProvider,
};
use reqsign_core::ProvideCredentialChain;

use crate::config::{AzureAuth, AzureIdentity, AzureLocation};

/// The account and key of the local emulator (Azurite), published by
/// Microsoft for every emulator.
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The blob service endpoint of `location`, as OpenDAL takes it.
pub fn endpoint(location: &AzureLocation) -> String {
    match location {
        AzureLocation::Public { account } => format!("https://{account}.blob.core.windows.net"),
        AzureLocation::Emulator { address, port } => {
            format!("http://{address}:{port}/{EMULATOR_ACCOUNT}")
        }
        AzureLocation::Custom { uri, .. } => uri.clone(),
    }
}

/// The one credential `auth` names, as a chain of one (never OpenDAL's
/// default chain, which would also read `AZURE_STORAGE_*` variables the
/// user did not name); the error says which variables an identity needs.
pub fn credential_chain(auth: &AzureAuth) -> Result<ProvideCredentialChain<Credential>, String> {
    let chain = ProvideCredentialChain::new();
    Ok(match auth {
        AzureAuth::Key { account, key } => chain.push(StaticCredentialProvider::new_shared_key(
            account,
            key.expose(),
        )),
        AzureAuth::Sas(sas) => chain.push(StaticCredentialProvider::new_sas_token(
            sas.expose().trim_start_matches('?'),
        )),
        AzureAuth::Emulator => chain.push(StaticCredentialProvider::new_shared_key(
            EMULATOR_ACCOUNT,
            EMULATOR_KEY,
        )),
        AzureAuth::Identity(identity) => identity_chain(*identity, chain, &|name| {
            std::env::var_os(name).is_some_and(|v| !v.is_empty())
        })?,
    })
}

/// The chain of an Azure identity; `set` says whether a variable is set.
fn identity_chain(
    identity: AzureIdentity,
    chain: ProvideCredentialChain<Credential>,
    set: &dyn Fn(&str) -> bool,
) -> Result<ProvideCredentialChain<Credential>, String> {
    let unusable =
        |name: &str, needs: &str| format!("the {name} credential cannot be used here: {needs}");
    let all = |names: &[&str]| names.iter().all(|n| set(n));
    Ok(match identity {
        // Environment variables (the AZURE_STORAGE_* ones included), the
        // Azure CLI, a client secret, Azure Pipelines, workload identity,
        // managed identity: every credential of the default chain but a
        // client certificate.
        AzureIdentity::Default => chain.push(
            DefaultCredentialProvider::builder()
                .no_client_certificate()
                .build(),
        ),
        AzureIdentity::Environment => {
            const NEEDS: &str = "set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE (a client certificate is not supported)";
            if !all(&["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]) {
                return Err(unusable("environment", NEEDS));
            }
            if set("AZURE_CLIENT_SECRET") {
                chain.push(ClientSecretCredentialProvider::new())
            } else if set("AZURE_FEDERATED_TOKEN_FILE") {
                chain.push(WorkloadIdentityCredentialProvider::new())
            } else {
                return Err(unusable("environment", NEEDS));
            }
        }
        AzureIdentity::WorkloadIdentity => {
            if !all(&[
                "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID",
                "AZURE_FEDERATED_TOKEN_FILE",
            ]) {
                return Err(unusable(
                    "workload identity",
                    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE",
                ));
            }
            chain.push(WorkloadIdentityCredentialProvider::new())
        }
        AzureIdentity::ManagedIdentity => chain.push(ImdsCredentialProvider::new()),
        AzureIdentity::AzureCli => chain.push(AzureCliCredentialProvider::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_connection;

    #[test]
    fn every_location_has_its_blob_endpoint() {
        let endpoint_of = |text: &str| endpoint(&parse_connection(text, None).unwrap().location);
        assert_eq!(
            endpoint_of(&format!("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={EMULATOR_KEY};BlobEndpoint=http://127.0.0.1:10123/devstoreaccount1/;")),
            "http://127.0.0.1:10123/devstoreaccount1"
        );
        assert_eq!(
            endpoint_of(&format!("AccountName=acct;AccountKey={EMULATOR_KEY}")),
            "https://acct.blob.core.windows.net"
        );
        assert_eq!(
            endpoint_of("UseDevelopmentStorage=true"),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
    }

    #[test]
    fn every_credential_maps_and_an_identity_without_its_variables_is_refused() {
        for text in [
            format!("AccountName=acct;AccountKey={EMULATOR_KEY}"),
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=abc"
                .into(),
            "UseDevelopmentStorage=true".into(),
        ] {
            let auth = parse_connection(&text, None).unwrap().auth;
            assert!(credential_chain(&auth).is_ok(), "{text}");
        }
        let none = |_: &str| false;
        let all = |_: &str| true;
        let only = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        for identity in [
            AzureIdentity::Default,
            AzureIdentity::ManagedIdentity,
            AzureIdentity::AzureCli,
        ] {
            assert!(identity_chain(identity, ProvideCredentialChain::new(), &none).is_ok());
        }
        let err = identity_chain(
            AzureIdentity::Environment,
            ProvideCredentialChain::new(),
            &none,
        )
        .unwrap_err();
        assert!(err.contains("AZURE_CLIENT_SECRET"), "{err}");
        assert!(identity_chain(
            AzureIdentity::Environment,
            ProvideCredentialChain::new(),
            &only(&["AZURE_TENANT_ID", "AZURE_CLIENT_ID"])
        )
        .is_err());
        assert!(identity_chain(
            AzureIdentity::Environment,
            ProvideCredentialChain::new(),
            &only(&["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"])
        )
        .is_ok());
        assert!(identity_chain(
            AzureIdentity::WorkloadIdentity,
            ProvideCredentialChain::new(),
            &only(&["AZURE_TENANT_ID", "AZURE_CLIENT_ID"])
        )
        .unwrap_err()
        .contains("AZURE_FEDERATED_TOKEN_FILE"));
        assert!(identity_chain(
            AzureIdentity::WorkloadIdentity,
            ProvideCredentialChain::new(),
            &all
        )
        .is_ok());
    }
}
