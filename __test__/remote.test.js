// The Azure Blob remote against a real Azurite: round trips, misses,
// read-only credentials, maxSize, hostile and tampered blobs, signatures.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('../support/helpers')
const { azuriteForTests, blobClient, readOnlySas, forgeTar, KEY } = require('../support/azurite')

const azurite = azuriteForTests('c')
const { newContainer } = azurite

const OUTPUTS = {
  'lib/index.js': 'module.exports = 42\n',
  'lib/bin/cli.js': { content: '#!/usr/bin/env node\n', mode: 0o755 },
  'lib/.vite/manifest.json': '{"entry":"index.js"}',
  'lib/nested/deep/data.bin': Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) % 256)),
  'lib/alias.js': { link: 'index.js' },
}

function remoteOptions(container, extra = {}) {
  return {
    provider: 'azure-blob',
    providerOptions: { connectionString: azurite.connectionString, container, ...extra },
  }
}

function cache(cwd, container, { write = false, extra = {}, ...rest } = {}) {
  return new native.Cache({ cwd, ...remoteOptions(container, extra), writeRemoteCache: write, ...rest })
}

async function blobNames(container) {
  const names = []
  for await (const b of blobClient(azurite.connectionString).getContainerClient(container).listBlobsFlat()) names.push(b.name)
  return names
}

test('CI uploads, a fresh machine is served from the remote, then from the local store it filled', async () => {
  const container = await newContainer()
  const ci = makeRepo(['a'])
  writeTree(ci.dirs.a, OUTPUTS)
  const want = snapshot(path.join(ci.dirs.a, 'lib'))
  const put = await cache(ci.dirs.a, container, { write: true }).put('hash-1', ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
  assert.ok(put.uploadBytes > 70000)
  assert.deepEqual(await blobNames(container), ['hash-1'], 'blob name is exactly the hash')

  const dev = makeRepo(['a'])
  const c = cache(dev.dirs.a, container)
  const first = await c.fetch('hash-1')
  assert.deepEqual([first.hit, first.source, first.warnings], [true, 'remote', []])
  assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
  fs.rmSync(path.join(dev.dirs.a, 'lib'), { recursive: true })
  const second = await c.fetch('hash-1')
  assert.equal(second.source, 'local', 'the remote hit filled the local store')
  assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), want)
  const stats = c.stats()
  assert.deepEqual([stats.remoteHits, stats.localHits, stats.misses], [1, 1, 0])
})

test('remote writes follow writeRemoteCache; a missing blob is a plain miss', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const put = await cache(repo.dirs.a, container).put('off', ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.equal(put.uploadSkipped.code, 'UPLOAD_WRITES_OFF')
  assert.deepEqual(await blobNames(container), [])
  const miss = await cache(makeRepo(['a']).dirs.a, container).fetch('nothing-here')
  assert.deepEqual([miss.hit, miss.warnings], [false, []])
})

test('a put matching no file uploads an empty tar, and fetching it is a hit', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  const put = await cache(repo.dirs.a, container, { write: true }).put('empty', ['dist/**'])
  assert.equal(put.uploadBytes, 1024)
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, container).fetch('empty')
  assert.deepEqual([got.hit, got.source], [true, 'remote'])
})

test('a read-only SAS fetches, never uploads, and warns once', async () => {
  const container = await newContainer()
  const ci = makeRepo(['a'])
  writeTree(ci.dirs.a, OUTPUTS)
  await cache(ci.dirs.a, container, { write: true }).put('shared', ['lib/**'])

  const { connectionString, sas } = readOnlySas(azurite.endpoint)
  const repo = makeRepo(['a'])
  const ro = (cwd) => new native.Cache({ cwd, provider: 'azure-blob', providerOptions: { connectionString, container }, writeRemoteCache: true })
  const got = await ro(repo.dirs.a).fetch('shared')
  assert.deepEqual([got.hit, got.source], [true, 'remote'])
  writeTree(repo.dirs.a, { 'lib/new.js': 'new' })
  const p1 = await ro(repo.dirs.a).put('mine-1', ['lib/**'])
  const p2 = await ro(repo.dirs.a).put('mine-2', ['lib/**'])
  assert.deepEqual([p1.stored, p1.uploaded, p2.stored, p2.uploaded], [true, false, true, false])
  assert.equal(p1.warnings.length, 1)
  assert.equal(p1.warnings[0].code, 'REMOTE_READ_ONLY')
  assert.match(p1.warnings[0].message, /\(upload failed: HTTP 403 AuthorizationPermissionMismatch\)/)
  assert.ok(!p1.warnings[0].message.includes(sas.split('sig=')[1]), 'the SAS signature leaked')
  assert.deepEqual(p2.warnings, [], 'warned once')
  assert.equal(p2.uploadSkipped.code, 'UPLOAD_REFUSED_BY_REMOTE')
  assert.deepEqual(await blobNames(container), ['shared'])
})

test('maxSize: larger outputs are not uploaded, larger blobs are a miss', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const small = await cache(repo.dirs.a, container, { write: true, extra: { maxSize: 1000 } }).put('big', ['lib/**'])
  assert.equal(small.uploaded, false)
  assert.equal(small.uploadSkipped.code, 'UPLOAD_OVER_MAX_SIZE')
  assert.match(small.uploadSkipped.message, /^the outputs are \d+ bytes, over maxSize \(1000\)$/)
  await cache(repo.dirs.a, container, { write: true }).put('big', ['lib/**'])
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, container, { extra: { maxSize: 1000 } }).fetch('big')
  assert.deepEqual([got.hit, got.warnings], [false, []])
  assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
})

// Old code compared only the outputs (1,000 bytes here) with maxSize, so the
// 11,264-byte archive was uploaded and then never downloadable.
test('maxSize: outputs under it whose archive is over it are not uploaded; an archive of exactly maxSize round-trips', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  const files = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`lib/f${i}.txt`, 'x'.repeat(100)]))
  writeTree(repo.dirs.a, files)
  // Each file: a 512-byte header and its 100 bytes padded to 512; then the 1,024-byte end.
  const archive = 10 * (512 + 512) + 1024
  const over = await cache(repo.dirs.a, container, { write: true, extra: { maxSize: 5000 } }).put('padded', ['lib/**'])
  assert.deepEqual([over.stored, over.uploaded], [true, false])
  assert.equal(over.uploadSkipped.code, 'UPLOAD_OVER_MAX_SIZE')
  assert.match(over.uploadSkipped.message, new RegExp(`^the archive would be ${archive} bytes `))
  assert.deepEqual(await blobNames(container), [])
  const exact = await cache(repo.dirs.a, container, { write: true, extra: { maxSize: archive } }).put('padded', ['lib/**'])
  assert.deepEqual([exact.uploaded, exact.uploadBytes], [true, archive])
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, container, { extra: { maxSize: archive } }).fetch('padded')
  assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
})

test('hostile blobs are refused with a warning and nothing is written outside the package', async () => {
  const container = await newContainer()
  const containerClient = blobClient(azurite.connectionString).getContainerClient(container)
  const cases = {
    traversal: [{ name: '../../escaped.txt', body: Buffer.from('x') }],
    absolute: [{ name: '/tmp/bfn-absolute-escape.txt', body: Buffer.from('x') }],
    'symlink out': [{ name: 'lib/out', type: '2', link: '../../..' }],
    'through symlink': [{ name: 'lib/dir', type: '2', link: '.' }, { name: 'lib/dir/x.js', body: Buffer.from('x') }],
  }
  for (const [name, entries] of Object.entries(cases)) {
    const bytes = forgeTar(entries)
    await containerClient.getBlockBlobClient(name.replace(/ /g, '-')).upload(bytes, bytes.length)
  }
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/keep.js': 'keep' })
  // Everything in the repo but the cache folder (refused contents may stay
  // there, unreferenced, until a purge).
  const tree = () => Object.fromEntries(Object.entries(snapshot(repo.root)).filter(([p]) => !p.startsWith('node_modules/')))
  const before = tree()
  for (const name of Object.keys(cases)) {
    const got = await cache(repo.dirs.a, container).fetch(name.replace(/ /g, '-'))
    assert.equal(got.hit, false, name)
    assert.equal(got.warnings.length, 1, name)
    assert.equal(got.warnings[0].code, 'REMOTE_ENTRY_REFUSED', name)
  }
  assert.deepEqual(tree(), before, 'something was written')
  assert.equal(fs.existsSync('/tmp/bfn-absolute-escape.txt'), false)
})

test('a tampered blob is refused; with a signing key, unsigned and wrongly signed blobs are too', async () => {
  const container = await newContainer()
  const containerClient = blobClient(azurite.connectionString).getContainerClient(container)
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  await cache(repo.dirs.a, container, { write: true }).put('tampered', ['lib/**'])
  // Same metadata (our digest), different bytes.
  const blob = containerClient.getBlockBlobClient('tampered')
  const props = await blob.getProperties()
  assert.ok(props.metadata.backfillnative_entry, 'digest metadata is stored')
  const forged = forgeTar([{ name: 'lib/index.js', body: Buffer.from('evil()') }])
  await blob.upload(forged, forged.length, { metadata: props.metadata })
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, container).fetch('tampered')
  assert.equal(got.hit, false)
  assert.equal(got.warnings[0].code, 'REMOTE_ENTRY_BAD_SIGNATURE')
  assert.match(got.warnings[0].message, /its content does not match the digest stored with it/)
  assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)

  await cache(repo.dirs.a, container, { write: true, extra: { signingKey: 'k1' } }).put('signed', ['lib/**'])
  await cache(repo.dirs.a, container, { write: true }).put('unsigned', ['lib/**'])
  const withKey = (key) => cache(makeRepo(['a']).dirs.a, container, { extra: { signingKey: key } })
  assert.equal((await withKey('k1').fetch('signed')).source, 'remote')
  assert.match((await withKey('k2').fetch('signed')).warnings[0].message, /its signature does not match the configured signing key/)
  assert.match((await withKey('k1').fetch('unsigned')).warnings[0].message, /it is not signed, and a signing key is configured/)
  // Readers without a key still read signed blobs.
  assert.equal((await cache(makeRepo(['a']).dirs.a, container).fetch('signed')).source, 'remote')
  const cfg = native.loadConfig(repo.dirs.a, remoteOptions(container, { signingKey: 'k1' }))
  assert.deepEqual(cfg.remote, { connectionString: '<redacted>', container, signed: true })
  assert.ok(!JSON.stringify(cfg).includes(KEY) && !JSON.stringify(cfg).includes('k1'))
})

test('the provider warns through the lage logger once when the remote is down, and switches it off', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const down = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=' + KEY + ';BlobEndpoint=http://127.0.0.1:9/devstoreaccount1'
  const { logger, at } = recordingLogger()
  const options = { provider: 'azure-blob', providerOptions: { connectionString: down, container: 'c' }, writeRemoteCache: true }
  const started = Date.now()
  for (let i = 0; i < 6; i++) {
    const storage = native.getProvider(logger, repo.dirs.a, options)
    assert.equal(await storage.fetch(`down-${i}`), false)
  }
  const warns = at('warn')
  assert.equal(warns.length, 1, warns.join('\n'))
  assert.match(warns[0], /^backfill-native: remote cache \(azure-blob container 'c' at http:\/\/127\.0\.0\.1:9\): download failed: .*; treated as a miss\. To fix it, check the network/)
  assert.ok(!warns[0].includes(KEY))
  assert.ok(Date.now() - started < 60000)
  // Switched off now: a put stores locally and does not try to upload.
  const put = await new native.Cache({ cwd: repo.dirs.a, ...options }).put('after', ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  assert.equal(put.uploadSkipped.code, 'REMOTE_SWITCHED_OFF')
})

test('a hash restored from one remote is still uploaded to another', async () => {
  const [from, to] = [await newContainer(), await newContainer()]
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  await cache(repo.dirs.a, from, { write: true }).put('moved', ['lib/**'])
  const dev = makeRepo(['a'])
  assert.equal((await cache(dev.dirs.a, from, { write: true }).fetch('moved')).source, 'remote')
  const again = await cache(dev.dirs.a, from, { write: true }).put('moved', ['lib/**'])
  assert.equal(again.uploadSkipped.code, 'UPLOAD_FROM_REMOTE', 'lage does not upload a remote hit back')
  const other = await cache(dev.dirs.a, to, { write: true }).put('moved', ['lib/**'])
  assert.equal(other.uploaded, true)
  assert.deepEqual(await blobNames(to), ['moved'])
})

test('background uploads: put resolves first, flush waits, and a normal exit does not lose them', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const c = cache(repo.dirs.a, container, { write: true, backgroundUploads: true })
  const put = await c.put('bg', ['lib/**'])
  assert.deepEqual([put.stored, put.uploaded, put.uploadPending], [true, false, true])
  assert.deepEqual(await c.flush(), [])
  assert.deepEqual(await blobNames(container), ['bg'])
  assert.equal(c.stats().uploads, 1)

  // A script that puts and simply ends: Node waits for the upload.
  const { execFileSync } = require('node:child_process')
  const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    new n.Cache(${JSON.stringify({ cwd: repo.dirs.a, ...remoteOptions(container), writeRemoteCache: true, backgroundUploads: true })}).put('bg-exit', ['lib/**'])`
  execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH } })
  assert.deepEqual((await blobNames(container)).sort(), ['bg', 'bg-exit'])
})

test('an account URL with an Azure identity: a sign-in failure is a miss with one warning, not a crash', async () => {
  const repo = makeRepo(['a'])
  const { logger, at } = recordingLogger()
  const options = { provider: 'azure-blob', providerOptions: { connectionString: azurite.endpoint, container: 'identity', credentialName: 'azure-cli' } }
  assert.equal(native.loadConfig(repo.dirs.a, options).remote.credentialName, 'azure-cli')
  for (let i = 0; i < 2; i++) assert.equal(await native.getProvider(logger, repo.dirs.a, options).fetch(`id-${i}`), false)
  assert.equal(at('warn').length, 1)
  assert.match(at('warn')[0], /^backfill-native: remote cache \(azure-blob container 'identity' at http:\/\/127\.0\.0\.1:\d+\): download failed: no credential could be had to sign the request with \(.*\); treated as a miss\. To fix it, check the Azure identity named by credentialName/)
  assert.throws(
    () => native.loadConfig(repo.dirs.a, { provider: 'azure-blob', providerOptions: { connectionString: azurite.endpoint, container: 'x', credentialName: 'visual-studio-code' } }),
    /credentialName "visual-studio-code" is not one backfill-native supports \(environment, workload-identity, managed-identity, azure-cli\)/,
  )
})

test('maxSize is checked before downloading, for blobs of any size', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, { 'lib/big.bin': Buffer.alloc(20 << 20, 3) })
  assert.equal((await cache(repo.dirs.a, container, { write: true }).put('twenty-mb', ['lib/**'])).uploaded, true)
  const other = makeRepo(['a'])
  const got = await cache(other.dirs.a, container, { extra: { maxSize: 1000 } }).fetch('twenty-mb')
  assert.deepEqual([got.hit, got.warnings], [false, []])
  assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
  assert.equal(fs.existsSync(path.join(other.cacheDir, 'v1', 'tmp')), false, 'something was downloaded')
})

test('a missing container is a miss with one warning, not a silent miss', async () => {
  const repo = makeRepo(['a'])
  const got = await cache(repo.dirs.a, 'no-such-container').fetch('x')
  assert.equal(got.hit, false)
  assert.equal(got.warnings[0].code, 'REMOTE_CONTAINER_NOT_FOUND')
})

test('a zero-byte blob is not a hit', async () => {
  const container = await newContainer()
  await blobClient(azurite.connectionString).getContainerClient(container).getBlockBlobClient('empty-blob').upload('', 0)
  const got = await cache(makeRepo(['a']).dirs.a, container).fetch('empty-blob')
  assert.equal(got.hit, false)
  assert.match(got.warnings[0].message, /the blob for empty-blob is empty, not a tar archive/)
})

test('two machines uploading the same hash at once leave a valid blob', async () => {
  const container = await newContainer()
  const [a, b] = [makeRepo(['a']), makeRepo(['a'])]
  writeTree(a.dirs.a, { 'lib/x.bin': Buffer.alloc(20 << 20, 1) })
  writeTree(b.dirs.a, { 'lib/x.bin': Buffer.alloc(20 << 20, 2) })
  const puts = await Promise.all([a, b].map((r) => cache(r.dirs.a, container, { write: true }).put('same', ['lib/**'])))
  assert.ok(puts.some((p) => p.uploaded))
  const reader = makeRepo(['a'])
  const got = await cache(reader.dirs.a, container).fetch('same')
  assert.deepEqual([got.hit, got.warnings], [true, []])
  const bytes = fs.readFileSync(path.join(reader.dirs.a, 'lib/x.bin'))
  assert.ok(bytes.equals(Buffer.alloc(20 << 20, 1)) || bytes.equals(Buffer.alloc(20 << 20, 2)), 'a mix of both uploads')
})

test('putSync with background uploads still uploads, and flush never starves the uploads of threads', async () => {
  const container = await newContainer()
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const { execFileSync } = require('node:child_process')
  // One libuv thread, four puts and a flush not awaited first: a flush that
  // held the thread while waiting would hang here.
  const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const c = new n.Cache(${JSON.stringify({ cwd: repo.dirs.a, ...remoteOptions(container), writeRemoteCache: true, backgroundUploads: true })});
    (async () => {
      const puts = [1, 2, 3, 4].map((i) => c.put('bg-' + i, ['lib/**']))
      c.flush()
      c.putSync('bg-sync', ['lib/**'])
      await Promise.all(puts)
      console.log(JSON.stringify(await c.flush()))
    })()`
  const out = execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, UV_THREADPOOL_SIZE: '1' }, timeout: 60000, encoding: 'utf8' })
  assert.deepEqual(JSON.parse(out), [])
  assert.deepEqual((await blobNames(container)).sort(), ['bg-1', 'bg-2', 'bg-3', 'bg-4', 'bg-sync'])
})
