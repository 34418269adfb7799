// Large entries through a real Azurite: memory stays flat while streaming,
// and a server that dies mid-transfer leaves the outputs as they were.
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot, tempDir, removeTempDir } = require('../support/helpers')
const { startAzurite, blobClient } = require('../support/azurite')

const MB = 1 << 20
// The bound is for a 1 GB entry; BFN_LARGE_MB makes it smaller for
// a quick local run.
const LARGE_MB = Number(process.env.BFN_LARGE_MB || 1024)

/** Writes `mb` MB of incompressible-looking outputs as 64 MB files. */
function writeLarge(dir, mb, seed = 1) {
  const chunk = Buffer.alloc(MB)
  for (let f = 0; f * 64 < mb; f++) {
    const p = path.join(dir, 'lib', `part${f}.bin`)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    const fd = fs.openSync(p, 'w')
    for (let i = 0; i < Math.min(64, mb - f * 64); i++) {
      chunk.writeUInt32LE((seed * 2654435761 + f * 64 + i) >>> 0, 0)
      chunk.writeUInt32LE(i, MB - 4)
      fs.writeSync(fd, chunk)
    }
    fs.closeSync(fd)
  }
}

/**
 * { rel: sha256 } of every file under `dir`, read in pieces: the outputs of
 * the large entry are compared without holding them in memory, and can be
 * deleted once their digests are taken.
 */
function digests(dir) {
  const out = {}
  const buf = Buffer.alloc(4 * MB)
  for (const rel of fs.readdirSync(dir, { recursive: true }).sort()) {
    const p = path.join(dir, rel)
    if (!fs.statSync(p).isFile()) continue
    const hash = crypto.createHash('sha256')
    const fd = fs.openSync(p, 'r')
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n))
    fs.closeSync(fd)
    out[rel.split(path.sep).join('/')] = hash.digest('hex')
  }
  return out
}

/** Runs `fn`, sampling this process's RSS; returns [result, peak growth in MB]. */
async function peakRss(fn) {
  const base = process.memoryUsage.rss()
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5)
  try {
    const result = await fn()
    return [result, (peak - base) / MB]
  } finally {
    clearInterval(timer)
  }
}

function remoteCache(cwd, azurite, write) {
  return new native.Cache({
    cwd,
    provider: 'azure-blob',
    providerOptions: { connectionString: azurite.connectionString, container: 'large' },
    writeRemoteCache: write,
  })
}

// Disk: at most the Azurite copy, the restored outputs and their store (about
// 3 GB for 1 GB), since each folder is removed as soon as it is done with.
test(`a ${LARGE_MB} MB entry uploads and downloads with flat memory`, { timeout: 15 * 60e3 }, async () => {
  const location = tempDir('bfn-azurite-disk-')
  const azurite = await startAzurite({ location })
  try {
    await blobClient(azurite.connectionString).getContainerClient('large').create()
    const ci = makeRepo(['a'])
    writeLarge(ci.dirs.a, LARGE_MB)
    const [put, putGrowth] = await peakRss(() => remoteCache(ci.dirs.a, azurite, true).put('large', ['lib/**']))
    assert.deepEqual([put.uploaded, put.warnings], [true, []])
    assert.ok(put.uploadBytes > LARGE_MB * MB)
    const expected = digests(path.join(ci.dirs.a, 'lib'))
    assert.equal(Object.keys(expected).length, Math.ceil(LARGE_MB / 64))
    removeTempDir(ci.root)

    const dev = makeRepo(['a'])
    const [got, fetchGrowth] = await peakRss(() => remoteCache(dev.dirs.a, azurite, false).fetch('large'))
    assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
    assert.deepEqual(digests(path.join(dev.dirs.a, 'lib')), expected)
    removeTempDir(dev.root)
    console.log(`# memory growth for ${LARGE_MB} MB: put ${putGrowth.toFixed(1)} MB, fetch ${fetchGrowth.toFixed(1)} MB`)
    assert.ok(putGrowth < 100, `put grew RSS by ${putGrowth.toFixed(1)} MB`)
    assert.ok(fetchGrowth < 100, `fetch grew RSS by ${fetchGrowth.toFixed(1)} MB`)
  } finally {
    await azurite.stop()
    removeTempDir(location)
  }
})

test('Azurite killed mid-download: a miss with a warning, outputs as they were, no entry', { timeout: 5 * 60e3 }, async () => {
  const location = tempDir('bfn-azurite-disk-')
  let azurite = await startAzurite({ location })
  try {
    await blobClient(azurite.connectionString).getContainerClient('large').create()
    const ci = makeRepo(['a'])
    writeLarge(ci.dirs.a, 256, 2)
    assert.equal((await remoteCache(ci.dirs.a, azurite, true).put('cut', ['lib/**'])).uploaded, true)
    removeTempDir(ci.root)

    const dev = makeRepo(['a'])
    writeTree(dev.dirs.a, { 'lib/part0.bin': 'the old output', 'lib/other.js': 'keep me' })
    const before = snapshot(dev.dirs.a)
    const cache = remoteCache(dev.dirs.a, azurite, false)
    const fetching = cache.fetch('cut')
    // Kill the server once the download has begun writing into the store.
    const tmp = path.join(dev.cacheDir, 'v1', 'tmp')
    while (!(fs.existsSync(tmp) && fs.readdirSync(tmp).length > 0)) await new Promise((r) => setTimeout(r, 2))
    await azurite.stop('SIGKILL')
    const got = await fetching
    assert.equal(got.hit, false)
    assert.equal(got.warnings.length, 1)
    assert.equal(got.warnings[0].code, 'REMOTE_UNAVAILABLE')
    assert.match(got.warnings[0].message, /download of cut failed: /)
    assert.deepEqual(snapshot(dev.dirs.a), before, 'a failed download changed the outputs')
    assert.equal(fs.readdirSync(path.join(dev.cacheDir, 'v1')).includes('entries'), false, 'an entry was written')
    removeTempDir(dev.root)

    // Killed mid-upload: the put still stores locally, warns, and no blob appears.
    azurite = await startAzurite({ location, port: azurite.port })
    // Azurite may have lost the container's record when it was killed (its
    // metadata is saved every few seconds); the upload must fail only by the
    // kill below, not by a missing container.
    await blobClient(azurite.connectionString).getContainerClient('large').createIfNotExists()
    const up = makeRepo(['a'])
    writeLarge(up.dirs.a, 256, 3)
    const putting = remoteCache(up.dirs.a, azurite, true).put('cut-upload', ['lib/**'])
    await new Promise((r) => setTimeout(r, 300))
    await azurite.stop('SIGKILL')
    const put = await putting
    assert.equal(put.stored, true)
    assert.equal(put.uploaded, false, 'the upload finished before the kill: the test proved nothing')
    assert.equal(put.uploadSkipped.code, 'UPLOAD_FAILED', put.uploadSkipped.message)
    assert.match(put.uploadSkipped.message, /upload failed: /)
    // The remote being unreachable was already said once, for the download.
    assert.deepEqual(put.warnings, [])
    removeTempDir(up.root)

    azurite = await startAzurite({ location, port: azurite.port })
    // Azurite may lose its recent metadata when killed, so only the absence
    // of the cut upload is meaningful here.
    const container = blobClient(azurite.connectionString).getContainerClient('large')
    await container.createIfNotExists()
    const names = []
    for await (const b of container.listBlobsFlat()) names.push(b.name)
    assert.ok(!names.includes('cut-upload'), 'a partial upload became visible')
  } finally {
    // Also when an assertion failed on the way: no server outlives the test.
    await azurite.stop()
    removeTempDir(location)
  }
})
