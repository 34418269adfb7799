#!/usr/bin/env node
// backfill-native's command line: thin JS over the native API.
//
//   backfill-native [options] -- <command> [args...]   cached run of a build step
//   backfill-native hash | fetch <hash> | put <hash> | stats | evict | purge | clear | config
//
// Exit codes: 0 done (fetch: a hit), 1 the operation failed, 2 bad
// arguments, 3 fetch: a miss; a cached run exits with its command's code.
'use strict'

const { spawn } = require('node:child_process')

const USAGE = `usage:
  backfill-native [--inputs <glob>...] [--outputs <glob>...] [options] -- <command> [args...]
      Hash the package in the current folder, fetch its outputs; on a miss run
      the command (its output shown, its exit code passed through) and, if it
      succeeds, store the outputs. A hit says where it came from and skips it.
  backfill-native hash [--inputs <glob>...] [--salt <text>] [options]
      Print the package's cache key.
  backfill-native fetch <hash> [--json]      restore the outputs stored for <hash>
  backfill-native put <hash> [--outputs <glob>...] [--json]
                                             store the outputs as <hash>
  backfill-native stats [--json]             what the local store holds: size, cap, age limit,
                                             oldest entry, last eviction
  backfill-native evict [--json]             evict now: least recently used entries over the
                                             size cap, entries over the age limit
  backfill-native purge [--days N] [--json]  remove entries unused for N days (default 30)
                                             and contents no entry uses (lage cache --prune N)
  backfill-native clear [--json]             remove everything from the local store (lage cache --clear)
  backfill-native config                     the resolved configuration, secrets redacted

options:
  --inputs <glob>...    input globs, relative to the package (default: every file);
                        files the output globs match are never inputs
  --outputs <glob>...   output globs (default: BACKFILL_OUTPUT_GLOB, or lib/**)
  --env <NAME>...       environment variables whose values are part of the key
  --gitignore           skip files that .gitignore ignores when hashing
  --json                print one JSON object instead of lines
  -h, --help            this text

exit codes: 0 done (fetch: hit), 1 failed, 2 bad arguments, 3 fetch: miss;
a cached run exits with its command's exit code.`

class UsageError extends Error {}

/** Parses argv into { command, positional, flags, run }. */
function parse(argv) {
  const dash = argv.indexOf('--')
  const run = dash >= 0 ? argv.slice(dash + 1) : null
  const args = dash >= 0 ? argv.slice(0, dash) : argv
  const flags = { inputs: [], outputs: [], env: [], json: false, gitignore: false, days: 30, salt: null }
  const positional = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    const list = (name) => {
      while (i + 1 < args.length && !args[i + 1].startsWith('--')) flags[name].push(args[++i])
      if (flags[name].length === 0) throw new UsageError(`--${name} needs at least one value`)
    }
    if (a === '--inputs') list('inputs')
    else if (a === '--outputs') list('outputs')
    else if (a === '--env') list('env')
    else if (a === '--json') flags.json = true
    else if (a === '--gitignore') flags.gitignore = true
    else if (a === '--salt') {
      if (i + 1 >= args.length) throw new UsageError('--salt needs a value')
      flags.salt = args[++i]
    } else if (a === '--days') {
      const v = args[++i]
      if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--days needs a number of days, got ${v ?? 'nothing'}`)
      flags.days = Number(v)
    } else if (a === '-h' || a === '--help') flags.help = true
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`)
    else positional.push(a)
  }
  if (run && run.length === 0) throw new UsageError('nothing to run after --')
  return { command: run ? 'run' : positional.shift(), positional, flags, run }
}

/** On a terminal, a line saying what is going on while `promise` runs. */
async function withProgress(label, promise) {
  if (!process.stderr.isTTY) return promise
  const start = Date.now()
  const draw = () => process.stderr.write(`\r${label} ${((Date.now() - start) / 1000).toFixed(1)} s`)
  const timer = setInterval(draw, 100)
  try {
    return await promise
  } finally {
    clearInterval(timer)
    process.stderr.write('\r\x1b[K')
  }
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`
const ms = (n) => `${Math.round(n)} ms`
const ago = (at) => {
  const s = Math.max(0, (Date.now() - at) / 1000)
  if (s < 120) return `${Math.round(s)} s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} days ago`
}

async function main(argv) {
  const { command, positional, flags, run } = parse(argv)
  if (flags.help) {
    console.log(USAGE)
    return 0
  }
  if (!command) throw new UsageError('no command given')
  const expect = (n) => {
    if (positional.length !== n) throw new UsageError(`${command} takes ${n === 0 ? 'no' : n} argument${n === 1 ? '' : 's'}, got ${positional.length}`)
  }
  const native = require('./index.js')
  const print = (json, text) => console.log(flags.json ? JSON.stringify(json) : text)
  const warn = (warnings) => {
    // Notices ({ code, message }): the message is for people.
    for (const w of warnings) console.error(`backfill-native: warning: ${w.message}`)
  }
  // The configuration's own warnings (an unknown provider option, say), once.
  let config = null
  const loadConfig = () => {
    if (!config) {
      config = native.loadConfig()
      warn(config.warnings)
    }
    return config
  }
  const cache = () => {
    loadConfig()
    return new native.Cache()
  }
  const outputs = flags.outputs.length ? flags.outputs : undefined
  // Outputs are never inputs: a build's own outputs (which may hold a
  // timestamp) would change the key of the next run. Every file an output
  // glob matches is left out of the inputs, whatever --inputs says.
  const inputs = () => {
    const excluded = (outputs ?? loadConfig().outputGlob).filter((g) => !g.trim().startsWith('!')).map((g) => `!${g.trim()}`)
    return [...(flags.inputs.length ? flags.inputs : ['**/*']), ...excluded]
  }
  const key = () =>
    native.hashPackage({
      cwd: process.cwd(),
      inputs: inputs(),
      salt: flags.salt ?? (run ? run.join(' ') : ''),
      envVars: flags.env,
      gitignore: flags.gitignore,
    })

  /** Where a hit came from, as lage's log says it: a pull request's scope is named. */
  const from = (got) => `the ${got.source} cache${got.scope === 'pull-request' ? ` (pull request ${got.pullRequest}'s scope)` : ''}`

  switch (command) {
    case 'run': {
      const c = cache()
      const hash = await withProgress('hashing inputs', key())
      const got = await withProgress(`fetching ${hash}`, c.fetch(hash))
      warn(got.warnings)
      if (got.hit) {
        print({ hash, hit: true, source: got.source, scope: got.scope, pullRequest: got.pullRequest, filesRestored: got.filesRestored, durationMs: got.durationMs }, `backfill-native: hit for ${hash} from ${from(got)} (${got.filesRestored} files restored, ${got.filesUnchanged} unchanged, ${ms(got.durationMs)}); skipped: ${run.join(' ')}`)
        return 0
      }
      if (!flags.json) console.error(`backfill-native: miss for ${hash}; running: ${run.join(' ')}`)
      const code = await new Promise((resolve) => {
        const child = spawn(run[0], run.slice(1), { stdio: 'inherit' })
        child.on('error', (e) => {
          console.error(`backfill-native: could not run ${run[0]}: ${e.message}`)
          resolve(127)
        })
        child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 : 1)))
      })
      if (code !== 0) {
        if (!flags.json) console.error(`backfill-native: the command exited with ${code}; nothing stored`)
        else print({ hash, hit: false, exitCode: code, stored: false }, '')
        return code
      }
      const put = await withProgress(`storing ${hash}`, c.put(hash, outputs))
      await c.flush()
      warn(put.warnings)
      print({ hash, hit: false, exitCode: 0, stored: put.stored, files: put.files, bytes: put.bytes, uploaded: put.uploaded }, `backfill-native: stored ${hash}: ${put.files} files, ${mb(put.bytes)}${put.uploaded ? ', uploaded' : ''}`)
      return 0
    }
    case 'hash': {
      expect(0)
      const hash = await withProgress('hashing inputs', key())
      print({ hash }, hash)
      return 0
    }
    case 'fetch': {
      expect(1)
      const got = await withProgress(`fetching ${positional[0]}`, cache().fetch(positional[0]))
      warn(got.warnings)
      print(got, got.hit ? `hit from ${from(got)}: ${got.filesRestored} files restored, ${got.filesUnchanged} unchanged, ${ms(got.durationMs)}` : `miss${got.skipped ? ` (${got.skipped.message})` : ''}`)
      return got.hit ? 0 : 3
    }
    case 'put': {
      expect(1)
      const c = cache()
      const put = await withProgress(`storing ${positional[0]}`, c.put(positional[0], outputs))
      const late = await c.flush()
      warn([...put.warnings, ...late])
      print(put, put.stored ? `stored ${put.files} files, ${mb(put.bytes)} (${mb(put.newBytes)} new)${put.uploaded ? `, uploaded ${mb(put.uploadBytes)}` : ''}` : `not stored: ${put.skipped.message}`)
      return 0
    }
    case 'stats': {
      expect(0)
      const c = cache()
      const s = await c.storeStats()
      const when = (ms) => `${new Date(ms).toISOString()} (${ago(ms)})`
      const cap = s.maxSize == null ? 'no size cap' : `cap ${mb(s.maxSize)}`
      const age = s.maxAgeDays == null ? 'no age limit' : `age limit ${+s.maxAgeDays.toFixed(3)} days`
      const last = s.lastEviction
      print({ ...s, cacheFolder: c.config.cacheFolder }, [
        `${c.config.cacheFolder}: ${s.entries} entries, ${s.contents} contents, ${mb(s.bytes)} (${cap}, ${age})`,
        ...(s.tempBytes > 0 ? [`of which temp files left by interrupted fetches and puts: ${mb(s.tempBytes)} (the next evict removes them)`] : []),
        ...(s.unaccountedBytes > 0 ? [`of which contents kept for entries this version cannot read: ${mb(s.unaccountedBytes)}`] : []),
        `oldest entry: ${s.oldestUsed == null ? 'none' : `last used ${when(s.oldestUsed)}`}`,
        `last eviction: ${last ? `${when(last.at)}: ${last.entriesRemoved} entries and ${last.contentsRemoved} contents removed, ${mb(last.bytesFreed)} freed, in ${ms(last.durationMs)}` : 'none yet'}`,
      ].join('\n'))
      return 0
    }
    case 'evict': {
      expect(0)
      const c = cache()
      const r = await c.evict()
      print(r, `evicted from ${c.config.cacheFolder}: ${r.entriesRemoved} entries and ${r.contentsRemoved} contents removed, ${mb(r.bytesFreed)} freed; ${r.entries} entries, ${mb(r.bytes)} left (${ms(r.durationMs)}${r.rebuilt ? ', index rebuilt' : ''})`)
      return 0
    }
    case 'purge': {
      expect(0)
      const c = cache()
      const r = c.purgeSync(flags.days)
      print(r, `purged ${c.config.cacheFolder} of entries unused for ${flags.days} days: ${r.entriesRemoved} removed, ${r.entriesKept} kept, ${r.contentsRemoved} contents removed, ${mb(r.bytesFreed)} freed`)
      return 0
    }
    case 'clear': {
      expect(0)
      const c = cache()
      const r = c.clearSync()
      print(r, `cleared ${c.config.cacheFolder}: ${r.entriesRemoved} entries, ${r.contentsRemoved} contents, ${mb(r.bytesFreed)}`)
      return 0
    }
    case 'config': {
      expect(0)
      console.log(JSON.stringify(native.loadConfig(), null, 2))
      return 0
    }
    default:
      throw new UsageError(`unknown command ${command}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    if (e instanceof UsageError) {
      console.error(`backfill-native: ${e.message}\n\n${USAGE}`)
      process.exitCode = 2
    } else {
      console.error(`backfill-native: ${e.message}`)
      process.exitCode = 1
    }
  },
)
