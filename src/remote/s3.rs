//! S3 and S3-compatible storage: object key = `<prefix>/<hash>`, content =
//! the tar archive (the same bytes as an Azure blob), digest and signature
//! in the object's user metadata (`x-amz-meta-backfillnative_blake3`,
//! `x-amz-meta-backfillnative_mac2`), so an entry can be copied between the
//! stores. This file only builds the OpenDAL `s3` operator of a bucket;
//! `object_store.rs` transfers. Credentials come from the AWS credential
//! chain (the `AWS_*` variables, a profile, web identity, the instance's
//! role), never from the options.

use std::sync::Arc;

use opendal::services::S3;
use opendal::Operator;
use reqsign_core::ProvideCredentialChain;

use super::limits::{Limits, DEFAULT_MAX_SIZE};
use super::object_store::ObjectStoreRemote;
use super::Connected;
use crate::config::S3Options;

/// The OpenDAL builder of the bucket `options` name. With a `profile`, only
/// that profile's credentials are used (not the `AWS_ACCESS_KEY_ID`
/// variables), as `aws --profile` does.
fn builder(options: &S3Options) -> S3 {
    let mut builder = S3::default()
        .bucket(&options.bucket)
        .region(&options.region)
        .root(&format!("/{}", options.prefix));
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if !options.force_path_style {
        builder = builder.enable_virtual_host_style();
    }
    if let Some(profile) = &options.profile {
        builder = builder.credential_provider_chain(
            ProvideCredentialChain::new().push(
                reqsign_aws_v4::DefaultCredentialProvider::builder()
                    .no_env()
                    .with_profile(profile)
                    .build(),
            ),
        );
    }
    builder
}

/// What messages call the bucket: never a credential.
fn describe(options: &S3Options) -> String {
    let at = options
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", options.region));
    if options.prefix.is_empty() {
        format!("s3 bucket '{}' at {at}", options.bucket)
    } else {
        format!(
            "s3 bucket '{}' at {at} (prefix '{}')",
            options.bucket, options.prefix
        )
    }
}

/// The remote of one bucket (made lazily: no request is made).
fn remote(options: &S3Options) -> Result<ObjectStoreRemote, String> {
    let op = Operator::new(builder(options)).map_err(|e| {
        format!(
            "the S3 client could not be made ({}: {})",
            e.kind(),
            crate::config::redact_text(e.message())
        )
    })?;
    ObjectStoreRemote::new(op, describe(options), Limits::scaled(options.timeout_scale))
}

/// The S3 remote for `options`, made once per process and shared.
pub fn connect(options: &S3Options) -> crate::error::Result<Connected> {
    // Every option that makes a different client; no secret is among them.
    let id = blake3::hash(
        format!(
            "s3\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            options.bucket,
            options.region,
            options.endpoint.as_deref().unwrap_or(""),
            options.prefix,
            options.force_path_style,
            options.profile.as_deref().unwrap_or(""),
            options.timeout_scale
        )
        .as_bytes(),
    )
    .to_hex()
    .to_string();
    let shared = super::registry::shared(&id, || Ok(Arc::new(remote(options)?))).map_err(
        |why| crate::error::CacheError::Config {
            variable: "BACKFILL_CACHE_PROVIDER_OPTIONS".into(),
            origin: "(from the provider options)".into(),
            expected: "options the s3 provider can connect with".into(),
            received: why,
            fix: "check \"bucket\" (with \"forcePathStyle\": false, on AWS, it may not hold a \".\"; set it to true), \
                  \"region\" and \"endpoint\""
                .into(),
        },
    )?;
    Ok(Connected {
        shared,
        max_size: Some(options.max_size.unwrap_or(DEFAULT_MAX_SIZE)),
        signing_key: options.signing_key.as_ref().map(|k| k.expose().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> S3Options {
        S3Options {
            bucket: "cache".into(),
            region: "eu-west-1".into(),
            endpoint: None,
            prefix: String::new(),
            force_path_style: false,
            profile: None,
            max_size: None,
            signing_key: None,
            timeout_scale: 1.0,
        }
    }

    #[test]
    fn messages_name_the_bucket_where_it_is_and_its_prefix() {
        assert_eq!(
            describe(&options()),
            "s3 bucket 'cache' at https://s3.eu-west-1.amazonaws.com"
        );
        let mut o = options();
        o.endpoint = Some("http://127.0.0.1:9000".into());
        o.prefix = "team/cache".into();
        assert_eq!(
            describe(&o),
            "s3 bucket 'cache' at http://127.0.0.1:9000 (prefix 'team/cache')"
        );
    }

    /// A bucket with a dot cannot be a host name: with virtual-host style
    /// (AWS's default) it is a configuration error that says what to set,
    /// not a failure at the first fetch.
    #[test]
    fn a_dotted_bucket_in_virtual_host_style_is_a_configuration_error() {
        let mut o = options();
        o.bucket = "my.cache".into();
        let err = connect(&o).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.starts_with("BACKFILL_CACHE_PROVIDER_OPTIONS (from the provider options) is invalid: expected options the s3 provider can connect with"),
            "{err}"
        );
        assert!(err.contains("set it to true"), "{err}");
        o.force_path_style = true;
        assert!(connect(&o).is_ok());
    }
}
