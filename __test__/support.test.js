// The shared support code: one rule scrubs cache settings for tests and scripts.
const test = require('node:test')
const assert = require('node:assert/strict')

const { scrubCacheEnv, cleanEnv } = require('../support/env')

test('scrubCacheEnv removes every BACKFILL_*, LAGE_* and AWS_* variable and the CI markers, and nothing else', () => {
  const env = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA', BACKFILL_MODE: 'PASS', BACKFILL_CACHE_PROVIDER_OPTIONS: '{}', LAGE_WRITE_CACHE: 'true', PATH: '/bin', BFN_LARGE_MB: '64', backfill_mode: 'x' }
  Object.assign(env, { GITHUB_ACTIONS: 'true', TF_BUILD: 'True', GITLAB_CI: 'true', BUILDKITE: 'true', JENKINS_URL: 'http://ci', GITHUB_REF_NAME: 'main' })
  assert.equal(scrubCacheEnv(env), env)
  assert.deepEqual(env, { PATH: '/bin', BFN_LARGE_MB: '64', backfill_mode: 'x', GITHUB_REF_NAME: 'main' })
})

test("scrubCacheEnv removes turbo's remote cache variables, which the turborepo provider reads, and no other TURBO_*", () => {
  const env = { TURBO_API: 'http://x', TURBO_TOKEN: 't', TURBO_TEAM: 's', TURBO_TEAMID: 'team_1', TURBO_TELEMETRY_DISABLED: '1' }
  assert.deepEqual(scrubCacheEnv(env), { TURBO_TELEMETRY_DISABLED: '1' })
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

test('a test file that fails before stopping its Azurite ends at once under the flags of npm test, and the server and its temp folder go with it', () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const { spawnSync } = require('node:child_process')
  const script = require('../package.json').scripts.test
  const flags = script.match(/node ((?:--test\S*\s+)+)__test__/)[1].trim().split(/\s+/)
  const before = new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('bfn-left-running-')))
  const run = spawnSync(process.execPath, [...flags, path.join(__dirname, 'fixtures', 'azurite-left-running.js')], {
    encoding: 'utf8',
    timeout: 60e3,
    // Run as its own test run, not as a file of this one.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')),
  })
  assert.equal(run.error, undefined, 'the test file did not end: the Azurite left running held it')
  assert.equal(run.status, 1, run.stdout)
  assert.match(run.stdout, /not ok 1 - fails before stopping its Azurite/)
  const pid = Number(run.stdout.match(/azurite pid (\d+)/)[1])
  // Gone, or a zombie waiting for a parent that no longer runs (seen in
  // /proc where there is one).
  const state = () => {
    try {
      process.kill(pid, 0)
    } catch {
      return 'gone'
    }
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0]
    } catch {
      return 'running'
    }
  }
  const deadline = Date.now() + 5000
  while (!['gone', 'Z'].includes(state()) && Date.now() < deadline) spawnSync('sleep', ['0.05'])
  assert.ok(['gone', 'Z'].includes(state()), `Azurite (pid ${pid}) still runs after its test file ended`)
  const after = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('bfn-left-running-') && !before.has(n))
  assert.deepEqual(after, [], 'the temp folder outlived its test file')
})
