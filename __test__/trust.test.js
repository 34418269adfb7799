// Uploads only from builds you trust, against a real Azurite, through the
// command line as a CI runs it: the branches BACKFILL_NATIVE_UPLOAD_BRANCHES
// names upload, other branches and every pull request build skip uploads
// with one line saying why; and the setup that stops cache poisoning: main
// signs with the key, pull request builds read with a read-only credential,
// and a blob not signed by the key is refused.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { cleanEnv } = require('../support/env')
const { azuriteForTests, blobClient, readOnlySas, forgeTar, KEY } = require('../support/azurite')

const CLI = path.join(__dirname, '..', 'cli.js')
const SIGNING_KEY = 'main-only signing key 6f1c2a'
const OUTPUTS = { 'lib/index.js': 'module.exports = 42\n', 'lib/util.js': 'exports.x = 1\n' }

const azurite = azuriteForTests('trust')
const { newContainer } = azurite

async function blobNames(container) {
  const names = []
  for await (const b of blobClient(azurite.connectionString).getContainerClient(container).listBlobsFlat()) names.push(b.name)
  return names
}

/** The variables of a CI job with remote writes on, plus `vars`. */
function ciEnv(container, vars, { connectionString = azurite.connectionString, signingKey } = {}) {
  return {
    BACKFILL_CACHE_PROVIDER: 'azure-blob',
    BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ connectionString, container, ...(signingKey ? { signingKey } : {}) }),
    LAGE_WRITE_REMOTE_CACHE: 'true',
    BACKFILL_NATIVE_UPLOAD_BRANCHES: 'main,release/*',
    ...vars,
  }
}

/** Runs the command line in a fresh package with the outputs, as a CI job. */
function cli(env, ...args) {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repo.dirs.a, env: cleanEnv(env), encoding: 'utf8' })
  return { ...r, repo }
}

const GITHUB_PUSH = (branch) => ({ GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'push', GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: branch })

test('builds of an allowed branch upload: main on GitHub Actions, release/* on Azure Pipelines', async () => {
  const container = await newContainer()
  const main = cli(ciEnv(container, GITHUB_PUSH('main')), 'put', 'h-main', '--json')
  assert.equal(main.status, 0, main.stderr)
  assert.equal(main.stderr, '')
  assert.equal(JSON.parse(main.stdout).uploaded, true)
  const release = cli(ciEnv(container, { TF_BUILD: 'True', BUILD_REASON: 'IndividualCI', BUILD_SOURCEBRANCH: 'refs/heads/release/2.1' }), 'put', 'h-release', '--json')
  assert.equal(JSON.parse(release.stdout).uploaded, true, release.stderr)
  assert.deepEqual((await blobNames(container)).sort(), ['h-main', 'h-release'])
})

test('a build of another branch stores locally and skips the upload with one line saying why', async () => {
  const container = await newContainer()
  const r = cli(ciEnv(container, GITHUB_PUSH('feature/login')), 'put', 'h-feature', '--json')
  assert.equal(r.status, 0, r.stderr)
  const put = JSON.parse(r.stdout)
  assert.deepEqual([put.stored, put.uploaded], [true, false])
  const line =
    'remote cache uploads are skipped: branch "feature/login" (from GITHUB_REF_NAME) is not one of the branches ' +
    'BACKFILL_NATIVE_UPLOAD_BRANCHES allows ("main", "release/*"); outputs are still cached locally'
  assert.deepEqual(put.uploadSkipped, { code: 'UPLOAD_BRANCH_NOT_ALLOWED', message: line })
  assert.equal(r.stderr, `backfill-native: warning: ${line}\n`)
  assert.deepEqual(await blobNames(container), [])
  // `release/*` does not reach below one level.
  const deep = cli(ciEnv(container, GITHUB_PUSH('release/2.1/hotfix')), 'put', 'h-deep', '--json')
  assert.equal(JSON.parse(deep.stdout).uploaded, false)
  // Several puts in one process: the line is said once.
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, OUTPUTS)
  const script = `
    const { Cache } = require(${JSON.stringify(path.join(__dirname, '..'))})
    ;(async () => {
      const warnings = []
      for (const h of ['x1', 'x2', 'x3']) {
        const put = await new Cache().put(h, ['lib/**'])
        warnings.push(...put.warnings)
        if (put.uploaded || !put.uploadSkipped) throw new Error('uploaded')
      }
      console.log(JSON.stringify(warnings))
    })()`
  const many = spawnSync(process.execPath, ['-e', script], { cwd: repo.dirs.a, env: cleanEnv(ciEnv(container, GITHUB_PUSH('dev'))), encoding: 'utf8' })
  assert.equal(many.status, 0, many.stderr)
  assert.equal(JSON.parse(many.stdout).length, 1)
  assert.deepEqual(await blobNames(container), [])
})

test('outside a CI the branch comes from git', async () => {
  const container = await newContainer()
  const onBranch = (branch, hash) => {
    const repo = makeRepo(['a'])
    writeTree(repo.dirs.a, OUTPUTS)
    const git = (...args) => spawnSync('git', args, { cwd: repo.root, encoding: 'utf8' })
    assert.equal(git('init', '-q', '-b', branch).status, 0)
    const r = spawnSync(process.execPath, [CLI, 'put', hash, '--json'], { cwd: repo.dirs.a, env: cleanEnv(ciEnv(container, {})), encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return { put: JSON.parse(r.stdout), stderr: r.stderr }
  }
  assert.equal(onBranch('main', 'g-main').put.uploaded, true)
  const other = onBranch('topic', 'g-topic')
  assert.equal(other.put.uploaded, false)
  assert.match(other.stderr, /^backfill-native: warning: remote cache uploads are skipped: branch "topic" \(from git\) is not one of/)
  assert.deepEqual(await blobNames(container), ['g-main'])
})

test('a pull request build never uploads, whatever its branch is called', async () => {
  const container = await newContainer()
  const cases = [
    [{ GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_HEAD_REF: 'main', GITHUB_REF_NAME: '7/merge' }, 'GitHub Actions: GITHUB_EVENT_NAME=pull_request'],
    [{ TF_BUILD: 'True', BUILD_REASON: 'PullRequest', SYSTEM_PULLREQUEST_PULLREQUESTID: '41', SYSTEM_PULLREQUEST_SOURCEBRANCH: 'refs/heads/main', BUILD_SOURCEBRANCH: 'refs/pull/41/merge' }, 'Azure Pipelines: SYSTEM_PULLREQUEST_PULLREQUESTID=41'],
    [{ GITLAB_CI: 'true', CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: '5', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'main' }, 'GitLab CI: CI_MERGE_REQUEST_IID=5'],
    [{ BUILDKITE: 'true', BUILDKITE_BRANCH: 'main', BUILDKITE_PULL_REQUEST: '12' }, 'Buildkite: BUILDKITE_PULL_REQUEST=12'],
    [{ JENKINS_URL: 'http://jenkins', BRANCH_NAME: 'PR-3', CHANGE_ID: '3', CHANGE_BRANCH: 'main' }, 'Jenkins: CHANGE_ID=3'],
  ]
  for (const [vars, why] of cases) {
    // Without a branch rule too: pull requests never upload.
    for (const withRule of [true, false]) {
      const env = ciEnv(container, vars)
      if (!withRule) delete env.BACKFILL_NATIVE_UPLOAD_BRANCHES
      const r = cli(env, 'put', 'h-pr', '--json')
      assert.equal(r.status, 0, r.stderr)
      const put = JSON.parse(r.stdout)
      assert.deepEqual([put.stored, put.uploaded, put.uploadSkipped.code], [true, false, 'UPLOAD_PULL_REQUEST'])
      const line = `remote cache uploads are skipped: this is a pull request build (${why}), and pull request builds never upload; outputs are still cached locally`
      assert.equal(r.stderr, `backfill-native: warning: ${line}\n`)
    }
  }
  assert.deepEqual(await blobNames(container), [])
})

test('the setup that stops poisoning: main signs, pull requests read only, a blob not signed by the key is refused', async () => {
  const container = await newContainer()
  const readOnly = readOnlySas(azurite.endpoint).connectionString
  // main: the read-write credential and the signing key.
  const mainEnv = ciEnv(container, GITHUB_PUSH('main'), { signingKey: SIGNING_KEY })
  const main = cli(mainEnv, 'put', 'h-app', '--json')
  assert.equal(JSON.parse(main.stdout).uploaded, true, main.stderr)
  const want = snapshot(path.join(main.repo.dirs.a, 'lib'))

  // A pull request build: the read-only credential and the key, to check.
  const prVars = { GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_HEAD_REF: 'main' }
  const prEnv = ciEnv(container, prVars, { connectionString: readOnly, signingKey: SIGNING_KEY })
  const pr = makeRepo(['a'])
  const fetch = (env, hash) => spawnSync(process.execPath, [CLI, 'fetch', hash, '--json'], { cwd: pr.dirs.a, env: cleanEnv(env), encoding: 'utf8' })
  const got = fetch(prEnv, 'h-app')
  assert.equal(got.status, 0, got.stderr)
  assert.equal(JSON.parse(got.stdout).source, 'remote')
  assert.deepEqual(snapshot(path.join(pr.dirs.a, 'lib')), want)
  // Its own outputs stay local, with the line saying why.
  writeTree(pr.dirs.a, { 'lib/index.js': 'changed by the pull request\n' })
  const prPut = spawnSync(process.execPath, [CLI, 'put', 'h-pr-change', '--json'], { cwd: pr.dirs.a, env: cleanEnv(prEnv), encoding: 'utf8' })
  assert.equal(JSON.parse(prPut.stdout).uploaded, false)
  assert.match(prPut.stderr, /this is a pull request build/)

  // Someone who can write the container but has no key (a leaked write
  // credential, a build that kept one) replaces main's blob and plants
  // another: readers with the key refuse both and restore nothing.
  const client = blobClient(azurite.connectionString).getContainerClient(container)
  const evil = forgeTar([{ name: 'lib/index.js', body: Buffer.from('stealTokens()\n') }])
  const props = await client.getBlockBlobClient('h-app').getProperties()
  await client.getBlockBlobClient('h-app').upload(evil, evil.length, { metadata: props.metadata })
  await client.getBlockBlobClient('h-planted').upload(evil, evil.length)
  const unkeyed = ciEnv(container, GITHUB_PUSH('main'))
  const planted = cli(unkeyed, 'put', 'h-planted-by-tool', '--json')
  assert.equal(JSON.parse(planted.stdout).uploaded, true, 'a writer without the key can still upload')
  for (const [hash, why] of [
    ['h-app', 'its content does not match the digest stored with it'],
    ['h-planted', 'it is not signed, and a signing key is configured'],
    ['h-planted-by-tool', 'it is not signed, and a signing key is configured'],
  ]) {
    const reader = makeRepo(['a'])
    const r = spawnSync(process.execPath, [CLI, 'fetch', hash, '--json'], { cwd: reader.dirs.a, env: cleanEnv(prEnv), encoding: 'utf8' })
    assert.equal(r.status, 3, `${hash} must be a miss: ${r.stdout}`)
    assert.match(JSON.parse(r.stdout).warnings[0].message, new RegExp(why))
    assert.equal(fs.existsSync(path.join(reader.dirs.a, 'lib')), false, `${hash} restored something`)
  }
  // Neither the key nor the account key is ever printed.
  for (const out of [main.stdout, main.stderr, got.stdout, got.stderr, prPut.stdout, prPut.stderr]) {
    assert.ok(!out.includes(SIGNING_KEY) && !out.includes(KEY))
  }
})
