// The shared remote table (support/remote-table.js) against every remote,
// each on a real server started on loopback: Azurite for azure-blob, moto
// (IAM enforced) for s3, turborepo-remote-cache 2.12 for turborepo. A new
// remote adds its kit line here. Then what only
// the s3 remote has, and entries copied between the two.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree, snapshot } = require('../support/helpers')
const { cleanEnv } = require('../support/env')
const { remoteTable, OUTPUTS } = require('../support/remote-table')
const { azuriteKit } = require('../support/azurite')
const { s3Kit } = require('../support/s3-server')
const { turboKit } = require('../support/turbo-server')

remoteTable('azure-blob (Azurite)', azuriteKit)
remoteTable('s3 (moto)', s3Kit)
remoteTable('turborepo (turborepo-remote-cache)', turboKit)

// A build configured by variables alone (the provider's, the AWS ones), a
// profile in the options, and what loadConfig shows.
test.describe('s3 (moto) configured by variables only', () => {
  let kit
  test.before(async () => {
    kit = await s3Kit()
  })
  test.after(async () => {
    await kit?.stop()
  })

  /** Runs `code` (with `cache`, a Cache of `cwd`) in a process whose only configuration is `vars`. */
  function inChild(cwd, vars, code) {
    const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const cache = new n.Cache({ cwd: ${JSON.stringify(cwd)} });
      (async () => console.log(JSON.stringify(await (${code}))))()`
    const env = cleanEnv(vars)
    delete env.AWS_SHARED_CREDENTIALS_FILE
    delete env.AWS_CONFIG_FILE
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 120000 }))
  }

  test('CI uploads and a fresh machine restores, with BACKFILL_* and AWS_* variables only; no secret is shown', async () => {
    const vars = (readOnly) => {
      const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = kit.env(readOnly)
      return {
        BACKFILL_CACHE_PROVIDER: 's3',
        BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ bucket: kit.bucket, prefix: 'by-variables' }),
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: kit.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
      }
    }
    const ci = makeRepo(['a'])
    writeTree(ci.dirs.a, OUTPUTS)
    const put = inChild(ci.dirs.a, { ...vars(false), LAGE_WRITE_REMOTE_CACHE: 'true' }, "cache.put('by-vars', ['lib/**'])")
    assert.deepEqual([put.stored, put.uploaded, put.warnings], [true, true, []])
    const dev = makeRepo(['a'])
    const got = inChild(dev.dirs.a, vars(true), "cache.fetch('by-vars')")
    assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
    assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), snapshot(path.join(ci.dirs.a, 'lib')))

    const shown = inChild(dev.dirs.a, vars(true), 'Promise.resolve(cache.config)')
    assert.deepEqual(shown.s3, { bucket: kit.bucket, region: 'us-east-1', endpoint: kit.endpoint, prefix: 'by-variables', forcePathStyle: true, signed: false })
    assert.equal(shown.remote, undefined)
    for (const s of kit.secrets) assert.ok(!JSON.stringify(shown).includes(s))
  })

  test('a profile named in the options is the only source of credentials: the variables\' keys are not used', () => {
    const ci = makeRepo(['a'])
    writeTree(ci.dirs.a, OUTPUTS)
    // The read-only keys in the variables, the read-write profile in the
    // options: the upload works, so the profile's keys signed it.
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE } = kit.env(true)
    const vars = {
      BACKFILL_CACHE_PROVIDER: 's3',
      BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify(kit.options()),
      LAGE_WRITE_REMOTE_CACHE: 'true',
      AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY,
    }
    const script = `const n = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      new n.Cache({ cwd: ${JSON.stringify(ci.dirs.a)} }).put('profile-wins', ['lib/**']).then((p) => console.log(JSON.stringify(p)))`
    const put = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: cleanEnv({ ...vars, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE }), encoding: 'utf8', timeout: 120000 }))
    assert.deepEqual([put.uploaded, put.warnings], [true, []])
  })

  test('loadConfig shows the s3 options, and credentials in the options are an error that does not show them', () => {
    const repo = makeRepo(['a'])
    const cfg = native.loadConfig(repo.dirs.a, { provider: 's3', providerOptions: { bucket: 'b', region: 'eu-west-1', prefix: '/team/', signingKey: 'never-shown' } })
    assert.equal(cfg.provider, 's3')
    assert.deepEqual(cfg.s3, { bucket: 'b', region: 'eu-west-1', prefix: 'team', forcePathStyle: false, signed: true })
    assert.ok(!JSON.stringify(cfg).includes('never-shown'))
    assert.throws(
      () => native.loadConfig(repo.dirs.a, { provider: 's3', providerOptions: { bucket: 'b', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } }),
      (e) => e.code === 'BACKFILL_NATIVE_CONFIG' && /"secretAccessKey" \(its value is not shown\)/.test(e.message) && !e.message.includes('wJalr'),
    )
  })
})

// docs/remote-s3.md: a cache moves between Azure and S3 by copying each
// entry's bytes and metadata under the same name.
// docs/remote-turborepo.md: and to a cache server, the metadata in the tag.
test.describe('an entry copied between azure-blob, s3 and a turborepo server', () => {
  let azure
  let s3
  let turbo
  test.before(async () => {
    ;[azure, s3, turbo] = await Promise.all([azuriteKit(), s3Kit(), turboKit()])
  })
  test.after(async () => {
    await Promise.all([azure?.stop(), s3?.stop(), turbo?.stop()])
  })

  for (const [from, to] of [
    ['azure', 's3'],
    ['s3', 'azure'],
    ['azure', 'turbo'],
    ['turbo', 's3'],
  ]) {
    test(`${from} to ${to}: signed, it is restored byte-identical from ${to}`, async () => {
      const kits = { azure, s3, turbo }
      const key = `copied-${from}-${Date.now()}`
      const ci = makeRepo(['a'])
      writeTree(ci.dirs.a, OUTPUTS)
      const opts = (kit) => ({ provider: kit.provider, providerOptions: kit.options({ signingKey: 'shared-key' }) })
      const put = await new native.Cache({ cwd: ci.dirs.a, ...opts(kits[from]), writeRemoteCache: true }).put(key, ['lib/**'])
      assert.equal(put.uploaded, true)
      const entry = await kits[from].get(key)
      await kits[to].put(key, entry.body, entry.metadata)
      const dev = makeRepo(['a'])
      const got = await new native.Cache({ cwd: dev.dirs.a, ...opts(kits[to]) }).fetch(key)
      assert.deepEqual([got.hit, got.source, got.warnings], [true, 'remote', []])
      assert.deepEqual(snapshot(path.join(dev.dirs.a, 'lib')), snapshot(path.join(ci.dirs.a, 'lib')))
    })
  }
})
