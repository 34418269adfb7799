#!/usr/bin/env node
// The eviction benchmark is Rust (src/store/eviction_bench.rs, an ignored
// test): this runs it as before, its output shown as it comes, and writes
// what it printed to docs/benchmarks/<date>-bench-evict.md, with the machine
// and the filesystem of the store it built (BFN_EVICT_DIR, default /dev/shm).
//
// Run: `npm run bench:evict`. Env: BFN_EVICT_DIR, BFN_EVICT_ENTRIES,
// BFN_EVICT_CONTENTS (see docs/benchmarks.md).
'use strict'

const { spawn } = require('node:child_process')

const results = require('../support/bench-record').start('bench-evict', { workFolder: process.env.BFN_EVICT_DIR || '/dev/shm', command: 'npm run bench:evict' })

const cargo = spawn('cargo', ['test', '--release', '--lib', 'eviction_bench', '--', '--ignored', '--nocapture'], { stdio: ['ignore', 'pipe', 'inherit'] })
let printed = ''
cargo.stdout.on('data', (d) => {
  process.stdout.write(d)
  printed += d
})
cargo.on('error', (e) => {
  console.error(`bench-evict failed: ${e.message}`)
  process.exitCode = 1
})
cargo.on('close', (code) => {
  if (code !== 0) {
    process.exitCode = code || 1
    return
  }
  results.add(printed)
  results.write()
})
