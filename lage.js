'use strict'
// backfill-native/lage: makes the released lage 2.x call backfill-native for
// every cache fetch and put of `lage build`.
//
//   // lage.config.js: the one change
//   cacheOptions: {
//     cacheStorageConfig: require('backfill-native/lage').cacheStorageConfig({ /* CacheOptions */ }),
//   }
//
// Why it is needed: lage copies cacheOptions into its worker threads by
// structured clone, so a provider function cannot get there (DataCloneError,
// microsoft/lage issue 728), and any provider name it does not know silently
// becomes its own JS local cache. This module hands lage a plain marker (the
// shape proposed upstream for plugins loaded by name), and makes every lage
// worker carrying that marker run `setupLageWorker` first, which swaps the
// marker for a provider function in the worker's own copy of workerData.
//
// The same worker setup runs when this file is preloaded in the workers with
// NODE_OPTIONS="--require backfill-native/lage" (the fallback if a later lage
// creates its workers in a way the hook does not see).
const wt = require('node:worker_threads')

const PLUGIN = 'backfill-native'
// lage's worker would replace our provider with its own JS one when
// BACKFILL_CACHE_PROVIDER is set, and would skip put when LAGE_WRITE_CACHE is
// false. The engine reads the real process environment, so these are hidden
// from the worker thread's copy of it only.
const HIDDEN_FROM_LAGE = ['BACKFILL_CACHE_PROVIDER', 'BACKFILL_CACHE_PROVIDER_OPTIONS', 'LAGE_WRITE_CACHE']
// lage's log levels, for messages posted to its main thread.
const LAGE_LEVEL = { error: 10, warn: 20, info: 30, verbose: 40, silly: 50 }

/**
 * The level lage shows, read off its command line as lage reads it
 * (`--verbose`, `--log-level <level>`, default info); `--log-file` writes
 * verbose lines to a file whatever the level. Read in lage's main thread:
 * a worker thread has its own, empty argv.
 */
function lageLogLevel(argv = process.argv) {
  let level = 'info'
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--verbose') level = 'verbose'
    else if (a === '--log-level' && LAGE_LEVEL[argv[i + 1]]) level = argv[i + 1]
    else if (a.startsWith('--log-level=') && LAGE_LEVEL[a.slice(12)]) level = a.slice(12)
  }
  if (argv.some((a) => a === '--log-file' || a.startsWith('--log-file='))) {
    if (LAGE_LEVEL[level] < LAGE_LEVEL.verbose) level = 'verbose'
  }
  return level
}

const isMarker = (c) => !!c && typeof c === 'object' && c.provider === 'custom' && c.plugin === PLUGIN

/**
 * The `cacheOptions.cacheStorageConfig` for lage.config.js. `options` are
 * backfill-native's CacheOptions (plain data: they cross into the workers).
 */
function cacheStorageConfig(options = {}) {
  exitUnlessBinaryLoads()
  installWorkerHook()
  return { provider: 'custom', plugin: PLUGIN, options }
}

/**
 * A missing binary stops lage here, in its main process, with one line:
 * otherwise each target worker would crash with a long trace, and a lage
 * that got no provider would silently use its own cache instead.
 */
function exitUnlessBinaryLoads() {
  try {
    require('./index.js')
  } catch (err) {
    if (!wt.isMainThread || err.code !== 'BFN_NO_BINARY') throw err
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
}

/** Makes lage's target workers that carry the marker run `setupLageWorker` first. */
function installWorkerHook() {
  if (!wt.isMainThread || wt.Worker.__backfillNative) return
  const Original = wt.Worker
  class Worker extends Original {
    constructor(script, opts = {}) {
      const csc = opts && opts.workerData && opts.workerData.cacheOptions && opts.workerData.cacheOptions.cacheStorageConfig
      if (typeof script === 'string' && !opts.eval && isMarker(csc)) {
        // The worker's copy of the marker also says what lage shows.
        const marker = { ...csc, lage: { logLevel: lageLogLevel() } }
        const workerData = { ...opts.workerData, cacheOptions: { ...opts.workerData.cacheOptions, cacheStorageConfig: marker } }
        super(`require(${JSON.stringify(__filename)}).setupLageWorker(); require(${JSON.stringify(script)})`, { ...opts, workerData, eval: true })
      } else {
        super(script, opts)
      }
    }
  }
  Worker.__backfillNative = true
  wt.Worker = Worker
}

/**
 * Inside a lage target worker, before lage reads its workerData. The hook
 * adds to the marker what lage's main thread knows (its log level); without
 * it (the NODE_OPTIONS preload) every line the engine's level lets through
 * is sent.
 */
function setupLageWorker() {
  const wd = wt.workerData
  const csc = wd && wd.cacheOptions && wd.cacheOptions.cacheStorageConfig
  if (wt.isMainThread || !isMarker(csc)) return
  let getProvider, warmUp
  try {
    ;({ getProvider, warmUp } = require('./index.js'))
  } catch (err) {
    // Never a silent fall back to lage's cache: the target fails, with the one line.
    if (err.code === 'BFN_NO_BINARY') err.stack = err.message
    throw err
  }
  const lage = csc.lage || {}
  const shown = LAGE_LEVEL[lage.logLevel]
  // Unless configured otherwise, the engine logs at lage's level, so
  // `lage build --verbose` shows hits and misses.
  const options = { ...(shown && { logLevel: lage.logLevel }), ...csc.options }
  // lage gives providers backfill's logger set to "error": send our lines to
  // lage's own logger instead, which shows warnings in lage's output. Lines
  // lage would not show are not sent (each is a message to its main thread);
  // the engine skips a level the logger has no method for.
  const post = (level) => (...args) => {
    try {
      wt.parentPort.postMessage({ type: 'log', level: LAGE_LEVEL[level], msg: args.join(' ') })
    } catch {}
  }
  const logger = {}
  for (const level of Object.keys(LAGE_LEVEL)) {
    if (!shown || LAGE_LEVEL[level] <= shown) logger[level] = post(level)
  }
  // lage asks for a provider for every fetch and every put: one storage per
  // package folder serves them all (the options and environment of a
  // worker do not change).
  const storages = new Map()
  const provider = (_backfillLogger, cwd) => {
    let storage = storages.get(cwd)
    if (!storage) {
      storage = getProvider(logger, cwd, options)
      storages.set(cwd, storage)
    }
    return storage
  }
  // The remote's connection (and sign-in) opens in the background while
  // lage loads its worker code, rather than in the first fetch. A bad
  // configuration is left for that fetch to report, on lage's logger.
  try {
    warmUp(process.cwd(), options)
  } catch {}
  wd.cacheOptions.cacheStorageConfig = { provider }
  // The native store is the only cache: lage's own local cache is not asked
  // and not written, and lage always calls put (the engine decides uploads,
  // following LAGE_WRITE_REMOTE_CACHE as the lage docs say).
  wd.skipLocalCache = true
  wd.cacheOptions.writeRemoteCache = true
  const saved = {}
  for (const k of HIDDEN_FROM_LAGE) {
    if (k in process.env) {
      saved[k] = process.env[k]
      delete process.env[k]
    }
  }
  if (Object.keys(saved).length) restoreForChildren(saved)
}

/**
 * Build scripts that lage starts from this thread with the thread's own
 * environment still get the hidden variables; an environment the caller
 * chose is left exactly as given.
 */
function restoreForChildren(saved) {
  const cp = require('node:child_process')
  const inherited = () => ({ ...process.env, ...saved })
  for (const name of ['spawn', 'exec', 'execFile', 'fork', 'spawnSync', 'execSync', 'execFileSync']) {
    const original = cp[name]
    cp[name] = function (...args) {
      const i = args.findIndex((a, n) => n > 0 && a && typeof a === 'object' && !Array.isArray(a))
      if (i >= 0) {
        if (!args[i].env) args[i] = { ...args[i], env: inherited() }
      } else {
        args.splice(Array.isArray(args[1]) ? 2 : 1, 0, { env: inherited() })
      }
      return original.apply(this, args)
    }
  }
}

module.exports = { cacheStorageConfig, setupLageWorker }

// Preloaded with NODE_OPTIONS="--require backfill-native/lage".
if (!wt.isMainThread) setupLageWorker()
