// The storage contract lage calls: fetch(hash): Promise<boolean> and
// put(hash, outputGlob): Promise<void>, through both provider shapes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('../support/helpers')

const OUTPUTS = {
  'lib/index.js': 'module.exports = 1\n',
  'lib/bin/cli.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
  'lib/.vite/manifest.json': '{"a":1}',
  'lib/types/index.d.ts': 'export {}\n',
  'lib/alias.js': { link: 'index.js' },
}

test('the plugin shape lage loads by name', () => {
  assert.equal(native.name, 'backfill-native')
  assert.equal(typeof native.getProvider, 'function')
  assert.equal(typeof native.createProvider, 'function')
})

for (const [shape, make] of [
  ['getProvider(logger, cwd, options)', (logger, cwd) => native.getProvider(logger, cwd)],
  ['createProvider(options)(logger, cwd)', (logger, cwd) => native.createProvider()(logger, cwd)],
]) {
  test(`${shape}: miss, put, wipe, fetch restores the same bytes`, async () => {
    const repo = makeRepo(['a'])
    const cwd = repo.dirs.a
    writeTree(cwd, OUTPUTS)
    writeTree(cwd, { 'src/index.ts': 'source, not an output' })
    const want = snapshot(path.join(cwd, 'lib'))
    const { logger } = recordingLogger()

    assert.equal(await make(logger, cwd).fetch('hash-1'), false)
    assert.equal(await make(logger, cwd).put('hash-1', ['lib/**']), undefined)
    fs.rmSync(path.join(cwd, 'lib'), { recursive: true })
    assert.equal(await make(logger, cwd).fetch('hash-1'), true)
    assert.deepEqual(snapshot(path.join(cwd, 'lib')), want)
    // Only outputs were stored: src is untouched and was never cached.
    assert.equal(fs.readFileSync(path.join(cwd, 'src/index.ts'), 'utf8'), 'source, not an output')
    // The store lives at the workspace root, shared by all packages.
    assert.ok(fs.existsSync(path.join(repo.cacheDir, 'v1', 'entries')))
  })
}

test('a put that matches no file stores an empty entry, and fetching it is a hit', async () => {
  const repo = makeRepo(['a'])
  const storage = native.getProvider(null, repo.dirs.a)
  await storage.put('empty', ['dist/**'])
  assert.equal(await storage.fetch('empty'), true)
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'dist')), false)
})

test('globby semantics: negation, dot folders, lib/** and lib/**/* alike', async () => {
  const repo = makeRepo(['a'])
  const cwd = repo.dirs.a
  writeTree(cwd, { ...OUTPUTS, 'dist/.vite/manifest.json': '{}', 'dist/app.js': 'app', 'dist/app.js.map': 'map' })
  const storage = native.getProvider(null, cwd)
  await storage.put('h', ['dist/**', '!**/*.map', 'lib/**/*'])
  fs.rmSync(path.join(cwd, 'dist'), { recursive: true })
  fs.rmSync(path.join(cwd, 'lib'), { recursive: true })
  assert.equal(await storage.fetch('h'), true)
  assert.deepEqual(Object.keys(snapshot(cwd)).filter((p) => p !== 'package.json'), [
    'dist/.vite/manifest.json',
    'dist/app.js',
    'lib/.vite/manifest.json',
    'lib/alias.js',
    'lib/bin/cli.js',
    'lib/index.js',
    'lib/types/index.d.ts',
  ])
})

test('a bad hash is refused with a clear error, warned about once, and nothing is written', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const { logger, at } = recordingLogger()
  const storage = native.getProvider(logger, repo.dirs.a)
  for (const bad of ['', '../escape', 'a/b', 'x\u0000y', 'f'.repeat(201)]) {
    await assert.rejects(storage.put(bad, ['lib/**']), (e) => {
      assert.equal(e.code, 'BACKFILL_NATIVE_HASH')
      assert.match(e.message, /^invalid cache hash /)
      return true
    })
  }
  assert.equal(at('warn').length, 5)
  assert.match(at('warn')[1], /^backfill-native: put of \.\.\/escape failed: invalid cache hash "\.\.\/escape": it starts with '\.'/)
  assert.equal(fs.existsSync(repo.cacheDir), false, 'the store was touched')
})

test('configuration warnings reach the logger at warn, once per process', () => {
  const repo = makeRepo(['a', 'b'])
  const { logger, at } = recordingLogger()
  native.getProvider(logger, repo.dirs.a, { provider: 'npm' })
  native.getProvider(logger, repo.dirs.b, { provider: 'npm' })
  assert.deepEqual(at('warn'), [
    'backfill-native: BACKFILL_CACHE_PROVIDER (from the options passed in code) is "npm", which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo',
  ])
})

test('invalid configuration throws with a code and warns', () => {
  const repo = makeRepo(['a'])
  const { logger, at } = recordingLogger()
  assert.throws(
    () => native.getProvider(logger, repo.dirs.a, { mode: 'sometimes' }),
    (e) => e.code === 'BACKFILL_NATIVE_CONFIG' && /^BACKFILL_MODE \(from the options passed in code\) is invalid/.test(e.message),
  )
  assert.match(at('warn')[0], /^backfill-native: the cache is off: BACKFILL_MODE/)
})

test('a logger missing methods, or with throwing ones, never breaks the cache', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  for (const logger of [{}, null, undefined, { warn: 42 }, { verbose: () => { throw new Error('boom') } }]) {
    const storage = native.getProvider(logger, repo.dirs.a, { logLevel: 'silly' })
    await storage.put('h', ['lib/**'])
    assert.equal(await storage.fetch('h'), true)
  }
})

test('hits and misses are logged at verbose when BACKFILL_LOG_LEVEL allows it', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const { logger, at } = recordingLogger()
  const storage = native.getProvider(logger, repo.dirs.a, { logLevel: 'verbose' })
  await storage.fetch('v1')
  await storage.put('v1', ['lib/**'])
  await storage.fetch('v1')
  const verbose = at('verbose')
  assert.equal(verbose[0], 'backfill-native: miss for v1')
  assert.match(verbose[1], /^backfill-native: stored v1: 4 files, \d+ bytes \(\d+ new\), in \d+ ms$/)
  assert.match(verbose[2], /^backfill-native: hit for v1 from the local cache: 0 files restored, 4 unchanged, in \d+ ms$/)
  const quiet = recordingLogger()
  await native.getProvider(quiet.logger, repo.dirs.a).fetch('v1')
  assert.deepEqual(quiet.lines, [], 'info level logs nothing on success')
})
