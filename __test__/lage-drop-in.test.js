// A lage 2.17 user's cache settings keep their meaning after the switch to
// `backfill-native/lage`: each test drives the released lage against a real
// monorepo (and a real Azurite where a remote is involved), and checks what
// that user checks: blobs in the container, which build scripts ran, which
// files an entry holds, what a build script's environment holds.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { snapshot } = require('../support/helpers')
const { makeLageRepo } = require('../support/lage-repo')
const { azuriteForTests, blobClient } = require('../support/azurite')

const azurite = azuriteForTests('dropin')

const lines = (run, re) => run.output.split('\n').filter((l) => re.test(l))
const wipeOutputs = (repo, names = repo.packages) => names.forEach((p) => fs.rmSync(path.join(repo.dir(p), 'lib'), { recursive: true, force: true }))

function assertGreen(run, { success, skipped }) {
  assert.equal(run.status, 0, run.output)
  assert.match(run.output, new RegExp(`success: ${success}, skipped: ${skipped}, pending: 0, aborted: 0, failed: 0`), run.output)
}

async function blobNames(container) {
  const names = []
  for await (const b of blobClient(azurite.connectionString).getContainerClient(container).listBlobsFlat()) names.push(b.name)
  return names
}

/** The entries in the native store (manifest files), however it is laid out. */
function storeEntries(repo) {
  const dir = path.join(repo.nativeStore, 'v1', 'entries')
  if (!fs.existsSync(dir)) return 0
  return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.json')).length
}

const remoteEnv = (container, extra = {}) => ({
  BACKFILL_CACHE_PROVIDER: 'azure-blob',
  BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container }),
  ...extra,
})

test('cacheOptions.writeRemoteCache: true in lage.config.js uploads, as in lage', async () => {
  const container = await azurite.newContainer()
  const repo = makeLageRepo({}, { cacheOptions: { writeRemoteCache: true } })
  // No LAGE_WRITE_REMOTE_CACHE and no LAGE_WRITE_CACHE: only the config asks.
  assertGreen(repo.lage([], remoteEnv(container)), { success: 5, skipped: 0 })
  assert.equal((await blobNames(container)).length, 5, 'writeRemoteCache: true uploaded nothing')

  // LAGE_WRITE_CACHE=false still turns it off, as in lage.
  const off = await azurite.newContainer()
  const repo2 = makeLageRepo({}, { cacheOptions: { writeRemoteCache: true } })
  assertGreen(repo2.lage([], remoteEnv(off, { LAGE_WRITE_CACHE: 'false' })), { success: 5, skipped: 0 })
  assert.equal((await blobNames(off)).length, 0)
})

test('CI set, a remote configured and remote writes off: one line names LAGE_WRITE_REMOTE_CACHE; none when uploads are on or outside CI', async () => {
  const container = await azurite.newContainer()
  const note = /backfill-native: CI is set, but remote cache uploads are off: .*set LAGE_WRITE_REMOTE_CACHE=true/
  const repo = makeLageRepo()
  const ci = repo.lage([], remoteEnv(container, { CI: 'true' }))
  assertGreen(ci, { success: 5, skipped: 0 })
  assert.equal(lines(ci, note).length, 1, ci.output)
  assert.equal((await blobNames(container)).length, 0)

  fs.appendFileSync(path.join(repo.dir('d'), 'src', 'index.js'), '// changed\n')
  const writing = repo.lage([], remoteEnv(container, { CI: 'true', LAGE_WRITE_REMOTE_CACHE: 'true' }))
  assertGreen(writing, { success: 1, skipped: 4 })
  assert.equal(lines(writing, /uploads are off/).length, 0, writing.output)
  assert.equal((await blobNames(container)).length, 1)

  fs.appendFileSync(path.join(repo.dir('e'), 'src', 'index.js'), '// changed\n')
  const local = repo.lage([], remoteEnv(container))
  assertGreen(local, { success: 1, skipped: 4 })
  assert.equal(lines(local, /uploads are off/).length, 0, local.output)
})

test('build scripts lage starts get BACKFILL_CACHE_PROVIDER, BACKFILL_CACHE_PROVIDER_OPTIONS and LAGE_WRITE_CACHE; lage itself still uses the native store', () => {
  const build = `const fs = require('fs'), path = require('path')
const name = require('./package.json').name
const seen = path.join(__dirname, '..', '..', 'seen')
fs.mkdirSync(seen, { recursive: true })
const names = ['BACKFILL_CACHE_PROVIDER', 'BACKFILL_CACHE_PROVIDER_OPTIONS', 'LAGE_WRITE_CACHE', 'LAGE_WRITE_REMOTE_CACHE']
fs.writeFileSync(path.join(seen, name + '.json'), JSON.stringify(Object.fromEntries(names.map((k) => [k, process.env[k] ?? null]))))
fs.mkdirSync('lib', { recursive: true })
fs.writeFileSync('lib/index.js', name)
`
  const repo = makeLageRepo({}, { build })
  const env = {
    BACKFILL_CACHE_PROVIDER: 'local',
    BACKFILL_CACHE_PROVIDER_OPTIONS: '{"note":"for the scripts"}',
    LAGE_WRITE_CACHE: 'false',
    LAGE_WRITE_REMOTE_CACHE: 'true',
  }
  assertGreen(repo.lage([], env), { success: 5, skipped: 0 })
  for (const name of repo.packages) {
    const seen = JSON.parse(fs.readFileSync(path.join(repo.root, 'seen', `${name}.json`), 'utf8'))
    assert.deepEqual(seen, env, `the build script of ${name} saw another environment`)
  }
  assert.ok(storeEntries(repo) === 5, 'the native store was not used')
  assert.equal(fs.existsSync(repo.lageCacheDir), false, "lage's own cache was used")
})

test('lage cache --prune <days> and --clear act on the native store, and say so', () => {
  const repo = makeLageRepo()
  assertGreen(repo.lage(), { success: 5, skipped: 0 })
  assert.equal(storeEntries(repo), 5)

  const pruned = repo.lageCommand(['cache', '--prune', '30'])
  assert.equal(pruned.status, 0, pruned.output)
  assert.equal(lines(pruned, /^backfill-native: pruned the native store .* of entries unused for 30 days: 0 removed, 5 kept/).length, 1, pruned.output)
  assert.equal(storeEntries(repo), 5)

  const cleared = repo.lageCommand(['cache', '--clear'])
  assert.equal(cleared.status, 0, cleared.output)
  assert.equal(lines(cleared, /^backfill-native: cleared the native store .*: 5 entries/).length, 1, cleared.output)
  assert.match(cleared.output, /Cache Cleared/)
  assert.equal(storeEntries(repo), 0)
  // The bad entry does not come back: every target builds again.
  wipeOutputs(repo)
  assertGreen(repo.lage(), { success: 5, skipped: 0 })
  assert.equal(repo.builds().length, 10)
})

test('lage build --skip-local-cache never writes the native store; the remote still serves and is filled', async () => {
  const container = await azurite.newContainer()
  const repo = makeLageRepo()
  const env = remoteEnv(container, { LAGE_WRITE_REMOTE_CACHE: 'true' })
  assertGreen(repo.lage(['--skip-local-cache'], env), { success: 5, skipped: 0 })
  assert.equal(storeEntries(repo), 0, 'the native store was written')
  assert.equal((await blobNames(container)).length, 5)

  wipeOutputs(repo)
  assertGreen(repo.lage(['--skip-local-cache'], env), { success: 0, skipped: 5 })
  assert.equal(repo.builds().length, 5)
  assert.equal(storeEntries(repo), 0, 'a remote hit filled the native store')
  assert.ok(fs.existsSync(path.join(repo.dir('a'), 'lib', 'index.js')))

  // Without a remote nothing is cached, as in lage.
  const alone = makeLageRepo()
  assertGreen(alone.lage(['--skip-local-cache']), { success: 5, skipped: 0 })
  assertGreen(alone.lage(['--skip-local-cache']), { success: 5, skipped: 0 })
  assert.equal(storeEntries(alone), 0)
})

test('BACKFILL_CACHE_PROVIDER=local-skip: same inputs run no build script, a changed input runs it; no outputs are stored', () => {
  const repo = makeLageRepo()
  const env = { BACKFILL_CACHE_PROVIDER: 'local-skip' }
  assertGreen(repo.lage([], env), { success: 5, skipped: 0 })
  assert.equal(repo.builds().length, 5)

  assertGreen(repo.lage([], env), { success: 0, skipped: 5 })
  assert.equal(repo.builds().length, 5, 'a build script ran with the same inputs')

  fs.appendFileSync(path.join(repo.dir('d'), 'src', 'index.js'), '// changed\n')
  assertGreen(repo.lage([], env), { success: 1, skipped: 4 })
  assert.deepEqual(repo.builds().slice(5), ['d'])
  assert.equal(storeEntries(repo), 0, 'outputs were stored')
  assert.ok(!fs.existsSync(path.join(repo.nativeStore, 'v1', 'content')), 'output contents were stored')
})

test('cacheOptions.incrementalCaching: an entry holds only the files the build changed since the fetch', () => {
  const repo = makeLageRepo({}, { cacheOptions: { incrementalCaching: true } })
  assertGreen(repo.lage(), { success: 5, skipped: 0 })
  // d's source changes: its build rewrites lib/, and only lib/index.js differs.
  fs.appendFileSync(path.join(repo.dir('d'), 'src', 'index.js'), '// changed\n')
  const changed = repo.lage(['--verbose'])
  assertGreen(changed, { success: 1, skipped: 4 })
  assert.equal(lines(changed, / backfill-native: stored [0-9a-f]+: 1 files/).length, 1, changed.output)
  // The entry, fetched into an empty lib/, holds that one file.
  wipeOutputs(repo, ['d'])
  assertGreen(repo.lage(), { success: 0, skipped: 5 })
  assert.deepEqual(Object.keys(snapshot(path.join(repo.dir('d'), 'lib'))), ['index.js'])
  // The first build's entries (nothing was there at their fetch) hold every output.
  wipeOutputs(repo, ['e'])
  assert.equal(Object.keys(snapshot(path.join(repo.dir('e'), 'lib'))).length, 0)
  assertGreen(repo.lage(), { success: 0, skipped: 5 })
  assert.equal(Object.keys(snapshot(path.join(repo.dir('e'), 'lib'))).length, 4)
})

test('AZURE_IDENTITY_CREDENTIAL_NAME: an invalid name is an error, as in backfill: the target fails with the line naming the variable and how to fix it', () => {
  const repo = makeLageRepo()
  const run = repo.lage([], {
    BACKFILL_CACHE_PROVIDER: 'azure-blob',
    BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: 'https://acct.blob.core.windows.net', container: 'c' }),
    AZURE_IDENTITY_CREDENTIAL_NAME: 'bogus',
  })
  // As for any invalid configuration: the cache is not silently off.
  assert.notEqual(run.status, 0, run.output)
  const said = lines(run, /backfill-native: the cache is off: AZURE_IDENTITY_CREDENTIAL_NAME \(from the environment\) is invalid: expected one of environment, workload-identity, managed-identity, azure-cli, received "bogus"\. To fix it, set one of those names, or unset it/)
  assert.ok(said.length >= 1, run.output)
  assert.equal(repo.builds().length, 0)
})
