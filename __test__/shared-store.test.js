// A local store written by one user and read by another (a shared CI cache,
// a container running as another uid): readable entries are hits, and an
// entry this user may not read is a miss with a warning, never an error.
// Needs root, to run the reader as another user.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { tempDir, writeTree, snapshot } = require('../support/helpers')

const NOBODY = 65534
const isRoot = process.getuid?.() === 0
const skip = isRoot ? false : 'needs root, to read the store as another user'

/** A folder every user may enter; `owner` owns it. */
function openDir(owner) {
  const dir = tempDir('bfn-shared-')
  fs.chmodSync(dir, 0o755)
  if (owner !== undefined) fs.chownSync(dir, owner, owner)
  return dir
}

/** Fetches `hash` from `store` into `cwd` as the user `uid`, in a new process. */
function fetchAs(uid, cwd, store, hash) {
  const script = `
    const native = require(${JSON.stringify(path.join(__dirname, '..'))})
    const cache = new native.Cache({ cwd: ${JSON.stringify(cwd)}, cacheFolder: ${JSON.stringify(store)} })
    cache.fetch(${JSON.stringify(hash)}).then(
      (r) => console.log(JSON.stringify({ hit: r.hit, warnings: r.warnings })),
      (e) => console.log(JSON.stringify({ error: e.message, code: e.code })),
    )`
  const env = { PATH: process.env.PATH }
  const r = spawnSync(process.execPath, ['-e', script], { uid, gid: uid, cwd, env, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

const OUTPUTS = {
  'lib/index.js': 'module.exports = 1\n',
  'lib/bin/run.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
}

function writerPackage() {
  const pkg = openDir()
  writeTree(pkg, OUTPUTS)
  return pkg
}

test('a store another user wrote with the usual umask serves this user', { skip }, async () => {
  const store = path.join(openDir(), 'cache')
  const pkg = writerPackage()
  const put = await new native.Cache({ cwd: pkg, cacheFolder: store }).put('h', ['lib/**'])
  assert.equal(put.stored, true)
  const reader = openDir(NOBODY)
  assert.deepEqual(fetchAs(NOBODY, reader, store, 'h'), { hit: true, warnings: [] })
  assert.deepEqual(snapshot(path.join(reader, 'lib')), snapshot(path.join(pkg, 'lib')))
})

test('an entry this user may not read is a miss with a warning that says how to fix it', { skip }, async () => {
  const old = process.umask(0o077)
  let store, storeOnlyEntry
  try {
    // The whole store private to its writer...
    store = path.join(openDir(), 'cache')
    await new native.Cache({ cwd: writerPackage(), cacheFolder: store }).put('h', ['lib/**'])
    // ...or a readable store with one private manifest.
    storeOnlyEntry = path.join(openDir(), 'cache')
    process.umask(0o022)
    await new native.Cache({ cwd: writerPackage(), cacheFolder: storeOnlyEntry }).put('h', ['lib/**'])
  } finally {
    process.umask(old)
  }
  const entries = path.join(storeOnlyEntry, 'v1', 'entries')
  for (const shard of fs.readdirSync(entries)) fs.chmodSync(path.join(entries, shard, 'h.json'), 0o400)

  for (const [what, s] of [['a private store', store], ['a private manifest', storeOnlyEntry]]) {
    const reader = openDir(NOBODY)
    const got = fetchAs(NOBODY, reader, s, 'h')
    assert.equal(got.error, undefined, `${what}: ${got.error}`)
    assert.equal(got.hit, false, what)
    assert.equal(got.warnings.length, 1, what)
    assert.equal(got.warnings[0].code, 'LOCAL_ENTRY_UNREADABLE', what)
    assert.match(got.warnings[0].message, /cannot be read: .*[Pp]ermission denied/, what)
    assert.deepEqual(fs.readdirSync(reader), [], `${what}: something was restored`)
  }
})
