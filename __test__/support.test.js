// The shared support code: one rule scrubs cache settings for tests and scripts.
const test = require('node:test')
const assert = require('node:assert/strict')

const { scrubCacheEnv, cleanEnv } = require('../support/env')

test('scrubCacheEnv removes every BACKFILL_* and LAGE_* variable and the CI markers, and nothing else', () => {
  const env = { BACKFILL_MODE: 'PASS', BACKFILL_CACHE_PROVIDER_OPTIONS: '{}', LAGE_WRITE_CACHE: 'true', PATH: '/bin', BFN_LARGE_MB: '64', backfill_mode: 'x' }
  Object.assign(env, { GITHUB_ACTIONS: 'true', TF_BUILD: 'True', GITLAB_CI: 'true', BUILDKITE: 'true', JENKINS_URL: 'http://ci', GITHUB_REF_NAME: 'main' })
  assert.equal(scrubCacheEnv(env), env)
  assert.deepEqual(env, { PATH: '/bin', BFN_LARGE_MB: '64', backfill_mode: 'x', GITHUB_REF_NAME: 'main' })
})

test('cleanEnv is a scrubbed copy plus extras, leaving process.env alone', () => {
  process.env.BACKFILL_SUPPORT_TEST = '1'
  try {
    const env = cleanEnv({ LAGE_WRITE_REMOTE_CACHE: 'true' })
    assert.equal('BACKFILL_SUPPORT_TEST' in env, false)
    assert.equal(env.LAGE_WRITE_REMOTE_CACHE, 'true')
    assert.equal(env.PATH, process.env.PATH)
    assert.equal(process.env.BACKFILL_SUPPORT_TEST, '1')
  } finally {
    delete process.env.BACKFILL_SUPPORT_TEST
  }
})
