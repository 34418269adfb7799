// The command line as a user runs it: a spawned process, real files, real exit codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { Cache } = require('..')
const { makeRepo, writeTree } = require('../support/helpers')
const { cleanEnv } = require('../support/env')

const CLI = path.join(__dirname, '..', 'cli.js')
const runWith = (vars, cwd, ...args) => spawnSync(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(vars), encoding: 'utf8' })
const run = (cwd, ...args) => runWith({}, cwd, ...args)

test('clear and purge --days work on the store of the current folder', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/a.js': 'a'.repeat(2000) })
  // No age limit here: the background eviction would race the purge.
  const cache = new Cache({ cwd: repo.dirs.a, cacheMaxAge: false })
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

// Old code: clear, purge and evict waited without a word or an end while a
// process held the store (a build stopped with Ctrl-Z). flock(1) holds the
// store's shared lock here as a stopped fetch would.
test('clear, purge and evict say what they wait for and give up after BACKFILL_NATIVE_LOCK_WAIT', { skip: process.platform === 'win32' }, async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/a.js': 'a' })
  await new Cache({ cwd: repo.dirs.a }).put('kept', ['lib/**'])
  const { spawn } = require('node:child_process')
  const holder = spawn('flock', ['--shared', path.join(repo.cacheDir, 'v1', 'lock'), 'sleep', '600'], { stdio: 'ignore' })
  try {
    // flock has the lock once a non-blocking exclusive try fails.
    for (;;) {
      const probe = spawnSync('flock', ['--exclusive', '--nonblock', path.join(repo.cacheDir, 'v1', 'lock'), 'true'])
      if (probe.status !== 0) break
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const command of ['clear', 'purge', 'evict']) {
      const r = runWith({ BACKFILL_NATIVE_LOCK_WAIT: '1s' }, repo.dirs.a, command)
      assert.equal(r.status, 1, `${command}: ${r.stdout}${r.stderr}`)
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 2, r.stderr)
      assert.equal(lines[0], `backfill-native: waiting to ${command} ${repo.cacheDir}: fetches, puts or uploads are using it; giving up after 1 s (BACKFILL_NATIVE_LOCK_WAIT sets how long)`)
      assert.match(lines[1], new RegExp(`^backfill-native: could not ${command} .*: it stayed in use by a fetch, put or upload for 1 s`))
    }
  } finally {
    holder.kill()
  }
  assert.equal((await new Cache({ cwd: repo.dirs.a }).fetch('kept')).hit, true)
})

test('bad arguments print usage and exit 2; a bad configuration exits 1 with the error', () => {
  const repo = makeRepo(['a'])
  for (const args of [[], ['purge', '--days'], ['purge', '--days', 'ten'], ['frobnicate'], ['fetch'], ['hash', '--inputs'], ['--bogus'], ['--']]) {
    const r = run(repo.root, ...args)
    assert.equal(r.status, 2, args.join(' '))
    assert.match(r.stderr, /^backfill-native: .*\n\nusage:\n  backfill-native \[--inputs/)
  }
  const bad = spawnSync(process.execPath, [CLI, 'config'], { cwd: repo.root, env: cleanEnv({ BACKFILL_MODE: 'FAST' }), encoding: 'utf8' })
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /^backfill-native: BACKFILL_MODE \(from the environment\) is invalid/)
  const ok = run(repo.root, 'config')
  assert.equal(JSON.parse(ok.stdout).mode, 'READ_WRITE')
})

test('a cached run: a miss runs the command and stores, a hit skips it, exit codes pass through', () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'src/index.js': 'source' })
  const build = ['node', '-e', "require('fs').mkdirSync('lib',{recursive:true});require('fs').appendFileSync('../runs','x');require('fs').writeFileSync('lib/out.js','built')"]
  const first = run(repo.dirs.a, '--', ...build)
  assert.equal(first.status, 0, first.stderr)
  assert.match(first.stderr, /^backfill-native: miss for [0-9a-f]{64}; running: node -e /)
  assert.match(first.stdout, /^backfill-native: stored [0-9a-f]{64}: 1 files, 0\.0 MB\n$/)
  fs.rmSync(path.join(repo.dirs.a, 'lib'), { recursive: true })
  const second = run(repo.dirs.a, '--json', '--', ...build)
  assert.equal(second.status, 0, second.stderr)
  const out = JSON.parse(second.stdout)
  assert.deepEqual([out.hit, out.source, out.filesRestored], [true, 'local', 1])
  assert.equal(fs.readFileSync(path.join(repo.root, 'packages', 'runs'), 'utf8'), 'x', 'the command ran again on a hit')
  assert.equal(fs.readFileSync(path.join(repo.dirs.a, 'lib/out.js'), 'utf8'), 'built')

  // A changed input is a miss; a failing command's code passes through and nothing is stored.
  writeTree(repo.dirs.a, { 'src/index.js': 'changed' })
  const failing = run(repo.dirs.a, '--', 'node', '-e', 'process.exit(7)')
  assert.equal(failing.status, 7)
  assert.match(failing.stderr, /the command exited with 7; nothing stored/)
  const hash = run(repo.dirs.a, 'hash', '--salt', 'node -e process.exit(7)').stdout.trim()
  assert.equal(run(repo.dirs.a, 'fetch', hash).status, 3, 'a failed run stored something')
})

test('hash, put, fetch and stats as separate steps', () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'src/a.ts': 'a', 'lib/a.js': 'built a' })
  const h1 = run(repo.dirs.a, 'hash').stdout.trim()
  assert.match(h1, /^[0-9a-f]{64}$/)
  assert.equal(run(repo.dirs.a, 'hash').stdout.trim(), h1, 'the key is not stable')
  assert.notEqual(run(repo.dirs.a, 'hash', '--salt', 'other').stdout.trim(), h1)
  assert.equal(JSON.parse(run(repo.dirs.a, 'hash', '--json').stdout).hash, h1)
  const put = run(repo.dirs.a, 'put', h1, '--outputs', 'lib/**', '--json')
  assert.equal(put.status, 0, put.stderr)
  assert.equal(JSON.parse(put.stdout).files, 1)
  fs.rmSync(path.join(repo.dirs.a, 'lib'), { recursive: true })
  const fetched = run(repo.dirs.a, 'fetch', h1)
  assert.equal(fetched.status, 0)
  assert.match(fetched.stdout, /^hit from the local cache: 1 files restored, 0 unchanged/)
  assert.equal(fs.readFileSync(path.join(repo.dirs.a, 'lib/a.js'), 'utf8'), 'built a')
  const miss = run(repo.dirs.a, 'fetch', 'f'.repeat(64))
  assert.deepEqual([miss.status, miss.stdout], [3, 'miss\n'])
  const stats = JSON.parse(run(repo.dirs.a, 'stats', '--json').stdout)
  assert.deepEqual([stats.entries, stats.contents], [1, 1])
  const bad = run(repo.dirs.a, 'fetch', '../x')
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /^backfill-native: invalid cache hash "\.\.\/x"/)
})

test('a cached run: outputs are not inputs, so an unchanged second run is a hit and an edited input is a miss', () => {
  // The command writes a timestamp into its output folder, as many builds do.
  const build = (dir) => ['node', '-e', `const fs=require('fs');fs.mkdirSync('${dir}',{recursive:true});fs.appendFileSync('../runs-${dir}','x');fs.writeFileSync('${dir}/stamp.txt',String(process.hrtime.bigint()))`]
  const cases = [
    { name: 'default outputs (lib/**)', dir: 'lib', args: [], vars: {} },
    { name: '--outputs', dir: 'dist', args: ['--outputs', 'dist/**'], vars: {} },
    { name: 'BACKFILL_OUTPUT_GLOB, a plain folder name', dir: 'out', args: [], vars: { BACKFILL_OUTPUT_GLOB: '["out"]' } },
    { name: '--inputs naming the outputs', dir: 'lib', args: ['--inputs', 'src/**', 'lib/**'], vars: {} },
  ]
  for (const { name, dir, args, vars } of cases) {
    const repo = makeRepo(['a'])
    writeTree(repo.dirs.a, { 'src/index.js': 'source' })
    const cmd = build(dir)
    const runs = () => fs.readFileSync(path.join(repo.root, 'packages', `runs-${dir}`), 'utf8')
    const first = runWith(vars, repo.dirs.a, ...args, '--', ...cmd)
    assert.equal(first.status, 0, `${name}: ${first.stderr}`)
    const hash = /^backfill-native: miss for ([0-9a-f]{64}); running: node -e /.exec(first.stderr)?.[1]
    assert.ok(hash, `${name}: ${first.stderr}`)
    assert.equal(first.stdout, `backfill-native: stored ${hash}: 1 files, 0.0 MB\n`, name)

    const second = runWith(vars, repo.dirs.a, ...args, '--', ...cmd)
    assert.equal(second.status, 0, `${name}: ${second.stderr}`)
    assert.match(second.stdout, new RegExp(`^backfill-native: hit for ${hash} from the local cache \\(0 files restored, 1 unchanged, \\d+ ms\\); skipped: node -e `), name)
    assert.equal(second.stderr, '', name)
    assert.equal(runs(), 'x', `${name}: the command ran again with nothing changed`)
    const printed = runWith(vars, repo.dirs.a, 'hash', ...args, '--salt', cmd.join(' '))
    assert.equal(printed.stdout, `${hash}\n`, `${name}: hash prints another key than the cached run uses`)

    writeTree(repo.dirs.a, { 'src/index.js': 'edited' })
    const third = runWith(vars, repo.dirs.a, ...args, '--', ...cmd)
    assert.equal(third.status, 0, `${name}: ${third.stderr}`)
    assert.match(third.stderr, /^backfill-native: miss for [0-9a-f]{64}; running: node -e /, name)
    assert.ok(!third.stderr.includes(hash), `${name}: an edited input kept the key`)
    assert.equal(runs(), 'xx', name)
  }
})

test('stats shows the size, cap, age limit, oldest entry and last eviction; evict evicts now', async () => {
  const repo = makeRepo(['a'])
  const env = { BACKFILL_NATIVE_CACHE_MAX_SIZE: '1GiB', BACKFILL_NATIVE_CACHE_MAX_AGE: '7d' }
  const empty = runWith(env, repo.dirs.a, 'stats')
  assert.equal(empty.status, 0, empty.stderr)
  assert.match(empty.stdout, /^.*backfill-native: 0 entries, 0 contents, 0\.0 MB \(cap 1024\.0 MB, age limit 7 days\)\noldest entry: none\nlast eviction: none yet\n$/)

  // Stored with eviction off, then the old one aged by ten days.
  const cache = new Cache({ cwd: repo.dirs.a, cacheMaxSize: false, cacheMaxAge: false })
  writeTree(repo.dirs.a, { 'lib/a.js': 'old '.repeat(1000) })
  await cache.put('old', ['lib/**'])
  writeTree(repo.dirs.a, { 'lib/a.js': 'new '.repeat(1000) })
  await cache.put('new', ['lib/**'])
  const entries = path.join(repo.cacheDir, 'v1', 'entries')
  const tenDaysAgo = new Date(Date.now() - 10 * 86400e3)
  for (const shard of fs.readdirSync(entries)) {
    const f = path.join(entries, shard, 'old.json')
    if (fs.existsSync(f)) fs.utimesSync(f, tenDaysAgo, tenDaysAgo)
  }
  const before = runWith(env, repo.dirs.a, 'stats')
  assert.match(before.stdout, /: 2 entries, 2 contents, 0\.0 MB \(cap 1024\.0 MB, age limit 7 days\)\n/)
  assert.match(before.stdout, /\noldest entry: last used \d{4}-\d\d-\d\dT[\d:.]+Z \(10 days ago\)\nlast eviction: none yet\n$/)

  const evict = runWith(env, repo.dirs.a, 'evict')
  assert.equal(evict.status, 0, evict.stderr)
  assert.match(evict.stdout, /^evicted from .*: 1 entries and 1 contents removed, 0\.0 MB freed; 1 entries, 0\.0 MB left \(\d+ ms, index rebuilt\)\n$/)
  assert.equal((await cache.fetch('old')).hit, false)
  assert.equal((await cache.fetch('new')).hit, true)

  const after = JSON.parse(runWith(env, repo.dirs.a, 'stats', '--json').stdout)
  assert.deepEqual([after.entries, after.contents, after.maxSize, after.maxAgeDays], [1, 1, 1 << 30, 7])
  assert.ok(Date.now() - after.oldestUsed < 60e3, 'the fetch just now is the last use')
  assert.deepEqual([after.lastEviction.entriesRemoved, after.lastEviction.contentsRemoved], [1, 1])
  assert.ok(Date.now() - after.lastEviction.at < 60e3)
  const off = runWith({ BACKFILL_NATIVE_CACHE_MAX_SIZE: 'off', BACKFILL_NATIVE_CACHE_MAX_AGE: 'off' }, repo.dirs.a, 'stats')
  assert.match(off.stdout, /\(no size cap, no age limit\)\n/)
  assert.match(off.stdout, /\nlast eviction: \d{4}-[^\n]+\(\d+ s ago\): 1 entries and 1 contents removed, 0\.0 MB freed, in \d+ ms\n$/)
})
