// The Cache class scripts use: rich results, sync twins, purge/clear/stats.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const { Cache } = require('..')
const { makeRepo, writeTree, snapshot } = require('../support/helpers')

const FILES = {
  'lib/a.js': 'a'.repeat(1000),
  'lib/b.js': { content: 'b'.repeat(500), mode: 0o755 },
  'lib/.hidden/c.json': '{}',
}

test('fetch tells miss or hit, where from, and what was restored', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  const want = snapshot(repo.dirs.a)

  const miss = await cache.fetch('h1')
  assert.equal(miss.hit, false)
  assert.equal(miss.source ?? null, null)

  const put = await cache.put('h1', ['lib/**'])
  assert.deepEqual([put.stored, put.files, put.bytes, put.newBytes], [true, 3, 1502, 1502])

  fs.rmSync(path.join(repo.dirs.a, 'lib'), { recursive: true })
  const hit = await cache.fetch('h1')
  assert.deepEqual([hit.hit, hit.source, hit.filesRestored, hit.filesUnchanged, hit.bytesRestored], [true, 'local', 3, 0, 1502])
  assert.ok(hit.durationMs >= 0)
  assert.deepEqual(snapshot(repo.dirs.a), want)

  // Outputs already present and unchanged are not rewritten.
  const inode = fs.statSync(path.join(repo.dirs.a, 'lib/a.js')).ino
  const again = await cache.fetch('h1')
  assert.deepEqual([again.filesRestored, again.filesUnchanged, again.bytesRestored], [0, 3, 0])
  assert.equal(fs.statSync(path.join(repo.dirs.a, 'lib/a.js')).ino, inode)

  // Same contents under a new hash: nothing new is written.
  const second = await cache.put('h2', ['lib/**'])
  assert.equal(second.newBytes, 0)

  const stats = cache.stats()
  assert.deepEqual(
    [stats.localHits, stats.misses, stats.puts, stats.errors, stats.filesRestored, stats.bytesStored, stats.bytesWritten],
    [2, 1, 2, 0, 3, 3004, 1502],
  )
})

test('put without globs uses the configured output globs (backfill default lib/**)', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { ...FILES, 'dist/x.js': 'x' })
  assert.equal((await new Cache({ cwd: repo.dirs.a }).put('d1')).files, 3)
  assert.equal((await new Cache({ cwd: repo.dirs.a, outputGlob: ['dist/**'] }).put('d2')).files, 1)
})

test('sync twins give the same results as the async methods', () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  assert.equal(cache.fetchSync('s').hit, false)
  assert.equal(cache.putSync('s', ['lib/**']).files, 3)
  fs.rmSync(path.join(repo.dirs.a, 'lib'), { recursive: true })
  assert.equal(cache.fetchSync('s').filesRestored, 3)
  assert.equal(cache.purgeSync(1).entriesRemoved, 0)
  assert.equal(cache.clearSync().entriesRemoved, 1)
  assert.equal(cache.fetchSync('s').hit, false)
  assert.throws(() => cache.fetchSync('a/b'), { code: 'BACKFILL_NATIVE_HASH' })
})

test('purge removes entries unused for that many days; clear removes everything', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  // No age limit here: the background eviction would race the purge.
  const cache = new Cache({ cwd: repo.dirs.a, cacheMaxAge: false })
  await cache.put('old', ['lib/**'])
  writeTree(repo.dirs.a, { 'lib/new.js': 'new' })
  await cache.put('new', ['lib/**'])
  // Age "old" by 40 days, as if it had not been used since.
  const entries = path.join(repo.cacheDir, 'v1', 'entries')
  for (const shard of fs.readdirSync(entries)) {
    const f = path.join(entries, shard, 'old.json')
    if (fs.existsSync(f)) fs.utimesSync(f, new Date(Date.now() - 40 * 86400e3), new Date(Date.now() - 40 * 86400e3))
  }
  const purged = await cache.purge(30)
  assert.deepEqual([purged.entriesRemoved, purged.entriesKept, purged.contentsRemoved], [1, 1, 0])
  assert.equal((await cache.fetch('old')).hit, false)
  assert.equal((await cache.fetch('new')).hit, true)
  const cleared = await cache.clear()
  assert.deepEqual([cleared.entriesRemoved, cleared.contentsRemoved], [1, 4])
  assert.equal((await cache.fetch('new')).hit, false)
  await assert.rejects(cache.purge(-1), /expected a number of days, 0 or more, received -1/)
})

test('BACKFILL_MODE: READ_ONLY never writes, WRITE_ONLY never reads, PASS does neither', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  await new Cache({ cwd: repo.dirs.a }).put('m', ['lib/**'])
  const before = snapshot(repo.cacheDir)

  const ro = new Cache({ cwd: repo.dirs.a, mode: 'READ_ONLY' })
  const roPut = await ro.put('m2', ['lib/**'])
  assert.deepEqual([roPut.stored, roPut.skipped.code], [false, 'SKIPPED_BY_MODE'])
  assert.equal((await ro.fetch('m')).hit, true)
  assert.deepEqual(snapshot(repo.cacheDir), before, 'READ_ONLY wrote to the store')

  const wo = new Cache({ cwd: repo.dirs.a, mode: 'WRITE_ONLY' })
  const woFetch = await wo.fetch('m')
  assert.deepEqual([woFetch.hit, woFetch.skipped.code], [false, 'SKIPPED_BY_MODE'])
  assert.equal(woFetch.skipped.message, 'BACKFILL_MODE is WRITE_ONLY')
  assert.equal((await wo.put('m3', ['lib/**'])).stored, true)

  const pass = new Cache({ cwd: repo.dirs.a, mode: 'PASS' })
  assert.equal((await pass.fetch('m')).hit, false)
  assert.equal((await pass.put('m4', ['lib/**'])).stored, false)

  // local-skip stores no outputs; it remembers the last hash put, whose
  // fetch is a hit that restores nothing (backfill's LocalSkipCacheStorage).
  const skip = new Cache({ cwd: repo.dirs.a, provider: 'local-skip' })
  assert.equal((await skip.fetch('m5')).hit, false)
  const skipPut = await skip.put('m5', ['lib/**'])
  assert.deepEqual([skipPut.stored, skipPut.files, skipPut.skipped.code], [false, 0, 'SKIPPED_BY_PROVIDER'])
  const skipHit = await skip.fetch('m5')
  assert.deepEqual([skipHit.hit, skipHit.source, skipHit.filesRestored], [true, 'local-skip', 0])
  assert.equal((await skip.fetch('m')).hit, false)
})

test('a corrupt entry is a miss with a warning, reported once, and outputs stay as they were', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  await cache.put('c', ['lib/**'])
  // Damage one stored content, keeping its size.
  const content = path.join(repo.cacheDir, 'v1', 'content')
  const blob = fs.readdirSync(content).flatMap((s) => fs.readdirSync(path.join(content, s)).map((f) => path.join(content, s, f)))
    .find((f) => fs.statSync(f).size === 500)
  fs.chmodSync(blob, 0o644)
  fs.writeFileSync(blob, 'X'.repeat(500))
  fs.rmSync(path.join(repo.dirs.a, 'lib/b.js'))
  writeTree(repo.dirs.a, { 'lib/a.js': 'edited' })
  const before = snapshot(repo.dirs.a)
  const r = await cache.fetch('c')
  assert.equal(r.hit, false)
  assert.equal(r.warnings.length, 1)
  assert.equal(r.warnings[0].code, 'LOCAL_ENTRY_INVALID')
  assert.match(r.warnings[0].message, /content [0-9a-f]{64} is corrupt .*\(for lib\/b\.js\); treated as a miss and removed/)
  assert.deepEqual(snapshot(repo.dirs.a), before)
  const next = await cache.fetch('c')
  assert.deepEqual([next.hit, next.warnings], [false, []])
})

test('flush resolves once work under way is done', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  const puts = [cache.put('f1', ['lib/**']), cache.put('f2', ['lib/**'])]
  await cache.flush()
  assert.equal(cache.stats().puts, 2)
  await Promise.all(puts)
})

test('loads with import as well as require', async () => {
  const mod = await import('backfill-native')
  assert.equal(mod.name, 'backfill-native')
  assert.equal(typeof mod.Cache, 'function')
  assert.equal(typeof mod.default.getProvider, 'function')
})

test('storeUsage is async and storeUsageSync is its twin', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  const empty = cache.storeUsage()
  assert.ok(empty instanceof Promise)
  assert.deepEqual({ ...(await empty) }, { entries: 0, contents: 0, bytes: 0 })
  await cache.put('u1', ['lib/**'])
  await cache.put('u2', ['lib/**'])
  const usage = await cache.storeUsage()
  assert.deepEqual({ ...usage }, { entries: 2, contents: 3, bytes: 1502 })
  assert.deepEqual({ ...cache.storeUsageSync() }, { ...usage })
})

test('a miss has no source property, as typed (source?: local | remote)', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = new Cache({ cwd: repo.dirs.a })
  const miss = await cache.fetch('s1')
  assert.equal('source' in miss, false)
  assert.equal('source' in cache.fetchSync('s1'), false)
  await cache.put('s1', ['lib/**'])
  assert.equal((await cache.fetch('s1')).source, 'local')
})

test('mode, provider and logLevel are typed as unions but take what the variables take', () => {
  const repo = makeRepo(['a'])
  const c = new Cache({ cwd: repo.dirs.a, mode: ' read_only ', logLevel: 'WARN', provider: '' }).config
  assert.deepEqual([c.mode, c.logLevel, c.provider, c.warnings], ['READ_ONLY', 'warn', 'local', []])
  const unknown = new Cache({ cwd: repo.dirs.a, provider: 'npm' }).config
  assert.equal(unknown.provider, 'local')
  assert.equal(unknown.warnings[0].code, 'CONFIG_UNKNOWN_PROVIDER')
  assert.match(unknown.warnings[0].message, /is "npm", which backfill-native does not support/)
  assert.throws(() => new Cache({ cwd: repo.dirs.a, mode: 'FAST' }), { code: 'BACKFILL_NATIVE_CONFIG' })
})
