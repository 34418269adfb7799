#!/usr/bin/env node
// Demo of the main job: the released lage 2.17.0 builds a small monorepo
// (a <- b <- c, d, e) three times with backfill-native as its cache and an
// Azurite blob server (started here) as the remote cache:
//   1. cold, as CI: build scripts run, outputs go into the native store and
//      are uploaded (BACKFILL_CACHE_PROVIDER=azure-blob, LAGE_WRITE_REMOTE_CACHE=true)
//   2. warm: outputs deleted, every target is restored from the native store
//   3. a fresh machine: outputs and local store deleted, every target is
//      restored from the remote cache
// It prints what served each target and how long each run took, and stops
// everything it started.
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const { makeLageRepo } = require('../support/lage-repo')
const { startAzurite, blobClient } = require('../support/azurite')

/** What served each target, from the engine's verbose lines in lage's output. */
function sources(output) {
  const served = {}
  for (const line of output.split('\n')) {
    const m = /^(\S+) build :\s+backfill-native: (.*)$/.exec(line.trim())
    if (!m) continue
    const [, target, text] = m
    if (/^hit for \S+ from the local cache/.test(text)) served[target] = 'restored from the native local store'
    else if (/^hit for \S+ from the remote cache/.test(text)) served[target] = 'restored from the remote cache (Azurite)'
    else if (/^stored /.test(text)) served[target] = `built, stored locally${/uploaded \d+ bytes/.test(text) ? ' and uploaded' : ''}`
  }
  return served
}

function report(label, run, repo) {
  if (run.status !== 0) throw new Error(`lage build failed:\n${run.output}`)
  const served = sources(run.output)
  console.log(`${label}: lage build took ${run.ms} ms`)
  for (const p of repo.packages) console.log(`  ${p} build  ${served[p] ?? '(no cache activity seen)'}`)
}

;(async () => {
  const azurite = await startAzurite()
  const repo = makeLageRepo({ logLevel: 'verbose' })
  try {
    await blobClient(azurite.connectionString).getContainerClient('demo').create()
    const env = {
      BACKFILL_CACHE_PROVIDER: 'azure-blob',
      BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container: 'demo' }),
    }
    console.log(`monorepo: ${repo.root}`)
    console.log(`lage.config.js: cacheStorageConfig: require('backfill-native/lage').cacheStorageConfig(...)`)
    console.log(`remote cache: Azurite at ${azurite.endpoint}, container "demo"\n`)

    report('1. cold (CI, LAGE_WRITE_REMOTE_CACHE=true)', repo.lage(['--verbose'], { ...env, LAGE_WRITE_REMOTE_CACHE: 'true' }), repo)
    const afterCold = repo.builds().length

    for (const p of repo.packages) fs.rmSync(path.join(repo.dir(p), 'lib'), { recursive: true })
    report('\n2. warm (outputs deleted)', repo.lage(['--verbose'], env), repo)

    for (const p of repo.packages) fs.rmSync(path.join(repo.dir(p), 'lib'), { recursive: true })
    fs.rmSync(repo.nativeStore, { recursive: true })
    report('\n3. fresh machine (outputs and local store deleted)', repo.lage(['--verbose'], env), repo)

    console.log(`\nbuild scripts run: ${repo.builds().length} (all ${afterCold} in the cold build)`)
    console.log(`lage's own cache folder used: ${fs.existsSync(repo.lageCacheDir) ? 'yes' : 'no'}`)
    if (repo.builds().length !== afterCold) throw new Error('a build script ran on a warm build')
  } finally {
    await azurite.stop()
    fs.rmSync(repo.root, { recursive: true, force: true })
  }
})().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
