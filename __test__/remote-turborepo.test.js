// The turborepo remote against a real turborepo-remote-cache 2.12 server
// (support/turbo-server.js): round trips, misses, turbo's variables, a
// read-only server, a wrong token, signatures through the artifact tag
// (and a server that drops it), maxSize, the server's body limit, a server
// that is down.
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('../support/helpers')
const { cleanEnv } = require('../support/env')
const { turboKit, startTurboServer, artifactRequest, newToken, TEAM } = require('../support/turbo-server')

const OUTPUTS = {
  'lib/index.js': 'module.exports = 42\n',
  'lib/bin/cli.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
  'lib/.vite/manifest.json': '{"entry":"index.js"}',
  'lib/nested/deep/data.bin': Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) % 256)),
  'lib/alias.js': { link: 'index.js' },
}

let kit
test.before(async () => {
  kit = await turboKit()
})
test.after(async () => {
  await kit?.stop()
})

const RUN = `${process.pid}-${Date.now().toString(36)}`
let count = 0
const hash = (tag) => `${tag}-${RUN}-${++count}`

function cache(cwd, { write = false, readOnly = false, extra = {}, ...rest } = {}) {
  const providerOptions = readOnly ? kit.readOnlyOptions(extra) : kit.options(extra)
  return new native.Cache({ cwd, provider: 'turborepo', providerOptions, writeRemoteCache: write, ...rest })
}

/** What the server stored for `key`: the artifact file and its tag file. */
function stored(key) {
  const file = path.join(kit.storage, TEAM, key)
  return { artifact: fs.existsSync(file), tag: fs.existsSync(`${file}.tag`) }
}

function noSecret(text) {
  for (const s of kit.secrets) assert.ok(!text.includes(s), `a token leaked: ${text}`)
}

async function seed(key, files, extra = {}) {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, files)
  const put = await cache(repo.dirs.a, { write: true, extra }).put(key, ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
  return snapshot(path.join(repo.dirs.a, 'lib'))
}

test('a hash never put is a plain miss', async () => {
  const repo = makeRepo(['a'])
  const got = await cache(repo.dirs.a).fetch(hash('miss'))
  assert.deepEqual([got.hit, got.warnings, got.remoteNote], [false, [], undefined])
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
})

test('CI uploads the archive with its tag; a fresh machine restores it byte-identical, then from the local store', async () => {
  const key = hash('round-trip')
  const ci = makeRepo(['a'])
  writeTree(ci.dirs.a, { ...OUTPUTS, 'lib/big.bin': crypto.randomBytes(3 << 20) })
  const want = snapshot(path.join(ci.dirs.a, 'lib'))
  const put = await cache(ci.dirs.a, { write: true }).put(key, ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
  const artifact = await kit.get(key)
  assert.equal(artifact.body.length, put.uploadBytes, 'the artifact is the whole archive')
  assert.equal(artifact.body.subarray(257, 262).toString(), 'ustar', 'the artifact is a tar')
  assert.match(artifact.tag, /^bfn3:[0-9a-f]{64}$/, 'the digest travels in the tag')
  assert.deepEqual(stored(key), { artifact: true, tag: true })

  const dev = makeRepo(['a'])
  const c = cache(dev.dirs.a)
  const first = await c.fetch(key)
  assert.deepEqual([first.hit, first.source, first.warnings], [true, 'remote', []])
  assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
  fs.rmSync(path.join(dev.dirs.a, 'lib'), { recursive: true })
  const second = await c.fetch(key)
  assert.equal(second.source, 'local', 'the remote hit filled the local store')
  assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
  const stats = c.stats()
  assert.deepEqual([stats.remoteHits, stats.localHits, stats.misses], [1, 1, 0])
})

test('remote writes follow writeRemoteCache', async () => {
  const key = hash('writes-off')
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const put = await cache(repo.dirs.a).put(key, ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'UPLOAD_WRITES_OFF'])
  assert.deepEqual(stored(key), { artifact: false, tag: false })
})

/** Runs a put or fetch in a child process whose only configuration is `env`. */
function inChild(cwd, op, key, env) {
  const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const c = new n.Cache({ cwd: process.argv[1] });
    c.${op}(process.argv[2]${op === 'put' ? ", ['lib/**']" : ''}).then((r) => console.log(JSON.stringify({ r, config: c.config })))`
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script, cwd, key], { env: cleanEnv(env), timeout: 120000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(JSON.parse(out)),
    ),
  )
}

test("configured only by turbo's variables (TURBO_API, TURBO_TOKEN, TURBO_TEAMID), as in CI", async () => {
  const key = hash('variables')
  const ci = makeRepo(['a'])
  writeTree(ci.dirs.a, OUTPUTS)
  const want = snapshot(path.join(ci.dirs.a, 'lib'))
  const vars = { BACKFILL_CACHE_PROVIDER: 'turborepo', ...kit.env() }
  const put = await inChild(ci.dirs.a, 'put', key, { ...vars, LAGE_WRITE_REMOTE_CACHE: 'true' })
  assert.deepEqual([put.r.uploaded, put.r.warnings], [true, []])
  assert.deepEqual(put.config.turborepo, { apiUrl: kit.env().TURBO_API, token: '<redacted>', teamId: TEAM, signed: false })
  noSecret(JSON.stringify(put.config))
  assert.deepEqual(stored(key), { artifact: true, tag: true })

  const dev = makeRepo(['a'])
  const got = await inChild(dev.dirs.a, 'fetch', key, vars)
  assert.deepEqual([got.r.hit, got.r.source, got.r.warnings], [true, 'remote', []])
  assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
  // The slug works as the team as well (turbo's TURBO_TEAM).
  const slug = makeRepo(['a'])
  const bySlug = await inChild(slug.dirs.a, 'fetch', key, { ...vars, TURBO_TEAMID: '', TURBO_TEAM: TEAM })
  assert.deepEqual([bySlug.r.hit, bySlug.r.source], [true, 'remote'])
})

test('a read-only server fetches, never uploads, and warns once', async () => {
  const shared = hash('shared')
  const want = await seed(shared, OUTPUTS)
  const repo = makeRepo(['a'])
  const ro = () => cache(repo.dirs.a, { readOnly: true, write: true })
  const got = await ro().fetch(shared)
  assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
  assert.deepEqual(snapshot(path.join(repo.dirs.a, 'lib')), want)
  writeTree(repo.dirs.a, { 'lib/new.js': 'new' })
  const [k1, k2] = [hash('mine'), hash('mine')]
  const p1 = await ro().put(k1, ['lib/**'])
  const p2 = await ro().put(k2, ['lib/**'])
  assert.deepEqual([p1.stored, p1.uploaded, p2.stored, p2.uploaded], [true, false, true, false])
  assert.deepEqual(p1.warnings.map((w) => w.code), ['REMOTE_READ_ONLY'])
  assert.match(
    p1.warnings[0].message,
    /^uploads to the remote cache \(turborepo server http:\/\/127\.0\.0\.1:\d+ team 'team_backfill_native'\) are refused \(upload failed: HTTP 403, the token may not do this \(a read-only token or server\)\): the credentials are read-only/,
  )
  noSecret(p1.warnings[0].message)
  assert.deepEqual(p2.warnings, [], 'warned once')
  assert.equal(p2.uploadSkipped.code, 'UPLOAD_REFUSED_BY_REMOTE')
  assert.deepEqual([stored(k1), stored(k2)], [{ artifact: false, tag: false }, { artifact: false, tag: false }])
})

test('a wrong token: each fetch a miss, one warning naming the 401, never the token; nothing uploaded', async () => {
  const key = hash('wrong-token')
  await seed(key, OUTPUTS)
  const wrong = newToken('wrong')
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const c = () => cache(repo.dirs.a, { write: true, extra: { token: wrong } })
  const first = await c().fetch(key)
  assert.equal(first.hit, false)
  assert.deepEqual(first.warnings.map((w) => w.code), ['REMOTE_SIGN_IN_FAILED'])
  assert.equal(
    first.warnings[0].message,
    `remote cache (turborepo server http://127.0.0.1:${kit.port} team 'team_backfill_native'): download failed: HTTP 401, the server does not accept the token; ` +
      'treated as a miss. To fix it, check the token ("token" or TURBO_TOKEN): the server does not accept it. ' +
      'After 3 failures in a row the remote cache is switched off until the process ends',
  )
  assert.ok(!first.warnings[0].message.includes(wrong))
  const second = await c().fetch(key)
  assert.deepEqual([second.hit, second.warnings], [false, []], 'warned once')
  const mine = hash('wrong-token-put')
  const put = await c().put(mine, ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.deepEqual(stored(mine), { artifact: false, tag: false })
  assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib/index.js')), true)
})

test('signing: the MAC travels in the tag; a wrong key, an unsigned and a tampered artifact are refused', async () => {
  const [signed, unsigned, tampered] = [hash('signed'), hash('unsigned'), hash('tampered')]
  const want = await seed(signed, OUTPUTS, { signingKey: 'k1' })
  assert.match((await kit.get(signed)).tag, /^bfn3:[0-9a-f]{64}:[0-9a-f]{64}$/)
  await seed(unsigned, OUTPUTS)
  const withKey = (key) => cache(makeRepo(['a']).dirs.a, { extra: { signingKey: key } })
  const wrong = await withKey('k2').fetch(signed)
  assert.deepEqual([wrong.hit, wrong.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
  assert.match(wrong.warnings[0].message, /its signature does not match the configured signing key/)
  const bare = await withKey('k1').fetch(unsigned)
  assert.match(bare.warnings[0].message, /it is not signed, and a signing key is configured/)
  const right = makeRepo(['a'])
  const ok = await cache(right.dirs.a, { extra: { signingKey: 'k1' } }).fetch(signed)
  assert.deepEqual([ok.hit, ok.source, ok.warnings], [true, 'remote', []])
  assert.deepEqual(snapshot(path.join(right.dirs.a, 'lib')), want)
  assert.equal(native.loadConfig(right.dirs.a, { provider: 'turborepo', providerOptions: kit.options({ signingKey: 'k1' }) }).turborepo.signed, true)

  // Our digest in the tag, other bytes.
  await seed(tampered, OUTPUTS)
  const { metadata } = await kit.get(tampered)
  const { forgeTar } = require('../support/azurite')
  await kit.put(tampered, forgeTar([{ name: 'lib/index.js', body: Buffer.from('evil()') }]), metadata)
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a).fetch(tampered)
  assert.deepEqual([got.hit, got.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
  assert.match(got.warnings[0].message, /its content does not match the digest stored with it/)
  assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
})

test('a server that drops the tag: with signingKey its artifacts are refused, never accepted unsigned', async () => {
  const token = newToken('turbo-notag')
  const server = await startTurboServer({ tokens: [token], signatureKey: null })
  try {
    const options = (extra) => ({ apiUrl: server.apiUrl, token, teamId: TEAM, ...extra })
    const key = hash('dropped')
    const ci = makeRepo(['a'])
    writeTree(ci.dirs.a, OUTPUTS)
    const want = snapshot(path.join(ci.dirs.a, 'lib'))
    const put = await new native.Cache({ cwd: ci.dirs.a, provider: 'turborepo', providerOptions: options({ signingKey: 'k1' }), writeRemoteCache: true }).put(key, ['lib/**'])
    assert.deepEqual([put.uploaded, put.warnings], [true, []])
    const res = await artifactRequest({ apiUrl: server.apiUrl, token }, 'GET', key)
    assert.deepEqual([res.status, res.headers.get('x-artifact-tag')], [200, null], 'the server drops the tag')
    assert.equal(fs.existsSync(path.join(server.storage, TEAM, `${key}.tag`)), false)

    const signedRepo = makeRepo(['a'])
    const refused = await new native.Cache({ cwd: signedRepo.dirs.a, provider: 'turborepo', providerOptions: options({ signingKey: 'k1' }) }).fetch(key)
    assert.deepEqual([refused.hit, refused.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
    assert.match(refused.warnings[0].message, /it is not signed, and a signing key is configured; treated as a miss$/)
    assert.equal(fs.existsSync(path.join(signedRepo.dirs.a, 'lib')), false)

    // Without a key the artifact has no digest to check, as a blob the JS
    // provider wrote: it is used.
    const plain = makeRepo(['a'])
    const got = await new native.Cache({ cwd: plain.dirs.a, provider: 'turborepo', providerOptions: options() }).fetch(key)
    assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
    assert.deepEqual(snapshot(path.join(plain.dirs.a, 'lib')), want)
  } finally {
    await server.stop()
  }
})

test('maxSize: larger outputs are not uploaded; a larger artifact is stopped at maxSize, a miss, and nothing is stored', async () => {
  const key = hash('big')
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const small = await cache(repo.dirs.a, { write: true, extra: { maxSize: 1000 } }).put(key, ['lib/**'])
  assert.deepEqual([small.stored, small.uploaded, small.uploadSkipped.code], [true, false, 'UPLOAD_OVER_MAX_SIZE'])
  assert.deepEqual(stored(key), { artifact: false, tag: false })
  await seed(key, OUTPUTS)
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, { extra: { maxSize: 1000 } }).fetch(key)
  // turborepo-remote-cache sends no size: the download is stopped there.
  assert.deepEqual([got.hit, got.warnings, got.remoteNote?.code], [false, [], 'REMOTE_OVER_MAX_SIZE'])
  assert.match(got.remoteNote.message, /over maxSize \(1000\): its download was stopped there and nothing was restored/)
  assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
  const dir = path.join(other.cacheDir, 'v1', 'entries')
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d))) : []
  assert.deepEqual(entries, [], 'an entry was stored')
})

test("an artifact over the server's body limit: not uploaded, the warning says why", async () => {
  const token = newToken('turbo-limit')
  const server = await startTurboServer({ tokens: [token], bodyLimit: 64 * 1024 })
  try {
    const repo = makeRepo(['a'])
    writeTree(repo.dirs.a, { 'lib/big.bin': crypto.randomBytes(4 << 20) })
    const providerOptions = { apiUrl: server.apiUrl, token, teamId: TEAM }
    const key = hash('over-limit')
    const put = await new native.Cache({ cwd: repo.dirs.a, provider: 'turborepo', providerOptions, writeRemoteCache: true }).put(key, ['lib/**'])
    assert.deepEqual([put.stored, put.uploaded], [true, false])
    // The server answers 413 as soon as it reads the Content-Length, and
    // closes the connection: a client still sending may lose the answer
    // to the reset (HTTP/1.1 has no way around it). Either way the warning
    // names the body limit.
    assert.equal(put.warnings.length, 1)
    const [{ code, message }] = put.warnings
    assert.ok(
      (code === 'REMOTE_FAILED' && /upload failed: HTTP 413, the artifact is larger than the server accepts \(its body limit\); set maxSize below it/.test(message)) ||
        (code === 'REMOTE_UNAVAILABLE' && /upload failed: the server closed the connection before taking the whole artifact \(it may refuse artifacts this large: its body limit\)/.test(message)),
      `${code}: ${message}`,
    )
    assert.equal(fs.existsSync(path.join(server.storage, TEAM, key)), false)
  } finally {
    await server.stop()
  }
})

test('a server that is down: each fetch a miss, one warning, then switched off', async () => {
  const server = await startTurboServer({ tokens: ['t'] })
  await server.stop()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const { logger, at } = recordingLogger()
  const options = { provider: 'turborepo', providerOptions: { apiUrl: server.apiUrl, token: 't', teamId: TEAM }, writeRemoteCache: true }
  const started = Date.now()
  for (let i = 0; i < 6; i++) {
    assert.equal(await native.getProvider(logger, repo.dirs.a, options).fetch(hash('down')), false)
  }
  const warns = at('warn')
  assert.equal(warns.length, 1, warns.join('\n'))
  assert.match(warns[0], new RegExp(`^backfill-native: remote cache \\(turborepo server http://127\\.0\\.0\\.1:${server.port} team 'team_backfill_native'\\): download failed: .*; treated as a miss\\. To fix it, check the network`))
  assert.ok(Date.now() - started < 60000, `took ${Date.now() - started} ms`)
  const put = await new native.Cache({ cwd: repo.dirs.a, ...options }).put(hash('down-put'), ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'REMOTE_SWITCHED_OFF'])
})

test('loadConfig shows the server, the team and whether uploads are signed, never the token', () => {
  const repo = makeRepo(['a'])
  const cfg = native.loadConfig(repo.dirs.a, { provider: 'turborepo', providerOptions: kit.options({ maxSize: 5000 }) })
  assert.equal(cfg.provider, 'turborepo')
  assert.deepEqual(cfg.turborepo, { apiUrl: `http://127.0.0.1:${kit.port}`, token: '<redacted>', teamId: TEAM, maxSize: 5000, signed: false })
  assert.equal(cfg.remote, undefined)
  noSecret(JSON.stringify(cfg))
  assert.throws(
    () => native.loadConfig(repo.dirs.a, { provider: 'turborepo', providerOptions: { apiUrl: 'http://127.0.0.1:1' } }),
    (e) => e.code === 'BACKFILL_NATIVE_CONFIG' && /^TURBO_TOKEN \(not set\) is invalid/.test(e.message),
  )
})

test("lage 2.17 with the README's line and only turbo's variables: CI builds cold and uploads; a fresh clone restores every target byte-identical from the server", async () => {
  const { makeLageRepo } = require('../support/lage-repo')
  const green = (run, success, skipped) => {
    assert.equal(run.status, 0, run.output)
    assert.match(run.output, new RegExp(`success: ${success}, skipped: ${skipped}, pending: 0, aborted: 0, failed: 0`), run.output)
  }
  // A team of its own, so the artifacts counted are this test's.
  const team = `lage-${RUN}`
  const vars = { BACKFILL_CACHE_PROVIDER: 'turborepo', ...kit.env(), TURBO_TEAMID: '', TURBO_TEAM: team }
  const ci = makeLageRepo()
  // CI set, remote writes off: told once, nothing uploaded.
  const quiet = ci.lage([], { ...vars, CI: 'true' })
  green(quiet, 5, 0)
  assert.equal(quiet.output.split('\n').filter((l) => /CI is set, but remote cache uploads are off/.test(l)).length, 1, quiet.output)
  assert.equal(fs.existsSync(path.join(kit.storage, team)), false)

  const builder = makeLageRepo()
  green(builder.lage([], { ...vars, LAGE_WRITE_REMOTE_CACHE: 'true' }), 5, 0)
  const artifacts = fs.readdirSync(path.join(kit.storage, team))
  assert.equal(artifacts.filter((f) => !f.endsWith('.tag')).length, 5, artifacts.join(', '))
  const want = Object.fromEntries(builder.packages.map((p) => [p, snapshot(path.join(builder.dir(p), 'lib'))]))

  // Same sources, a fresh clone: nothing built, every target from the server.
  const fresh = makeLageRepo()
  const run = fresh.lage([], vars)
  green(run, 0, 5)
  assert.deepEqual(fresh.builds(), [], 'a build script ran')
  for (const p of fresh.packages) assert.deepEqual(snapshot(path.join(fresh.dir(p), 'lib')), want[p], p)
  assert.equal(fs.existsSync(fresh.lageCacheDir), false, "lage's own cache was used")
})

// The server itself backed by S3 (the real S3 server of the S3 tests): what
// a team running turborepo-remote-cache on its bucket has. A second server
// that shares only the bucket restores the entry, so it lives in S3.
test('a cache server on S3 storage (moto): uploads land in the bucket, and another server on it restores them byte-identical', { timeout: 300000 }, async () => {
  const { s3Kit } = require('../support/s3-server')
  const s3 = await s3Kit()
  const servers = []
  try {
    const keys = s3.env(false)
    const storageEnv = {
      STORAGE_PROVIDER: 's3',
      STORAGE_PATH: s3.bucket,
      S3_ACCESS_KEY: keys.AWS_ACCESS_KEY_ID,
      S3_SECRET_KEY: keys.AWS_SECRET_ACCESS_KEY,
      S3_REGION: 'us-east-1',
      S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    }
    const token = newToken('turbo-s3')
    for (let i = 0; i < 2; i++) servers.push(await startTurboServer({ tokens: [token], storageEnv }))
    const options = (server) => ({ provider: 'turborepo', providerOptions: { apiUrl: server.apiUrl, token, teamId: TEAM } })
    const key = hash('on-s3')
    const ci = makeRepo(['a'])
    writeTree(ci.dirs.a, OUTPUTS)
    const want = snapshot(path.join(ci.dirs.a, 'lib'))
    const put = await new native.Cache({ cwd: ci.dirs.a, ...options(servers[0]), writeRemoteCache: true }).put(key, ['lib/**'])
    assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
    await servers[0].stop()
    const fresh = makeRepo(['a'])
    const got = await new native.Cache({ cwd: fresh.dirs.a, ...options(servers[1]) }).fetch(key)
    assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
    assert.deepEqual(snapshot(path.join(fresh.dirs.a, 'lib')), want)
  } finally {
    for (const s of servers) await s.stop()
    await s3.stop()
  }
})
