// The command line as a user runs it: a spawned process, real files, real exit codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { Cache } = require('..')
const { makeRepo, writeTree, cleanEnv } = require('./helpers')

const CLI = path.join(__dirname, '..', 'cli.js')
const run = (cwd, ...args) => spawnSync(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(), encoding: 'utf8' })

test('clear and purge --days work on the store of the current folder', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/a.js': 'a'.repeat(2000) })
  const cache = new Cache({ cwd: repo.dirs.a })
  await cache.put('old', ['lib/**'])
  await cache.put('new', ['lib/**'])
  const entries = path.join(repo.cacheDir, 'v1', 'entries')
  for (const shard of fs.readdirSync(entries)) {
    const f = path.join(entries, shard, 'old.json')
    if (fs.existsSync(f)) fs.utimesSync(f, new Date(Date.now() - 40 * 86400e3), new Date(Date.now() - 40 * 86400e3))
  }
  const purge = run(repo.dirs.a, 'purge', '--days', '30')
  assert.equal(purge.status, 0, purge.stderr)
  assert.match(purge.stdout, /entries unused for 30 days: 1 removed, 1 kept, 0 contents removed/)
  assert.equal((await cache.fetch('old')).hit, false)
  assert.equal((await cache.fetch('new')).hit, true)

  const clear = run(repo.root, 'clear')
  assert.equal(clear.status, 0, clear.stderr)
  assert.match(clear.stdout, /^cleared .*node_modules\/\.cache\/backfill-native: 1 entries, 1 contents, 0\.0 MB\n$/)
  assert.equal((await cache.fetch('new')).hit, false)
})

test('bad arguments print usage and exit 2; a bad configuration exits 1 with the error', () => {
  const repo = makeRepo(['a'])
  for (const args of [[], ['purge', '--days'], ['purge', '--days', 'ten'], ['frobnicate']]) {
    const r = run(repo.root, ...args)
    assert.equal(r.status, 2, args.join(' '))
    assert.match(r.stdout + r.stderr, /usage: backfill-native <command>/)
  }
  const bad = spawnSync(process.execPath, [CLI, 'config'], { cwd: repo.root, env: cleanEnv({ BACKFILL_MODE: 'FAST' }), encoding: 'utf8' })
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /^backfill-native: BACKFILL_MODE \(from the environment\) is invalid/)
  const ok = run(repo.root, 'config')
  assert.equal(JSON.parse(ok.stdout).mode, 'READ_WRITE')
})
