//! The local store's eviction settings: the size cap, the age limit, how
//! often eviction may run and how long a used entry is always kept, with
//! their defaults and parsing.

use std::time::Duration;

use serde_json::Value;

use super::layers::{Layers, Origin, Raw};
use super::redact::{fix_for, shown};
use super::values::invalid;
use super::Options;
use crate::error::Result;

/// Default size cap: 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;
/// Default age limit: 30 days (as `purge`'s default).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);
/// Default time between two evictions of one store: 5 minutes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Default time a fetched or stored entry is always kept: 10 minutes.
pub const DEFAULT_KEEP_RECENT: Duration = Duration::from_secs(10 * 60);
/// Default time `clear`, `purge` and `evict` wait for the store while other
/// processes use it: 1 minute.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Eviction settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eviction {
    /// `BACKFILL_NATIVE_CACHE_MAX_SIZE`, bytes; `None` when off.
    pub max_size: Option<u64>,
    /// `BACKFILL_NATIVE_CACHE_MAX_AGE`; `None` when off.
    pub max_age: Option<Duration>,
    /// `BACKFILL_NATIVE_EVICT_INTERVAL`.
    pub interval: Duration,
    /// `BACKFILL_NATIVE_EVICT_KEEP_RECENT`.
    pub keep_recent: Duration,
    /// `BACKFILL_NATIVE_LOCK_WAIT`: how long `clear`, `purge` and `evict`
    /// wait for the fetches, puts and uploads holding the store.
    pub lock_wait: Duration,
}

impl Default for Eviction {
    fn default() -> Self {
        Eviction {
            max_size: Some(DEFAULT_MAX_SIZE),
            max_age: Some(DEFAULT_MAX_AGE),
            interval: DEFAULT_INTERVAL,
            keep_recent: DEFAULT_KEEP_RECENT,
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }
}

pub(super) fn resolve(layers: &Layers, options: &Options) -> Result<Eviction> {
    let d = Eviction::default();
    let json = |v: &Option<Value>| v.clone().map(Raw::Json);
    let max_size = layers
        .resolve(
            "BACKFILL_NATIVE_CACHE_MAX_SIZE",
            json(&options.cache_max_size),
            |raw, origin| parse_size("BACKFILL_NATIVE_CACHE_MAX_SIZE", raw, origin),
        )?
        .unwrap_or(d.max_size);
    let max_age = layers
        .resolve(
            "BACKFILL_NATIVE_CACHE_MAX_AGE",
            json(&options.cache_max_age),
            |raw, origin| parse_duration("BACKFILL_NATIVE_CACHE_MAX_AGE", raw, origin, DAY, true),
        )?
        .unwrap_or(d.max_age);
    let timing = |name: &str, option: &Option<Value>, default: Duration| -> Result<Duration> {
        Ok(layers
            .resolve(name, json(option), |raw, origin| {
                parse_duration(name, raw, origin, 1, false)
            })?
            .flatten()
            .unwrap_or(default))
    };
    Ok(Eviction {
        max_size,
        max_age,
        interval: timing(
            "BACKFILL_NATIVE_EVICT_INTERVAL",
            &options.evict_interval,
            d.interval,
        )?,
        keep_recent: timing(
            "BACKFILL_NATIVE_EVICT_KEEP_RECENT",
            &options.evict_keep_recent,
            d.keep_recent,
        )?,
        lock_wait: timing("BACKFILL_NATIVE_LOCK_WAIT", &options.lock_wait, d.lock_wait)?,
    })
}

const DAY: u64 = 86_400;
const OFF_WORDS: [&str; 3] = ["off", "none", "false"];

/// A size: a number of bytes, or a number with a unit (`KB`, `MB`, `GB`,
/// `TB` in powers of 1000; `KiB`, `MiB`, `GiB`, `TiB` in powers of 1024;
/// any case), or `off`.
fn parse_size(variable: &str, raw: Raw, origin: &Origin) -> Result<Option<u64>> {
    const EXPECTED: &str =
        "a size such as 10GB, 500MB, 2GiB or a number of bytes, or off to turn the size cap off";
    let text = match raw {
        Raw::Json(Value::Number(n)) => n.to_string(),
        Raw::Json(Value::Bool(false)) | Raw::Bool(false) => return Ok(None),
        Raw::Json(Value::String(s)) => s,
        other => other.into_text(),
    };
    let t = text.trim();
    if OFF_WORDS.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let factor: Option<f64> = match unit.as_str() {
        "" | "b" => Some(1.0),
        "k" | "kb" => Some(1e3),
        "m" | "mb" => Some(1e6),
        "g" | "gb" => Some(1e9),
        "t" | "tb" => Some(1e12),
        "kib" => Some(1024.0),
        "mib" => Some(1024.0 * 1024.0),
        "gib" => Some(1024.0 * 1024.0 * 1024.0),
        "tib" => Some(1024.0 * 1024.0 * 1024.0 * 1024.0),
        _ => None,
    };
    match (number.parse::<f64>(), factor) {
        (Ok(n), Some(f)) if n.is_finite() && n >= 0.0 && n * f < 1.8e19 => Ok(Some((n * f) as u64)),
        _ => Err(invalid(
            variable,
            origin,
            EXPECTED,
            shown(&text),
            &fix_for(
                &text,
                "give a size with its unit, or unset it for the default (10GiB)",
            ),
        )),
    }
}

/// A duration: a number with a unit (`s`, `m`, `h`, `d`, `w`), a plain
/// number in `plain` seconds, or (where `may_be_off`) `off`.
fn parse_duration(
    variable: &str,
    raw: Raw,
    origin: &Origin,
    plain: u64,
    may_be_off: bool,
) -> Result<Option<Duration>> {
    let expected = if may_be_off {
        "a duration such as 30d, 12h or 90m (a plain number is days), or off to turn the age limit off"
    } else {
        "a duration such as 5m, 30s or 1h (a plain number is seconds)"
    };
    let text = match raw {
        Raw::Json(Value::Number(n)) => n.to_string(),
        Raw::Json(Value::Bool(false)) | Raw::Bool(false) if may_be_off => return Ok(None),
        Raw::Json(Value::String(s)) => s,
        other => other.into_text(),
    };
    let t = text.trim();
    if may_be_off && OFF_WORDS.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    let factor = match unit.as_str() {
        "" => Some(plain as f64),
        "s" => Some(1.0),
        "m" | "min" => Some(60.0),
        "h" => Some(3600.0),
        "d" => Some(DAY as f64),
        "w" => Some(7.0 * DAY as f64),
        _ => None,
    };
    match (number.parse::<f64>(), factor) {
        (Ok(n), Some(f)) if n.is_finite() && n >= 0.0 && n * f < 1e15 => {
            Ok(Some(Duration::from_secs_f64(n * f)))
        }
        _ => Err(invalid(
            variable,
            origin,
            expected,
            shown(&text),
            &fix_for(
                &text,
                "give a duration with its unit, or unset it for the default",
            ),
        )),
    }
}

/// A size for people: `10 GiB`, `512.0 MiB`, `1234 bytes`.
pub fn describe_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (name, size) in UNITS {
        if bytes >= size {
            let n = bytes as f64 / size as f64;
            return if bytes.is_multiple_of(size) {
                format!("{} {name}", bytes / size)
            } else {
                format!("{n:.1} {name}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn size(s: &str) -> Result<Option<u64>> {
        parse_size("V", Raw::Text(s.into()), &Origin::Env)
    }
    fn age(s: &str) -> Result<Option<Duration>> {
        parse_duration("V", Raw::Text(s.into()), &Origin::Env, DAY, true)
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(size("10GB").unwrap(), Some(10_000_000_000));
        assert_eq!(size("2 GiB").unwrap(), Some(2 << 30));
        assert_eq!(size("1.5mb").unwrap(), Some(1_500_000));
        assert_eq!(size("1234").unwrap(), Some(1234));
        assert_eq!(size("OFF").unwrap(), None);
        let e = size("ten gigs").unwrap_err().to_string();
        assert!(
            e.contains("V (from the environment) is invalid: expected a size such as 10GB"),
            "{e}"
        );
        assert!(e.contains("received \"ten gigs\""), "{e}");
        assert_eq!(age("30").unwrap(), Some(Duration::from_secs(30 * DAY)));
        assert_eq!(age("12h").unwrap(), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(age("off").unwrap(), None);
        assert!(age("-1d").is_err());
        assert!(parse_duration("V", Raw::Text("off".into()), &Origin::Env, 1, false).is_err());
        assert_eq!(
            parse_duration(
                "V",
                Raw::Json(serde_json::json!(0)),
                &Origin::Options,
                1,
                false
            )
            .unwrap(),
            Some(Duration::ZERO)
        );
        assert_eq!(describe_size(DEFAULT_MAX_SIZE), "10 GiB");
        assert_eq!(describe_size(1536), "1.5 KiB");
    }

    #[test]
    fn defaults_options_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let load = |options: &Options, env: &[(&str, &str)]| {
            let env: HashMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            super::super::Config::load_with_env(dir.path(), options, &env).map(|c| c.eviction)
        };
        assert_eq!(load(&Options::default(), &[]).unwrap(), Eviction::default());
        let code = Options {
            cache_max_size: Some(serde_json::json!("1MB")),
            cache_max_age: Some(serde_json::json!(false)),
            evict_interval: Some(serde_json::json!(0)),
            ..Options::default()
        };
        let e = load(&code, &[]).unwrap();
        assert_eq!(
            (e.max_size, e.max_age, e.interval),
            (Some(1_000_000), None, Duration::ZERO)
        );
        let e = load(
            &code,
            &[
                ("BACKFILL_NATIVE_CACHE_MAX_SIZE", "off"),
                ("BACKFILL_NATIVE_CACHE_MAX_AGE", "2d"),
            ],
        )
        .unwrap();
        assert_eq!(
            (e.max_size, e.max_age),
            (None, Some(Duration::from_secs(2 * DAY)))
        );
    }
}
