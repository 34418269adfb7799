//! One napi task that runs a piece of engine work and reports its log lines
//! to a lage logger on the JS thread. The async API hands it to libuv's
//! thread pool; its `Sync` twin runs the very same `compute`, then `resolve`,
//! on the calling thread (as node-rs argon2 does).

use napi::bindgen_prelude::*;

use super::error::js_error;
use super::logger::{self, LogLine};
use crate::config::LogLevel;
use crate::error::CacheError;

/// Engine work: a result plus lines for the logger.
pub type Work<T> = Box<dyn FnOnce() -> Done<T> + Send>;

/// What a piece of work produced.
pub struct Done<T> {
    pub result: std::result::Result<T, CacheError>,
    pub logs: Vec<LogLine>,
    /// More work to start once this resolves (a background upload); it
    /// reports to the same logger.
    pub follow_up: Option<Work<()>>,
}

impl<T> Done<T> {
    /// A result with no log lines.
    pub fn quiet(result: std::result::Result<T, CacheError>) -> Self {
        Done {
            result,
            logs: Vec::new(),
            follow_up: None,
        }
    }

    /// A result with log lines.
    pub fn logged(result: std::result::Result<T, CacheError>, logs: Vec<LogLine>) -> Self {
        Done {
            result,
            logs,
            follow_up: None,
        }
    }
}

/// The napi task around a piece of work.
pub struct EngineTask<T: Send + 'static> {
    work: Option<Work<T>>,
    logger: Option<ObjectRef<false>>,
    level: LogLevel,
}

impl<T: Send + 'static> EngineTask<T> {
    /// A task that logs nothing.
    pub fn new(work: Work<T>) -> Self {
        EngineTask {
            work: Some(work),
            logger: None,
            level: LogLevel::Mute,
        }
    }

    /// A task whose log lines go to `logger`, filtered by `level`.
    pub fn logged(work: Work<T>, logger: Option<ObjectRef<false>>, level: LogLevel) -> Self {
        EngineTask {
            work: Some(work),
            logger,
            level,
        }
    }
}

impl<T: Send + ToNapiValue + TypeName + 'static> Task for EngineTask<T> {
    type Output = Done<T>;
    type JsValue = T;

    fn compute(&mut self) -> Result<Self::Output> {
        match self.work.take() {
            Some(work) => Ok(work()),
            None => Err(Error::from_reason("backfill-native: a task ran twice")),
        }
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        let logger = self.logger.as_ref().and_then(|l| l.get_value(&env).ok());
        if let Some(obj) = &logger {
            logger::emit(&env, obj, self.level, &output.logs);
        }
        if let Some(work) = output.follow_up {
            // Queued async work keeps Node alive until it ends, so a
            // background upload is not lost when the process ends normally.
            let logger = logger.and_then(|l| l.create_ref().ok());
            env.spawn(EngineTask::logged(work, logger, self.level))?;
        }
        output.result.map_err(|e| js_error(&env, &e))
    }

    fn finally(mut self, env: Env) -> Result<()> {
        if let Some(logger) = self.logger.take() {
            logger.unref(&env)?;
        }
        Ok(())
    }
}

/// Runs `task` on the calling thread (the `Sync` twins): `compute`, then
/// `resolve` and `finally`, exactly what the async API runs, so follow-up
/// work (a background upload) is queued and logged the same way.
pub fn run_sync<T: Send + ToNapiValue + TypeName + 'static>(
    env: &Env,
    mut task: EngineTask<T>,
) -> Result<T> {
    let value = task.compute().and_then(|output| task.resolve(*env, output));
    let finally = task.finally(*env);
    let value = value?;
    finally.map(|()| value)
}
