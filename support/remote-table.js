// The shared remote table: the same cases against every remote, each
// through a kit that starts a real server on loopback and stops it
// (support/azurite.js `azuriteKit`, support/s3-server.js `s3Kit`, ...).
//
// A kit is
//   { name, provider,              // 'azure-blob (Azurite)', 'azure-blob'
//     options(extra),              // read-write provider options, merged with extra;
//                                  // extra.port: reach the server through that port
//     readOnlyOptions(extra),      // the same with read-only credentials
//     env(readOnly = false),       // variables a child process takes the credentials from
//     secrets,                     // values no message may show
//     port,                        // the server's port, for the fault proxy
//     sizeBeforeDownload,          // false when the server says no size before the
//                                  // body (a cache server): maxSize stops the download
//     missingContainer,            // extra options naming a container or bucket that
//                                  // does not exist (null: the remote has none)
//     put(key, buffer, metadata),  // plant an entry (a hash's blob or object) directly
//     get(key),                    // { body, metadata } or null
//     stop() }
//
// Every case uses hashes of its own (the run, the case, a counter), so the
// cases share one server and one bucket or container.
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('./helpers')
const { forgeTar } = require('./azurite')
const { startFaultProxy } = require('./fault-proxy')
const { cleanEnv } = require('./env')

const OUTPUTS = {
  'lib/index.js': 'module.exports = 42\n',
  'lib/bin/cli.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
  'lib/.vite/manifest.json': '{"entry":"index.js"}',
  'lib/nested/deep/data.bin': Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) % 256)),
  'lib/alias.js': { link: 'index.js' },
}

const RUN = `${process.pid}-${Date.now().toString(36)}`

/** The hashes the local store under `cacheDir` has an entry for. */
function entries(cacheDir) {
  const dir = path.join(cacheDir, 'v1', 'entries')
  return fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d))) : []
}

/** A port nothing listens on (a server started and stopped). */
async function deadPort() {
  const net = require('node:net')
  const srv = net.createServer()
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

/** Runs the table against the kit `start()` makes, in a `describe` named `name`. */
function remoteTable(name, start, { skip = false } = {}) {
  test.describe(name, { skip }, () => {
    let kit
    const proxies = []
    let count = 0
    const hash = (tag) => `${tag}-${RUN}-${++count}`

    test.before(async () => {
      kit = await start()
    })
    test.after(async () => {
      for (const p of proxies) await p.stop()
      await kit?.stop()
    })

    const config = (cwd, { write = false, readOnly = false, extra = {}, ...rest } = {}) => ({
      cwd,
      provider: kit.provider,
      providerOptions: readOnly ? kit.readOnlyOptions(extra) : kit.options(extra),
      writeRemoteCache: write,
      ...rest,
    })
    const cache = (cwd, options) => new native.Cache(config(cwd, options))
    const noSecret = (what, text) => {
      for (const s of kit.secrets ?? []) assert.ok(!text.includes(s), `${what} shows a secret: ${text}`)
    }
    async function newProxy() {
      const proxy = await startFaultProxy(kit.port)
      proxies.push(proxy)
      return proxy
    }
    /** Puts `files` as `key` through the kit's server (no proxy). */
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
      assert.deepEqual([got.hit, got.warnings], [false, []])
      assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
    })

    // Old code (S3): a HEAD's 404 carries no error code, so a missing bucket
    // was a plain miss on every fetch, said nowhere.
    test('a missing container or bucket is said once (REMOTE_CONTAINER_NOT_FOUND), never a silent miss', async (t) => {
      if (!kit.missingContainer) return t.skip(`${kit.name} has no container or bucket`)
      const repo = makeRepo(['a'])
      const { logger, at } = recordingLogger()
      const provider = native.getProvider(logger, repo.dirs.a, { provider: kit.provider, providerOptions: kit.options(kit.missingContainer) })
      assert.equal(await provider.fetch(hash('nowhere')), false)
      assert.equal(await provider.fetch(hash('nowhere')), false)
      assert.equal(at('warn').length, 1, at('warn').join('\n'))
      assert.match(at('warn')[0], /download failed: HTTP 404 (ContainerNotFound|NoSuchBucket); treated as a miss\. To fix it, check the (container name|bucket)/)
      noSecret('the warning', at('warn')[0])
      // The container's own check: the existing one's misses stay silent.
      const other = makeRepo(['a'])
      const got = await cache(other.dirs.a).fetch(hash('miss'))
      assert.deepEqual([got.hit, got.warnings], [false, []])
    })

    test('CI uploads; a fresh machine restores byte-identical from the remote, then from the local store', async () => {
      const key = hash('round-trip')
      const ci = makeRepo(['a'])
      writeTree(ci.dirs.a, OUTPUTS)
      const want = snapshot(path.join(ci.dirs.a, 'lib'))
      const put = await cache(ci.dirs.a, { write: true }).put(key, ['lib/**'])
      assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
      const stored = await kit.get(key)
      assert.ok(stored, 'one entry under the hash')
      assert.equal(stored.body.length, put.uploadBytes)
      assert.match(stored.metadata.backfillnative_entry ?? '', /^[0-9a-f]{64}$/, 'the digest travels as metadata')

      const dev = makeRepo(['a'])
      const c = cache(dev.dirs.a)
      const first = await c.fetch(key)
      assert.deepEqual([first.hit, first.source, first.warnings], [true, 'remote', []])
      assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
      fs.rmSync(path.join(dev.dirs.a, 'lib'), { recursive: true })
      const second = await c.fetch(key)
      assert.equal(second.source, 'local', 'the remote hit filled the local store')
      assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
    })

    // An upload reads each content once, as it sends it (its signature comes
    // from the manifest): a content damaged in the local store is found only
    // after its bytes went out, and the upload must then leave nothing.
    test('a content damaged in the local store fails its upload midway: nothing becomes visible remotely', async () => {
      const [first, second] = [hash('damaged-src'), hash('damaged')]
      const repo = makeRepo(['a'])
      const big = Buffer.alloc(3 << 20, 7)
      writeTree(repo.dirs.a, { 'lib/big.bin': big, 'lib/small.js': 'small' })
      const cacheFolder = path.join(repo.root, 'store')
      const stored = await cache(repo.dirs.a, { cacheFolder }).put(first, ['lib/**'])
      assert.equal(stored.stored, true)
      // Same size, other bytes: only reading it tells.
      const contents = path.join(cacheFolder, 'v1', 'content')
      const victim = fs.readdirSync(contents).flatMap((d) => fs.readdirSync(path.join(contents, d)).map((f) => path.join(contents, d, f))).find((f) => fs.statSync(f).size === big.length)
      fs.chmodSync(victim, 0o644)
      const damaged = Buffer.from(big)
      damaged[damaged.length - 1] = 8
      fs.writeFileSync(victim, damaged)
      const put = await cache(repo.dirs.a, { cacheFolder, write: true }).put(second, ['lib/**'])
      assert.equal(put.uploaded, false)
      assert.equal(put.uploadSkipped?.code, 'UPLOAD_LOCAL_ENTRY_UNREADABLE', JSON.stringify(put))
      assert.equal(await kit.get(second), null, 'a partial upload became visible')
    })

    test('with remote writes off nothing is uploaded', async () => {
      const key = hash('writes-off')
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const put = await cache(repo.dirs.a).put(key, ['lib/**'])
      assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'UPLOAD_WRITES_OFF'])
      assert.equal(await kit.get(key), null)
    })

    test('read-only credentials fetch, never upload, and warn once', async () => {
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
      assert.match(p1.warnings[0].message, /upload failed: .*403/)
      noSecret('the read-only warning', p1.warnings[0].message)
      assert.deepEqual(p2.warnings, [], 'warned once')
      assert.equal(p2.uploadSkipped.code, 'UPLOAD_REFUSED_BY_REMOTE')
      assert.deepEqual([await kit.get(k1), await kit.get(k2)], [null, null])
    })

    test('a remote that is down: each fetch a miss, one warning through the lage logger, then switched off', async () => {
      const port = await deadPort()
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const { logger, at } = recordingLogger()
      const options = config(repo.dirs.a, { write: true, extra: { port } })
      const started = Date.now()
      for (let i = 0; i < 6; i++) {
        assert.equal(await native.getProvider(logger, repo.dirs.a, options).fetch(hash('down')), false)
      }
      const warns = at('warn')
      assert.equal(warns.length, 1, warns.join('\n'))
      assert.match(warns[0], new RegExp(`^backfill-native: remote cache \\(${kit.provider} .*127\\.0\\.0\\.1:${port}.*\\): download failed: .*; treated as a miss\\. To fix it, check the network`))
      noSecret('the warning', warns[0])
      assert.ok(Date.now() - started < 60000)
      const put = await new native.Cache(options).put(hash('down-put'), ['lib/**'])
      assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'REMOTE_SWITCHED_OFF'])
    })

    test('maxSize: larger outputs are not uploaded, larger entries are a miss and are not downloaded', async () => {
      const key = hash('big')
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const small = await cache(repo.dirs.a, { write: true, extra: { maxSize: 1000 } }).put(key, ['lib/**'])
      assert.deepEqual([small.stored, small.uploaded, small.uploadSkipped.code], [true, false, 'UPLOAD_OVER_MAX_SIZE'])
      assert.equal(await kit.get(key), null)
      await seed(key, OUTPUTS)
      const other = makeRepo(['a'])
      const got = await cache(other.dirs.a, { extra: { maxSize: 1000 } }).fetch(key)
      assert.deepEqual([got.hit, got.warnings], [false, []])
      assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
      // A remote that learns the size before the body (a HEAD, a
      // Content-Length) downloads nothing; one that cannot (a cache server
      // streaming with no size: `kit.sizeBeforeDownload === false`) stops
      // the download at maxSize.
      if (kit.sizeBeforeDownload !== false) {
        assert.equal(fs.existsSync(path.join(other.cacheDir, 'v1', 'tmp')), false, 'something was downloaded')
      } else {
        assert.equal(got.remoteNote?.code, 'REMOTE_OVER_MAX_SIZE')
      }
      assert.deepEqual(entries(other.cacheDir), [])
    })

    test('hostile archives (.., absolute, symlink escapes) are refused and nothing is written outside the package', async () => {
      const cases = {
        traversal: [{ name: '../../escaped.txt', body: Buffer.from('x') }],
        absolute: [{ name: `/tmp/bfn-absolute-escape-${RUN}.txt`, body: Buffer.from('x') }],
        'symlink-out': [{ name: 'lib/out', type: '2', link: '../../..' }],
        'through-symlink': [{ name: 'lib/dir', type: '2', link: '.' }, { name: 'lib/dir/x.js', body: Buffer.from('x') }],
      }
      const keys = {}
      for (const [name, forged] of Object.entries(cases)) {
        keys[name] = hash(name)
        await kit.put(keys[name], forgeTar(forged))
      }
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, { 'lib/keep.js': 'keep' })
      const tree = () => Object.fromEntries(Object.entries(snapshot(repo.root)).filter(([p]) => !p.startsWith('node_modules/')))
      const before = tree()
      for (const name of Object.keys(cases)) {
        const got = await cache(repo.dirs.a).fetch(keys[name])
        assert.equal(got.hit, false, name)
        assert.deepEqual(got.warnings.map((w) => w.code), ['REMOTE_ENTRY_REFUSED'], name)
      }
      assert.deepEqual(tree(), before, 'something was written')
      assert.equal(fs.existsSync(`/tmp/bfn-absolute-escape-${RUN}.txt`), false)
    })

    test('signatures: a tampered entry, a wrong key and an unsigned entry are refused; the right key restores', async () => {
      const [tampered, signed, unsigned] = [hash('tampered'), hash('signed'), hash('unsigned')]
      await seed(tampered, OUTPUTS)
      const stored = await kit.get(tampered)
      // Our digest, other bytes.
      await kit.put(tampered, forgeTar([{ name: 'lib/index.js', body: Buffer.from('evil()') }]), stored.metadata)
      const other = makeRepo(['a'])
      const got = await cache(other.dirs.a).fetch(tampered)
      assert.equal(got.hit, false)
      assert.deepEqual(got.warnings.map((w) => w.code), ['REMOTE_ENTRY_BAD_SIGNATURE'])
      assert.match(got.warnings[0].message, /its content does not match the digest stored with it/)
      assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)

      const want = await seed(signed, OUTPUTS, { signingKey: 'k1' })
      assert.ok((await kit.get(signed)).metadata.backfillnative_mac3, 'the signature travels as metadata')
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
      const cfg = native.loadConfig(right.dirs.a, config(right.dirs.a, { extra: { signingKey: 'k1' } }))
      assert.ok(!JSON.stringify(cfg).includes('k1'), 'the signing key is shown')
    })

    // Old code: the signature covered the blob's bytes alone, so anyone who
    // can write the store (without the key) could copy a signed entry under
    // another hash, and that hash restored the other entry's outputs.
    test('signatures: a signed entry copied under another hash, or signed the older way, is refused', async () => {
      const [signed, copy, older] = [hash('signed-src'), hash('signed-copy'), hash('signed-older')]
      await seed(signed, OUTPUTS, { signingKey: 'k1' })
      const stored = await kit.get(signed)
      await kit.put(copy, stored.body, stored.metadata)
      const repo = makeRepo(['a'])
      const got = await cache(repo.dirs.a, { extra: { signingKey: 'k1' } }).fetch(copy)
      assert.deepEqual([got.hit, got.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
      assert.match(got.warnings[0].message, /signature does not match the configured signing key and its hash \(signed with another key, or copied from another entry\)/)
      assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
      // The oldest versions' signature (of the bytes alone) is refused, and says why.
      await kit.put(older, stored.body, { backfillnative_blake3: '0'.repeat(64), backfillnative_mac: stored.metadata.backfillnative_mac3 })
      const old = await cache(makeRepo(['a']).dirs.a, { extra: { signingKey: 'k1' } }).fetch(older)
      assert.deepEqual([old.hit, old.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
      assert.match(old.warnings[0].message, /it is signed the older way \(backfillnative_mac\), which does not cover its hash/)
    })

    test('two processes uploading the same hash at once leave a valid entry', async () => {
      const key = hash('same')
      const [a, b] = [makeRepo(['a']), makeRepo(['a'])]
      writeTree(a.dirs.a, { 'lib/x.bin': Buffer.alloc(20 << 20, 1) })
      writeTree(b.dirs.a, { 'lib/x.bin': Buffer.alloc(20 << 20, 2) })
      const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
        new n.Cache(JSON.parse(process.argv[1])).put(${JSON.stringify(key)}, ['lib/**'])
          .then((p) => console.log(JSON.stringify({ uploaded: p.uploaded, warnings: p.warnings })))`
      const put = (repo) =>
        new Promise((resolve, reject) =>
          execFile(process.execPath, ['-e', script, JSON.stringify(config(repo.dirs.a, { write: true }))], { env: cleanEnv(kit.env()), timeout: 120000 }, (err, out) =>
            err ? reject(err) : resolve(JSON.parse(out)),
          ),
        )
      const puts = await Promise.all([put(a), put(b)])
      assert.ok(puts.some((p) => p.uploaded), JSON.stringify(puts))
      const reader = makeRepo(['a'])
      const got = await cache(reader.dirs.a).fetch(key)
      assert.deepEqual([got.hit, got.warnings], [true, []])
      const bytes = fs.readFileSync(path.join(reader.dirs.a, 'lib/x.bin'))
      assert.ok(bytes.equals(Buffer.alloc(20 << 20, 1)) || bytes.equals(Buffer.alloc(20 << 20, 2)), 'a mix of both uploads')
    })

    test('a throttling remote (503, Retry-After: 60): a fetch and an upload each end in seconds, one warning', { timeout: 120000 }, async () => {
      const key = hash('throttled')
      await seed(key, OUTPUTS)
      const proxy = await newProxy()
      proxy.mode = 'throttle'
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, { 'lib/keep.js': 'keep' })
      const before = snapshot(path.join(repo.dirs.a, 'lib'))
      const c = () => cache(repo.dirs.a, { write: true, extra: { port: proxy.port } })
      let started = Date.now()
      const got = await c().fetch(key)
      let took = Date.now() - started
      assert.equal(got.hit, false)
      assert.deepEqual(got.warnings.map((w) => w.code), ['REMOTE_UNAVAILABLE'])
      assert.match(got.warnings[0].message, /download failed: .*503/)
      // Retries are capped (the Retry-After cap is 2 s; 60 s are never waited).
      assert.ok(took < 20000, `the fetch took ${took} ms`)
      assert.ok(proxy.requests.length >= 2 && proxy.requests.length <= 10, proxy.requests.join('\n'))
      assert.deepEqual(snapshot(path.join(repo.dirs.a, 'lib')), before)

      const seen = proxy.requests.length
      started = Date.now()
      const put = await c().put(hash('throttled-up'), ['lib/**'])
      took = Date.now() - started
      assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'UPLOAD_FAILED'])
      assert.match(put.uploadSkipped.message, /503/)
      assert.deepEqual(put.warnings, [], 'the same kind of failure is said once per process')
      assert.ok(took < 20000, `the upload took ${took} ms`)
      assert.ok(proxy.requests.length > seen, 'the upload was tried')
    })

    test('a stream cut short is a miss with one warning; nothing is restored or stored', { timeout: 120000 }, async () => {
      const [whole, cut] = [hash('whole'), hash('cut')]
      const want = await seed(whole, OUTPUTS)
      await seed(cut, { 'lib/big.bin': crypto.randomBytes(1 << 20) })
      const proxy = await newProxy()
      const through = makeRepo(['a'])
      const ok = await cache(through.dirs.a, { extra: { port: proxy.port } }).fetch(whole)
      assert.deepEqual([ok.hit, ok.source], [true, 'remote'], 'the proxy passes a whole entry')
      assert.deepEqual(snapshot(path.join(through.dirs.a, 'lib')), want)

      proxy.mode = 'cut'
      proxy.cutAfterBytes = 100 * 1024
      const repo = makeRepo(['a'])
      const got = await cache(repo.dirs.a, { extra: { port: proxy.port } }).fetch(cut)
      assert.equal(got.hit, false)
      assert.equal(got.warnings.length, 1, got.warnings.map((w) => w.message).join('\n'))
      assert.ok(['REMOTE_UNAVAILABLE', 'REMOTE_FAILED', 'REMOTE_ENTRY_REFUSED'].includes(got.warnings[0].code), got.warnings[0].code)
      assert.ok(proxy.bytesSent < 2 << 20, `sent ${proxy.bytesSent} bytes`)
      assert.equal(fs.existsSync(path.join(repo.dirs.a, 'lib')), false)
      assert.deepEqual(entries(repo.cacheDir), [])
    })
  })
}

module.exports = { remoteTable, OUTPUTS }
