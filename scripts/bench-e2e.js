#!/usr/bin/env node
// End-to-end benchmark: a cached `lage build` as a user waits for it.
//
// Generates a deterministic monorepo (scripts/bench-e2e-repo.js: packages in
// dependency levels, mixed output sizes, some outputs identical across
// packages), installs lage and turbo into copies of it from the npm registry
// as a user would, and runs, interleaved round by round:
//   - lage-js:     lage 2.17.0 with its own cache (backfill-cache in JS)
//   - lage-native: lage 2.17.0 with the README's line,
//                  require("backfill-native/lage").cacheStorageConfig()
//   - turbo:       turborepo with its local cache, as a reference
// in the scenarios:
//   - cold:     empty cache, no outputs: every build script runs
//   - restored: everything cached, outputs deleted
//   - present after build: everything cached, outputs present and unchanged,
//               the first run after the build that wrote them
//   - present:  the same, run again (what a developer re-running `lage build`
//               with nothing changed waits for)
//   - remote:   (lage variants) empty local cache, outputs deleted, restored
//               from Azurite (support/azurite.js), filled once before the rounds
//   - server:   lage-native against turbo, each with its own remote client,
//               on the same turborepo-remote-cache server (local storage,
//               support/turbo-server.js) configured only by turbo's
//               variables (TURBO_API, TURBO_TOKEN, TURBO_TEAM; lage-native
//               with BACKFILL_CACHE_PROVIDER=turborepo): empty local cache,
//               outputs deleted, everything restored from the server, which
//               a first cold build of each filled; the time of each target
//               (lage's JSON reporter; turbo's run summary, --summarize)
//   - pr:       (lage-native only; not in the default set: BENCH_SCENARIOS=pr)
//               what the pull request scope buys, with Azurite as the
//               remote: main's container filled by a cold build that
//               uploads; a pull request's first push changes one package of
//               the middle level that has dependents, its second push one
//               more of that level (the one whose dependents overlap the
//               first's least); each push on a fresh machine (empty local
//               cache, outputs deleted) as GitHub Actions builds pull
//               request <n>, reading main with a read-only SAS. "with its
//               scope" sets BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS (a
//               second container), so the first push uploads what it
//               rebuilt and the second push hits it; "without" does not,
//               so the second push rebuilds what the first did. Each round
//               starts from the sources as generated, and each pull request
//               has a number no earlier one had (its scope is empty). It
//               prints, for each push, the targets rebuilt, restored from
//               main and from the scope (the provider's verbose hit lines,
//               lage-native at --log-level verbose) and the wall; each push
//               is checked against a cold build of the same sources
// and, as a bound, "lage-floor": lage-native's repo with a provider that
// answers every fetch "hit" at once and touches nothing
// (scripts/bench-e2e-floor.js), in the present scenarios: lage's own cost
// with a free cache, under which no provider can go.
// Every run is checked: after a cached run no build script ran (builds.log)
// and the outputs are byte for byte (and mode) those of the first cold build.
//
// The split of lage's time comes from lage's JSON reporter at its default
// log level (`--reporter json --log-level info`): its target events carry a
// timestamp and the worker thread. "before targets" is the time from the
// spawn to the first target starting, "first target" the first target of
// each worker (worker start: thread, lage's worker code, the cache provider's
// first call), "other targets" every other target.
//
// Run: `npm run bench:e2e` (builds the addon first). Env:
//   BENCH_PACKAGES (30), BENCH_FILES (3000), BENCH_MB (60), BENCH_CONCURRENCY (2),
//   BENCH_ROUNDS (4), BENCH_DIR (work folder's parent; default /dev/shm, tmpfs;
//   give a folder on disk to measure the disk), BENCH_FS (tmp, tmpfs, disk,
//   xfs, btrfs: where to measure, as `npm run bench` takes it; xfs and
//   btrfs make an image and loop-mount it, as root: support/loop-fs.js;
//   BENCH_DIR is then ignored), BENCH_SYNC=0 (no `sync`
//   before each run: earlier writes are written back during the runs),
//   BENCH_TURBO=0 (skip turbo in the local scenarios),
//   BENCH_SCENARIOS (cold,restored,present1,present,remote,server by
//   default, or pr too: which scenarios run; BENCH_SCENARIOS=server runs
//   only the cache-server restore, BENCH_SCENARIOS=pr only the pull request's),
//   BENCH_KEEP=1 (keep the work folder).
// Quick run: BENCH_PACKAGES=8 BENCH_FILES=400 BENCH_MB=8 BENCH_ROUNDS=2 npm run bench:e2e
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { spawnSync, execFileSync } = require('node:child_process')

const { cleanEnv, scrubCacheEnv } = require('../support/env')
const { startAzurite, blobClient, readOnlySas, ACCOUNT, KEY } = require('../support/azurite')
const { plan, writeRepo, totals } = require('./bench-e2e-repo')

scrubCacheEnv()

const ROOT = path.resolve(__dirname, '..')
const LAGE_VERSION = '2.17.0'
// The newest turbo whose binary installs and runs on Node 20 here.
const TURBO_VERSION = '2.11.11'

function num(name, fallback, { int = true } = {}) {
  const raw = process.env[name]
  const v = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))) throw new Error(`${name} must be a positive ${int ? 'integer' : 'number'}, got ${raw}`)
  return v
}

const PACKAGES = num('BENCH_PACKAGES', 30)
const FILES = num('BENCH_FILES', 3000)
const MB = num('BENCH_MB', 60, { int: false })
const CONCURRENCY = num('BENCH_CONCURRENCY', 2)
const ROUNDS = num('BENCH_ROUNDS', 4)
const ALL_SCENARIOS = ['cold', 'restored', 'present1', 'present', 'remote', 'server', 'pr']
// The pull request scenario runs only when asked (BENCH_SCENARIOS=pr).
const DEFAULT_SCENARIOS = ALL_SCENARIOS.filter((x) => x !== 'pr')
const SELECTED = (process.env.BENCH_SCENARIOS || DEFAULT_SCENARIOS.join(',')).split(',').map((x) => x.trim()).filter(Boolean)
for (const x of SELECTED) if (!ALL_SCENARIOS.includes(x)) throw new Error(`BENCH_SCENARIOS: unknown scenario ${x} (${ALL_SCENARIOS.join(', ')})`)
const RUNS = Object.fromEntries(ALL_SCENARIOS.map((x) => [x, SELECTED.includes(x)]))
// The scenarios of lage-js and the floor: every one but the cache server's
// and the pull request's (lage-native alone).
const LOCAL = SELECTED.some((x) => x !== 'server' && x !== 'pr')
const WITH_TURBO = (process.env.BENCH_TURBO !== '0' && LOCAL) || RUNS.server
// BENCH_FS: a folder made on the file system asked for (an image for xfs
// and btrfs), removed at the end.
const WORK = process.env.BENCH_FS ? require('../support/loop-fs').workFolder(process.env.BENCH_FS, { sizeGiB: 8 }) : null
const BASE = WORK ? WORK.dir : process.env.BENCH_DIR || (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir())

const fsType = (dir) => {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

// ---------------------------------------------------------------- the repos

const LAGE_CONFIG = {
  'lage-js': `module.exports = {
  pipeline: { build: ["^build"] },
  npmClient: "npm",
  cacheOptions: {
    outputGlob: ["lib/**"],
  },
};
`,
  // The README's "Use with lage" line.
  'lage-native': `module.exports = {
  pipeline: { build: ["^build"] },
  npmClient: "npm",
  cacheOptions: {
    outputGlob: ["lib/**"],
    cacheStorageConfig: require("backfill-native/lage").cacheStorageConfig(),
  },
};
`,
}

const TURBO_JSON = JSON.stringify({ $schema: 'https://turborepo.com/schema.json', ui: 'stream', tasks: { build: { dependsOn: ['^build'], outputs: ['lib/**'] } } }, null, 2)

const npmVersion = () => execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim()

const gitIn = (dir, ...args) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: cleanEnv({ GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' }) })

function makeVariant(root, name, pkgs) {
  const dir = path.join(root, name)
  const isTurbo = name === 'turbo'
  writeRepo(dir, pkgs, {
    packageManager: `npm@${npmVersion()}`,
    devDependencies: isTurbo ? { turbo: TURBO_VERSION } : { lage: LAGE_VERSION },
    extra: isTurbo ? { 'turbo.json': TURBO_JSON } : { 'lage.config.js': LAGE_CONFIG[name] },
  })
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env: cleanEnv(), encoding: 'utf8' })
  if (npm.status !== 0) throw new Error(`npm install in ${dir} failed:\n${npm.stdout}${npm.stderr}`)
  if (name === 'lage-native') {
    // How a user gets this package: node_modules/backfill-native (this
    // clone, with the addon just built, linked in place of an install).
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'backfill-native'))
  }
  const git = (...args) => gitIn(dir, ...args)
  git('init', '-q')
  git('add', '-A')
  git('commit', '-qm', 'init')
  const caches = {
    'lage-js': [path.join(dir, 'node_modules', '.cache', 'lage', 'cache')],
    'lage-native': [path.join(dir, 'node_modules', '.cache', 'backfill-native'), path.join(dir, 'node_modules', '.cache', 'lage', 'cache')],
    turbo: [path.join(dir, '.turbo'), path.join(dir, 'node_modules', '.cache', 'turbo')],
  }[name]
  return { name, dir, isTurbo, caches, trash: path.join(root, 'trash') }
}

// ---------------------------------------------------------------- checks

function outputsDigest(v, pkgs) {
  const h = crypto.createHash('sha256')
  const walk = (base, rel) => {
    const abs = path.join(base, rel)
    if (!fs.existsSync(abs)) return
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = path.posix.join(rel, e.name)
      const p = path.join(base, r)
      if (e.isDirectory()) walk(base, r)
      else h.update(`${r}\0${fs.lstatSync(p).mode & 0o777}\0`).update(fs.readFileSync(p))
    }
  }
  for (const p of pkgs) {
    h.update(`#${p.name}\0`)
    walk(path.join(v.dir, 'packages', p.name), 'lib')
  }
  return h.digest('hex')
}

const builds = (v) => {
  const log = path.join(v.dir, 'builds.log')
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0
}

let trashCount = 0
function deleteOutputs(v, pkgs) {
  fs.mkdirSync(v.trash, { recursive: true })
  for (const p of pkgs) {
    const lib = path.join(v.dir, 'packages', p.name, 'lib')
    if (fs.existsSync(lib)) fs.renameSync(lib, path.join(v.trash, `${++trashCount}`))
  }
}
const emptyTrash = (v) => fs.rmSync(v.trash, { recursive: true, force: true })
const deleteCaches = (v) => v.caches.forEach((c) => fs.rmSync(c, { recursive: true, force: true }))

// Flushes earlier writes (the setup's, the previous run's, deleted
// outputs) so that their writeback lands in no timing (it matters on a
// disk). BENCH_SYNC=0 leaves them to the kernel, as a developer's machine
// does, to see how much that writeback moves the timings.
const SYNC = process.env.BENCH_SYNC !== '0'
const settle = () => SYNC && execFileSync('sync')

// ---------------------------------------------------------------- runs

// On a disk: the block device's counters (/sys/dev/block/M:m/stat) around
// each run, to tell what the run wrote from what the disk was busy with.
// They count the whole device (other sessions' writes too).
let DEVICE_STAT = null
function deviceStatFor(dir) {
  try {
    const dev = fs.statSync(dir).dev
    const file = `/sys/dev/block/${Math.floor(dev / 256)}:${dev % 256}/stat`
    return fs.existsSync(file) && fsType(dir) !== 'tmpfs' ? file : null
  } catch {
    return null
  }
}
function deviceSample() {
  const dirty = Number((/^Dirty:\s+(\d+)/m.exec(fs.readFileSync('/proc/meminfo', 'utf8')) || [])[1] || 0)
  if (!DEVICE_STAT) return { dirtyKiB: dirty }
  const f = fs.readFileSync(DEVICE_STAT, 'utf8').trim().split(/\s+/).map(Number)
  // Fields: 5 writes completed, 7 sectors written, 8 ms spent writing, 10 ms busy.
  return { dirtyKiB: dirty, writes: f[4], sectors: f[6], writeMs: f[7], busyMs: f[9] }
}

const FLOOR_ENV = { NODE_OPTIONS: `--require ${path.join(__dirname, 'bench-e2e-floor.js')}` }

function run(v, env = {}, { summarize = false, engineTimes = false } = {}) {
  const cmd = v.isTurbo
    ? [path.join(v.dir, 'node_modules', '.bin', 'turbo'), ['run', 'build', `--concurrency=${CONCURRENCY}`, '--output-logs=none', ...(summarize ? ['--summarize'] : [])]]
    : [process.execPath, [path.join(v.dir, 'node_modules', 'lage', 'dist', 'lage.js'), 'build', '--concurrency', String(CONCURRENCY), '--reporter', 'json', '--log-level', engineTimes ? 'verbose' : 'info']]
  const before = deviceSample()
  const started = Date.now()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd[0], cmd[1], {
    cwd: v.dir,
    env: cleanEnv({ CI: '', TF_BUILD: '', GITHUB_ACTIONS: '', TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', TURBO_NO_UPDATE_NOTIFIER: '1', ...env }),
    encoding: 'utf8',
    maxBuffer: 256 * 1048576,
    timeout: 600000,
  })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const after = deviceSample()
  let disk = null
  if (DEVICE_STAT) {
    // What the run left for the disk to write: the time a sync takes now.
    const s0 = process.hrtime.bigint()
    if (SYNC) execFileSync('sync')
    const syncMs = SYNC ? Number(process.hrtime.bigint() - s0) / 1e6 : NaN
    const synced = deviceSample()
    disk = { dirtyKiB: before.dirtyKiB, mib: ((after.sectors - before.sectors) * 512) / 1048576, writes: after.writes - before.writes, busyMs: after.busyMs - before.busyMs, syncMs, syncMib: ((synced.sectors - after.sectors) * 512) / 1048576 }
  }
  if (r.status !== 0) throw new Error(`${v.name} build failed (${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`)
  return { ms, split: v.isTurbo ? null : lageSplit(r.stdout, started, ms), perTarget: v.isTurbo ? (summarize ? turboTargets(v) : null) : lageTargets(r.stdout), engine: engineTimes ? engineTargets(r.stdout) : null, hits: engineTimes ? hits(r.stdout) : null, warnings: engineTimes ? providerWarnings(r.stdout) : null, disk, stderr: r.stderr }
}

/** The events of lage's JSON reporter in one run's stdout (its JSON lines). */
function reporterEvents(stdout) {
  const events = []
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      events.push(JSON.parse(line))
    } catch {}
  }
  return events
}

/**
 * The engine's own time of each target's fetch (ms) in one lage run, by
 * target id, from the provider's verbose "hit for ... in N ms" lines in
 * lage's JSON reporter.
 */
function engineTargets(stdout) {
  return Object.fromEntries(hits(stdout).map((h) => [h.target, h.ms]))
}

/**
 * The provider's verbose hit lines in one lage run: each target's source
 * (`local`, `remote`) and, for a build with a pull request scope, the
 * scope named in parentheses (`main scope`, `pull request <n>'s scope`).
 */
function hits(stdout) {
  const out = []
  for (const e of reporterEvents(stdout)) {
    const m = /^backfill-native: hit for \S+ from the (\w+) cache(?: \(([^)]*)\))?: .* in (\d+) ms$/.exec(e.msg || '')
    if (m && e.data && e.data.target) out.push({ target: e.data.target.id, source: m[1], scope: m[2] || null, ms: Number(m[3]) })
  }
  return out
}

/** The provider's warnings in one lage run (lage's warn level, 20). */
function providerWarnings(stdout) {
  return reporterEvents(stdout)
    .filter((e) => e.level === 20 && /^backfill-native: /.test(e.msg || ''))
    .map((e) => e.msg)
}

/** Each target's time (ms) in one lage run, by target id (`pkg#build`), from its JSON reporter's lines. */
function lageTargets(stdout) {
  const runs = new Map()
  for (const e of reporterEvents(stdout)) {
    const d = e.data
    if (!d || !d.target || !d.status || d.target.id.startsWith('__')) continue
    const t = runs.get(d.target.id) || {}
    if (d.status === 'running') t.start = e.timestamp
    else if (['success', 'skipped', 'failed', 'aborted'].includes(d.status)) t.end = e.timestamp
    runs.set(d.target.id, t)
  }
  return Object.fromEntries([...runs].filter(([, t]) => t.start && t.end).map(([id, t]) => [id, t.end - t.start]))
}

/** Each task's time (ms) in turbo's run just made, by task id (`pkg#build`), from its run summary (--summarize). */
function turboTargets(v) {
  const dir = path.join(v.dir, '.turbo', 'runs')
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : []
  if (files.length !== 1) throw new Error(`turbo's run summary: expected one file in ${dir}, found ${files.length}`)
  const summary = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'))
  fs.rmSync(dir, { recursive: true, force: true })
  return Object.fromEntries(summary.tasks.map((t) => [t.taskId, t.execution.endTime - t.execution.startTime]))
}

/** The split of one lage run, from its JSON reporter's lines. */
function lageSplit(stdout, started, wallMs) {
  const runs = new Map()
  let summary = null
  for (const e of reporterEvents(stdout)) {
    if (e.summary) summary = e.summary
    const d = e.data
    if (!d || !d.target || !d.status || d.target.id.startsWith('__')) continue
    const t = runs.get(d.target.id) || {}
    if (d.status === 'running') Object.assign(t, { start: e.timestamp, thread: d.threadId })
    else if (['success', 'skipped', 'failed', 'aborted'].includes(d.status)) t.end = e.timestamp
    runs.set(d.target.id, t)
  }
  const done = [...runs.values()].filter((t) => t.start && t.end)
  if (!done.length) return null
  const byThread = new Map()
  for (const t of done.sort((a, b) => a.start - b.start)) if (!byThread.has(t.thread)) byThread.set(t.thread, t)
  const firsts = new Set(byThread.values())
  const firstStart = Math.min(...done.map((t) => t.start))
  const lastEnd = Math.max(...done.map((t) => t.end))
  return {
    beforeClock: summary ? wallMs - Number(summary.duration) * 1000 : null,
    beforeTargets: firstStart - started,
    firstTarget: median([...firsts].map((t) => t.end - t.start)),
    otherTarget: median(done.filter((t) => !firsts.has(t)).map((t) => t.end - t.start)),
    targets: lastEnd - firstStart,
    afterTargets: started + wallMs - lastEnd,
  }
}

// What the files alone cost, measured in this process between runs: for one
// package, copying its outputs into a new folder with fs.copyFileSync (one
// thread; the cheapest copy Node has, copy_file_range where it exists) and
// reading each of them with fs.readFileSync. Any restore must at least
// create and fill the files; a fetch over outputs whose state it does not
// know must at least read them.
const fileFloors = { copy: [], read: [] }
function measureFileFloors(v, pkgs) {
  const scratch = path.join(v.trash, '..', 'floor-copy')
  for (const p of pkgs) {
    const lib = path.join(v.dir, 'packages', p.name, 'lib')
    const files = []
    const walk = (rel) => {
      for (const e of fs.readdirSync(path.join(lib, rel), { withFileTypes: true })) {
        const r = path.join(rel, e.name)
        if (e.isDirectory()) walk(r)
        else files.push(r)
      }
    }
    walk('')
    fs.rmSync(scratch, { recursive: true, force: true })
    let t0 = process.hrtime.bigint()
    const made = new Set()
    for (const rel of files) {
      const dir = path.dirname(path.join(scratch, rel))
      if (!made.has(dir)) (fs.mkdirSync(dir, { recursive: true }), made.add(dir))
      fs.copyFileSync(path.join(lib, rel), path.join(scratch, rel))
    }
    fileFloors.copy.push(Number(process.hrtime.bigint() - t0) / 1e6)
    t0 = process.hrtime.bigint()
    for (const rel of files) fs.readFileSync(path.join(lib, rel))
    fileFloors.read.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  fs.rmSync(scratch, { recursive: true, force: true })
}

// ---------------------------------------------------------------- numbers

function median(xs) {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const samples = {} // `${scenario}/${variant}` -> [{ ms, split }]
const record = (scenario, v, result) => (samples[`${scenario}/${v.name}`] ||= []).push(result)
const msOf = (scenario, name) => (samples[`${scenario}/${name}`] || []).map((s) => s.ms)
const med = (scenario, name) => median(msOf(scenario, name))
const sec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '–')
const cell = (scenario, name) => {
  const xs = msOf(scenario, name)
  if (!xs.length) return '–'
  return `${sec(median(xs))} (${(Math.min(...xs) / 1000).toFixed(2)}-${(Math.max(...xs) / 1000).toFixed(2)})`
}
const splitMed = (scenario, name, key) => median((samples[`${scenario}/${name}`] || []).map((s) => s.split && s.split[key]).filter((x) => Number.isFinite(x)))

// ---------------------------------------------------------------- pull requests

// The pull request scenario (BENCH_SCENARIOS=pr), lage-native only, with
// Azurite as the remote: main's container filled by a cold build of the
// repo as generated; a pull request changes one package (its first push),
// then one more (its second push), each push on a fresh machine (empty
// local cache, outputs deleted), built as GitHub Actions builds pull
// request <n> (the variables support/scope-table.js uses). "with its scope"
// sets BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS (a second container), so
// the first push uploads what it rebuilt and the second hits it; "without"
// does not, so a pull request build reads main and uploads nothing.

/** GitHub Actions' variables of pull request `n`'s build. */
const pullRequestVars = (n) => ({ GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: `refs/pull/${n}/merge`, GITHUB_HEAD_REF: 'feature' })

/** The packages depending on `name`, directly or not, and `name` itself: the targets a change to it rebuilds. */
function affected(pkgs, name) {
  const out = new Set([name])
  for (let grew = true; grew; ) {
    grew = false
    for (const p of pkgs) if (!out.has(p.name) && p.deps.some((d) => out.has(d))) (out.add(p.name), (grew = true))
  }
  return out
}

/**
 * The two packages the pull request changes: the first package of the
 * middle level that has dependents, then, of that level's other packages
 * with dependents, the one whose affected targets overlap the first's
 * least (the first such), so that the second push leaves most of what the
 * first rebuilt unaffected.
 */
function pullRequestChanges(pkgs) {
  const levels = Math.max(...pkgs.map((p) => p.level)) + 1
  const middle = Math.floor((levels - 1) / 2)
  const candidates = pkgs.filter((p) => p.level === middle && affected(pkgs, p.name).size > 1)
  if (candidates.length < 2) throw new Error(`the pr scenario needs two packages with dependents in one level: BENCH_PACKAGES=${PACKAGES} is too few`)
  const first = candidates[0]
  const a = affected(pkgs, first.name)
  const overlap = (p) => [...affected(pkgs, p.name)].filter((x) => a.has(x)).length
  const second = candidates.slice(1).reduce((best, p) => (overlap(p) < overlap(best) ? p : best))
  return [first, second]
}

/**
 * A pull request's change to package `name`, committed: a line in its
 * source (src/index.js) and one byte more in its first output file
 * (bench.json, what its build writes), so that its outputs differ from
 * main's and a restore of main's entry for it would be seen.
 */
function changePackage(v, name) {
  const dir = path.join(v.dir, 'packages', name)
  fs.appendFileSync(path.join(dir, 'src', 'index.js'), `export const edited = ${JSON.stringify(name)}\n`)
  const specFile = path.join(dir, 'bench.json')
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'))
  spec.own[0][1] += 1
  fs.writeFileSync(specFile, JSON.stringify(spec))
  gitIn(v.dir, 'commit', '-qam', `change ${name}`)
}

/**
 * Sets up the scenario: the containers, main's (filled by a cold build of
 * the unchanged repo that uploads) and the pull request scope's, and the
 * digests of a cold build of each push's sources. Answers `round(i)`,
 * which runs both pull requests of one round, and `report()`.
 */
async function pullRequestScenario(native, pkgs, azurite, expected) {
  const [first, second] = pullRequestChanges(pkgs)
  const a = affected(pkgs, first.name)
  const b = affected(pkgs, second.name)
  const both = new Set([...a, ...b])
  const base = gitIn(native.dir, 'rev-parse', 'HEAD').trim()
  const resetSources = () => gitIn(native.dir, 'reset', '-q', '--hard', base)
  const fresh = () => (deleteCaches(native), deleteOutputs(native, pkgs))
  const service = blobClient(azurite.connectionString)
  const MAIN = 'prmain'
  const SCOPE = 'prscope'
  await service.getContainerClient(MAIN).create()
  await service.getContainerClient(SCOPE).create()
  const blobs = async (container, prefix) => {
    let n = 0
    for await (const _ of service.getContainerClient(container).listBlobsFlat({ prefix })) n++
    return n
  }

  // Main's build, trusted: uploads with the account key.
  fresh()
  let before = builds(native)
  run(native, { BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container: MAIN }), CI: 'true', LAGE_WRITE_REMOTE_CACHE: 'true' })
  if (builds(native) - before !== pkgs.length) throw new Error(`pr: main's cold build ran ${builds(native) - before} build scripts, expected ${pkgs.length}`)
  if (outputsDigest(native, pkgs) !== expected()) throw new Error("pr: main's cold build's outputs differ from the first cold build's")
  const mainBlobs = await blobs(MAIN)
  if (mainBlobs !== pkgs.length) throw new Error(`pr: main's container holds ${mainBlobs} blobs, expected ${pkgs.length}`)

  // What a cold build of each push's sources makes (local cache only).
  const reference = {}
  for (const [push, names] of [['first', [first.name]], ['second', [first.name, second.name]]]) {
    resetSources()
    for (const name of names) changePackage(native, name)
    fresh()
    before = builds(native)
    run(native)
    if (builds(native) - before !== pkgs.length) throw new Error(`pr: the cold build of the ${push} push's sources ran ${builds(native) - before} build scripts, expected ${pkgs.length}`)
    reference[push] = outputsDigest(native, pkgs)
  }
  resetSources()
  fresh()
  emptyTrash(native)

  // A pull request build reads main with a read-only SAS of the account,
  // and its scope with a SAS of that container alone, as support/azurite.js
  // sets them up for the scope tests.
  const { generateBlobSASQueryParameters, ContainerSASPermissions, StorageSharedKeyCredential } = require('@azure/storage-blob')
  const scopeSas = generateBlobSASQueryParameters(
    { containerName: SCOPE, permissions: ContainerSASPermissions.parse('racwl'), expiresOn: new Date(Date.now() + 24 * 3600e3) },
    new StorageSharedKeyCredential(ACCOUNT, KEY),
  ).toString()
  const mainRead = { BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: readOnlySas(azurite.endpoint).connectionString, container: MAIN }) }
  const scopeOption = { BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: `BlobEndpoint=${azurite.endpoint};SharedAccessSignature=${scopeSas}`, container: SCOPE }) }
  const ways = [
    { name: 'pr-with-scope', label: 'with its scope', env: scopeOption, uploads: true },
    { name: 'pr-without-scope', label: 'without', env: {}, uploads: false },
  ]
  let number = 100

  /** One push of pull request `n` on a fresh machine, measured and checked. */
  async function push(way, n, which, want) {
    fresh()
    settle()
    const before = builds(native)
    const r = run(native, { ...mainRead, ...way.env, ...pullRequestVars(n), CI: 'true', LAGE_WRITE_REMOTE_CACHE: 'true' }, { engineTimes: true })
    const what = `${way.name} ${which} push (pull request ${n})`
    const rebuilt = builds(native) - before
    const fromMain = r.hits.filter((h) => h.source === 'remote' && (h.scope === null || h.scope === 'main scope')).length
    const fromScope = r.hits.filter((h) => h.source === 'remote' && h.scope === `pull request ${n}'s scope`).length
    const got = { rebuilt, fromMain, fromScope, other: r.hits.length - fromMain - fromScope }
    const wanted = { rebuilt: want.rebuilt, fromMain: pkgs.length - want.rebuilt - want.fromScope, fromScope: want.fromScope, other: 0 }
    if (JSON.stringify(got) !== JSON.stringify(wanted)) throw new Error(`${what}: ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`)
    // Without its scope, a pull request build says once that it uploads
    // nothing (the behaviour before the scope); with it, nothing is said.
    const unexpected = r.warnings.filter((w) => way.uploads || !/pull request builds never upload/.test(w))
    if (unexpected.length) throw new Error(`${what}: the provider warned:\n${unexpected.join('\n')}`)
    if (outputsDigest(native, pkgs) !== reference[which]) throw new Error(`${what}: the outputs differ from a cold build's of the same sources`)
    emptyTrash(native)
    record(`pr-${which}`, way, { ...r, counts: got })
  }

  async function round(i) {
    // Each pull request from the repo as generated, under a number no
    // earlier run used: its scope holds nothing yet.
    for (const way of i % 2 ? [...ways].reverse() : ways) {
      const n = ++number
      resetSources()
      changePackage(native, first.name)
      await push(way, n, 'first', { rebuilt: a.size, fromScope: 0 })
      const uploaded = await blobs(SCOPE, `pr-${n}-`)
      if (uploaded !== (way.uploads ? a.size : 0)) throw new Error(`${way.name}: pull request ${n}'s first push put ${uploaded} blobs in its scope, expected ${way.uploads ? a.size : 0}`)
      changePackage(native, second.name)
      await push(way, n, 'second', way.uploads ? { rebuilt: b.size, fromScope: [...a].filter((x) => !b.has(x)).length } : { rebuilt: both.size, fromScope: 0 })
      if ((await blobs(MAIN)) !== mainBlobs) throw new Error(`${way.name}: pull request ${n} changed main's container`)
    }
    resetSources()
    fresh()
    emptyTrash(native)
  }

  function report() {
    const describe = (p) => `${p.name} (level ${p.level}, ${affected(pkgs, p.name).size} targets affected: ${[...affected(pkgs, p.name)].sort().join(', ')})`
    console.log(`\npull request scope: main's container filled by a cold build of the repo as generated (${pkgs.length} targets); a pull request's first push changes ${describe(first)}, its second push also ${describe(second)}; each push on a fresh machine (empty local cache, outputs deleted), lage-native at --log-level verbose, reading main with a read-only SAS; "with its scope": BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS set (a second container), "without": not set; a new pull request number for each pull request, ${ROUNDS} rounds\n`)
    console.log('| push | pull request build | targets rebuilt | restored from main | restored from its scope | wall (median, min-max) |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: |')
    for (const which of ['first', 'second']) {
      for (const way of ways) {
        const xs = samples[`pr-${which}/${way.name}`] || []
        const c = xs[xs.length - 1].counts
        console.log(`| ${which} | ${way.label} | ${c.rebuilt} | ${c.fromMain} | ${c.fromScope} | ${cell(`pr-${which}`, way.name)} |`)
      }
    }
    const ratio = (which) => med(`pr-${which}`, 'pr-without-scope') / med(`pr-${which}`, 'pr-with-scope')
    console.log(`\nsecond push, without / with its scope: ${ratio('second').toFixed(2)}x; first push, without / with: ${ratio('first').toFixed(2)}x (with its scope, the first push also uploads what it rebuilt)`)
    console.log("\nEvery push ran the build scripts counted above and no other (builds.log), restored the others as counted (the provider's verbose hit lines), and left outputs byte for byte (and mode) those of a cold build of the same sources; the first push with its scope put one blob per rebuilt target in the scope (pr-<n>-<hash>), and no push changed main's container.")
  }

  return { round, report }
}

// ---------------------------------------------------------------- main

async function main() {
  // What this run prints is also written to docs/benchmarks/<date>-bench-e2e.md.
  const results = require('../support/bench-record').start('bench-e2e', { command: 'npm run bench:e2e' })
  fs.mkdirSync(BASE, { recursive: true })
  const root = fs.mkdtempSync(path.join(BASE, 'bfn-e2e-'))
  // A loop image's own device (btrfs gives its files an anonymous one).
  DEVICE_STAT = WORK && WORK.device ? `/sys/block/${WORK.device}/stat` : deviceStatFor(root)
  results.workFolder(root)
  const pkgs = plan({ packages: PACKAGES, files: FILES, mb: MB })
  const t = totals(pkgs)
  console.log(`bench-e2e: ${pkgs.length} packages in ${new Set(pkgs.map((p) => p.level)).size} levels, ${t.files} output files, ${(t.bytes / 1048576).toFixed(1)} MiB (${(t.distinctBytes / 1048576).toFixed(1)} MiB distinct), concurrency ${CONCURRENCY}, ${ROUNDS} rounds`)
  console.log(`work folder ${root} (${fsType(root)}${SYNC ? '' : ', no sync between runs'}), node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`scenarios: ${SELECTED.join(', ')}`)
  let azurite
  let turboServer
  const variants = []
  try {
    const names = [...(LOCAL ? ['lage-js'] : []), 'lage-native', ...(WITH_TURBO ? ['turbo'] : [])]
    for (const name of names) variants.push(makeVariant(root, name, pkgs))
    const turbo = variants.find((v) => v.isTurbo)
    if (turbo) console.log(`installed lage ${LAGE_VERSION} and turbo ${execFileSync(path.join(turbo.dir, 'node_modules', '.bin', 'turbo'), ['--version'], { encoding: 'utf8' }).trim()} from the npm registry`)
    const lages = variants.filter((v) => !v.isTurbo)
    const native = variants.find((v) => v.name === 'lage-native')
    const floor = { ...native, name: 'lage-floor' }

    const remoteEnv = {}
    if (RUNS.remote || RUNS.pr) azurite = await startAzurite()
    for (const v of RUNS.remote ? lages : []) {
      const container = v.name.replace(/[^a-z]/g, '')
      await blobClient(azurite.connectionString).getContainerClient(container).create()
      remoteEnv[v.name] = { BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container }) }
    }

    let expected = null
    const check = (v, scenario, before, wantBuilds) => {
      const got = builds(v) - before
      if (got !== wantBuilds) throw new Error(`${v.name} ${scenario}: ${got} build scripts ran, expected ${wantBuilds}`)
      const digest = outputsDigest(v, pkgs)
      expected ||= digest
      if (digest !== expected) throw new Error(`${v.name} ${scenario}: the outputs differ from the first cold build's`)
    }
    const step = (scenario, v, prepare, wantBuilds, env, runOptions) => {
      prepare()
      settle()
      const before = builds(v)
      const r = run(v, env, runOptions)
      check(v, scenario, before, wantBuilds)
      emptyTrash(v)
      record(scenario, v, r)
      return r
    }

    // Fill each lage variant's container once: a cold build that uploads,
    // as CI would (lage uploads when CI is set; backfill-native follows
    // LAGE_WRITE_REMOTE_CACHE).
    for (const v of RUNS.remote ? lages : []) {
      deleteCaches(v)
      deleteOutputs(v, pkgs)
      const before = builds(v)
      run(v, { ...remoteEnv[v.name], CI: 'true', LAGE_WRITE_REMOTE_CACHE: 'true' })
      check(v, 'upload', before, pkgs.length)
    }

    // The cache server: one turborepo-remote-cache (local storage, no
    // signature key: it keeps no artifact tag, as a server set up for turbo
    // without signing), one token and team for both tools, configured only
    // by turbo's variables. Filled by a cold build of each that uploads.
    const serverEnv = {}
    const serverPair = RUNS.server ? [native, turbo] : []
    if (RUNS.server) {
      const { startTurboServer, newToken } = require('../support/turbo-server')
      const token = newToken('bench')
      turboServer = await startTurboServer({ tokens: [token], signatureKey: null })
      const vars = { TURBO_API: turboServer.apiUrl, TURBO_TOKEN: token, TURBO_TEAM: 'bench-e2e' }
      serverEnv['lage-native'] = { ...vars, BACKFILL_CACHE_PROVIDER: 'turborepo' }
      serverEnv.turbo = vars
      const stored = () => {
        let n = 0
        const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : n++))
        walk(turboServer.storage)
        return n
      }
      for (const v of serverPair) {
        deleteCaches(v)
        deleteOutputs(v, pkgs)
        const before = builds(v)
        const had = stored()
        run(v, { ...serverEnv[v.name], ...(v.isTurbo ? {} : { CI: 'true', LAGE_WRITE_REMOTE_CACHE: 'true' }) })
        check(v, 'upload to the cache server', before, pkgs.length)
        if (stored() - had < pkgs.length) throw new Error(`${v.name} stored ${stored() - had} artifacts on the cache server, expected ${pkgs.length}`)
      }
      emptyTrash(native)
      console.log(`cache server: turborepo-remote-cache ${require('turborepo-remote-cache/package.json').version} at ${turboServer.apiUrl}, local storage, filled by a cold build of lage-native and of turbo (${stored()} files stored)`)
    }

    const pullRequests = RUNS.pr ? await pullRequestScenario(native, pkgs, azurite, () => (expected ||= outputsDigest(native, pkgs))) : null

    for (let round = 0; round < ROUNDS; round++) {
      // A different order each round, so drifting load hits each alike.
      const order = variants.map((_, i) => variants[(i + round) % variants.length])
      if (RUNS.cold) for (const v of order) step('cold', v, () => (deleteCaches(v), deleteOutputs(v, pkgs)), pkgs.length)
      // The floor runs among the others, in a rotating place too.
      const withFloor = [...variants, floor].map((_, i, all) => all[(i + round) % all.length])
      const env = (v) => (v === floor ? FLOOR_ENV : {})
      // The present and restored scenarios need the local cache filled: the
      // cold scenario's, else one cold build now (not measured).
      if (!RUNS.cold && (RUNS.present1 || RUNS.present || RUNS.restored)) for (const v of variants) (deleteCaches(v), deleteOutputs(v, pkgs), run(v), emptyTrash(v))
      if (RUNS.present1) for (const v of withFloor) step('present1', v, () => {}, 0, env(v))
      if (RUNS.present) for (const v of withFloor) step('present', v, () => {}, 0, env(v))
      settle()
      if (RUNS.restored) measureFileFloors(native, pkgs)
      if (RUNS.restored) for (const v of order) step('restored', v, () => deleteOutputs(v, pkgs), 0)
      if (RUNS.remote) for (const v of order.filter((x) => !x.isTurbo)) step('remote', v, () => (deleteCaches(v), deleteOutputs(v, pkgs)), 0, remoteEnv[v.name])
      // lage-native and turbo in turns, each from an empty local cache.
      const pair = serverPair.map((_, i) => serverPair[(i + round) % serverPair.length])
      if (RUNS.server) for (const v of pair) step('server', v, () => (deleteCaches(v), deleteOutputs(v, pkgs)), 0, serverEnv[v.name], { summarize: v.isTurbo, engineTimes: !v.isTurbo })
      // The pull request's pushes, last: they leave the sources as generated.
      if (RUNS.pr) await pullRequests.round(round)
      const last = (s, v) => (samples[`${s}/${v.name}`] || []).slice(-1)[0]
      const prWays = RUNS.pr ? [{ name: 'pr-with-scope' }, { name: 'pr-without-scope' }] : []
      const prLine = (v) => `${v.name} ${['first', 'second'].map((w) => `${w} push ${(last(`pr-${w}`, v).ms / 1000).toFixed(2)}`).join(' ')}`
      const times = (v) => SCENARIOS.map((s) => (last(s, v) ? `${s} ${(last(s, v).ms / 1000).toFixed(2)}` : null)).filter(Boolean)
      const lines = [...variants, ...(LOCAL ? [floor] : [])].filter((v) => times(v).length).map((v) => `${v.name} ${times(v).join(' ')}`)
      console.log(`round ${round + 1}: ${[...lines, ...prWays.map(prLine)].join(' | ')}`)
    }
    if (LOCAL) report([...variants, floor], totals(pkgs))
    if (RUNS.server) reportServer(pkgs)
    if (RUNS.pr) pullRequests.report()
  } finally {
    if (azurite) await azurite.stop()
    if (turboServer) await turboServer.stop()
    if (process.env.BENCH_KEEP === '1' && !WORK) console.log(`kept ${root}`)
    else fs.rmSync(root, { recursive: true, force: true })
    if (WORK) WORK.close()
  }
  results.write()
}

const SCENARIOS = ALL_SCENARIOS.filter((x) => RUNS[x])
const LABEL = {
  server: 'restore from the cache server, empty local cache',
  cold: 'cold (empty cache)',
  restored: 'all restored (outputs deleted)',
  present1: 'all present, first run after the build',
  present: 'all present, run again',
  remote: 'restore from Azurite, empty local cache',
}

function report(variants, outputs) {
  // The cache server's scenario has a report of its own (reportServer).
  const SCENARIOS = ALL_SCENARIOS.filter((x) => RUNS[x] && x !== 'server' && x !== 'pr')
  const names = variants.map((v) => v.name)
  const label = LABEL
  console.log(`\nmedian wall time of \`lage build\` / \`turbo run build\` (min-max), ${ROUNDS} rounds\n`)
  console.log(`| scenario | ${names.join(' | ')} | lage-js / lage-native |`)
  console.log(`| --- | ${names.map(() => '---:').join(' | ')} | ---: |`)
  for (const s of SCENARIOS) {
    console.log(`| ${label[s]} | ${names.map((n) => cell(s, n)).join(' | ')} | ${(med(s, 'lage-js') / med(s, 'lage-native')).toFixed(2)} |`)
  }

  console.log('\nsplit of lage\'s time (medians, ms; from its JSON reporter)\n')
  console.log('| scenario | variant | wall | before targets | before lage\'s clock | first target per worker | other targets (each) | after targets |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const s of SCENARIOS) {
    for (const n of ['lage-js', 'lage-native', 'lage-floor']) {
      if (!msOf(s, n).length) continue
      const f = (k) => splitMed(s, n, k).toFixed(0)
      console.log(`| ${s} | ${n} | ${med(s, n).toFixed(0)} | ${f('beforeTargets')} | ${f('beforeClock')} | ${f('firstTarget')} | ${f('otherTarget')} | ${f('afterTargets')} |`)
    }
  }

  const ratio = (s) => med(s, 'lage-js') / med(s, 'lage-native')
  const addonShare = (s) => splitMed(s, 'lage-native', 'firstTarget') - splitMed(s, 'lage-js', 'firstTarget')
  // What no provider can go under, in this run: lage with the free provider
  // (its wall, its time per target) plus, per target, what the files alone
  // cost (copying them in, or reading them).
  const floorWall = median([...msOf('present', 'lage-floor'), ...msOf('present1', 'lage-floor')])
  const floorTarget = splitMed('present', 'lage-floor', 'otherTarget')
  const copyFloor = median(fileFloors.copy)
  const readFloor = median(fileFloors.read)
  const best = (s) => med(s, 'lage-js') / floorWall
  const targets = [
    ['restored', 'all restored: lage-js / lage-native', ratio('restored'), '>=', 1.5, 'x', best('restored')],
    ['present', 'all present, run again: lage-js / lage-native', ratio('present'), '>=', 1.3, 'x', best('present')],
    ['present1', 'all present, first run after the build: lage-js / lage-native', ratio('present1'), '>=', 1.3, 'x', best('present1')],
    ['remote', 'restore from Azurite: lage-js / lage-native', ratio('remote'), '>=', 3, 'x', best('remote')],
    ['restored', 'per-target time of a cached fetch (all restored, median)', splitMed('restored', 'lage-native', 'otherTarget'), '<=', 5, ' ms', floorTarget + copyFloor],
    ['present', 'per-target time of a cached fetch (all present, run again, median)', splitMed('present', 'lage-native', 'otherTarget'), '<=', 5, ' ms', floorTarget],
    ['present1', 'per-target time of a cached fetch (all present, first run, median)', splitMed('present1', 'lage-native', 'otherTarget'), '<=', 5, ' ms', floorTarget + readFloor],
    ['restored', "addon's share of a worker's first target (all restored)", addonShare('restored'), '<=', 20, ' ms', NaN],
    ['present', "addon's share of a worker's first target (all present)", addonShare('present'), '<=', 20, ' ms', NaN],
  ]
    .filter(([scenario]) => RUNS[scenario])
    .map(([, ...row]) => row)
  console.log('\n| target | measured | goal | bound in this run | |')
  console.log('| --- | ---: | ---: | ---: | --- |')
  for (const [what, value, op, goal, unit, bound] of targets) {
    const met = op === '>=' ? value >= goal : value <= goal
    const beyond = Number.isFinite(bound) && (op === '>=' ? bound < goal : bound > goal)
    const digits = unit === 'x' ? 2 : 1
    const status = met ? 'met' : beyond ? 'NOT MET: the goal is beyond the bound' : 'NOT MET'
    console.log(`| ${what} | ${value.toFixed(digits)}${unit} | ${op} ${goal}${unit} | ${Number.isFinite(bound) ? `${op === '>=' ? '<=' : '>='} ${bound.toFixed(digits)}${unit}` : '–'} | ${status} |`)
  }
  console.log(`\nBounds: a ratio's is lage-js's time over the free provider's wall; a per-target time's is the free provider's per-target time (${floorTarget.toFixed(0)} ms; lage's timestamps are whole ms) plus, for a restore, copying one package's outputs with fs.copyFileSync (${copyFloor.toFixed(1)} ms, median over packages, one thread) and, for the first present run, reading them with fs.readFileSync (${readFloor.toFixed(1)} ms).`)
  if (DEVICE_STAT) {
    console.log(`\non the disk (${DEVICE_STAT}, whole device, other sessions included): medians per run\n`)
    console.log('| scenario | variant | wall (min-max) | MiB written during the run | write requests | device busy ms | dirty KiB at start | sync after: ms | sync after: MiB |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const sc of SCENARIOS) {
      for (const n of names) {
        const xs = (samples[`${sc}/${n}`] || []).map((x) => x.disk).filter(Boolean)
        if (!xs.length) continue
        const m = (k) => median(xs.map((x) => x[k]))
        console.log(`| ${sc} | ${n} | ${cell(sc, n)} | ${m('mib').toFixed(1)} | ${m('writes').toFixed(0)} | ${m('busyMs').toFixed(0)} | ${m('dirtyKiB').toFixed(0)} | ${m('syncMs').toFixed(0)} | ${m('syncMib').toFixed(1)} |`)
      }
    }
  }
  if (CLONES) reportClones(outputs)
  console.log(`\nlage's floor (a provider that answers "hit" at once and touches nothing): ${sec(floorWall)}, of which before targets ${splitMed('present', 'lage-floor', 'beforeTargets').toFixed(0)} ms, first target per worker ${splitMed('present', 'lage-floor', 'firstTarget').toFixed(0)} ms, other targets ${splitMed('present', 'lage-floor', 'otherTarget').toFixed(0)} ms each.`)
  console.log(`The best ratio any provider could reach against lage-js: all restored ${(med('restored', 'lage-js') / floorWall).toFixed(2)}x, all present (again) ${(med('present', 'lage-js') / floorWall).toFixed(2)}x, first present ${(med('present1', 'lage-js') / floorWall).toFixed(2)}x, from Azurite ${(med('remote', 'lage-js') / floorWall).toFixed(2)}x.`)
  console.log(`A worker's first target above the floor (lage-native minus lage-floor): present again ${(splitMed('present', 'lage-native', 'firstTarget') - splitMed('present', 'lage-floor', 'firstTarget')).toFixed(0)} ms, first present ${(splitMed('present1', 'lage-native', 'firstTarget') - splitMed('present1', 'lage-floor', 'firstTarget')).toFixed(0)} ms.`)
  console.log(`Per-target time above the floor (lage-native minus lage-floor, other targets): restored ${(splitMed('restored', 'lage-native', 'otherTarget') - splitMed('present', 'lage-floor', 'otherTarget')).toFixed(1)} ms, present again ${(splitMed('present', 'lage-native', 'otherTarget') - splitMed('present', 'lage-floor', 'otherTarget')).toFixed(1)} ms.`)
  if (names.includes('turbo')) {
    console.log(`\nturbo reference: all restored ${(med('restored', 'lage-native') / med('restored', 'turbo')).toFixed(2)}x faster than lage-native, all present ${(med('present', 'lage-native') / med('present', 'turbo')).toFixed(2)}x`)
  }
}

// On a file system that clones (BENCH_FS=xfs or btrfs): the goals of
// restoring by clone, from this run. A restore from Azurite writes its
// download into the store once and clones the outputs out: the device's
// bytes (written during the run, and by the sync after it) against the
// outputs'. The all-restored build against lage's floor (the free provider,
// all present).
const CLONES = ['xfs', 'btrfs'].includes(process.env.BENCH_FS)
function reportClones(outputs) {
  const rows = []
  if (RUNS.restored && RUNS.present) {
    rows.push(['all restored: lage-native / lage-floor (wall)', med('restored', 'lage-native') / med('present', 'lage-floor'), 1.1, 'x'])
  }
  if (RUNS.remote && DEVICE_STAT) {
    for (const n of ['lage-native', 'lage-js']) {
      const xs = (samples[`remote/${n}`] || []).map((x) => x.disk).filter(Boolean)
      if (!xs.length) continue
      const written = median(xs.map((x) => x.mib + x.syncMib))
      rows.push([`restore from Azurite, ${n}: MiB written to the device / outputs' MiB (${(outputs.bytes / 1048576).toFixed(1)})`, written / (outputs.bytes / 1048576), n === 'lage-native' ? 1.1 : null, 'x'])
    }
  }
  if (!rows.length) return
  console.log(`\nrestoring by clone, on ${process.env.BENCH_FS}\n`)
  console.log('| | measured | goal | |')
  console.log('| --- | ---: | ---: | --- |')
  for (const [what, value, goal, unit] of rows) {
    const verdict = goal === null ? '(for reference)' : value <= goal ? 'met' : 'NOT MET'
    console.log(`| ${what} | ${value.toFixed(2)}${unit} | ${goal === null ? '–' : `<= ${goal}${unit}`} | ${verdict} |`)
  }
}

// The cache server's scenario: lage-native against turbo, each with its own
// remote client, on the same server: the wall of the run and the time of
// each target (lage: from its JSON reporter, "running" to "success"; turbo:
// its run summary's execution start to end), medians over the rounds.
function reportServer(pkgs) {
  const S = 'server'
  const perTarget = (name) => {
    const by = {}
    for (const x of samples[`${S}/${name}`] || []) for (const [id, ms] of Object.entries(x.perTarget || {})) (by[id] ||= []).push(ms)
    return Object.fromEntries(Object.entries(by).map(([id, xs]) => [id, median(xs)]))
  }
  const lt = perTarget('lage-native')
  const tt = perTarget('turbo')
  const ids = pkgs.map((p) => `${p.name}#build`)
  const missing = ids.filter((id) => !(id in lt) || !(id in tt))
  console.log(`\nrestore from the cache server (turborepo-remote-cache, local storage, on loopback), empty local cache, outputs deleted: lage-native (BACKFILL_CACHE_PROVIDER=turborepo) against turbo ${TURBO_VERSION} (its own remote client), the same server, token and team, ${ROUNDS} rounds\n`)
  console.log('| | lage-native | turbo | lage-native / turbo | goal | |')
  console.log('| --- | ---: | ---: | ---: | ---: | --- |')
  const wall = med(S, 'lage-native') / med(S, 'turbo')
  console.log(`| wall of the run (median, min-max) | ${cell(S, 'lage-native')} | ${cell(S, 'turbo')} | ${wall.toFixed(2)} | <= 1 | ${wall <= 1 ? 'met' : 'NOT MET'} |`)
  const ok = ids.filter((id) => !missing.includes(id))
  const lm = median(ok.map((id) => lt[id]))
  const tm = median(ok.map((id) => tt[id]))
  console.log(`| time of a target (median over targets of each target's median) | ${lm.toFixed(0)} ms | ${tm.toFixed(0)} ms | ${(lm / tm).toFixed(2)} | <= 1 | ${lm <= tm ? 'met' : 'NOT MET'} |`)
  const within = ok.filter((id) => lt[id] <= tt[id])
  console.log(`| targets whose median time is no more than turbo's | ${within.length} of ${ok.length} | | | all | ${within.length === ok.length ? 'met' : 'NOT MET'} |`)
  // Where lage-native's time of a target goes: the engine's fetch (its own
  // "in N ms") and the rest (lage's dispatch to its worker and back).
  const engineBy = {}
  for (const x of samples[`${S}/lage-native`] || []) for (const [id, ms] of Object.entries(x.engine || {})) (engineBy[id] ||= []).push(ms)
  const withEngine = ok.filter((id) => engineBy[id])
  if (withEngine.length) {
    const em = median(withEngine.map((id) => median(engineBy[id])))
    const rest = median(withEngine.map((id) => lt[id] - median(engineBy[id])))
    console.log(`| of lage-native's time of a target: the engine's fetch (its own "in N ms", median over targets) | ${em.toFixed(0)} ms | | ${(em / tm).toFixed(2)} | | |`)
    console.log(`| of lage-native's time of a target: the rest, lage's (median over targets) | ${rest.toFixed(0)} ms | | | | |`)
  }
  if (missing.length) console.log(`\nno time for ${missing.length} target(s) in one of the tools: ${missing.join(', ')}`)
  console.log('\neach target (median ms over the rounds)\n')
  console.log('| target | level | lage-native | turbo | lage-native / turbo |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const p of pkgs) {
    const id = `${p.name}#build`
    if (missing.includes(id)) continue
    console.log(`| ${id} | ${p.level} | ${lt[id].toFixed(0)} | ${tt[id].toFixed(0)} | ${(lt[id] / tt[id]).toFixed(2)} |`)
  }
  console.log('\nEvery run restored every target (no build script ran) and the outputs are byte for byte (and mode) those of the first cold build. A target\'s time is what each tool reports for it (lage: a worker thread\'s, whose first target holds the thread\'s start, lage\'s worker code and the provider\'s first call; turbo: its own process\'s); the wall holds each tool\'s start and its targets\' waits on their dependencies. The engine\'s fetch is the time the provider reports in its verbose line for the target (lage-native runs at --log-level verbose in this scenario).')
}

// Ctrl-C would otherwise leave a loop-mounted image behind.
process.once('SIGINT', () => {
  if (WORK) WORK.close()
  process.exit(130)
})

main()
  .catch((e) => {
    console.error(`bench-e2e failed: ${e.stack || e}`)
    process.exitCode = 1
  })
  .finally(() => WORK && WORK.close())
