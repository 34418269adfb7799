// Byte compatibility with the JS azure-blob provider of backfill-cache
// 5.12.5, both ways, through a real Azurite.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { getCacheStorageProvider } = require('backfill-cache')
const { makeLogger } = require('backfill-logger')
const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { startAzurite, blobClient } = require('../support/azurite')

let azurite
test.before(async () => {
  azurite = await startAzurite()
  await blobClient(azurite.connectionString).getContainerClient('interop').create()
})
test.after(async () => azurite?.stop())

const OUTPUTS = {
  'lib/index.js': 'module.exports = 1\n',
  'lib/bin/cli.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
  'lib/.vite/manifest.json': '{"a":1}',
  [`lib/${'long-folder-name-'.repeat(6)}/${'file-'.repeat(25)}.js`]: 'long path',
  'lib/ünïcödé/naïve.js': 'unicode',
  'lib/empty.txt': '',
  'lib/big.bin': Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => (i * 7) % 251)),
}

function jsProvider(cwd) {
  const options = { connectionString: azurite.connectionString, container: 'interop' }
  return getCacheStorageProvider({ provider: 'azure-blob', options }, path.join(cwd, 'node_modules/.cache/backfill'), makeLogger('error'), cwd)
}

function nativeCache(cwd, write = false) {
  return new native.Cache({
    cwd,
    provider: 'azure-blob',
    providerOptions: { connectionString: azurite.connectionString, container: 'interop' },
    writeRemoteCache: write,
  })
}

// Modes: the JS reader masks them by the umask, so compare files and bytes,
// and the executable bit.
const comparable = (tree) =>
  Object.fromEntries(Object.entries(tree).map(([p, v]) => [p, v.link ? v : { content: v.content, exec: (v.mode & 0o100) !== 0 }]))

test('a blob the JS provider wrote restores through ours', async () => {
  const writer = makeRepo(['a'])
  writeTree(writer.dirs.a, OUTPUTS)
  const want = snapshot(path.join(writer.dirs.a, 'lib'))
  await jsProvider(writer.dirs.a).put('from-js', ['lib/**'])

  const reader = makeRepo(['a'])
  const got = await nativeCache(reader.dirs.a).fetch('from-js')
  assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
  assert.deepEqual(comparable(snapshot(path.join(reader.dirs.a, 'lib'))), comparable(want))
})

test('a blob we wrote restores through the JS provider', async () => {
  const writer = makeRepo(['a'])
  writeTree(writer.dirs.a, OUTPUTS)
  const want = snapshot(path.join(writer.dirs.a, 'lib'))
  const put = await nativeCache(writer.dirs.a, true).put('from-native', ['lib/**'])
  assert.equal(put.uploaded, true)

  const reader = makeRepo(['a'])
  assert.equal(await jsProvider(reader.dirs.a).fetch('from-native'), true)
  assert.deepEqual(comparable(snapshot(path.join(reader.dirs.a, 'lib'))), comparable(want))
})

test('an empty entry written by either side is a hit on the other', async () => {
  const a = makeRepo(['a'])
  await jsProvider(a.dirs.a).put('empty-js', ['nothing/**'])
  await nativeCache(a.dirs.a, true).put('empty-native', ['nothing/**'])
  const b = makeRepo(['a'])
  assert.equal((await nativeCache(b.dirs.a).fetch('empty-js')).hit, true)
  assert.equal(await jsProvider(b.dirs.a).fetch('empty-native'), true)
  assert.equal(fs.existsSync(path.join(b.dirs.a, 'nothing')), false)
})
