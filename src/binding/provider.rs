//! The storage lage calls: `fetch(hash): Promise<boolean>` and
//! `put(hash, outputGlob): Promise<void>`, in the two shapes lage knows: a
//! by-name plugin (`getProvider`) and a provider function (`createProvider`).
//!
//! lage hides errors thrown by a provider at `silly` level, so every failure
//! is also reported here, once, at `warn` on the logger lage passes.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::error::js_error;
use super::logger::{self, LogLine};
use super::options::{self, CacheOptions};
use super::task::{Done, EngineTask, Work};
use super::uploads::{background_upload, upload_note};
use crate::config::LogLevel;
use crate::engine::{Engine, Source};
use crate::notice::Notice;

/// The logger lage passes to providers (backfill's logger). Only the
/// methods it has are called; a missing one is skipped.
// Only a type for index.d.ts: the logger is kept as the JS object itself.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct Logger {
    #[napi(ts_type = "(...args: any[]) => void")]
    pub silly: Option<()>,
    #[napi(ts_type = "(...args: any[]) => void")]
    pub verbose: Option<()>,
    #[napi(ts_type = "(...args: any[]) => void")]
    pub info: Option<()>,
    #[napi(ts_type = "(...args: any[]) => void")]
    pub warn: Option<()>,
    #[napi(ts_type = "(...args: any[]) => void")]
    pub error: Option<()>,
}

/// Cache storage bound to one package directory, with the contract lage's
/// `ICacheStorage` has.
#[napi(custom_finalize)]
pub struct CacheStorage {
    engine: Arc<Engine>,
    logger: Option<ObjectRef<false>>,
}

impl ObjectFinalize for CacheStorage {
    fn finalize(self, env: Env) -> Result<()> {
        if let Some(logger) = self.logger {
            logger.unref(&env)?;
        }
        Ok(())
    }
}

fn warnings(list: &[Notice]) -> Vec<LogLine> {
    list.iter()
        .map(|w| LogLine::new(LogLevel::Warn, w.message()))
        .collect()
}

fn fetch_work(engine: Arc<Engine>, hash: String) -> Work<bool> {
    Box::new(move || match engine.fetch(&hash) {
        Ok(o) => {
            let mut logs = warnings(&o.warnings);
            let text = match (o.source, &o.skipped) {
                (Some(Source::LocalSkip), _) => format!(
                    "hit for {hash} (local-skip: the last hash put for this package; its outputs are left in place)"
                ),
                (Some(source), _) => format!(
                    "hit for {hash} from the {} cache{}: {} files restored, {} unchanged, in {} ms",
                    source.as_str(),
                    match source {
                        // The scope is said where the build has two.
                        Source::Remote(scope) if engine.has_pull_request_scope() => {
                            format!(" ({})", scope.describe())
                        }
                        _ => String::new(),
                    },
                    o.files_restored,
                    o.files_unchanged,
                    o.duration.as_millis()
                ),
                (None, Some(why)) => format!("cache not read for {hash}: {why}"),
                (None, None) => match &o.remote_note {
                    Some(note) => format!("miss for {hash} ({note})"),
                    None => format!("miss for {hash}"),
                },
            };
            logs.push(LogLine::new(LogLevel::Verbose, text));
            Done::logged(Ok(o.hit()), logs)
        }
        Err(e) => {
            let line = LogLine::new(LogLevel::Warn, format!("fetch of {hash} failed: {e}"));
            Done::logged(Err(e), vec![line])
        }
    })
}

fn put_work(engine: Arc<Engine>, hash: String, output_glob: Vec<String>) -> Work<()> {
    Box::new(move || match engine.put(&hash, Some(&output_glob)) {
        Ok(o) => {
            let mut logs = warnings(&o.warnings);
            let text = match &o.skipped {
                // Under --skip-local-cache the outputs may still be uploaded.
                Some(why @ Notice::SkippedLocalCache { remote: true }) => format!(
                    "cache not written for {hash}: {why}{}",
                    upload_note(o.upload_scope, o.upload_bytes, &o.upload_skipped, false)
                ),
                Some(why) => format!("cache not written for {hash}: {why}"),
                None => format!(
                    "stored {hash}: {} files, {} bytes ({} new){}, in {} ms",
                    o.files,
                    o.bytes,
                    o.new_bytes,
                    upload_note(
                        o.upload_scope,
                        o.upload_bytes,
                        &o.upload_skipped,
                        o.pending_upload.is_some()
                    ),
                    o.duration.as_millis()
                ),
            };
            logs.push(LogLine::new(LogLevel::Verbose, text));
            let mut done = Done::logged(Ok(()), logs);
            if let Some(pending) = o.pending_upload {
                done.follow_up = Some(background_upload(pending, hash));
            }
            done
        }
        Err(e) => {
            let line = LogLine::new(LogLevel::Warn, format!("put of {hash} failed: {e}"));
            Done::logged(Err(e), vec![line])
        }
    })
}

#[napi]
impl CacheStorage {
    /// Restores the outputs stored for `hash` into the package directory;
    /// resolves `true` on a hit, `false` on a miss.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn fetch(&self, env: Env, hash: String) -> Result<AsyncTask<EngineTask<bool>>> {
        let work = fetch_work(self.engine.clone(), hash);
        Ok(AsyncTask::new(EngineTask::logged(
            work,
            self.task_logger(&env)?,
            self.level(),
        )))
    }

    /// Stores the files matching `outputGlob` (globby patterns relative to
    /// the package directory) as the entry of `hash`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn put(
        &self,
        env: Env,
        hash: String,
        output_glob: Vec<String>,
    ) -> Result<AsyncTask<EngineTask<()>>> {
        let work = put_work(self.engine.clone(), hash, output_glob);
        Ok(AsyncTask::new(EngineTask::logged(
            work,
            self.task_logger(&env)?,
            self.level(),
        )))
    }
}

impl CacheStorage {
    fn level(&self) -> LogLevel {
        self.engine.config().log_level
    }

    fn task_logger(&self, env: &Env) -> Result<Option<ObjectRef<false>>> {
        match &self.logger {
            Some(l) => Ok(Some(l.get_value(env)?.create_ref()?)),
            None => Ok(None),
        }
    }

    fn create(
        env: &Env,
        logger: Option<Object>,
        cwd: String,
        options: Option<CacheOptions>,
    ) -> Result<Self> {
        let (dir, opts) = options::resolve(Some(cwd), options);
        let engine = match Engine::new(&dir, &opts) {
            Ok(engine) => engine,
            Err(e) => {
                if let Some(l) = &logger {
                    let line = LogLine::once(LogLevel::Warn, format!("the cache is off: {e}"));
                    logger::emit(env, l, LogLevel::Warn, &[line]);
                }
                return Err(js_error(env, &e));
            }
        };
        if let Some(l) = &logger {
            let lines: Vec<LogLine> = engine
                .config()
                .warnings
                .iter()
                .map(|w| LogLine::once(LogLevel::Warn, w.message()))
                .collect();
            logger::emit(env, l, engine.config().log_level, &lines);
        }
        Ok(CacheStorage {
            engine: Arc::new(engine),
            logger: logger.map(|l| l.create_ref()).transpose()?,
        })
    }
}

/// Returns the cache storage for package directory `cwd`: the plugin shape
/// lage's by-name loader calls (`{ provider: "custom", plugin:
/// "backfill-native", options }`). Warnings go to `logger`.
///
/// Throws (with `error.code` `BACKFILL_NATIVE_CONFIG`) when the
/// configuration is invalid, after warning on `logger`.
#[napi(
    ts_args_type = "logger: Logger | null | undefined, cwd: string, options?: CacheOptions | null"
)]
pub fn get_provider(
    env: Env,
    logger: Option<Object>,
    cwd: String,
    options: Option<CacheOptions>,
) -> Result<CacheStorage> {
    CacheStorage::create(&env, logger, cwd, options)
}

/// Returns a provider function `(logger, cwd) => CacheStorage`, the shape
/// lage 2 types as `cacheOptions.cacheStorageConfig.provider`.
#[napi(ts_return_type = "(logger: Logger | null | undefined, cwd: string) => CacheStorage")]
pub fn create_provider(
    env: &Env,
    options: Option<CacheOptions>,
) -> Result<Function<'_, Unknown<'static>, CacheStorage>> {
    env.create_function_from_closure("backfillNativeProvider", move |ctx: FunctionCallContext| {
        let logger: Option<Object> = ctx.get(0)?;
        let cwd: String = ctx.get(1)?;
        CacheStorage::create(ctx.env, logger, cwd, options.clone())
    })
}

/// Gets ready for a first fetch from package directory `cwd` (default: the
/// current directory) without doing one: resolves the configuration and,
/// when a remote cache is configured, starts connecting to it (and signing
/// in) in the background, once per process and remote. `backfill-native/lage`
/// calls it as each lage worker starts, so the connection opens while lage
/// loads its own code.
///
/// Returns whether a connection was started. Logs nothing and never waits
/// on the remote: a remote that cannot be reached is reported by the first
/// fetch, as without it. Throws (with `error.code`
/// `BACKFILL_NATIVE_CONFIG`) when the configuration is invalid.
#[napi]
pub fn warm_up(env: Env, cwd: Option<String>, options: Option<CacheOptions>) -> Result<bool> {
    let (dir, opts) = options::resolve(cwd, options);
    Engine::new(&dir, &opts)
        .map(|engine| engine.warm_up())
        .map_err(|e| js_error(&env, &e))
}
