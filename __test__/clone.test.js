// Clones through the addon, on XFS and btrfs images loop-mounted here
// (support/loop-fs.js; root, xfsprogs and btrfs-progs): a fetch clones what
// it restores (`filesCloned`, `filefrag` shows shared extents), the device
// writes next to nothing, and a write to a restored output never reaches
// the store. Skipped with the reason where a machine cannot mount the
// images; BFN_REQUIRE_LOOP_FS=1 (CI as root) makes that a failure.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const { Cache } = require('..')
const { workFolder } = require('../support/loop-fs')
const { writeTree, snapshot } = require('../support/helpers')

const bytes = (n, seed) => crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(n))

const FILES = {
  'lib/big.bin': bytes(8 << 20, 1),
  'lib/exec.bin': { content: bytes(4 << 20, 2), mode: 0o755 },
  'lib/small.js': 'export {}\n',
}
for (let i = 0; i < 16; i++) FILES[`lib/d/m${i}.js`] = bytes(128 << 10, 10 + i)
const COUNT = Object.keys(FILES).length
const TOTAL = Object.values(FILES).reduce((n, f) => n + Buffer.byteLength(f.content ?? f), 0)

const shared = (file) => execFileSync('filefrag', ['-v', file], { encoding: 'utf8' }).includes('shared')

for (const kind of ['xfs', 'btrfs']) {
  test(`on ${kind}, a fetch clones from the store and writes next to nothing`, async (t) => {
    let work
    try {
      work = workFolder(kind, { sizeGiB: 1 })
    } catch (e) {
      if (process.env.BFN_REQUIRE_LOOP_FS === '1') throw e
      console.log(`clone.test.js: SKIPPED on ${kind}: ${e.message}`)
      return t.skip(e.message)
    }
    try {
      const pkg = path.join(work.dir, 'pkg')
      const cacheFolder = path.join(work.dir, 'cache')
      writeTree(pkg, FILES)
      const want = snapshot(pkg)
      const cache = new Cache({ cwd: pkg, cacheFolder })
      assert.equal((await cache.put('h1', ['lib/**'])).files, COUNT)

      fs.rmSync(path.join(pkg, 'lib'), { recursive: true })
      const before = work.written()
      const hit = await cache.fetch('h1')
      const written = work.written() - before
      assert.deepEqual([hit.hit, hit.filesRestored, hit.filesCloned], [true, COUNT, COUNT])
      assert.deepEqual(snapshot(pkg), want)
      assert.ok(shared(path.join(pkg, 'lib/big.bin')), 'lib/big.bin shares its extents with the store')
      console.log(`${kind}: a fetch of ${TOTAL} bytes wrote ${written} bytes to the device`)
      assert.ok(written < TOTAL / 10, `${written} of ${TOTAL} bytes written`)

      // Independence: writes to the restored outputs stay in them.
      fs.appendFileSync(path.join(pkg, 'lib/big.bin'), 'more')
      const fd = fs.openSync(path.join(pkg, 'lib/exec.bin'), 'r+')
      fs.writeSync(fd, Buffer.alloc(4096, 9), 0, 4096, 1 << 20)
      fs.closeSync(fd)
      fs.truncateSync(path.join(pkg, 'lib/d/m3.js'), 10)
      fs.chmodSync(path.join(pkg, 'lib/small.js'), 0o600)
      const other = path.join(work.dir, 'other')
      fs.mkdirSync(other)
      const again = await new Cache({ cwd: other, cacheFolder }).fetch('h1')
      assert.deepEqual([again.hit, again.filesCloned, again.warnings], [true, COUNT, []])
      assert.deepEqual(snapshot(other), want)
      // And the edited package gets the cached files back.
      const back = await cache.fetch('h1')
      assert.deepEqual([back.hit, back.filesRestored], [true, 3])
      assert.deepEqual(snapshot(pkg), want)
      await cache.flush()
    } finally {
      work.close()
    }
  })
}

test('on the temp folder, a fetch restores as before whether it clones or copies', async () => {
  const { tempDir } = require('../support/helpers')
  const pkg = tempDir()
  writeTree(pkg, FILES)
  const want = snapshot(pkg)
  const cache = new Cache({ cwd: pkg, cacheFolder: path.join(tempDir(), 'cache') })
  await cache.put('h1', ['lib/**'])
  fs.rmSync(path.join(pkg, 'lib'), { recursive: true })
  const hit = await cache.fetch('h1')
  assert.equal(hit.filesRestored, COUNT)
  assert.ok(hit.filesCloned === 0 || hit.filesCloned === COUNT, `${hit.filesCloned} of ${COUNT} cloned`)
  assert.deepEqual(snapshot(pkg), want)
})
