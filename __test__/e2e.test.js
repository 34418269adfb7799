// End to end, the way lage drives a cache provider: many packages, a fresh
// provider per call, fetch then put on a miss, several worker threads at once.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { Worker } = require('node:worker_threads')

require('../support/env').scrubCacheEnv()

const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { startAzurite, blobClient } = require('../support/azurite')

const PACKAGES = Array.from({ length: 12 }, (_, i) => `pkg-${i}`)
const WORKERS = 4

function makeMonorepo() {
  const repo = makeRepo(PACKAGES)
  PACKAGES.forEach((name, i) => {
    const files = {}
    for (let f = 0; f < 5 + i; f++) files[`src/file${f}.js`] = `export const v${f} = "${name}-${f}"\n`.repeat(1 + f)
    writeTree(repo.dirs[name], files)
  })
  return repo
}

// Each package depends on the one before it: its hash includes that one's,
// transitively, as lage's target hashes do.
function targets(repo) {
  const hashes = []
  return PACKAGES.map((name, i) => {
    const dir = repo.dirs[name]
    const h = crypto.createHash('sha256')
    for (const f of fs.readdirSync(path.join(dir, 'src')).sort()) h.update(fs.readFileSync(path.join(dir, 'src', f)))
    if (i > 0) h.update(hashes[i - 1])
    hashes.push(h.digest('hex'))
    return { name, dir, depHashes: i > 0 ? [hashes[i - 1]] : [] }
  })
}

async function round(repo, shape) {
  const all = targets(repo)
  const chunks = Array.from({ length: WORKERS }, (_, w) => all.filter((_, i) => i % WORKERS === w))
  const warnings = []
  const verbose = []
  const results = await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(path.join(__dirname, 'fixtures', 'lage-like-worker.js'), {
            workerData: { root: repo.root, targets: chunk, shape },
          })
          worker.on('message', (m) => {
            if (m.warn) warnings.push(m.warn)
            if (m.verbose) verbose.push(m.verbose)
            if (m.error) reject(new Error(m.error))
            if (m.results) resolve(m.results)
          })
          worker.on('error', reject)
        }),
    ),
  )
  return { results: results.flat(), warnings, verbose }
}

const builds = (repo) =>
  fs.existsSync(path.join(repo.root, 'builds.log')) ? fs.readFileSync(path.join(repo.root, 'builds.log'), 'utf8').trim().split('\n') : []

const outputs = (repo) => Object.fromEntries(PACKAGES.map((p) => [p, snapshot(path.join(repo.dirs[p], 'lib'))]))

for (const shape of ['function', 'plugin']) {
  test(`lage-like rounds through the ${shape} provider shape: the second round is served natively, byte-identical`, async () => {
    const repo = makeMonorepo()

    const cold = await round(repo, shape)
    assert.equal(cold.results.filter((r) => r.hit).length, 0)
    assert.equal(builds(repo).length, PACKAGES.length, 'every package built once')
    assert.deepEqual(cold.warnings, [])
    const built = outputs(repo)
    assert.equal(Object.keys(built['pkg-3']).length, 5 + 3 + 3)
    assert.equal(built['pkg-0']['cli.js'].mode, 0o755)

    // A clean checkout: outputs gone, the store at the repo root kept.
    for (const p of PACKAGES) fs.rmSync(path.join(repo.dirs[p], 'lib'), { recursive: true })
    const warm = await round(repo, shape)
    assert.equal(warm.results.filter((r) => r.hit).length, PACKAGES.length, 'every target hit')
    assert.equal(builds(repo).length, PACKAGES.length, 'no build ran again')
    assert.deepEqual(outputs(repo), built)
    assert.deepEqual(warm.warnings, [])

    // A changed source misses for that package and the ones depending on it.
    fs.appendFileSync(path.join(repo.dirs['pkg-9'], 'src', 'file0.js'), '// changed\n')
    const changed = await round(repo, shape)
    assert.deepEqual(
      changed.results.filter((r) => !r.hit).map((r) => r.name).sort(),
      ['pkg-10', 'pkg-11', 'pkg-9'],
    )
    assert.equal(builds(repo).length, PACKAGES.length + 3)
  })
}

// The user doc's remote cache setup: CI exports the variables and uploads; a
// developer's machine with an empty local store is then served from Azure.
for (const setup of ['exported variables', '.env file only']) {
  test(`remote round trip through lage-like workers, configured by ${setup}`, async () => {
    const azurite = await startAzurite()
    const saved = { ...process.env }
    try {
      const container = setup === '.env file only' ? 'dotenv' : 'exported'
      await blobClient(azurite.connectionString).getContainerClient(container).create()
      const repo = makeMonorepo()
      const options = JSON.stringify({ connectionString: azurite.connectionString, container })
      const vars = { BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: options, BACKFILL_LOG_LEVEL: 'verbose' }
      const dotenv = path.join(repo.root, '.env')
      if (setup === '.env file only') {
        fs.writeFileSync(dotenv, Object.entries({ ...vars, LAGE_WRITE_REMOTE_CACHE: 'true' }).map(([k, v]) => `${k}=${v}`).join('\n'))
      } else {
        Object.assign(process.env, vars, { LAGE_WRITE_REMOTE_CACHE: 'true' })
      }

      const ci = await round(repo, 'function')
      assert.equal(builds(repo).length, PACKAGES.length)
      assert.deepEqual(ci.warnings, [])
      assert.equal(ci.verbose.filter((l) => / uploaded \d+ bytes, in /.test(l)).length, PACKAGES.length)
      const built = outputs(repo)
      const blobs = []
      for await (const b of blobClient(azurite.connectionString).getContainerClient(container).listBlobsFlat()) blobs.push(b.name)
      assert.deepEqual(blobs.sort(), ci.results.map((r) => r.hash).sort())

      // A developer machine: same sources, no outputs, no local store, no
      // remote writes.
      fs.rmSync(path.join(repo.root, 'node_modules'), { recursive: true })
      for (const p of PACKAGES) fs.rmSync(path.join(repo.dirs[p], 'lib'), { recursive: true })
      if (setup === '.env file only') fs.writeFileSync(dotenv, Object.entries(vars).map(([k, v]) => `${k}=${v}`).join('\n'))
      else delete process.env.LAGE_WRITE_REMOTE_CACHE
      const dev = await round(repo, 'plugin')
      assert.equal(dev.results.filter((r) => r.hit).length, PACKAGES.length)
      assert.equal(builds(repo).length, PACKAGES.length, 'no build ran again')
      assert.equal(dev.verbose.filter((l) => / from the remote cache: /.test(l)).length, PACKAGES.length)
      assert.deepEqual(outputs(repo), built)
      assert.deepEqual(dev.warnings, [])
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
      await azurite.stop()
    }
  })
}
