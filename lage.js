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
  lageCacheCommand(options)
  return { provider: 'custom', plugin: PLUGIN, options }
}

/**
 * What `lage cache` was asked (`{ clear: true }` or `{ prune: days }`), read
 * off lage's command line as its parser reads it; `null` for any other
 * command. lage 2.17 loads lage.config.js for `lage cache` but only empties
 * its own folder: the native store is acted on here.
 */
function lageCacheAction(argv = process.argv) {
  const script = argv[1] ? require('node:path').basename(argv[1]) : ''
  if (!/lage/.test(script)) return null
  const args = argv.slice(2)
  if (args[0] !== 'cache') return null
  if (args.includes('--clear')) return { clear: true }
  for (let i = 1; i < args.length; i++) {
    const value = args[i] === '--prune' ? args[i + 1] : args[i].startsWith('--prune=') ? args[i].slice(8) : undefined
    // lage parses the days with parseInt.
    const days = parseInt(value, 10)
    if (value !== undefined) return Number.isFinite(days) ? { prune: days } : null
  }
  return null
}

let cacheCommandDone = false
/** `lage cache --clear` and `--prune <days>` also clear or prune the native store, with one line. */
function lageCacheCommand(options, argv = process.argv) {
  const action = wt.isMainThread && !cacheCommandDone && lageCacheAction(argv)
  if (!action) return
  cacheCommandDone = true
  try {
    const { Cache } = require('./index.js')
    const cache = new Cache({ cwd: process.cwd(), ...options })
    const folder = cache.config.cacheFolder
    const mb = (n) => `${(n / 1e6).toFixed(1)} MB`
    if (action.clear) {
      const r = cache.clearSync()
      process.stdout.write(`backfill-native: cleared the native store ${folder}: ${r.entriesRemoved} entries, ${r.contentsRemoved} contents, ${mb(r.bytesFreed)}\n`)
    } else {
      const r = cache.purgeSync(action.prune)
      process.stdout.write(
        `backfill-native: pruned the native store ${folder} of entries unused for ${action.prune} days: ${r.entriesRemoved} removed, ${r.entriesKept} kept, ${mb(r.bytesFreed)} freed\n`,
      )
    }
  } catch (err) {
    // lage goes on with its own folder; the user sees why ours was not done.
    process.stderr.write(`backfill-native: the native store was not ${action.clear ? 'cleared' : 'pruned'}: ${err.message}\n`)
    process.exitCode = 1
  }
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
        noteCiUploadsOnce(opts.workerData, csc.options)
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
 * lage uploads whenever CI is set; backfill-native only when asked
 * (LAGE_WRITE_REMOTE_CACHE). A pipeline that relied on the former is told
 * once, in lage's main process, when it matters: CI is set, a remote is
 * configured and remote writes are off. Returns the line, or null.
 */
function ciUploadNote(workerData, options = {}, env = process.env) {
  // lage's own test for "running in CI".
  const ci = env.NODE_ENV !== 'test' && !env.JEST_WORKER_ID && (!!env.CI || !!env.TF_BUILD)
  // LAGE_WRITE_CACHE=false turns lage's CI uploads off too: nothing differs.
  if (!ci || String(env.LAGE_WRITE_CACHE).toLowerCase() === 'false') return null
  let config
  try {
    config = require('./index.js').loadConfig(process.cwd(), { ...optionsFromLage(workerData), ...options })
  } catch {
    // An invalid configuration is reported by the workers' first fetch.
    return null
  }
  // Every provider but these two has a remote.
  if (['local', 'local-skip'].includes(config.provider) || config.writeRemoteCache) return null
  const variable = env.TF_BUILD && !env.CI ? 'TF_BUILD' : 'CI'
  return (
    `backfill-native: ${variable} is set, but remote cache uploads are off: lage's own cache uploads in CI, ` +
    'backfill-native only when asked. To upload from this build, set LAGE_WRITE_REMOTE_CACHE=true ' +
    '(or writeRemoteCache: true in cacheOptions); outputs are still cached locally'
  )
}

let ciNoted = false
function noteCiUploadsOnce(workerData, options) {
  if (ciNoted) return
  ciNoted = true
  const line = ciUploadNote(workerData, options)
  if (line) process.stderr.write(`${line}\n`)
}

/**
 * The engine options lage's own settings stand for: `cacheOptions.writeRemoteCache`
 * and `incrementalCaching`, and `--skip-local-cache`. Options given to
 * cacheStorageConfig() win over these.
 */
function optionsFromLage(workerData) {
  const co = (workerData && workerData.cacheOptions) || {}
  return {
    ...(co.writeRemoteCache === true && { writeRemoteCache: true }),
    ...(co.incrementalCaching === true && { incrementalCaching: true }),
    // lage reads the flag with `=== true`: its CI default (the text of CI)
    // leaves its local cache on, so it leaves ours on too.
    ...(workerData && workerData.skipLocalCache === true && { skipLocalCache: true }),
  }
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
  const options = { ...(shown && { logLevel: lage.logLevel }), ...optionsFromLage(wd), ...csc.options }
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
  // following LAGE_WRITE_REMOTE_CACHE as the lage docs say, and lage's
  // writeRemoteCache, read above).
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
 * Build scripts that lage starts from this thread still get the hidden
 * variables: those started with the thread's own environment, and those
 * started with an environment made from it (lage 2.17's npm script runner
 * passes `{ ...process.env, LAGE_TASK, ... }`). An environment that is not
 * made from this thread's (it lacks some of its variables) is left exactly
 * as given, and so is a hidden variable the caller set itself.
 */
function restoreForChildren(saved) {
  const cp = require('node:child_process')
  const inherited = () => ({ ...process.env, ...saved })
  const madeFromOurs = (env) => Object.keys(process.env).every((k) => k in env)
  for (const name of ['spawn', 'exec', 'execFile', 'fork', 'spawnSync', 'execSync', 'execFileSync']) {
    const original = cp[name]
    cp[name] = function (...args) {
      const i = args.findIndex((a, n) => n > 0 && a && typeof a === 'object' && !Array.isArray(a))
      if (i >= 0) {
        const env = args[i].env
        if (!env) args[i] = { ...args[i], env: inherited() }
        else if (typeof env === 'object' && madeFromOurs(env)) {
          const missing = Object.fromEntries(Object.entries(saved).filter(([k]) => !(k in env)))
          if (Object.keys(missing).length) args[i] = { ...args[i], env: { ...env, ...missing } }
        }
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
