// The released lage 2.17.0 building a real monorepo with backfill-native as
// its cache, through `backfill-native/lage` (one line in lage.config.js).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { snapshot } = require('../support/helpers')
const { makeLageRepo } = require('../support/lage-repo')
const { startAzurite, blobClient, readOnlySas } = require('../support/azurite')

const outputs = (repo) => Object.fromEntries(repo.packages.map((p) => [p, snapshot(path.join(repo.dir(p), 'lib'))]))
const wipeOutputs = (repo) => repo.packages.forEach((p) => fs.rmSync(path.join(repo.dir(p), 'lib'), { recursive: true, force: true }))
const wipeStore = (repo) => fs.rmSync(repo.nativeStore, { recursive: true, force: true })
const lines = (run, re) => run.output.split('\n').filter((l) => re.test(l))

function assertGreen(run, { success, skipped }) {
  assert.equal(run.status, 0, run.output)
  assert.match(run.output, new RegExp(`success: ${success}, skipped: ${skipped}, pending: 0, aborted: 0, failed: 0`), run.output)
}

test('lage build: cold, then served by the native store; lage keeps no cache of its own', () => {
  // No log level configured: the engine follows lage's, so --verbose shows hits.
  const repo = makeLageRepo()
  const cold = repo.lage(['--verbose'])
  assertGreen(cold, { success: 5, skipped: 0 })
  assert.deepEqual(repo.builds().sort(), ['a', 'b', 'c', 'd', 'e'])
  assert.equal(lines(cold, / backfill-native: stored [0-9a-f]+: 4 files/).length, 5)
  const built = outputs(repo)
  assert.equal(built.a['cli.js'].mode, 0o755)
  assert.ok(built.a['.meta/build.json'] && built.a['nested/deeper/data.bin'])

  wipeOutputs(repo)
  const warm = repo.lage(['--verbose'])
  assertGreen(warm, { success: 0, skipped: 5 })
  assert.equal(repo.builds().length, 5, 'a build script ran on a hit')
  assert.equal(lines(warm, / backfill-native: hit for [0-9a-f]+ from the local cache: 4 files restored/).length, 5)
  assert.deepEqual(outputs(repo), built)
  assert.equal(fs.existsSync(repo.lageCacheDir), false, "lage's own cache folder was written")
})

test('CI with the exported variables uploads; a developer with only a .env and a read-only SAS is served from the remote, never uploads, and is warned once', async () => {
  const azurite = await startAzurite()
  try {
    await blobClient(azurite.connectionString).getContainerClient('lage').create()
    const repo = makeLageRepo({ logLevel: 'verbose' })
    const ciEnv = {
      BACKFILL_CACHE_PROVIDER: 'azure-blob',
      BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container: 'lage' }),
      LAGE_WRITE_REMOTE_CACHE: 'true',
    }
    const ci = repo.lage(['--verbose'], ciEnv)
    assertGreen(ci, { success: 5, skipped: 0 })
    assert.equal(lines(ci, /, uploaded \d+ bytes, in /).length, 5, ci.output)
    const built = outputs(repo)
    const blobs = []
    for await (const b of blobClient(azurite.connectionString).getContainerClient('lage').listBlobsFlat()) blobs.push(b.name)
    assert.equal(blobs.length, 5)

    // The developer: a fresh clone (no outputs, no local store) with the user
    // doc's .env, a read-only SAS, and remote writes asked for.
    wipeOutputs(repo)
    wipeStore(repo)
    const { connectionString } = readOnlySas(azurite.endpoint)
    fs.writeFileSync(
      path.join(repo.root, '.env'),
      `BACKFILL_CACHE_PROVIDER="azure-blob"\nBACKFILL_CACHE_PROVIDER_OPTIONS={"connectionString":"${connectionString}","container":"lage"}\nLAGE_WRITE_REMOTE_CACHE=true\n`,
    )
    const dev = repo.lage(['--verbose'])
    assertGreen(dev, { success: 0, skipped: 5 })
    assert.equal(lines(dev, / from the remote cache: 4 files restored/).length, 5, dev.output)
    assert.equal(repo.builds().length, 5)
    assert.deepEqual(outputs(repo), built)

    // Two packages change: they build and put; uploads are refused, once.
    fs.appendFileSync(path.join(repo.dir('d'), 'src', 'index.js'), '// changed\n')
    fs.appendFileSync(path.join(repo.dir('e'), 'src', 'index.js'), '// changed\n')
    const changed = repo.lage(['--verbose'])
    assertGreen(changed, { success: 2, skipped: 3 })
    assert.equal(lines(changed, /are refused \(upload failed: HTTP 403/).length, 1, changed.output)
    const after = []
    for await (const b of blobClient(azurite.connectionString).getContainerClient('lage').listBlobsFlat()) after.push(b.name)
    assert.equal(after.length, 5, 'a read-only setup uploaded')
    assert.equal(fs.existsSync(repo.lageCacheDir), false)
  } finally {
    await azurite.stop()
  }
})

// docs/pull-request-scope.md: a pull request's second push restores what its
// first push built from the pull request's scope, everything else from
// main's; main's builds never read the scope.
test("a pull request's second push gets its first push's targets from its scope; main never reads them", async () => {
  const azurite = await startAzurite()
  try {
    const service = blobClient(azurite.connectionString)
    await service.getContainerClient('main').create()
    await service.getContainerClient('pull-requests').create()
    const names = async (container) => {
      const all = []
      for await (const b of service.getContainerClient(container).listBlobsFlat()) all.push(b.name)
      return all.sort()
    }
    const { generateBlobSASQueryParameters, ContainerSASPermissions, StorageSharedKeyCredential } = require('@azure/storage-blob')
    const { ACCOUNT, KEY } = require('../support/azurite')
    const prSas = generateBlobSASQueryParameters(
      { containerName: 'pull-requests', permissions: ContainerSASPermissions.parse('racwl'), expiresOn: new Date(Date.now() + 3600e3) },
      new StorageSharedKeyCredential(ACCOUNT, KEY),
    ).toString()
    const repo = makeLageRepo({ logLevel: 'verbose' })
    const scopeOptions = JSON.stringify({ connectionString: `BlobEndpoint=${azurite.endpoint};SharedAccessSignature=${prSas}`, container: 'pull-requests' })
    const main = {
      BACKFILL_CACHE_PROVIDER: 'azure-blob',
      BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: azurite.connectionString, container: 'main' }),
      BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS: scopeOptions,
      LAGE_WRITE_REMOTE_CACHE: 'true',
      // GitLab's variables: GitHub's would switch lage's reporter.
      GITLAB_CI: 'true',
      CI_COMMIT_BRANCH: 'main',
    }
    const pullRequest = {
      ...main,
      BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString: readOnlySas(azurite.endpoint).connectionString, container: 'main' }),
      CI_COMMIT_BRANCH: '',
      CI_MERGE_REQUEST_IID: '7',
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'feature',
    }
    assertGreen(repo.lage(['--verbose'], main), { success: 5, skipped: 0 })
    const mainBlobs = await names('main')
    assert.equal(mainBlobs.length, 5)
    const fresh = () => (wipeOutputs(repo), wipeStore(repo))

    // The first push changes d: d builds and goes to the scope only.
    fs.appendFileSync(path.join(repo.dir('d'), 'src', 'index.js'), '// pull request 7\n')
    fresh()
    const first = repo.lage(['--verbose'], pullRequest)
    assertGreen(first, { success: 1, skipped: 4 })
    assert.equal(lines(first, / from the remote cache \(main scope\): 4 files restored/).length, 4, first.output)
    assert.equal(lines(first, /, uploaded \d+ bytes to pull request 7's scope, in /).length, 1, first.output)
    assert.equal(lines(first, /warn/i).filter((l) => /backfill-native/.test(l)).length, 0, first.output)
    const scoped = await names('pull-requests')
    assert.equal(scoped.length, 1)
    assert.match(scoped[0], /^pr-7-[0-9a-f]+$/)
    assert.deepEqual(await names('main'), mainBlobs, 'nothing reached the main scope')

    // The second push changes e: only e builds; d comes from the scope.
    fs.appendFileSync(path.join(repo.dir('e'), 'src', 'index.js'), '// pull request 7, second push\n')
    fresh()
    const second = repo.lage(['--verbose'], pullRequest)
    assertGreen(second, { success: 1, skipped: 4 })
    assert.equal(lines(second, / from the remote cache \(pull request 7's scope\): 4 files restored/).length, 1, second.output)
    assert.equal(lines(second, / from the remote cache \(main scope\): 4 files restored/).length, 3, second.output)
    const built = outputs(repo)

    // Main's build of the same sources reads no scope: d and e build.
    fresh()
    const trusted = repo.lage(['--verbose'], main)
    assertGreen(trusted, { success: 2, skipped: 3 })
    assert.equal(lines(trusted, /pull request/).length, 0, trusted.output)
    assert.deepEqual(outputs(repo), built)
  } finally {
    await azurite.stop()
  }
})

test('a remote that is down leaves the build green with one warning', () => {
  const repo = makeLageRepo()
  const run = repo.lage([], {
    BACKFILL_CACHE_PROVIDER: 'azure-blob',
    BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({
      connectionString: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1',
      container: 'down',
    }),
    LAGE_WRITE_REMOTE_CACHE: 'true',
  })
  assertGreen(run, { success: 5, skipped: 0 })
  const warns = lines(run, /backfill-native: remote cache \(azure-blob container 'down'/)
  assert.equal(warns.length, 1, run.output)
  assert.ok(!run.output.includes('a2V5'), 'the account key leaked')
  // Outputs were still cached locally.
  wipeOutputs(repo)
  assertGreen(repo.lage(), { success: 0, skipped: 5 })
})

test('the NODE_OPTIONS fallback: a plain marker in lage.config.js plus --require backfill-native/lage', () => {
  const repo = makeLageRepo({}, { plainMarker: true })
  const lageJs = path.join(__dirname, '..', 'lage.js')
  const env = { NODE_OPTIONS: `--require ${lageJs}` }
  assertGreen(repo.lage([], env), { success: 5, skipped: 0 })
  assert.ok(fs.existsSync(repo.nativeStore), 'the native store was not used')
  assert.equal(fs.existsSync(repo.lageCacheDir), false, "lage's own cache folder was written")
  wipeOutputs(repo)
  assertGreen(repo.lage([], env), { success: 0, skipped: 5 })
  assert.equal(repo.builds().length, 5)
})
