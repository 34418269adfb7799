#!/usr/bin/env node
// Input-hashing benchmark: backfill-native's hashFiles against glob-hasher
// 1.4.2 and backfill-hasher's getFileHashes (git-based), in the same run, on
// a generated git repository of 20,000 files.
//
//   cold: no state kept between runs (for backfill-native: no file-state
//         file); the OS page cache is dropped first when this runs as root
//   warm: the same, unchanged tree again (backfill-native reuses its file
//         states; the others have none)
//
// Run: `npm run bench:hash`. Env: BENCH_FILES (20000), BENCH_ROUNDS (3).
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const { performance } = require('node:perf_hooks')

require('../support/env').scrubCacheEnv()

const native = require('..')
const globHasher = require('glob-hasher')
const { getFileHashes } = require('backfill-hasher')

const FILES = Number(process.env.BENCH_FILES || 20000)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3)
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-native-bench-hash-'))
const pkg = path.join(root, 'packages', 'app')
// What this run prints is also written to docs/benchmarks/<date>-bench-hash.md.
const record = require('../support/bench-record').start('bench-hash', { workFolder: root, command: 'npm run bench:hash' })

function generate() {
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ private: true, workspaces: ['packages/*'] }))
  fs.mkdirSync(pkg, { recursive: true })
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'app' }))
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 5), Buffer.alloc(16, 0))
  for (let i = 0; i < FILES; i++) {
    const file = path.join(pkg, 'src', `d${i % 40}`, `s${i % 13}`, `m${i}.ts`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    // Source-like sizes: 1 to 9 KB.
    fs.writeFileSync(file, cipher.update(Buffer.alloc(1024 + ((i * 7919) % 8192))).toString('base64'))
  }
  const git = (...args) => execFileSync('git', args, { cwd: root, stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } })
  git('init', '-q')
  // No background gc or maintenance: it would still be writing in .git when
  // the benchmark deletes the tree.
  git('config', 'gc.auto', '0')
  git('config', 'maintenance.auto', 'false')
  git('add', '-A')
  git('commit', '-qm', 'fixture')
}

let canDrop = true
function dropCaches() {
  execFileSync('sync')
  if (!canDrop) return
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3')
  } catch {
    canDrop = false
  }
}

const samples = {}
async function time(label, fn) {
  const t0 = performance.now()
  const out = await fn()
  ;(samples[label] ||= []).push(performance.now() - t0)
  return out
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

async function main() {
  generate()
  // File states trust only files older than two seconds (racy timestamps).
  await new Promise((r) => setTimeout(r, 2500))
  console.log(`input hashing benchmark: ${FILES} files, ${ROUNDS} rounds, page cache ${canDrop ? 'dropped' : 'kept'} before cold runs`)
  const states = path.join(root, 'node_modules', '.cache', 'backfill-native', 'input-states-v3')
  for (let round = 1; round <= ROUNDS; round++) {
    dropCaches()
    const g = await time('glob-hasher cold', () => globHasher.hashGlobGit(['**/*'], { cwd: pkg }))
    await time('glob-hasher warm', () => globHasher.hashGlobGit(['**/*'], { cwd: pkg }))
    dropCaches()
    const b = await time('backfill-hasher cold', () => getFileHashes(pkg))
    await time('backfill-hasher warm', () => getFileHashes(pkg))
    fs.rmSync(states, { recursive: true, force: true })
    dropCaches()
    const n = await time('backfill-native cold', () => native.hashFiles(pkg, ['**/*']))
    await time('backfill-native warm', () => native.hashFiles(pkg, ['**/*']))
    const counts = [Object.keys(g).length, Object.keys(b).length, Object.keys(n).length]
    if (new Set(counts).size !== 1) throw new Error(`the hashers saw different files: ${counts}`)
    console.log(`round ${round}: ${Object.entries(samples).map(([k, v]) => `${k} ${v[v.length - 1].toFixed(0)}`).join(', ')} ms`)
  }
  console.log('\noperation               median ms')
  for (const [k, v] of Object.entries(samples)) console.log(`${k.padEnd(22)} ${median(v).toFixed(0).padStart(9)}`)
  const m = (k) => median(samples[k])
  const rows = [
    ['glob-hasher cold / native cold', m('glob-hasher cold') / m('backfill-native cold'), '>=', 1],
    ['native cold / native warm', m('backfill-native cold') / m('backfill-native warm'), '>=', 20],
    // backfill-hasher reads the digests git stored at commit time, so its
    // "cold" run hashes nothing: shown for information, no target.
    ['backfill-hasher cold / native cold', m('backfill-hasher cold') / m('backfill-native cold'), null, null],
  ]
  console.log('\nratio (of medians)                     value   target')
  for (const [l, v, op, b] of rows) {
    const verdict = op ? `${op} ${b}  ${v >= b ? 'PASS' : 'MISS'}` : '(information)'
    console.log(`${l.padEnd(36)} ${v.toFixed(2).padStart(7)}   ${verdict}`)
  }
}

main()
  .then(() => record.write())
  .catch((e) => {
    console.error(`bench-hash failed: ${e.stack || e}`)
    process.exitCode = 1
  })
  .finally(() => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 }))
