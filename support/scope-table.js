// The pull request scope cases, the same against every remote's real
// server (run by __test__/scopes.test.js), through the kits of the remote
// table (support/remote-table.js). A kit's `pullRequestScope()` sets up the
// scope on its server and answers
//   { mainOptions,       // the main scope as a pull request build reaches it (read-only)
//     scopeOptions,      // the scope's fields, laid over mainOptions
//     credentialOnMain,  // the scope's credential pointed at the main scope
//     secrets,           // what no message may show
//     get(name), put(name, buffer, metadata),  // the scope's blobs, directly
//     stop() }
//
// A build is a pull request build, or main's, by the CI variables it sees
// when its Cache is made: GitHub Actions' here, set only for that moment.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const native = require('..')
const { makeRepo, writeTree, snapshot, recordingLogger } = require('./helpers')
const { OUTPUTS } = require('./remote-table')

const RUN = `${process.pid}-${Date.now().toString(36)}`

/** GitHub Actions' variables of a pull request build, and of a push to main. */
const pullRequest = (n) => ({ GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: `refs/pull/${n}/merge`, GITHUB_HEAD_REF: 'feature' })
const MAIN = { GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_REF_NAME: 'main' }

/** Calls `make` with `vars` in the environment, then puts it back. */
function asBuild(vars, make) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return make()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** Runs the scope cases against the kit `start()` makes. */
function scopeTable(name, start) {
  test.describe(name, () => {
    let kit
    let scope
    let count = 0
    const hash = (tag) => `${tag}-${RUN}-${++count}`

    test.before(async () => {
      kit = await start()
      scope = await kit.pullRequestScope()
    })
    test.after(async () => {
      await scope?.stop()
      await kit?.stop()
    })

    const noSecret = (what, text) => {
      for (const s of [...(kit.secrets ?? []), ...scope.secrets]) assert.ok(!text.includes(s), `${what} shows a secret: ${text}`)
    }
    /** The options of a pull request build: main read-only, its scope writable. */
    const prOptions = (cwd, extra = {}) => ({
      cwd,
      provider: kit.provider,
      providerOptions: { ...scope.mainOptions, ...extra },
      pullRequestProviderOptions: scope.scopeOptions,
      writeRemoteCache: true,
    })
    /** A trusted build's options: main read-write; the scope's options are set too, as a CI sets them for every job. */
    const mainOptions = (cwd, extra = {}) => ({
      cwd,
      provider: kit.provider,
      providerOptions: kit.options(extra),
      pullRequestProviderOptions: scope.scopeOptions,
      writeRemoteCache: true,
    })
    const prCache = (n, cwd, extra) => asBuild(pullRequest(n), () => new native.Cache(prOptions(cwd, extra)))
    const mainCache = (cwd, extra) => asBuild(MAIN, () => new native.Cache(mainOptions(cwd, extra)))
    /** Pull request `n` builds OUTPUTS and puts them as `key`. */
    async function prPut(n, key, extra) {
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const put = await prCache(n, repo.dirs.a, extra).put(key, ['lib/**'])
      assert.deepEqual([put.stored, put.uploaded, put.uploadScope, put.warnings], [true, true, 'pull-request', []])
      return snapshot(path.join(repo.dirs.a, 'lib'))
    }

    test('a pull request build uploads into its own scope only; its rerun on an empty machine hits there', async () => {
      const key = hash('pr')
      const want = await prPut(12, key)
      assert.equal(await kit.get(key), null, 'nothing under the hash in the main scope')
      assert.ok(await scope.get(`pr-12-${key}`), 'the entry is in the scope, under pr-12-<hash>')

      const rerun = makeRepo(['a'])
      const { logger, at } = recordingLogger()
      const provider = asBuild(pullRequest(12), () => native.getProvider(logger, rerun.dirs.a, { ...prOptions(rerun.dirs.a), logLevel: 'verbose' }))
      assert.equal(await provider.fetch(key), true)
      assert.deepEqual(snapshot(path.join(rerun.dirs.a, 'lib')), want)
      assert.ok(at('verbose').some((l) => l.includes(`hit for ${key} from the remote cache (pull request 12's scope)`)), at('verbose').join('\n'))
      assert.deepEqual(at('warn'), [])

      const again = makeRepo(['a'])
      const c = prCache(12, again.dirs.a)
      const got = await c.fetch(key)
      assert.deepEqual([got.hit, got.source, got.scope, got.pullRequest, got.warnings], [true, 'remote', 'pull-request', 12, []])
      assert.equal(c.stats().pullRequestHits, 1)
    })

    test("main's build never reads a pull request's blob, even under the bare hash; another pull request does not either", async () => {
      const key = hash('pr-only')
      await prPut(12, key)
      // The same blob planted under the bare hash in the scope's place.
      const blob = await scope.get(`pr-12-${key}`)
      await scope.put(key, blob.body, blob.metadata)
      const trusted = makeRepo(['a'])
      const got = await mainCache(trusted.dirs.a).fetch(key)
      assert.deepEqual([got.hit, got.warnings], [false, []])
      assert.equal(fs.existsSync(path.join(trusted.dirs.a, 'lib')), false)
      const other = makeRepo(['a'])
      const theirs = await prCache(13, other.dirs.a).fetch(key)
      assert.deepEqual([theirs.hit, theirs.warnings], [false, []])
      assert.equal(fs.existsSync(path.join(other.dirs.a, 'lib')), false)
    })

    test("the scope's credential, confined by the storage, cannot write the main scope; said once", async () => {
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const options = { cwd: repo.dirs.a, provider: kit.provider, providerOptions: scope.credentialOnMain, writeRemoteCache: true }
      const [k1, k2] = [hash('confined'), hash('confined')]
      const p1 = await asBuild(MAIN, () => new native.Cache(options)).put(k1, ['lib/**'])
      const p2 = await asBuild(MAIN, () => new native.Cache(options)).put(k2, ['lib/**'])
      assert.deepEqual([p1.uploaded, p2.uploaded], [false, false])
      assert.equal(p1.warnings.length, 1, JSON.stringify(p1.warnings))
      assert.match(p1.warnings[0].code, /^REMOTE_(READ_ONLY|SIGN_IN_FAILED)$/)
      noSecret('the warning', p1.warnings[0].message)
      assert.deepEqual(p2.warnings, [], 'said once')
      assert.deepEqual([await kit.get(k1), await kit.get(k2)], [null, null])
    })

    test('with signing on, a signed blob moved from the scope into the main scope is refused', async () => {
      const key = hash('moved')
      await prPut(12, key, { signingKey: 'team-key' })
      const blob = await scope.get(`pr-12-${key}`)
      assert.ok(blob)
      await kit.put(key, blob.body, blob.metadata)
      const trusted = makeRepo(['a'])
      const got = await mainCache(trusted.dirs.a, { signingKey: 'team-key' }).fetch(key)
      assert.deepEqual([got.hit, got.warnings.map((w) => w.code)], [false, ['REMOTE_ENTRY_BAD_SIGNATURE']])
      assert.equal(fs.existsSync(path.join(trusted.dirs.a, 'lib')), false)
      // In its own place it verifies (the copy in main is refused first).
      const rerun = makeRepo(['a'])
      const own = await prCache(12, rerun.dirs.a, { signingKey: 'team-key' }).fetch(key)
      assert.deepEqual([own.hit, own.scope, own.warnings.map((w) => w.code)], [true, 'pull-request', ['REMOTE_ENTRY_BAD_SIGNATURE']])
    })

    test("a pull request build whose main-scope credential can write is told so, once", async () => {
      const repo = makeRepo(['a'])
      writeTree(repo.dirs.a, OUTPUTS)
      const options = { ...prOptions(repo.dirs.a), providerOptions: kit.options() }
      const [k1, k2] = [hash('loose'), hash('loose')]
      const p1 = await asBuild(pullRequest(21), () => new native.Cache(options)).put(k1, ['lib/**'])
      const p2 = await asBuild(pullRequest(21), () => new native.Cache(options)).put(k2, ['lib/**'])
      assert.deepEqual([p1.uploaded, p1.uploadScope, p2.uploaded], [true, 'pull-request', true])
      assert.deepEqual(p1.warnings.map((w) => w.code), ['PULL_REQUEST_CAN_WRITE_MAIN'])
      noSecret('the warning', p1.warnings[0].message)
      assert.deepEqual(p2.warnings, [], 'said once')
      assert.ok(await kit.get('backfill-native-pull-request-write-check'), 'the marker the warning names')
      assert.deepEqual([await kit.get(k1), await kit.get(k2)], [null, null], 'no entry reached the main scope')
    })
  })
}

module.exports = { scopeTable, pullRequest, asBuild }
