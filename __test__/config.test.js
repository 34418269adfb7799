// Configuration as a user sets it: real environment variables of a real
// process, and a real .env file, with the backfill precedence.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const { makeRepo, cleanEnv, tempDir, writeTree } = require('./helpers')

const ROOT = path.resolve(__dirname, '..')
const SECRET_KEY = 'c2VjcmV0LWFjY291bnQta2V5LW5vdC1mb3ItbG9ncw=='
const CONN = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${SECRET_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1`

/** Runs `code` in a fresh Node process in `cwd` with exactly `env`; returns its JSON output. */
function inChild(cwd, env, code) {
  const script = `const n = require(${JSON.stringify(ROOT)}); Promise.resolve((async () => { ${code} })()).then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ error: e.message, code: e.code })))`
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd, env, encoding: 'utf8' }))
}

test('precedence: defaults < options in code < .env < process environment', () => {
  const repo = makeRepo(['a'])
  fs.writeFileSync(path.join(repo.root, '.env'), 'BACKFILL_MODE=READ_ONLY\nBACKFILL_LOG_LEVEL="warn"\nBACKFILL_OUTPUT_GLOB=["dist/**"]\n')
  const env = cleanEnv({ BACKFILL_LOG_LEVEL: 'error' })
  const c = inChild(repo.dirs.a, env, `return n.loadConfig(undefined, { mode: 'PASS', logLevel: 'silly', outputGlob: ['x/**'], cacheFolder: '.c' })`)
  assert.equal(c.cwd, repo.dirs.a)
  assert.equal(c.mode, 'READ_ONLY', '.env beats options')
  assert.equal(c.logLevel, 'error', 'environment beats .env')
  assert.deepEqual(c.outputGlob, ['dist/**'], '.env beats options')
  assert.equal(c.cacheFolder, path.join(repo.dirs.a, '.c'), 'options beat defaults')
  assert.equal(c.envFile, path.join(repo.root, '.env'))
  const d = inChild(repo.dirs.a, cleanEnv(), `fs = require('fs'); fs.rmSync(${JSON.stringify(path.join(repo.root, '.env'))}); return n.loadConfig()`)
  assert.deepEqual([d.mode, d.logLevel, d.provider, d.writeRemoteCache], ['READ_WRITE', 'info', 'local', false])
  assert.deepEqual(d.outputGlob, ['lib/**'])
  assert.equal(d.cacheFolder, path.join(repo.root, 'node_modules/.cache/backfill-native'))
})

test('.env never overrides or leaks into the process environment', () => {
  const repo = makeRepo(['a'])
  fs.writeFileSync(path.join(repo.root, '.env'), 'LAGE_WRITE_REMOTE_CACHE=true\nBACKFILL_NATIVE_MARKER=1\n')
  const r = inChild(repo.dirs.a, cleanEnv({ LAGE_WRITE_REMOTE_CACHE: 'false' }), `return { c: n.loadConfig(), marker: process.env.BACKFILL_NATIVE_MARKER ?? null }`)
  assert.equal(r.c.writeRemoteCache, false)
  assert.equal(r.marker, null)
})

test('the user doc .env for azure-blob is read and the connection string is redacted', () => {
  const repo = makeRepo(['a'])
  fs.writeFileSync(
    path.join(repo.root, '.env'),
    `BACKFILL_CACHE_PROVIDER="azure-blob"\nBACKFILL_CACHE_PROVIDER_OPTIONS={"connectionString":"${CONN}","container":"cache","maxSize":5000}\n`,
  )
  const c = inChild(repo.dirs.a, cleanEnv(), 'return n.loadConfig()')
  assert.equal(c.provider, 'azure-blob')
  assert.deepEqual(c.remote, { connectionString: '<redacted>', container: 'cache', maxSize: 5000, signed: false })
  assert.ok(!JSON.stringify(c).includes(SECRET_KEY), 'secret in loadConfig output')
})

test('bad values: the error names the variable, its origin, what was expected and what was received', () => {
  const repo = makeRepo(['a'])
  const cases = [
    [{ BACKFILL_MODE: 'FAST' }, 'BACKFILL_MODE (from the environment) is invalid: expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received "FAST". To fix it, set one of those values or unset it (READ_WRITE is the default)'],
    [{ BACKFILL_OUTPUT_GLOB: 'lib/**' }, 'BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as ["lib/**","dist/**"], received "lib/**". To fix it, write the globs as a JSON array of strings, starting with [ and ending with ]'],
    [{ LAGE_WRITE_REMOTE_CACHE: 'sometimes' }, 'LAGE_WRITE_REMOTE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received "sometimes". To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off'],
  ]
  for (const [vars, message] of cases) {
    const r = inChild(repo.dirs.a, cleanEnv(vars), 'return new n.Cache()')
    assert.deepEqual(r, { error: message, code: 'BACKFILL_NATIVE_CONFIG' })
  }
  assert.equal(fs.existsSync(repo.cacheDir), false, 'a misconfigured cache wrote files')
})

test('unparsable provider options: the error gives the position, never the secret', () => {
  const repo = makeRepo(['a'])
  const env = cleanEnv({ BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: `{"connectionString":"${CONN}", container: "c"}` })
  const r = inChild(repo.dirs.a, env, 'return n.loadConfig()')
  assert.equal(r.code, 'BACKFILL_NATIVE_CONFIG')
  assert.match(r.error, /^BACKFILL_CACHE_PROVIDER_OPTIONS \(from the environment\) is invalid: expected a JSON object .* received text that could not be parsed as JSON \(error at line 1 column \d+; the value is not shown because it may hold a secret\)/)
  assert.ok(!r.error.includes(SECRET_KEY))
})

test('the provider warns once through the logger and stderr stays clean', () => {
  const repo = makeRepo(['a', 'b'])
  const code = `const warns = []; const logger = { warn: (m) => warns.push(m) };
    for (const d of ${JSON.stringify([repo.dirs.a, repo.dirs.b])}) { const s = n.getProvider(logger, d); await s.fetch('x') }
    return warns`
  const child = spawnSync(process.execPath, ['-e', `const n = require(${JSON.stringify(ROOT)}); (async () => { ${code} })().then((r) => console.log(JSON.stringify(r)))`], {
    cwd: repo.root,
    env: cleanEnv({ BACKFILL_CACHE_PROVIDER: 'npm' }),
    encoding: 'utf8',
  })
  assert.equal(child.stderr, '')
  assert.deepEqual(JSON.parse(child.stdout), [
    'backfill-native: BACKFILL_CACHE_PROVIDER (from the environment) is "npm", which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob',
  ])
})

test('.env: the nearest from the package up to the workspace (or git) root, never above it', () => {
  const home = tempDir('bfn-home-')
  fs.writeFileSync(path.join(home, '.env'), 'BACKFILL_MODE=PASS\nBACKFILL_CACHE_PROVIDER=azure-blob\n')
  // A workspace root (package.json with workspaces), and a plain git repository.
  const workspace = path.join(home, 'workspace')
  writeTree(workspace, { 'package.json': JSON.stringify({ workspaces: ['packages/*'] }), 'packages/a/package.json': '{"name":"a"}' })
  const gitRepo = path.join(home, 'git-repo')
  writeTree(gitRepo, { '.git/HEAD': 'ref: refs/heads/main\n', 'packages/a/package.json': '{"name":"a"}' })
  for (const root of [workspace, gitRepo]) {
    const pkg = path.join(root, 'packages', 'a')
    const seen = () => {
      const c = inChild(pkg, cleanEnv(), 'return n.loadConfig()')
      return [c.mode, c.provider, c.envFile ?? null]
    }
    assert.deepEqual(seen(), ['READ_WRITE', 'local', null], `${root}: a .env above the root was read`)
    fs.writeFileSync(path.join(root, '.env'), 'BACKFILL_MODE=READ_ONLY\n')
    assert.deepEqual(seen(), ['READ_ONLY', 'local', path.join(root, '.env')])
    fs.writeFileSync(path.join(pkg, '.env'), 'BACKFILL_MODE=WRITE_ONLY\n')
    assert.deepEqual(seen(), ['WRITE_ONLY', 'local', path.join(pkg, '.env')])
    const cli = spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), 'config'], { cwd: pkg, env: cleanEnv(), encoding: 'utf8' })
    assert.equal(JSON.parse(cli.stdout).envFile, path.join(pkg, '.env'))
  }
})
