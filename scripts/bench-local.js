#!/usr/bin/env node
// Local-store benchmark: backfill-native against backfill-cache 5.12.5 (the
// JavaScript engine it replaces) and against plain `cp`, on one package whose
// lib/ holds 5,000 files (~80 MB, ~16 KB each, ~350 nested folders).
//
// Measured in the same run, interleaved round by round so that drifting disk
// or CPU conditions hit every contender alike:
//   - `cp -r lib <dest>`, and `cp -al` (hard links) as a lower reference
//   - backfill-cache local storage: cold put, fetch restoring a removed lib/
//   - backfill-native Cache (async API): cold put, put of the same contents
//     under a new hash ("dup put"), fetch restoring a removed lib/, fetch
//     with lib/ present and unchanged ("no-op fetch"), and fetch restoring
//     a removed lib/ again (where it clones, the contents' stamps are then
//     known and nothing is read)
// Each restore is checked byte for byte against the generated tree.
//
// On a file system that clones (BENCH_FS=xfs or btrfs), also `cp -r
// --reflink=always` (a clone), `cp -r --reflink=never` (a copy) and `cp -r
// --attributes-only` (the same files, empty: the metadata floor), with the
// bytes each operation makes the device write.
//
// Run: `npm run bench` (builds the addon first) or `node scripts/bench-local.js`.
// Env: BENCH_FILES (default 5000), BENCH_MB (default 80), BENCH_ROUNDS (default 5),
// BENCH_FS: where to measure: tmp (default: os.tmpdir()), tmpfs (/dev/shm),
// disk (target/bench), xfs or btrfs (an image made and loop-mounted here, as
// root: support/loop-fs.js).
// Everything lives in a folder removed at the end (an image is unmounted).
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const { performance } = require('node:perf_hooks')

// The user's BACKFILL_*/LAGE_* settings would otherwise redirect the native
// engine (cache folder, mode, provider) and skew or break the measurement.
require('../support/env').scrubCacheEnv()

const native = require('..')
const { getCacheStorageProvider } = require('backfill-cache')
const { makeLogger } = require('backfill-logger')

const FILES = positiveInt('BENCH_FILES', 5000)
const MB = positiveNumber('BENCH_MB', 80)
const ROUNDS = positiveInt('BENCH_ROUNDS', 5)
// 350 folders for 5,000 files; scaled down for quick runs so folders never
// outnumber files.
const DIRS = Math.max(1, Math.min(FILES, Math.round((FILES * 350) / 5000)))
const OUTPUT_GLOB = ['lib/**']
// backfill's default internal cache folder, relative to the package.
const JS_CACHE_FOLDER = path.join('node_modules', '.cache', 'backfill')

function positiveInt(name, fallback) {
  const v = process.env[name] === undefined ? fallback : Number(process.env[name])
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`)
  return v
}

function positiveNumber(name, fallback) {
  const v = process.env[name] === undefined ? fallback : Number(process.env[name])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got ${process.env[name]}`)
  return v
}

const FS = process.env.BENCH_FS || 'tmp'
const CLONES = FS === 'xfs' || FS === 'btrfs'
const work = require('../support/loop-fs').workFolder(FS)
const root = work.dir
const pkgDir = path.join(root, 'packages', 'app')
const libDir = path.join(pkgDir, 'lib')
// What this run prints is also written to docs/benchmarks/<date>-bench-local.md.
const record = require('../support/bench-record').start('bench-local', { workFolder: root, command: 'npm run bench' })
let scratchCounter = 0

// A fresh, not yet existing path under the temp root; keeping everything on
// one file system makes renames cheap and lets `cp -al` work.
function scratch(label) {
  return path.join(root, `${label}-${++scratchCounter}`)
}

// Removal is moved out of the timings: rename is O(1), the rm happens later.
function removeAside(dir) {
  if (!fs.existsSync(dir)) return null
  const aside = scratch('trash')
  fs.renameSync(dir, aside)
  return aside
}

function rm(p) {
  if (p) fs.rmSync(p, { recursive: true, force: true })
}

// Flushes earlier writes so their writeback does not land in the next timing.
function sync() {
  execFileSync('sync')
}

// --- fixture ---------------------------------------------------------------

// Folder i (BFS order, fan-out 7) lives under folder floor(i/7)-1: 7 + 49 +
// 294 = 350 folders, three levels deep, like a compiler's output tree.
function folderPaths(count) {
  const paths = []
  for (let i = 0; i < count; i++) {
    const parent = i < 7 ? '' : paths[Math.floor(i / 7) - 1]
    paths.push(path.join(parent, `d${i % 7}_${i}`))
  }
  return paths
}

// Deterministic sizes around the mean (±50%) so the tree is not uniform;
// the last file absorbs rounding so the total is exact.
function fileSizes(count, total) {
  const mean = total / count
  let seed = 0x9e3779b9
  const rand = () => {
    // xorshift32: deterministic and dependency-free
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
  const sizes = []
  let sum = 0
  for (let i = 0; i < count - 1; i++) {
    const s = Math.max(1, Math.round(mean * (0.5 + rand())))
    sizes.push(s)
    sum += s
  }
  sizes.push(Math.max(1, total - sum))
  return sizes
}

// AES-CTR over zeros with a fixed key: fast, deterministic, incompressible.
function generateFixture() {
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'bench-root', private: true, workspaces: ['packages/*'] }, null, 2))
  fs.mkdirSync(libDir, { recursive: true })
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0' }, null, 2))
  const folders = folderPaths(DIRS)
  for (const f of folders) fs.mkdirSync(path.join(libDir, f), { recursive: true })
  const sizes = fileSizes(FILES, Math.round(MB * 1024 * 1024))
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0))
  const exts = ['.js', '.d.ts', '.js.map', '.mjs']
  let bytes = 0
  for (let i = 0; i < FILES; i++) {
    const file = path.join(libDir, folders[i % folders.length], `m${i}${exts[i % exts.length]}`)
    fs.writeFileSync(file, cipher.update(Buffer.alloc(sizes[i])))
    bytes += sizes[i]
  }
  return bytes
}

// Digest of the whole tree (relative paths, in sorted order, and contents),
// so a missing, extra, renamed or altered file changes it.
function treeDigest(dir) {
  const h = crypto.createHash('sha256')
  let files = 0
  const walk = (rel) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const r = path.posix.join(rel, e.name)
      if (e.isDirectory()) walk(r)
      else {
        h.update(`${e.isSymbolicLink() ? 'L' : 'F'}\0${r}\0`)
        h.update(e.isSymbolicLink() ? fs.readlinkSync(path.join(dir, r)) : fs.readFileSync(path.join(dir, r)))
        h.update('\0')
        files++
      }
    }
  }
  walk('')
  return { digest: h.digest('hex'), files }
}

// --- measurement -----------------------------------------------------------

const samples = {}
// Bytes the device wrote during each operation (loop images only).
const writtenSamples = {}
// This round's timings and time spent in `sync`, printed per round: slow
// syncs mean heavy writeback, the usual cause of noisy rounds.
let roundLog = []
let roundSyncMs = 0

async function time(label, fn) {
  const s0 = performance.now()
  sync()
  roundSyncMs += performance.now() - s0
  const w0 = work.written()
  const t0 = performance.now()
  const result = await fn()
  const ms = performance.now() - t0
  if (w0 !== null) (writtenSamples[label] ||= []).push(work.written() - w0)
  ;(samples[label] ||= []).push(ms)
  roundLog.push(`${label} ${ms.toFixed(0)}`)
  return result
}

function check(cond, message) {
  if (!cond) throw new Error(message)
}

let expected
function verifyRestore(what, round) {
  const got = treeDigest(libDir)
  check(got.files === expected.files && got.digest === expected.digest, `${what} in round ${round} restored a different tree: ${got.files} files, digest ${got.digest} (expected ${expected.files} files, ${expected.digest})`)
}

function hashFor(round, kind) {
  return crypto.createHash('sha1').update(`bench-${process.pid}-${round}-${kind}`).digest('hex')
}

async function benchCp(round) {
  const dest = scratch('cp-r')
  await time('cp -r', () => execFileSync('cp', ['-r', 'lib', dest], { cwd: pkgDir }))
  rm(dest)
  const linked = scratch('cp-al')
  await time('cp -al', () => execFileSync('cp', ['-al', 'lib', linked], { cwd: pkgDir }))
  rm(linked)
  if (!CLONES) return
  for (const [label, flag] of [
    ['cp -r --reflink=always', '--reflink=always'],
    ['cp -r --reflink=never', '--reflink=never'],
    ['empty tree (cp --attributes-only)', '--attributes-only'],
  ]) {
    const to = scratch('cp')
    await time(label, () => execFileSync('cp', ['-r', flag, 'lib', to], { cwd: pkgDir }))
    rm(to)
  }
}

async function benchJs(round, logger) {
  // getCacheStorageProvider memoizes per (provider, folder, cwd), so the same
  // instance comes back every round; it holds no state beyond the folder,
  // which is emptied below so each put is cold.
  rm(removeAside(path.join(pkgDir, JS_CACHE_FOLDER)))
  const storage = getCacheStorageProvider({ provider: 'local' }, JS_CACHE_FOLDER, logger, pkgDir)
  const hash = hashFor(round, 'js')
  await time('JS put (cold)', () => storage.put(hash, OUTPUT_GLOB))
  const aside = removeAside(libDir)
  const hit = await time('JS fetch (restore)', () => storage.fetch(hash))
  check(hit === true, `backfill-cache fetch missed in round ${round}`)
  verifyRestore('backfill-cache fetch', round)
  rm(aside)
  rm(removeAside(path.join(pkgDir, JS_CACHE_FOLDER)))
}

async function benchNative(round) {
  // A fresh cache folder per round keeps the first put cold (the store is
  // content-addressed, so contents stored in an earlier round would be reused).
  const cacheFolder = scratch('native-cache')
  const cache = new native.Cache({ cwd: pkgDir, cacheFolder, logLevel: 'warn' })
  const hash = hashFor(round, 'native')
  const put = await time('native put (cold)', () => cache.put(hash, OUTPUT_GLOB))
  check(put.stored && put.files === expected.files, `native put in round ${round}: ${JSON.stringify(put)}`)

  const dup = await time('native put (dup)', () => cache.put(hashFor(round, 'native-dup'), OUTPUT_GLOB))
  check(dup.stored && dup.files === expected.files, `native dup put in round ${round}: ${JSON.stringify(dup)}`)
  if (dup.newBytes !== 0) notes.add(`native dup put wrote ${dup.newBytes} new bytes (expected 0)`)

  // Where restores clone, contents written within the last 2 s have each
  // clone read to check it; a store's contents are older than that when
  // a build fetches them, so the timings wait that out (untimed).
  if (CLONES) await new Promise((resolve) => setTimeout(resolve, 2100))
  const aside = removeAside(libDir)
  const restore = await time('native fetch (restore)', () => cache.fetch(hash))
  check(restore.hit && restore.filesRestored === expected.files, `native fetch in round ${round}: ${JSON.stringify(restore)}`)
  verifyRestore('native fetch', round)
  rm(aside)

  const noop = await time('native fetch (no-op)', () => cache.fetch(hash))
  check(noop.hit, `native no-op fetch missed in round ${round}: ${JSON.stringify(noop)}`)
  if (noop.filesRestored !== 0) notes.add(`native no-op fetch rewrote ${noop.filesRestored} files (expected 0)`)
  verifyRestore('native no-op fetch', round)

  // The restore above read each content once and recorded its stamp: a
  // second restore into the package clones without reading.
  const aside2 = removeAside(libDir)
  const again = await time('native fetch (restore, stamps known)', () => cache.fetch(hash))
  check(again.hit && again.filesRestored === expected.files, `native second fetch in round ${round}: ${JSON.stringify(again)}`)
  verifyRestore('native second fetch', round)
  rm(aside2)

  for (const r of [put, dup, restore, noop, again]) for (const w of r.warnings) notes.add(`native warning: ${w.message}`)
  await cache.flush()
  rm(cacheFolder)
}

// --- report ----------------------------------------------------------------

const notes = new Set()

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function report(bytes) {
  const fmt = (ms) => ms.toFixed(1).padStart(9)
  const labels = Object.keys(samples)
  const width = Math.max(...labels.map((l) => l.length))
  const device = Object.keys(writtenSamples).length > 0
  console.log(`\n${'operation'.padEnd(width)}  median ms    min ms    max ms   MB/s (median)${device ? '   MiB written (median)' : ''}`)
  for (const l of labels) {
    const xs = samples[l]
    const mbps = bytes / 1048576 / (median(xs) / 1000)
    const written = device ? `   ${(median(writtenSamples[l]) / 1048576).toFixed(2).padStart(12)}` : ''
    console.log(`${l.padEnd(width)}  ${fmt(median(xs))} ${fmt(Math.min(...xs))} ${fmt(Math.max(...xs))}   ${mbps.toFixed(0).padStart(8)}${written}`)
  }
  if (device) console.log(`(written: what the ${FS} image's loop device wrote during the operation, after a sync; the outputs are ${(bytes / 1048576).toFixed(1)} MiB)`)

  const m = (l) => median(samples[l])
  // [label, ratio, comparison, target]: "<=" targets pass when the ratio is at
  // most the bound, ">=" ones when it is at least the bound.
  const ratios = [
    ['native put / cp -r', m('native put (cold)') / m('cp -r'), '<=', 1],
    ['native fetch / cp -r', m('native fetch (restore)') / m('cp -r'), '<=', 1],
    ['JS put / native put', m('JS put (cold)') / m('native put (cold)'), '>=', 2],
    ['JS fetch / native fetch', m('JS fetch (restore)') / m('native fetch (restore)'), '>=', 2],
    ['no-op fetch / native fetch restore', m('native fetch (no-op)') / m('native fetch (restore)'), '<=', 0.1],
    ['dup put / cold put', m('native put (dup)') / m('native put (cold)'), '<=', 0.2],
  ]
  if (CLONES) {
    const w = (l) => median(writtenSamples[l])
    ratios.push(
      ['native fetch / cp --reflink=always', m('native fetch (restore)') / m('cp -r --reflink=always'), '<=', 1.5],
      ['native fetch (stamps known) / cp --reflink=always', m('native fetch (restore, stamps known)') / m('cp -r --reflink=always'), '<=', 1.5],
      ['native fetch written / outputs bytes', w('native fetch (restore)') / bytes, '<=', 0.1],
      ['native put written / outputs bytes', w('native put (cold)') / bytes, '<=', 0.1],
    )
  }
  const rw = Math.max(...ratios.map((r) => r[0].length))
  console.log(`\n${'ratio (of medians)'.padEnd(rw)}     value   target   result`)
  for (const [label, value, op, bound] of ratios) {
    const pass = op === '<=' ? value <= bound : value >= bound
    console.log(`${label.padEnd(rw)}  ${value.toFixed(3).padStart(8)}   ${op} ${String(bound).padEnd(5)} ${pass ? 'PASS' : 'MISS'}`)
  }
  if (notes.size) console.log(`\nnotes:\n${[...notes].map((n) => `  - ${n}`).join('\n')}`)
}

// --- main ------------------------------------------------------------------

async function main() {
  console.log(`backfill-native local benchmark: ${FILES} files, ${MB} MB, ${DIRS} folders, ${ROUNDS} rounds, on ${FS}`)
  console.log(`node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} CPUs, temp ${root}`)
  const bytes = generateFixture()
  expected = treeDigest(libDir)
  console.log(`fixture: ${expected.files} files, ${(bytes / 1048576).toFixed(1)} MiB in ${libDir}`)

  // Only errors from backfill: its info-level "Cache hit!" lines would be
  // printed inside the timings.
  const logger = makeLogger('error')
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = performance.now()
    roundLog = []
    roundSyncMs = 0
    await benchCp(round)
    // Alternate which engine goes first so neither always runs on the
    // other's leftover page-cache and writeback state.
    if (round % 2) {
      await benchJs(round, logger)
      await benchNative(round)
    } else {
      await benchNative(round)
      await benchJs(round, logger)
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1)
    console.log(`round ${round}/${ROUNDS}: ${secs} s (sync ${(roundSyncMs / 1000).toFixed(1)} s) | ms: ${roundLog.join(', ')}`)
  }
  report(bytes)
}

// Ctrl-C would otherwise leave ~300 MB of temp files behind.
process.once('SIGINT', () => {
  work.close()
  process.exit(130)
})

main()
  .then(() => record.write())
  .catch((err) => {
    console.error(`bench-local failed: ${err && err.stack ? err.stack : err}`)
    process.exitCode = 1
  })
  .finally(() => work.close())
