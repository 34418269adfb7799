// Remote blobs whose archives are not usable as they are, against a real
// Azurite: entries that contradict each other, archives cut short. Each is
// a miss with one warning, nothing stored, the package untouched, and the
// build that follows works.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { startAzurite, blobClient, forgeTar } = require('../support/azurite')

let azurite
test.before(async () => {
  azurite = await startAzurite()
})
test.after(async () => {
  await azurite?.stop()
})

let count = 0
async function containerWith(blobs) {
  const name = `arch${++count}-${Date.now()}`
  const client = blobClient(azurite.connectionString).getContainerClient(name)
  await client.create()
  for (const [blob, bytes] of Object.entries(blobs)) await client.getBlockBlobClient(blob).upload(bytes, bytes.length)
  return name
}

/** Every file of the local store but its lock. */
function storeFiles(cacheDir) {
  // The lock files are the store's, not the blob's.
  return Object.keys(snapshot(cacheDir)).filter((p) => p !== 'v1/lock' && p !== 'v1/gate')
}

const body = (s) => Buffer.from(s)

const CONFLICTS = {
  'a file and a path below it': [
    [{ name: 'lib/index.js', body: body('module.exports = 1\n') }, { name: 'lib/index.js/x', body: body('x') }],
    'A file "lib/index.js/x" lies below "lib/index.js", which is a file',
  ],
  'a link and a path through it': [
    [{ name: 'lib/index.js/x', body: body('x') }, { name: 'lib/index.js', type: '2', link: '.' }],
    'entry "lib/index.js/x" goes through the link "lib/index.js"',
  ],
  'one name as a file and a link': [
    [{ name: 'lib/index.js', body: body('1') }, { name: 'lib/index.js', type: '2', link: 'other.js' }],
    'entry "lib/index.js" appears twice, as a file and as a link',
  ],
  'names differing only in case': [
    [{ name: 'lib/index.js', body: body('1') }, { name: 'lib/INDEX.js', body: body('2') }],
    'entries "lib/INDEX.js" and "lib/index.js" differ only in case',
  ],
}

for (const [name, [entries, reason]] of Object.entries(CONFLICTS)) {
  test(`a blob with ${name} is refused whole: a miss with one warning, nothing stored, and the build runs`, async () => {
    const container = await containerWith({ h1: forgeTar(entries) })
    const repo = makeRepo(['a'])
    writeTree(repo.dirs.a, { 'src/index.ts': 'export {}', 'lib/old.js': 'old' })
    const before = snapshot(repo.dirs.a)
    const cache = new native.Cache({
      cwd: repo.dirs.a,
      provider: 'azure-blob',
      providerOptions: { connectionString: azurite.connectionString, container },
    })
    const got = await cache.fetch('h1')
    assert.equal(got.hit, false)
    assert.equal(got.warnings.length, 1, got.warnings.join('\n'))
    assert.equal(got.warnings[0].code, 'REMOTE_ENTRY_REFUSED', got.warnings[0].message)
    assert.ok(got.warnings[0].message.includes(reason), got.warnings[0].message)
    assert.deepEqual(snapshot(repo.dirs.a), before, 'the package changed')
    assert.deepEqual(storeFiles(repo.cacheDir), [], 'something of the blob was stored')

    // The build runs and its outputs are cached as usual.
    writeTree(repo.dirs.a, { 'lib/index.js': 'module.exports = 1\n' })
    const put = await cache.put('h1', ['lib/**'])
    assert.equal(put.stored, true)
    fs.rmSync(path.join(repo.dirs.a, 'lib'), { recursive: true })
    const again = await cache.fetch('h1')
    assert.deepEqual([again.hit, again.source, again.warnings], [true, 'local', []])
    assert.equal(fs.readFileSync(path.join(repo.dirs.a, 'lib/index.js'), 'utf8'), 'module.exports = 1\n')
  })
}

test('a blob cut short (no end-of-archive marker) is a miss with a warning, not a partial restore', async () => {
  const whole = forgeTar([
    { name: 'lib/a.js', body: body('a') },
    { name: 'lib/b.js', body: body('b'.repeat(3000)) },
  ])
  // Cut exactly after the last entry, as an interrupted JS upload can leave it.
  const cut = whole.subarray(0, whole.length - 1024)
  const container = await containerWith({ cut, whole })
  const repo = makeRepo(['a'])
  const cache = new native.Cache({
    cwd: repo.dirs.a,
    provider: 'azure-blob',
    providerOptions: { connectionString: azurite.connectionString, container },
  })
  const got = await cache.fetch('cut')
  assert.equal(got.hit, false)
  assert.equal(got.warnings.length, 1)
  assert.equal(got.warnings[0].code, 'REMOTE_ENTRY_REFUSED')
  assert.match(got.warnings[0].message, /it has no end-of-archive marker, so it was cut short/)
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false, 'a partial restore was made')
  assert.deepEqual(storeFiles(repo.cacheDir).filter((p) => !p.startsWith('v1/tmp')), [])
  const ok = await cache.fetch('whole')
  assert.deepEqual([ok.hit, ok.source], [true, 'remote'])
  assert.equal(fs.readFileSync(path.join(repo.dirs.a, 'lib/b.js'), 'utf8'), 'b'.repeat(3000))
})
