//! The one conversion of engine errors into JavaScript errors.

use napi::bindgen_prelude::*;
use napi::JsError;

use crate::error::CacheError;

/// A JS `Error` whose `code` is the engine's stable error code
/// (`BACKFILL_NATIVE_CONFIG`, ...) and whose message is the engine's, which
/// never holds a secret.
pub fn js_error(env: &Env, e: &CacheError) -> Error {
    let js = JsError::from(Error::new(e.code(), e.to_string())).into_unknown(*env);
    Error::from(js)
}
