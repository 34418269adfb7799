// What `backfill-native/lage` does inside a lage target worker, seen from
// lage's main thread: a real worker thread started through the hook
// (`cacheStorageConfig()` wraps worker_threads.Worker), running the real
// engine, asked for a provider per fetch and per put as lage 2.17 does.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const wt = require('node:worker_threads')

const { makeRepo, writeTree, snapshot, tempDir } = require('../support/helpers')
const { scrubCacheEnv } = require('../support/env')
const { cacheStorageConfig } = require('../lage')

scrubCacheEnv()

// Plays lage's worker: a provider per call, put, outputs removed, fetch.
const LAGE_WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const path = require('node:path')
const provider = workerData.cacheOptions.cacheStorageConfig.provider
;(async () => {
  const [a, b] = workerData.dirs
  const forPut = provider(null, a)
  await forPut.put('0123456789abcdef', ['lib/**'])
  fs.rmSync(path.join(a, 'lib'), { recursive: true })
  const forFetch = provider(null, a)
  const hit = await forFetch.fetch('0123456789abcdef')
  parentPort.postMessage({ type: 'done', hit, samePackageSameStorage: forPut === forFetch, otherPackageOtherStorage: provider(null, b) !== forPut })
})().catch((e) => parentPort.postMessage({ type: 'done', error: String(e && e.stack) }))
`

/** Runs LAGE_WORKER as lage would with lage's command line `argv`; returns the log messages posted and the result. */
async function inLageWorker(options, argv = []) {
  const repo = makeRepo(['a', 'b'])
  writeTree(repo.dirs.a, { 'lib/index.js': 'built a\n', 'lib/nested/x.txt': 'x' })
  const built = snapshot(path.join(repo.dirs.a, 'lib'))
  const script = path.join(tempDir('bfn-lage-worker-'), 'worker.js')
  fs.writeFileSync(script, LAGE_WORKER)
  const marker = cacheStorageConfig({ cacheFolder: repo.cacheDir, ...options })
  const saved = process.argv
  process.argv = [...saved, ...argv]
  let worker
  try {
    worker = new wt.Worker(script, { workerData: { cacheOptions: { cacheStorageConfig: marker }, dirs: [repo.dirs.a, repo.dirs.b] } })
  } finally {
    process.argv = saved
  }
  const logs = []
  const done = await new Promise((resolve, reject) => {
    worker.on('message', (m) => (m.type === 'log' ? logs.push(m) : m.type === 'done' && resolve(m)))
    worker.on('error', reject)
  })
  await worker.terminate()
  assert.equal(done.error, undefined, done.error)
  assert.equal(done.hit, true)
  assert.deepEqual(snapshot(path.join(repo.dirs.a, 'lib')), built)
  return { logs, done }
}

test('lines below the level lage shows are not posted to its main thread', async () => {
  // The engine is asked for verbose lines, lage runs at its default (info):
  // the put's and the hit's verbose lines would be dropped by lage anyway.
  const { logs } = await inLageWorker({ logLevel: 'verbose' })
  assert.deepEqual(logs, [])
})

test('warnings are posted at lage\'s default level, and not with --log-level error', async () => {
  const warned = await inLageWorker({ provider: 'no-such-provider' })
  assert.equal(warned.logs.length, 1, JSON.stringify(warned.logs))
  assert.equal(warned.logs[0].level, 20)
  assert.match(warned.logs[0].msg, /no-such-provider/)
  const quiet = await inLageWorker({ provider: 'no-such-provider-either' }, ['--log-level', 'error'])
  assert.deepEqual(quiet.logs, [])
})

test('with lage --verbose the hit is posted without configuring a log level', async () => {
  const { logs } = await inLageWorker({}, ['--verbose'])
  assert.ok(logs.some((l) => l.level === 40 && /^backfill-native: hit for 0123456789abcdef from the local cache/.test(l.msg)), JSON.stringify(logs))
  assert.ok(logs.some((l) => l.level === 40 && /^backfill-native: stored 0123456789abcdef/.test(l.msg)), JSON.stringify(logs))
})

test("one storage per package folder serves a worker's fetches and puts", async () => {
  const { done } = await inLageWorker({})
  assert.equal(done.samePackageSameStorage, true)
  assert.equal(done.otherPackageOtherStorage, true)
})
