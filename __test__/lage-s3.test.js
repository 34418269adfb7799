// lage 2.17 with the README's line and an S3 remote (moto, IAM enforced),
// configured only by variables, as a CI and a developer would: CI builds
// cold and uploads; a fresh clone with read-only credentials and an empty
// local store restores every package byte-identical without building.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

require('../support/env').scrubCacheEnv()

const { snapshot } = require('../support/helpers')
const { makeLageRepo } = require('../support/lage-repo')
const { s3Kit } = require('../support/s3-server')

let kit
test.before(async () => {
  kit = await s3Kit()
})
test.after(async () => {
  await kit?.stop()
})

function assertGreen(run, { success, skipped }) {
  assert.equal(run.status, 0, run.output)
  assert.match(run.output, new RegExp(`success: ${success}, skipped: ${skipped}, pending: 0, aborted: 0, failed: 0`), run.output)
}

/** The variables of a build reaching the bucket under `prefix`, with the read-only or read-write keys. */
function s3Env(prefix, { readOnly = false, ...extra } = {}) {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = kit.env(readOnly)
  return {
    BACKFILL_CACHE_PROVIDER: 's3',
    BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify({ bucket: kit.bucket, prefix }),
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: kit.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  }
}

const libs = (repo) => Object.fromEntries(repo.packages.map((p) => [p, snapshot(path.join(repo.dir(p), 'lib'))]))

test('CI builds cold and uploads to S3; a fresh clone with read-only keys and an empty store restores byte-identical, building nothing', () => {
  const prefix = `lage-${Date.now()}`
  const ci = makeLageRepo()
  assertGreen(ci.lage([], s3Env(prefix, { LAGE_WRITE_REMOTE_CACHE: 'true' })), { success: 5, skipped: 0 })
  assert.equal(ci.builds().length, 5)
  const want = libs(ci)

  // The same monorepo at the same commit, elsewhere: nothing built, nothing stored.
  const dev = makeLageRepo()
  assert.equal(fs.existsSync(dev.nativeStore), false)
  const run = dev.lage([], s3Env(prefix, { readOnly: true }))
  assertGreen(run, { success: 0, skipped: 5 })
  assert.deepEqual(dev.builds(), [], 'a build script ran')
  assert.deepEqual(libs(dev), want)
  assert.doesNotMatch(run.output, /remote cache \(|refused/, run.output)
  for (const s of kit.secrets) assert.ok(!run.output.includes(s))
})

test('CI set, an S3 remote and remote writes off: the one line names LAGE_WRITE_REMOTE_CACHE', () => {
  const repo = makeLageRepo()
  const run = repo.lage([], s3Env(`note-${Date.now()}`, { CI: 'true' }))
  assertGreen(run, { success: 5, skipped: 0 })
  const note = run.output.split('\n').filter((l) => /backfill-native: CI is set, but remote cache uploads are off: .*set LAGE_WRITE_REMOTE_CACHE=true/.test(l))
  assert.equal(note.length, 1, run.output)
})
