// Many processes sharing one store, and processes killed in the middle of a
// put: nothing is lost and no torn entry is ever restored.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const { Cache } = require('..')
const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { cleanEnv } = require('../support/env')

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))))
  })
}

test('six processes putting and fetching the same hashes at once never restore a torn entry', async () => {
  const names = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']
  const repo = makeRepo(names)
  const outs = await Promise.all(
    names.map((n, i) => run([path.join(__dirname, 'fixtures', 'store-hammer.js'), repo.dirs[n], String(i), '40'])),
  )
  const hits = outs.map((o) => JSON.parse(o).hits).reduce((a, b) => a + b, 0)
  assert.ok(hits > 0, 'no fetch hit at all: the test proved nothing')
})

test('a put killed at any point never leaves a hit with missing or wrong files', async () => {
  const repo = makeRepo(['writer', 'reader'])
  const files = {}
  for (let i = 0; i < 800; i++) files[`lib/d${i % 20}/f${i}.js`] = `file ${i}\n`.repeat(10 + (i % 50))
  writeTree(repo.dirs.writer, files)
  const base = snapshot(path.join(repo.dirs.writer, 'lib'))
  const expected = (n) => ({
    ...base,
    'big.bin': { content: Buffer.alloc(6 << 20, n % 256).toString('base64'), mode: 0o644 },
    'n.txt': { content: Buffer.from(String(n)).toString('base64'), mode: 0o644 },
  })

  // The hashes worth checking: the put in flight at each kill, and the last
  // one that finished before it.
  const checked = new Set()
  for (let kill = 0; kill < 6; kill++) {
    let highest = -1
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'put-forever.js'), repo.dirs.writer], { env: cleanEnv() })
    child.stdout.on('data', (d) => {
      for (const n of String(d).trim().split('\n')) highest = Math.max(highest, Number(n))
    })
    await new Promise((r) => setTimeout(r, 200 + kill * 131))
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    checked.add(highest).add(highest + 1)
  }
  const reader = new Cache({ cwd: repo.dirs.reader })
  let hits = 0
  for (const n of [...checked].filter((n) => n >= 0)) {
    fs.rmSync(path.join(repo.dirs.reader, 'lib'), { recursive: true, force: true })
    const r = await reader.fetch(`put-${n}`)
    assert.deepEqual(r.warnings, [])
    if (r.hit) {
      hits++
      assert.deepEqual(snapshot(path.join(repo.dirs.reader, 'lib')), expected(n), `put-${n} restored a torn entry`)
    }
  }
  assert.ok(hits > 0, 'no put finished before a kill: the test proved nothing')
  // Whatever the kills left behind, purge cleans it and the store still works.
  await reader.purge(365)
  assert.deepEqual(fs.readdirSync(path.join(repo.cacheDir, 'v1', 'tmp')), [])
  const content = path.join(repo.cacheDir, 'v1', 'content')
  const names = fs.readdirSync(content).flatMap((shard) => fs.readdirSync(path.join(content, shard)))
  assert.deepEqual(names.filter((n) => !/^[0-9a-f]{64}$/.test(n)), [], 'temp files left in the store')
})
