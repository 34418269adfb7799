#!/usr/bin/env node
// What `warmUp` saves a process's first fetch from a far remote: a remote
// hit fetched 200 ms after the process starts (about what a lage worker
// takes to load lage's worker code), through a TCP front that holds each
// new connection BENCH_CONNECT_MS (150; a far endpoint's TCP and TLS
// handshakes; support/fault-proxy.js in front of Azurite), with and without
// `warmUp` at the start. Each sample is a new process (the remote client is
// shared per process), interleaved.
//
// Run: `npm run bench:warm-up` (builds the addon first). Env: BENCH_CONNECT_MS
// (150), BENCH_ROUNDS (6).
'use strict'

const path = require('node:path')
const { spawn } = require('node:child_process')

require('../support/env').scrubCacheEnv()
const native = require('..')
const { makeRepo, writeTree } = require('../support/helpers')

const CONTAINER = 'warmup'

async function child() {
  const repo = makeRepo(['a'])
  const opts = { provider: 'azure-blob', providerOptions: { connectionString: process.env.BENCH_REMOTE, container: CONTAINER } }
  if (process.env.BENCH_WARM === '1') native.warmUp(repo.dirs.a, opts)
  await new Promise((r) => setTimeout(r, 200))
  const t0 = process.hrtime.bigint()
  const got = await new native.Cache({ cwd: repo.dirs.a, ...opts }).fetch('seeded')
  process.stdout.write(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6, hit: got.hit, source: got.source }))
}

async function main() {
  // What this run prints is also written to docs/benchmarks/<date>-bench-warm-up.md.
  const record = require('../support/bench-record').start('bench-warm-up', { workFolder: require('node:os').tmpdir(), command: 'npm run bench:warm-up' })
  const { startAzurite, blobClient, KEY, ACCOUNT } = require('../support/azurite')
  const { startFaultProxy } = require('../support/fault-proxy')
  const connectMs = Number(process.env.BENCH_CONNECT_MS || 150)
  const rounds = Number(process.env.BENCH_ROUNDS || 6)
  const azurite = await startAzurite()
  const proxy = await startFaultProxy(azurite.port)
  proxy.connectDelayMs = connectMs
  try {
    await blobClient(azurite.connectionString).getContainerClient(CONTAINER).create()
    const repo = makeRepo(['a'])
    writeTree(repo.dirs.a, { 'lib/index.js': 'x'.repeat(20000), 'lib/other.js': 'y' })
    const seeder = new native.Cache({ cwd: repo.dirs.a, provider: 'azure-blob', providerOptions: { connectionString: azurite.connectionString, container: CONTAINER }, writeRemoteCache: true })
    if (!(await seeder.put('seeded', ['lib/**'])).uploaded) throw new Error('the seed entry was not uploaded')
    const remote = `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${proxy.port}/${ACCOUNT};`
    const samples = { without: [], with: [] }
    for (let i = 0; i < rounds; i++) {
      for (const [name, warm] of [['without', '0'], ['with', '1']]) {
        const out = await new Promise((resolve, reject) => {
          const c = spawn(process.execPath, [__filename, 'child'], { env: { ...process.env, BENCH_REMOTE: remote, BENCH_WARM: warm }, stdio: ['ignore', 'pipe', 'inherit'] })
          let text = ''
          c.stdout.on('data', (d) => (text += d))
          c.on('error', reject)
          c.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`the fetch process failed (${code})`))))
        })
        const r = JSON.parse(out)
        if (!r.hit || r.source !== 'remote') throw new Error(`expected a remote hit, got ${out}`)
        samples[name].push(r.ms)
      }
    }
    const median = (xs) => {
      const s = [...xs].sort((a, b) => a - b)
      return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
    }
    const show = (xs) => `median ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(' ')})`
    console.log(`first fetch (a remote hit) 200 ms after the process starts, each new connection held ${connectMs} ms, ${rounds} processes each:`)
    console.log(`  without warmUp: ${show(samples.without)}`)
    console.log(`  with warmUp:    ${show(samples.with)}`)
    console.log(`  ratio: ${(median(samples.without) / median(samples.with)).toFixed(1)}x`)
  } finally {
    await proxy.stop()
    await azurite.stop()
  }
  record.write()
}

;(process.argv[2] === 'child' ? child() : main()).catch((e) => {
  console.error(`bench-warm-up failed: ${e.stack || e}`)
  process.exitCode = 1
})
