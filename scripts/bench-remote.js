#!/usr/bin/env node
// Remote-cache benchmark: backfill-native against backfill-cache 5.12.5's
// azure-blob provider (the JavaScript engine it replaces), through a real
// Azurite on loopback, on one package whose lib/ holds 5,000 files (~80 MB).
//
// Measured in the same run, round by round:
//   - JS put: tar + upload;  native put: local store + tar + upload
//   - JS fetch: download + extract;  native fetch: download + verify +
//     local store + restore (local store empty, outputs removed)
//   - `tar -xf` of the same archive, the floor for a fetch
// with the peak RSS growth of this process during each fetch and put.
//
// Run: `npm run bench:remote`. Env: BENCH_FILES (5000), BENCH_MB (80), BENCH_ROUNDS (3).
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const { performance } = require('node:perf_hooks')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { getCacheStorageProvider } = require('backfill-cache')
const { makeLogger } = require('backfill-logger')
const { startAzurite, blobClient } = require('../support/azurite')

const FILES = Number(process.env.BENCH_FILES || 5000)
const MB = Number(process.env.BENCH_MB || 80)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3)
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-native-bench-remote-'))
// What this run prints is also written to docs/benchmarks/<date>-bench-remote.md.
const record = require('../support/bench-record').start('bench-remote', { workFolder: root, command: 'npm run bench:remote' })
const pkg = path.join(root, 'packages', 'app')
const lib = path.join(pkg, 'lib')

function generate() {
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ private: true, workspaces: ['packages/*'] }))
  fs.mkdirSync(lib, { recursive: true })
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'app' }))
  // AES-CTR over zeros: fast, deterministic, incompressible.
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0))
  const size = Math.round((MB * 1048576) / FILES)
  for (let i = 0; i < FILES; i++) {
    const file = path.join(lib, `d${i % 50}`, `s${i % 7}`, `m${i}.js`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, cipher.update(Buffer.alloc(size)))
  }
}

function digest(dir) {
  const h = crypto.createHash('sha256')
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = path.posix.join(rel, e.name)
      if (e.isDirectory()) walk(r)
      else h.update(r).update(fs.readFileSync(path.join(dir, r)))
    }
  }
  walk('')
  return h.digest('hex')
}

const samples = {}
const memory = {}
async function time(label, fn) {
  execFileSync('sync')
  const base = process.memoryUsage.rss()
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5)
  const t0 = performance.now()
  try {
    return await fn()
  } finally {
    const ms = performance.now() - t0
    clearInterval(timer)
    ;(samples[label] ||= []).push(ms)
    memory[label] = Math.max(memory[label] || 0, (peak - base) / 1048576)
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const aside = () => {
  const to = path.join(root, `trash-${crypto.randomUUID()}`)
  if (fs.existsSync(lib)) fs.renameSync(lib, to)
  return to
}

async function main() {
  generate()
  const want = digest(lib)
  const azurite = await startAzurite()
  try {
    await blobClient(azurite.connectionString).getContainerClient('bench').create()
    const options = { connectionString: azurite.connectionString, container: 'bench' }
    const js = getCacheStorageProvider({ provider: 'azure-blob', options }, 'node_modules/.cache/backfill', makeLogger('error'), pkg)
    const nativeCache = (folder, write) =>
      new native.Cache({ cwd: pkg, cacheFolder: folder, provider: 'azure-blob', providerOptions: options, writeRemoteCache: write })
    console.log(`backfill-native remote benchmark: ${FILES} files, ${MB} MB, ${ROUNDS} rounds, Azurite ${azurite.endpoint}`)
    for (let round = 1; round <= ROUNDS; round++) {
      const jsHash = `js-${round}`
      const nativeHash = `native-${round}`
      await time('JS put', () => js.put(jsHash, ['lib/**']))
      const put = await time('native put', () => nativeCache(path.join(root, `store-put-${round}`), true).put(nativeHash, ['lib/**']))
      if (!put.uploaded) throw new Error(`native put did not upload: ${JSON.stringify(put)}`)

      let trash = aside()
      if (!(await time('JS fetch', () => js.fetch(nativeHash)))) throw new Error('JS fetch missed')
      if (digest(lib) !== want) throw new Error('JS fetch restored a different tree')
      fs.rmSync(trash, { recursive: true })

      trash = aside()
      const got = await time('native fetch', () => nativeCache(path.join(root, `store-fetch-${round}`), false).fetch(jsHash))
      if (got.source !== 'remote') throw new Error(`native fetch: ${JSON.stringify(got)}`)
      if (digest(lib) !== want) throw new Error('native fetch restored a different tree')
      fs.rmSync(trash, { recursive: true })

      // The same archive, extracted by tar, as the floor for a fetch.
      const archive = path.join(root, `archive-${round}.tar`)
      await blobClient(azurite.connectionString).getContainerClient('bench').getBlobClient(jsHash).downloadToFile(archive)
      const out = path.join(root, `tar-${round}`)
      fs.mkdirSync(out)
      await time('tar -xf', () => execFileSync('tar', ['-xf', archive, '-C', out]))
      fs.rmSync(out, { recursive: true })
      fs.rmSync(archive)
      console.log(`round ${round}: ${Object.entries(samples).map(([k, v]) => `${k} ${v[v.length - 1].toFixed(0)} ms`).join(', ')}`)
    }
  } finally {
    await azurite.stop()
  }
  console.log('\noperation      median ms   peak RSS growth (MB)')
  for (const [k, v] of Object.entries(samples)) console.log(`${k.padEnd(14)} ${median(v).toFixed(0).padStart(9)}   ${memory[k].toFixed(1).padStart(8)}`)
  const m = (k) => median(samples[k])
  const rows = [
    ['JS fetch / native fetch', m('JS fetch') / m('native fetch'), '>=', 3],
    ['JS put / native put', m('JS put') / m('native put'), '>=', 3],
    ['native fetch / tar -xf', m('native fetch') / m('tar -xf'), '<=', 1.5],
  ]
  console.log('\nratio (of medians)           value   target')
  for (const [l, v, op, b] of rows) console.log(`${l.padEnd(26)} ${v.toFixed(2).padStart(7)}   ${op} ${b}  ${(op === '>=' ? v >= b : v <= b) ? 'PASS' : 'MISS'}`)
}

main()
  .then(() => record.write())
  .catch((e) => {
    console.error(`bench-remote failed: ${e.stack || e}`)
    process.exitCode = 1
  })
  .finally(() => fs.rmSync(root, { recursive: true, force: true }))
