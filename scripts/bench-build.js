#!/usr/bin/env node
// What the remote layer costs to build and ship: the published addon
// (`release` profile: LTO, one codegen unit, stripped) built from clean, for
// this checkout and for an earlier commit, side by side in one run: the
// wall time of `cargo build --release --lib`, the size of the addon, and
// how many crates it links. Each build gets its own target folder; the
// crates' downloads are shared (fetched first, not timed).
//
// Run: `npm run bench:build` (against e9ed6ed, the last commit on the azure
// 0.21 SDK crates), or `node scripts/bench-build.js <commit>`. Two builds from
// clean take several minutes each on two cores.
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { performance } = require('node:perf_hooks')

const repo = path.resolve(__dirname, '..')
const against = process.argv[2] || 'e9ed6ed'
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-native-bench-build-'))
const record = require('../support/bench-record').start('bench-build', { workFolder: root, command: `npm run bench:build -- ${against}` })

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

/** Builds the checkout in `dir` from clean: seconds, addon bytes, crates. */
function build(dir) {
  const target = path.join(root, `target-${path.basename(dir)}`)
  run('cargo', ['fetch', '--locked'], dir)
  const t0 = performance.now()
  execFileSync('cargo', ['build', '--release', '--lib', '--locked', '--target-dir', target], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const seconds = (performance.now() - t0) / 1000
  const lib = fs.readdirSync(path.join(target, 'release')).find((f) => /^libbackfill_native\.(so|dylib)$|^backfill_native\.dll$/.test(f))
  const bytes = fs.statSync(path.join(target, 'release', lib)).size
  const crates = new Set(run('cargo', ['tree', '--locked', '-e', 'normal', '--prefix', 'none'], dir).split('\n').filter(Boolean).map((l) => l.replace(/ \(\*\)$/, '').replace(/ \(.*\)$/, ''))).size
  fs.rmSync(target, { recursive: true, force: true })
  return { seconds, bytes, crates }
}

function main() {
  const head = run('git', ['rev-parse', '--short', 'HEAD'], repo).trim()
  const old = path.join(root, 'old')
  run('git', ['worktree', 'add', '--detach', old, against], repo)
  try {
    console.log(`backfill-native build benchmark: ${head} (this checkout) against ${against}, release profile from clean, ${os.cpus().length} CPUs`)
    const rows = [
      [`${against} (before)`, build(old)],
      [`${head} (now)`, build(repo)],
    ]
    console.log('\nbuild                       seconds   addon (MB)   crates')
    for (const [name, r] of rows) console.log(`${name.padEnd(26)} ${r.seconds.toFixed(0).padStart(8)}   ${(r.bytes / 1e6).toFixed(2).padStart(10)}   ${String(r.crates).padStart(6)}`)
    const [b, n] = rows.map((r) => r[1])
    console.log(`\nratio now / before: build time ${(n.seconds / b.seconds).toFixed(2)}, addon size ${(n.bytes / b.bytes).toFixed(2)}`)
  } finally {
    run('git', ['worktree', 'remove', '--force', old], repo)
  }
}

try {
  main()
  record.write()
} catch (e) {
  console.error(`bench-build failed: ${e.stack || e}`)
  process.exitCode = 1
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
