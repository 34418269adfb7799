#!/usr/bin/env node
// Remote-cache benchmark: backfill-native on each remote it speaks, against
// backfill-cache 5.12.5's azure-blob provider (the JavaScript engine it
// replaces), each through a real server on loopback, on one package whose
// lib/ holds 5,000 files (~80 MB):
//   - azure:     Azurite (blobs in memory)
//   - s3:        moto's server mode (support/s3-server.js, IAM enforced)
//   - turborepo: turborepo-remote-cache with its local storage
//                (support/turbo-server.js)
//
// Measured in the same run, round by round:
//   - JS put (Azure): tar + upload;  native put (each remote): local store +
//     tar + upload
//   - the floor of a put, per remote: the local put alone (provider local)
//     plus the raw upload of the same archive bytes to the same server by a
//     plain client (@azure/storage-blob's uploadFile for Azurite, `curl -T`
//     with --aws-sigv4 for S3, `curl -T` with a bearer token for the cache
//     server)
//   - JS fetch (Azure): download + extract;  native fetch (each remote):
//     download + verify + local store + restore (local store empty, outputs
//     removed, the restored tree's digest checked)
//   - `tar -xf` of the same archive, the floor for a fetch; and a fetch's
//     own floor: the raw download of the archive by the plain client, plus
//     the restore of the same files from the local store (local fetch), whose
//     share of a remote fetch is the most that writing outputs straight from
//     the download could save
// with the peak RSS growth of this process during each.
//
// Run: `npm run bench:remote`. Env: BENCH_FILES (5000), BENCH_MB (80),
// BENCH_ROUNDS (3), BENCH_REMOTES (azure,s3,turborepo: which remotes),
// BENCH_JS=0 (skip backfill-cache's JS peer, e.g. for a 1 GB entry:
// BENCH_FILES=4 BENCH_MB=1024 BENCH_ROUNDS=1 BENCH_JS=0).
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
const WITH_JS = process.env.BENCH_JS !== '0'
const REMOTES = (process.env.BENCH_REMOTES || 'azure,s3,turborepo').split(',').map((s) => s.trim()).filter(Boolean)
for (const r of REMOTES) if (!['azure', 's3', 'turborepo'].includes(r)) throw new Error(`BENCH_REMOTES: unknown remote ${r} (azure, s3, turborepo)`)
if (!REMOTES.length) throw new Error('BENCH_REMOTES names no remote')

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
  const chunk = 16 * 1048576
  for (let i = 0; i < FILES; i++) {
    const file = path.join(lib, `d${i % 50}`, `s${i % 7}`, `m${i}.js`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    // Written in chunks, so that a 1 GB file does not sit in memory.
    const fd = fs.openSync(file, 'w')
    for (let done = 0; done < size; done += chunk) fs.writeSync(fd, cipher.update(Buffer.alloc(Math.min(chunk, size - done))))
    fs.closeSync(fd)
  }
}

function digest(dir) {
  const h = crypto.createHash('sha256')
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = path.posix.join(rel, e.name)
      if (e.isDirectory()) walk(r)
      else {
        h.update(r)
        // Read in chunks, so that a 1 GB file does not sit in memory.
        const fd = fs.openSync(path.join(dir, r), 'r')
        const buf = Buffer.alloc(4 * 1048576)
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n))
        fs.closeSync(fd)
      }
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

const curl = (args, out = '/dev/null') => execFileSync('curl', ['-sS', '--fail-with-body', '-o', out, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })

// ---------------------------------------------------------------- the remotes

// Each: `label`, `provider`, `options` (the native provider options),
// `download(hash, file)` (the stored archive's bytes to a file by a plain client,
// timed as the download part of a fetch's floor)
// and `upload(file, key)` (the raw upload of those bytes by a plain client,
// timed as the floor of a put), `stop()`.
async function startRemote(name, azurite) {
  if (name === 'azure') {
    const container = 'bench'
    const client = () => blobClient(azurite.connectionString).getContainerClient(container)
    await client().create()
    return {
      label: 'azure',
      server: 'Azurite 3.35.0 (in memory)',
      provider: 'azure-blob',
      options: { connectionString: azurite.connectionString, container },
      download: (hash, file) => client().getBlobClient(hash).downloadToFile(file),
      upload: (file, key) => client().getBlockBlobClient(key).uploadFile(file),
      stop: async () => {},
    }
  }
  if (name === 's3') {
    const { s3Kit } = require('../support/s3-server')
    const kit = await s3Kit()
    const env = kit.env(false)
    const sigv4 = ['--aws-sigv4', `aws:amz:${kit.options().region}:s3`, '--user', `${env.AWS_ACCESS_KEY_ID}:${env.AWS_SECRET_ACCESS_KEY}`]
    const url = (key) => `${kit.endpoint}/${kit.bucket}/${kit.prefix}/${key}`
    return {
      label: 's3',
      server: 'moto 5.2.5 server mode (IAM enforced)',
      provider: 's3',
      options: kit.options(),
      // moto checks the payload hash curl signs; UNSIGNED-PAYLOAD is what
      // AWS's own clients send for a streamed upload.
      download: async (hash, file) => curl([...sigv4, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', url(hash)], file),
      upload: async (file, key) => curl([...sigv4, '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-T', file, url(key)]),
      stop: () => kit.stop(),
    }
  }
  const { startTurboServer, newToken, TEAM } = require('../support/turbo-server')
  const token = newToken('bench')
  // Its default body limit is 100 MiB; the benchmark's entry may be larger.
  const bodyLimit = Math.max(104857600, Math.ceil(MB * 1048576 * 1.5) + 64 * 1048576)
  const server = await startTurboServer({ tokens: [token], bodyLimit })
  const url = (key) => `${server.apiUrl}/v8/artifacts/${key}?teamId=${TEAM}`
  const auth = ['-H', `Authorization: Bearer ${token}`]
  return {
    label: 'turborepo',
    server: 'turborepo-remote-cache 2.12.0 (local storage)',
    provider: 'turborepo',
    options: { apiUrl: server.apiUrl, token, teamId: TEAM },
    download: async (hash, file) => curl([...auth, url(hash)], file),
    upload: async (file, key) => curl([...auth, '-H', 'Content-Type: application/octet-stream', '-T', file, url(key)]),
    stop: () => server.stop(),
  }
}

async function main() {
  generate()
  const want = digest(lib)
  const azurite = REMOTES.includes('azure') || WITH_JS ? await startAzurite() : null
  const remotes = []
  try {
    for (const name of REMOTES) remotes.push(await startRemote(name, azurite))
    let js = null
    if (WITH_JS) {
      // The container of the native azure remote, so that each side fetches
      // what the other put (the interop).
      if (!remotes.some((r) => r.label === 'azure')) await blobClient(azurite.connectionString).getContainerClient('bench').create()
      js = getCacheStorageProvider({ provider: 'azure-blob', options: { connectionString: azurite.connectionString, container: 'bench' } }, 'node_modules/.cache/backfill', makeLogger('error'), pkg)
    }
    const nativeCache = (folder, remote, write) =>
      new native.Cache({ cwd: pkg, cacheFolder: folder, provider: remote ? remote.provider : 'local', providerOptions: remote ? remote.options : undefined, writeRemoteCache: write })
    console.log(`backfill-native remote benchmark: ${FILES} files, ${MB} MB, ${ROUNDS} rounds; remotes: ${remotes.map((r) => `${r.label} (${r.server})`).join(', ')}; JS peer: ${WITH_JS ? "backfill-cache 5.12.5's azure-blob on Azurite" : 'skipped (BENCH_JS=0)'}`)
    for (let round = 1; round <= ROUNDS; round++) {
      const jsHash = `js-${round}`
      const nativeHash = (r) => `native-${r.label}-${round}`
      if (js) await time('JS put (azure)', () => js.put(jsHash, ['lib/**']))
      await time('local put', () => nativeCache(path.join(root, `store-local-${round}`), null, false).put(`local-${round}`, ['lib/**']))
      {
        // The restore alone: what a fetch does once the entry is in the store.
        const trash = aside()
        const got = await time('local fetch', () => nativeCache(path.join(root, `store-local-${round}`), null, false).fetch(`local-${round}`))
        if (got.source !== 'local' || digest(lib) !== want) throw new Error(`local fetch: ${JSON.stringify(got)}`)
        fs.rmSync(trash, { recursive: true })
      }
      fs.rmSync(path.join(root, `store-local-${round}`), { recursive: true })
      let archive = null
      for (const r of remotes) {
        const store = path.join(root, `store-put-${r.label}-${round}`)
        const put = await time(`native put ${r.label}`, () => nativeCache(store, r, true).put(nativeHash(r), ['lib/**']))
        if (!put.uploaded) throw new Error(`native put to ${r.label} did not upload: ${JSON.stringify(put)}`)
        fs.rmSync(store, { recursive: true })
        // The same archive bytes, uploaded raw by a plain client.
        const file = path.join(root, `archive-${r.label}-${round}.tar`)
        await time(`raw download ${r.label}`, () => r.download(nativeHash(r), file))
        await time(`raw upload ${r.label}`, () => r.upload(file, `raw-${r.label}-${round}`))
        if (archive) fs.rmSync(file)
        else archive = file
      }

      if (js) {
        // backfill-cache fetches what backfill-native put on Azure (the
        // interop), else its own archive.
        const azure = remotes.find((r) => r.label === 'azure')
        const trash = aside()
        if (!(await time('JS fetch (azure)', () => js.fetch(azure ? nativeHash(azure) : jsHash)))) throw new Error('JS fetch missed')
        if (digest(lib) !== want) throw new Error('JS fetch restored a different tree')
        fs.rmSync(trash, { recursive: true })
      }
      for (const r of remotes) {
        const trash = aside()
        const store = path.join(root, `store-fetch-${r.label}-${round}`)
        const got = await time(`native fetch ${r.label}`, () => nativeCache(store, r, false).fetch(nativeHash(r)))
        if (got.source !== 'remote') throw new Error(`native fetch from ${r.label}: ${JSON.stringify(got)}`)
        if (digest(lib) !== want) throw new Error(`native fetch from ${r.label} restored a different tree`)
        fs.rmSync(trash, { recursive: true })
        fs.rmSync(store, { recursive: true })
      }

      // The same archive, extracted by tar, as the floor for a fetch.
      const out = path.join(root, `tar-${round}`)
      fs.mkdirSync(out)
      await time('tar -xf', () => execFileSync('tar', ['-xf', archive, '-C', out]))
      fs.rmSync(out, { recursive: true })
      fs.rmSync(archive)
      console.log(`round ${round}: ${Object.entries(samples).map(([k, v]) => `${k} ${v[v.length - 1].toFixed(0)} ms`).join(', ')}`)
    }
  } finally {
    for (const r of remotes) await r.stop()
    if (azurite) await azurite.stop()
  }
  console.log('\noperation             median ms   peak RSS growth (MB)')
  for (const [k, v] of Object.entries(samples)) console.log(`${k.padEnd(21)} ${median(v).toFixed(0).padStart(9)}   ${memory[k].toFixed(1).padStart(8)}`)
  const m = (k) => median(samples[k])
  const rows = []
  for (const r of remotes) {
    if (WITH_JS) rows.push([`JS fetch (azure) / native fetch ${r.label}`, m('JS fetch (azure)') / m(`native fetch ${r.label}`), '>=', 5])
    rows.push([`native put ${r.label} / (local put + raw upload ${r.label})`, m(`native put ${r.label}`) / (m('local put') + m(`raw upload ${r.label}`)), '<=', 1.5])
    rows.push([`native fetch ${r.label} / tar -xf`, m(`native fetch ${r.label}`) / m('tar -xf'), '<=', 1.5])
    // A fetch's own floor: the download alone, then the restore alone.
    rows.push([`native fetch ${r.label} / (raw download ${r.label} + local fetch)`, m(`native fetch ${r.label}`) / (m(`raw download ${r.label}`) + m('local fetch')), null])
    // The most that writing the outputs straight from the download (beside
    // staging them into the store) could take off a fetch: its restore.
    rows.push([`local fetch / native fetch ${r.label}`, m('local fetch') / m(`native fetch ${r.label}`), null])
  }
  if (WITH_JS && remotes.some((r) => r.label === 'azure')) rows.push(['JS put (azure) / native put azure', m('JS put (azure)') / m('native put azure'), '>=', 3])
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`\n${'ratio (of medians)'.padEnd(width)}   value   target`)
  for (const [l, v, op, b] of rows) {
    const verdict = op ? `${op} ${b}  ${(op === '>=' ? v >= b : v <= b) ? 'PASS' : 'MISS'}` : '(no goal)'
    console.log(`${l.padEnd(width)} ${v.toFixed(2).padStart(7)}   ${verdict}`)
  }
}

main()
  .then(() => record.write())
  .catch((e) => {
    console.error(`bench-remote failed: ${e.stack || e}`)
    process.exitCode = 1
  })
  .finally(() => fs.rmSync(root, { recursive: true, force: true }))
