//! File digests handed to JavaScript as a plain object, built with raw
//! Node-API calls, with no Rust string per file.

/// File digests by path, handed to JavaScript as a plain object of hex
/// strings. Built directly with Node-API: each digest is written as hex on
/// the stack and made a one-byte string, with no Rust string per file.
pub struct Digests(pub Vec<(String, blake3::Hash)>);

impl napi::bindgen_prelude::TypeName for Digests {
    fn type_name() -> &'static str {
        "Record<string, string>"
    }

    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl napi::bindgen_prelude::ToNapiValue for Digests {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        use napi::sys;
        let check = |status: sys::napi_status| {
            if status == sys::Status::napi_ok {
                Ok(())
            } else {
                Err(napi::Error::from_reason(format!(
                    "backfill-native: could not build the digests object (Node-API status {status})"
                )))
            }
        };
        let mut object = std::ptr::null_mut();
        // SAFETY: `env` is the live environment napi-rs calls us with; every
        // pointer passed points to memory that outlives the call, with its
        // exact length.
        unsafe {
            check(sys::napi_create_object(env, &mut object))?;
            for (rel, digest) in &val.0 {
                let hex = digest.to_hex();
                let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
                check(sys::napi_create_string_utf8(
                    env,
                    rel.as_ptr().cast(),
                    rel.len() as isize,
                    &mut key,
                ))?;
                check(sys::napi_create_string_latin1(
                    env,
                    hex.as_ptr().cast(),
                    hex.len() as isize,
                    &mut value,
                ))?;
                if rel == "__proto__" {
                    // Setting it would set the prototype (a string is
                    // ignored): define an own property, as for the others.
                    use sys::PropertyAttributes::{configurable, enumerable, writable};
                    let own = sys::napi_property_descriptor {
                        utf8name: std::ptr::null(),
                        name: key,
                        method: None,
                        getter: None,
                        setter: None,
                        value,
                        attributes: writable | enumerable | configurable,
                        data: std::ptr::null_mut(),
                    };
                    check(sys::napi_define_properties(env, object, 1, &own))?;
                } else {
                    check(sys::napi_set_property(env, object, key, value))?;
                }
            }
        }
        Ok(object)
    }
}
