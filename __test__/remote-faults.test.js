// The remote's bounds against faults Azurite cannot make on demand, through
// a fault-injecting proxy in front of a real Azurite (fault-proxy.js): a
// throttling remote (503 with Retry-After: 60), a trickling one (50 KB/s), a
// blob replaced by a larger one after its size was checked, and the switch
// that turns a failing remote off. Every test has its own proxy, so its own
// endpoint and its own failure count.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('../support/helpers')
const { startAzurite, blobClient, KEY, ACCOUNT } = require('../support/azurite')
const { startFaultProxy } = require('../support/fault-proxy')

let azurite
const proxies = []
test.before(async () => {
  azurite = await startAzurite()
})
test.after(async () => {
  for (const p of proxies) await p.stop()
  await azurite?.stop()
})

let containerCount = 0
async function newContainer() {
  const name = `f${++containerCount}-${Date.now()}`
  await blobClient(azurite.connectionString).getContainerClient(name).create()
  return name
}

async function newProxy() {
  const proxy = await startFaultProxy(azurite.port)
  proxies.push(proxy)
  proxy.connectionString = `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${proxy.port}/${ACCOUNT};`
  return proxy
}

/** The hashes the local store under `cacheDir` has an entry for. */
function entries(cacheDir) {
  const dir = path.join(cacheDir, 'v1', 'entries')
  return fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d))) : []
}

function options(connectionString, container, extra = {}, rest = {}) {
  return { provider: 'azure-blob', providerOptions: { connectionString, container, ...extra }, ...rest }
}

/** Stores `files` under hash `hash` straight into Azurite (no proxy). */
async function seed(container, hash, files) {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, files)
  const put = await new native.Cache({ cwd: repo.dirs.a, ...options(azurite.connectionString, container), writeRemoteCache: true }).put(hash, ['lib/**'])
  assert.equal(put.uploaded, true)
}

const FILES = { 'lib/index.js': 'module.exports = 1\n' }

// Old code: each request waited the full 60 s asked for, three times.
test('a throttling remote (503, Retry-After: 60): a fetch with maxSize ends in seconds, a miss with one warning', { timeout: 40000 }, async () => {
  const container = await newContainer()
  await seed(container, 'throttled', FILES)
  const proxy = await newProxy()
  proxy.mode = 'throttle'
  const repo = makeRepo(['a'])
  const started = Date.now()
  const got = await new native.Cache({ cwd: repo.dirs.a, ...options(proxy.connectionString, container, { maxSize: 1 << 20 }) }).fetch('throttled')
  const took = Date.now() - started
  assert.equal(got.hit, false)
  assert.equal(got.warnings.length, 1, got.warnings.join('\n'))
  assert.equal(got.warnings[0].code, 'REMOTE_UNAVAILABLE')
  assert.match(got.warnings[0].message, /download failed: HTTP 503 ServerBusy/)
  // 1 request + 3 retries, each pause capped at 2 s.
  assert.equal(proxy.requests.length, 4, proxy.requests.join('\n'))
  // About 6 s when well; the old code's 60 s pauses would take minutes.
  assert.ok(took < 25000, `took ${took} ms`)
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
})

test('a throttling remote (503, Retry-After: 60): an upload ends in seconds, stored locally, not uploaded, one warning', { timeout: 40000 }, async () => {
  const container = await newContainer()
  const proxy = await newProxy()
  proxy.mode = 'throttle'
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const started = Date.now()
  const put = await new native.Cache({ cwd: repo.dirs.a, ...options(proxy.connectionString, container), writeRemoteCache: true }).put('throttled-up', ['lib/**'])
  const took = Date.now() - started
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.equal(put.warnings.length, 1, put.warnings.join('\n'))
  assert.equal(put.warnings[0].code, 'REMOTE_UNAVAILABLE')
  assert.match(put.warnings[0].message, /upload failed: HTTP 503 ServerBusy/)
  assert.equal(put.uploadSkipped.code, 'UPLOAD_FAILED')
  assert.match(put.uploadSkipped.message, /HTTP 503/)
  // About 6 s when well; the old code's 60 s pauses would take minutes.
  assert.ok(took < 25000, `took ${took} ms`)
  assert.deepEqual(proxy.requests.length, 4, proxy.requests.join('\n'))
})

// Old code: the client followed up to ten redirects, to any host; the second
// host received the upload's body (and the blob landed behind it).
test('a remote that redirects elsewhere: the upload is not sent there, one warning; a fetch is a miss', async () => {
  const container = await newContainer()
  const other = await newProxy()
  const proxy = await newProxy()
  proxy.mode = 'redirect'
  proxy.redirectTo = `http://127.0.0.1:${other.port}`
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const put = await new native.Cache({ cwd: repo.dirs.a, ...options(proxy.connectionString, container), writeRemoteCache: true }).put('redirected', ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.equal(put.warnings.length, 1, put.warnings.join('\n'))
  assert.equal(put.warnings[0].code, 'REMOTE_FAILED')
  assert.match(put.warnings[0].message, /upload failed: HTTP 307 \(a redirect, which is never followed/)
  assert.deepEqual(other.requests, [])
  assert.equal(await blobClient(azurite.connectionString).getContainerClient(container).getBlobClient('redirected').exists(), false)

  // Another container: a remote says each kind of failure once per process.
  const second = await newContainer()
  await seed(second, 'seeded', FILES)
  const fresh = makeRepo(['a'])
  const got = await new native.Cache({ cwd: fresh.dirs.a, ...options(proxy.connectionString, second) }).fetch('seeded')
  assert.equal(got.hit, false)
  assert.equal(got.warnings.length, 1, got.warnings.join('\n'))
  assert.equal(got.warnings[0].code, 'REMOTE_FAILED')
  assert.match(got.warnings[0].message, /download failed: HTTP 307 \(a redirect, which is never followed/)
  assert.deepEqual(other.requests, [])
  assert.equal(fs.existsSync(path.join(fresh.dirs.a, 'lib')), false)
})

// Old code: no overall deadline; bytes kept coming, so the stall timer never
// fired and the fetch was a hit after ~20 s.
test('a trickling remote (50 KB/s) is cut at the deadline: a miss with one warning, the package untouched', { timeout: 60000 }, async () => {
  const container = await newContainer()
  await seed(container, 'slow', { 'lib/big.bin': crypto.randomBytes(1 << 20) })
  const proxy = await newProxy()
  proxy.mode = 'trickle'
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/keep.js': 'keep' })
  const before = snapshot(path.join(repo.dirs.a, 'lib'))
  // timeoutScale 0.1: the deadline is 3 s plus 0.1 s per MiB.
  const c = new native.Cache({ cwd: repo.dirs.a, ...options(proxy.connectionString, container, { timeoutScale: 0.1 }) })
  const started = Date.now()
  const got = await c.fetch('slow')
  const took = Date.now() - started
  assert.equal(got.hit, false)
  assert.equal(got.warnings.length, 1, got.warnings.join('\n'))
  assert.equal(got.warnings[0].code, 'REMOTE_UNAVAILABLE')
  assert.match(got.warnings[0].message, /cut at its deadline of 3\.\d s /)
  // Not before the deadline; the upper bound only tells it from the ~20 s the
  // whole blob takes at 50 KB/s, with a wide margin for a busy machine.
  assert.ok(took >= 2900 && took < 15000, `took ${took} ms`)
  assert.ok(proxy.bytesSent < 1 << 20, `the whole blob was sent (${proxy.bytesSent} bytes)`)
  assert.deepEqual(snapshot(path.join(repo.dirs.a, 'lib')), before)
  assert.deepEqual(entries(repo.cacheDir), [])
})

test('failures of any kind switch the remote off: after 3, no request reaches it', { timeout: 60000 }, async () => {
  const container = await newContainer()
  await seed(container, 'slow-1', { 'lib/big.bin': crypto.randomBytes(1 << 20) })
  const proxy = await newProxy()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, FILES)
  const cache = () => new native.Cache({ cwd: repo.dirs.a, ...options(proxy.connectionString, container, { timeoutScale: 0.1 }), writeRemoteCache: true })
  const warnings = []
  // 1: cut at the deadline; 2: a throttled fetch; 3: a throttled upload.
  proxy.mode = 'trickle'
  const first = await cache().fetch('slow-1')
  proxy.mode = 'throttle'
  const second = await cache().fetch('missing-2')
  const third = await cache().put('up-3', ['lib/**'])
  for (const r of [first, second, third]) warnings.push(...r.warnings)
  assert.deepEqual([first.hit, second.hit, third.stored, third.uploaded], [false, false, true, false])
  const seen = proxy.requests.length
  assert.ok(seen >= 9, proxy.requests.join('\n'))
  proxy.mode = 'pass'
  const started = Date.now()
  for (let i = 0; i < 5; i++) {
    const got = await cache().fetch(`after-${i}`)
    assert.equal(got.hit, false)
    warnings.push(...got.warnings)
  }
  const put = await cache().put('after-put', ['lib/**'])
  assert.deepEqual(proxy.requests.slice(seen), [], 'a request reached the remote after it was switched off')
  // No pause for a remote that is off; 30 s only tells a wait from none.
  assert.ok(Date.now() - started < 30000)
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.equal(put.uploadSkipped.code, 'REMOTE_SWITCHED_OFF')
  // One warning per kind of failure (all three are "unavailable"), not one per operation.
  assert.deepEqual(warnings.map((w) => w.code), ['REMOTE_UNAVAILABLE'], warnings.map((w) => w.message).join('\n'))
})

// Old code: HEAD said small, so the whole larger blob was downloaded and
// restored (ranges past the first were asked for too).
test('a blob replaced by a larger one after the HEAD: the download stops at maxSize, a miss, nothing restored', { timeout: 60000 }, async () => {
  const container = await newContainer()
  const big = crypto.randomBytes(9 << 20)
  await seed(container, 'grew', { 'lib/big.bin': big })
  const proxy = await newProxy()
  proxy.headSize = 2048
  const repo = makeRepo(['a'])
  const { logger, at } = recordingLogger()
  const opts = options(proxy.connectionString, container, { maxSize: 1 << 20 }, { logLevel: 'verbose' })
  assert.equal(await native.getProvider(logger, repo.dirs.a, opts).fetch('grew'), false)
  assert.deepEqual(at('warn'), [])
  assert.ok(at('verbose').some((l) => /miss for grew \(the remote entry is over maxSize \(1048576\)/.test(l)), at('verbose').join('\n'))
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
  assert.deepEqual(entries(repo.cacheDir), [])
  const gets = proxy.requests.filter((r) => r.startsWith('GET'))
  assert.equal(gets.length, 1, `only the first range is asked for: ${gets.join(', ')}`)
  // The same fetch with the real size on HEAD is refused before any GET.
  proxy.headSize = null
  const c = new native.Cache({ cwd: makeRepo(['a']).dirs.a, ...opts })
  assert.deepEqual([(await c.fetch('grew')).hit, proxy.requests.filter((r) => r.startsWith('GET')).length], [false, 1])
})

/** Waits until `proxy` has seen a request matching `pattern` (`answered`: and sent its whole answer); it fails after `ms`. */
async function seen(proxy, pattern, { answered = false, ms = 10000 } = {}) {
  const until = Date.now() + ms
  while (!(answered ? proxy.answered : proxy.requests).some((r) => pattern.test(r))) {
    if (Date.now() > until) assert.fail(`no request matched ${pattern} in ${ms} ms: ${proxy.requests.join(', ')}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

// Old code: there was no warm-up; the first fetch of a worker opened the
// connection (and signed in) itself.
test('warmUp opens the remote connection before any fetch, once per process, and the first fetch reuses it', async () => {
  const container = await newContainer()
  await seed(container, 'warm1', FILES)
  const proxy = await newProxy()
  // A far endpoint's handshakes: each new connection waits 200 ms.
  proxy.connectDelayMs = 200
  const repo = makeRepo(['a'])
  const opts = options(proxy.connectionString, container)
  assert.equal(native.warmUp(repo.dirs.a, opts), true)
  assert.equal(native.warmUp(repo.dirs.a, opts), false, 'the second call starts nothing')
  assert.equal(native.warmUp(makeRepo(['a']).dirs.a, options(azurite.connectionString, container)), true, 'another remote is warmed up on its own')
  await seen(proxy, new RegExp(`^HEAD /${ACCOUNT}/${container}/backfill-native-warm-up$`), { answered: true })
  // The answer is on its way back; the connection returns to the pool as it
  // arrives, which takes the remote's thread a moment: 2 s leaves a wide
  // margin for a busy machine (100 ms once did not).
  await new Promise((r) => setTimeout(r, 2000))
  assert.equal(proxy.connections, 1)
  const got = await new native.Cache({ cwd: repo.dirs.a, ...opts }).fetch('warm1')
  assert.deepEqual([got.hit, got.source], [true, 'remote'])
  assert.equal(fs.readFileSync(path.join(repo.dirs.a, 'lib/index.js'), 'utf8'), FILES['lib/index.js'])
  // The fetch: the blob's properties (its size against maxSize, its
  // metadata), then its bytes.
  assert.deepEqual(proxy.requests.slice(1), [`HEAD /${ACCOUNT}/${container}/warm1`, `GET /${ACCOUNT}/${container}/warm1`])
  assert.equal(proxy.connectionOf[1], 1, 'the fetch went out on the connection the warm-up opened')
  // Not asserted: that the GET reuses it too. The client opens a new
  // connection when the pooled one is not back from the HEAD yet and a new one
  // connects first, which on loopback (no TLS, the kernel accepts at once)
  // can happen on a busy machine; it cost one CI landing when asserted.
})

test('warmUp towards a remote that cannot be reached returns at once, says nothing and leaves the one warning to the first fetch', async () => {
  const proxy = await newProxy()
  await proxy.stop()
  proxies.splice(proxies.indexOf(proxy), 1)
  const repo = makeRepo(['a'])
  const opts = options(proxy.connectionString, 'gone')
  assert.equal(native.warmUp(repo.dirs.a, opts), true)
  // The warm-up fails in the background meanwhile.
  await new Promise((r) => setTimeout(r, 300))
  const { logger, at } = recordingLogger()
  assert.equal(await native.getProvider(logger, repo.dirs.a, opts).fetch('warm2'), false)
  assert.equal(at('warn').length, 1, at('warn').join('\n'))
  assert.match(at('warn')[0], /remote cache \(azure-blob container 'gone' at .*\): .*; treated as a miss\. To fix it, check the network/)
  assert.throws(() => native.warmUp(repo.dirs.a, { provider: 'azure-blob', providerOptions: { container: 'c' } }), (e) => e.code === 'BACKFILL_NATIVE_CONFIG')
})

// Old code: a lage worker opened the connection in its first fetch.
test("a lage worker started through backfill-native/lage opens the remote connection as it starts, before lage's first fetch", async () => {
  const wt = require('node:worker_threads')
  const { cacheStorageConfig } = require('../lage')
  const container = await newContainer()
  const proxy = await newProxy()
  const repo = makeRepo(['a'])
  const script = path.join(repo.root, 'worker.js')
  // A worker that fetches nothing: it only says it started.
  fs.writeFileSync(script, "require('node:worker_threads').parentPort.postMessage('started')\n")
  const marker = cacheStorageConfig({ cacheFolder: repo.cacheDir, ...options(proxy.connectionString, container) })
  const worker = new wt.Worker(script, { workerData: { cacheOptions: { cacheStorageConfig: marker } } })
  try {
    await new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)))
    await seen(proxy, /backfill-native-warm-up$/)
    assert.equal(proxy.requests.length, 1, proxy.requests.join(', '))
  } finally {
    await worker.terminate()
  }
})
