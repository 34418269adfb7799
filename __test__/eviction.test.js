// Eviction across real processes sharing one store: the cap holds after
// many puts from several processes at once, evicted entries are misses,
// eviction racing fetches and puts never tears an entry, and a process
// killed (SIGKILL) in the middle of an eviction leaves a consistent store.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const { Cache } = require('..')
const { makeRepo } = require('../support/helpers')
const { cleanEnv } = require('../support/env')
const { entryFiles } = require('./fixtures/evict-files')

const FIXTURES = path.join(__dirname, 'fixtures')
// Evict after every put, keeping nothing for being recent.
const EAGER = { BACKFILL_NATIVE_EVICT_INTERVAL: '0', BACKFILL_NATIVE_EVICT_KEEP_RECENT: '0' }

function run(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))))
  })
}

/** Bytes of the store's files on disk (contents and manifests), and their counts. */
function onDisk(cacheDir) {
  const count = (dir) => {
    const files = []
    if (!fs.existsSync(dir)) return files
    for (const shard of fs.readdirSync(dir)) {
      for (const name of fs.readdirSync(path.join(dir, shard))) files.push(path.join(dir, shard, name))
    }
    return files
  }
  const contents = count(path.join(cacheDir, 'v1', 'content'))
  const entries = count(path.join(cacheDir, 'v1', 'entries'))
  const bytes = [...contents, ...entries].reduce((n, f) => n + fs.statSync(f).size, 0)
  return { contents, entries, bytes }
}

/** The content digests the manifests on disk use. */
function usedDigests(entries) {
  const used = new Set()
  for (const f of entries) for (const file of JSON.parse(fs.readFileSync(f, 'utf8')).manifest.files) used.add(file.digest)
  return used
}

/** Fetches `key` into an empty package folder: null on a miss, else the files, byte for byte. */
function fetchFiles(cache, dir, key) {
  fs.rmSync(path.join(dir, 'lib'), { recursive: true, force: true })
  const r = cache.fetchSync(key)
  assert.deepEqual(r.warnings, [], `fetch of ${key}`)
  if (!r.hit) return null
  const files = {}
  for (const name of fs.readdirSync(path.join(dir, 'lib'))) files[`lib/${name}`] = fs.readFileSync(path.join(dir, 'lib', name), 'utf8')
  return files
}

test('the cap holds after many puts from four processes at once, and evicted entries are misses', async () => {
  const repo = makeRepo(['reader', 'p0', 'p1', 'p2', 'p3'])
  const cap = 40_000
  const env = { ...EAGER, BACKFILL_NATIVE_CACHE_MAX_SIZE: String(cap) }
  await Promise.all([0, 1, 2, 3].map((p) => run([path.join(FIXTURES, 'evict-worker.js'), 'put', repo.dirs[`p${p}`], `p${p}`, '25'], env)))

  // What the disk holds, not only what the index says.
  const disk = onDisk(repo.cacheDir)
  assert.ok(disk.bytes <= cap, `${disk.bytes} bytes on disk, over the cap of ${cap}`)
  assert.ok(disk.entries.length > 0, 'everything was evicted')
  const reader = new Cache({ cwd: repo.dirs.reader, cacheMaxSize: false, cacheMaxAge: false })
  const stats = reader.storeStatsSync()
  assert.equal(stats.bytes, disk.bytes)
  assert.equal(stats.entries, disk.entries.length)
  assert.ok(stats.lastEviction && stats.lastEviction.at <= Date.now())
  // No content is left that no entry uses.
  const used = usedDigests(disk.entries)
  assert.deepEqual(disk.contents.map((f) => path.basename(f)).filter((d) => !used.has(d)), [])

  let hits = 0
  for (let p = 0; p < 4; p++) {
    for (let i = 0; i < 25; i++) {
      const key = `p${p}-${i}`
      const got = fetchFiles(reader, repo.dirs.reader, key)
      if (got) {
        hits++
        assert.deepEqual(got, entryFiles(key), `${key} restored other files`)
      }
    }
  }
  assert.equal(hits, disk.entries.length)
  assert.ok(hits < 30, `${hits} of 100 entries kept: the cap did not evict`)
})

test('eviction racing fetches and puts in eight processes never restores a torn entry', async () => {
  const names = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7']
  const repo = makeRepo(names)
  // About one of the four variants fits: eviction runs all the time.
  const cap = 150_000
  const env = { ...EAGER, BACKFILL_NATIVE_CACHE_MAX_SIZE: String(cap) }
  const outs = await Promise.all(names.map((n, i) => run([path.join(FIXTURES, 'store-hammer.js'), repo.dirs[n], String(i), '30'], env)))
  const hits = outs.reduce((n, o) => n + o.hits, 0)
  const misses = outs.reduce((n, o) => n + o.misses, 0)
  assert.ok(hits > 0, 'no fetch hit at all: the test proved nothing')
  // Every variant is put in the first round: a later miss is an eviction.
  assert.ok(misses > 0, 'no fetch missed: nothing was evicted')
  const disk = onDisk(repo.cacheDir)
  assert.ok(disk.bytes <= cap, `${disk.bytes} bytes on disk, over the cap of ${cap}`)
})

test('a process killed (SIGKILL) in the middle of an eviction leaves a consistent store', async () => {
  const repo = makeRepo(['writer', 'evictor', 'reader'])
  const total = 600
  const writer = new Cache({ cwd: repo.dirs.writer, cacheMaxSize: false, cacheMaxAge: false })
  for (let i = 0; i < total; i++) {
    const key = `e-${i}`
    fs.rmSync(path.join(repo.dirs.writer, 'lib'), { recursive: true, force: true })
    for (const [rel, content] of Object.entries(entryFiles(key))) {
      fs.mkdirSync(path.dirname(path.join(repo.dirs.writer, rel)), { recursive: true })
      fs.writeFileSync(path.join(repo.dirs.writer, rel), content)
    }
    writer.putSync(key, ['lib/**'])
  }
  // Build the index first, as a store in use has one.
  writer.evictSync()

  const reader = new Cache({ cwd: repo.dirs.reader, cacheMaxSize: false, cacheMaxAge: false })
  const env = { ...EAGER, BACKFILL_NATIVE_CACHE_MAX_SIZE: '0' }
  let partial = 0
  let before = total
  for (let round = 0; round < 10 && before > 0 && partial < 2; round++) {
    const child = spawn(process.execPath, [path.join(FIXTURES, 'evict-worker.js'), 'evict', repo.dirs.evictor], { env: cleanEnv(env) })
    const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })))
    await new Promise((r) => child.stdout.once('data', r))
    await new Promise((r) => setTimeout(r, 1 + round * 3))
    child.kill('SIGKILL')
    const { signal } = await exited
    const disk = onDisk(repo.cacheDir)
    const left = disk.entries.length
    if (signal === 'SIGKILL' && left > 0 && left < before) partial++
    // Every entry left restores exactly its files; none is torn.
    for (const f of disk.entries) {
      const key = path.basename(f, '.json')
      assert.deepEqual(fetchFiles(reader, repo.dirs.reader, key), entryFiles(key), `${key} after the kill in round ${round}`)
    }
    // The next run finishes the removal: the index agrees with the disk and
    // no content is left that no entry uses.
    reader.evictSync()
    const after = onDisk(repo.cacheDir)
    const used = usedDigests(after.entries)
    assert.deepEqual(after.contents.map((f) => path.basename(f)).filter((d) => !used.has(d)), [], `round ${round}`)
    const stats = reader.storeStatsSync()
    assert.equal(stats.bytes, after.bytes, `round ${round}`)
    assert.equal(stats.entries, after.entries.length)
    before = after.entries.length
  }
  assert.ok(partial > 0, 'no kill landed in the middle of an eviction: the test proved nothing')
  // Uninterrupted, the eviction empties the store (a cap of 0, nothing recent).
  const child = spawn(process.execPath, [path.join(FIXTURES, 'evict-worker.js'), 'evict', repo.dirs.evictor], { env: cleanEnv(env) })
  await new Promise((r) => child.on('exit', r))
  const end = onDisk(repo.cacheDir)
  assert.deepEqual([end.entries.length, end.contents.length, end.bytes], [0, 0, 0])
})
