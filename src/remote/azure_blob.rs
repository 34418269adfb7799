//! Azure Blob Storage: blob name = cache key, content = the tar archive,
//! digest and signature in the blob's metadata. This file only builds the
//! OpenDAL `azblob` operator of a container; `object_store.rs` transfers.
//! Uploads are staged blocks (at most four in flight) that become visible
//! only when the block list is committed.

use std::sync::Arc;

use opendal::services::Azblob;
use opendal::Operator;

use super::azure_credentials::{credential_chain, endpoint};
use super::limits::{Limits, DEFAULT_MAX_SIZE};
use super::object_store::ObjectStoreRemote;
use super::Connected;
use crate::config::{AzureAuth, AzureBlobOptions, CREDENTIAL_NAMES};

/// The remote of one container (made lazily: no request is made); the
/// error says what is missing (an Azure identity's variables, say), never
/// quoting a secret.
fn remote(options: &AzureBlobOptions) -> Result<ObjectStoreRemote, String> {
    let connection = &options.connection;
    let mut builder = Azblob::default()
        .container(&options.container)
        .endpoint(&endpoint(&connection.location))
        .credential_provider_chain(credential_chain(&connection.auth)?);
    if let AzureAuth::Key { account, .. } = &connection.auth {
        builder = builder.account_name(account);
    }
    let op = Operator::new(builder)
        .map_err(|e| format!("the blob client could not be made ({})", e.kind()))?;
    ObjectStoreRemote::new(
        op,
        format!(
            "azure-blob container '{}' at {}",
            options.container, connection.endpoint
        ),
        Limits::scaled(options.timeout_scale),
    )
}

/// The Azure remote for `options`, made once per process and shared;
/// an identity that cannot be used here is a configuration error.
pub fn connect(options: &AzureBlobOptions) -> crate::error::Result<Connected> {
    // Keyed by a digest, so no secret is kept in the key.
    let id = blake3::hash(
        format!(
            "azure-blob\n{}\n{}\n{}\n{}",
            options.connection_string.expose(),
            options.container,
            options.credential_name.as_deref().unwrap_or(""),
            options.timeout_scale
        )
        .as_bytes(),
    )
    .to_hex()
    .to_string();
    let shared = super::registry::shared(&id, || Ok(Arc::new(remote(options)?)))
        .map_err(|why| crate::error::CacheError::Config {
            variable: "BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
            origin: "(from the provider options)".into(),
            expected: "options the azure-blob provider can connect with".into(),
            received: why,
            // The connection string was checked by the config: what fails
            // here is an identity or the HTTP client.
            fix: match options.connection.auth {
                AzureAuth::Identity(_) => format!(
                    "give the Azure identity what it needs, or name another in \"credentialName\" ({CREDENTIAL_NAMES})"
                ),
                _ => "make sure the system's TLS setup works; the options themselves were accepted".into(),
            },
        })?;
    Ok(Connected {
        shared,
        max_size: Some(options.max_size.unwrap_or(DEFAULT_MAX_SIZE)),
        signing_key: options.signing_key.as_ref().map(|k| k.expose().to_string()),
    })
}
