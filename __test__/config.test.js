// Configuration as a user sets it: real environment variables of a real
// process, and a real .env file, with the backfill precedence.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync, spawnSync } = require('node:child_process')

const { makeRepo, tempDir, writeTree } = require('../support/helpers')
const { cleanEnv } = require('../support/env')

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
    'backfill-native: BACKFILL_CACHE_PROVIDER (from the environment) is "npm", which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo',
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

// Secrets as users paste them: a real-looking account key, the connection
// strings holding it or a SAS, and the whole provider options JSON.
const ACCOUNT_KEY = crypto.createHash('sha512').update('backfill-native test account key').digest('base64')
const SAS_SIG = crypto.createHmac('sha256', 'k').update('backfill-native test sas').digest('base64')
const REAL_CONN = `DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey=${ACCOUNT_KEY};EndpointSuffix=core.windows.net`
const SAS_CONN = `BlobEndpoint=https://myaccount.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&spr=https&sig=${encodeURIComponent(SAS_SIG)}`
const PASTED = [
  ['an account-key connection string', REAL_CONN, 'an Azure Storage connection string with an account key'],
  ['a bare account key', ACCOUNT_KEY, 'a long key-like token'],
  ['the provider options', JSON.stringify({ connectionString: REAL_CONN, container: 'cache' }), 'a JSON object, such as the provider options'],
  ['a SAS connection string', SAS_CONN, 'an Azure Storage SAS connection string'],
]
const MARKERS = [ACCOUNT_KEY, SAS_SIG, encodeURIComponent(SAS_SIG), ACCOUNT_KEY.slice(10, 40)]

/** Everything a user can see for `vars` (or `options` in code): loadConfig(), cache.config, the provider's logger lines, stderr, and the CLI's config and hash. */
function everythingShown(cwd, vars, options) {
  const env = cleanEnv(vars)
  const code = `const opts = ${JSON.stringify(options ?? null)} ?? undefined; const out = { logs: [] }
    const logger = {}; for (const l of ['silly', 'verbose', 'info', 'warn', 'error']) logger[l] = (...a) => out.logs.push(a.join(' '))
    const attempt = (f) => { try { return f() } catch (e) { return { error: e.message, code: e.code } } }
    out.loadConfig = attempt(() => n.loadConfig(undefined, opts))
    out.cacheConfig = attempt(() => new n.Cache(opts ?? {}).config)
    out.provider = await (async () => { try { await n.getProvider(logger, process.cwd(), opts).fetch('x'); return 'ok' } catch (e) { return { error: e.message } } })()
    return out`
  const child = spawnSync(process.execPath, ['-e', `const n = require(${JSON.stringify(ROOT)}); (async () => { ${code} })().then((r) => console.log(JSON.stringify(r)))`], { cwd, env, encoding: 'utf8' })
  const shown = { ...JSON.parse(child.stdout), stderr: child.stderr }
  if (!options) {
    for (const cmd of ['config', 'hash']) {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'cli.js'), cmd], { cwd, env, encoding: 'utf8' })
      shown[cmd] = { status: r.status, stdout: r.stdout, stderr: r.stderr }
    }
  }
  return shown
}

test('a secret put in any variable is never printed: not in warnings, errors, loadConfig(), cache.config or the CLI', () => {
  const repo = makeRepo(['a'])
  const fix = 'secrets and provider options belong in BACKFILL_CACHE_PROVIDER_OPTIONS only'
  const errors = {
    BACKFILL_MODE: (r) => `BACKFILL_MODE (from the environment) is invalid: expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received ${r}. To fix it, set one of those values or unset it (READ_WRITE is the default); ${fix}`,
    BACKFILL_LOG_LEVEL: (r) => `BACKFILL_LOG_LEVEL (from the environment) is invalid: expected one of silly, verbose, info, warn, error, mute, received ${r}. To fix it, set one of those values or unset it (info is the default); ${fix}`,
    LAGE_WRITE_REMOTE_CACHE: (r) => `LAGE_WRITE_REMOTE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received ${r}. To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off; ${fix}`,
    LAGE_WRITE_CACHE: (r) => `LAGE_WRITE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received ${r}. To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off; ${fix}`,
    BACKFILL_OUTPUT_GLOB: (r) => `BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as ["lib/**","dist/**"], received ${r}. To fix it, write the globs as a JSON array of strings, starting with [ and ending with ]; ${fix}`,
    BACKFILL_INTERNAL_CACHE_FOLDER: (r) => `BACKFILL_INTERNAL_CACHE_FOLDER (from the environment) is invalid: expected a folder path, relative to the package directory or absolute, received ${r}. To fix it, unset it to use the default folder, or give a path; ${fix}`,
  }
  const checkNothingLeaks = (label, shown) => {
    const text = JSON.stringify(shown)
    for (const m of MARKERS) assert.ok(!text.includes(m), `${label}: the secret was printed: ${text}`)
  }
  for (const [what, secret, kind] of PASTED) {
    const r = `a value that is not shown because it looks like a secret (${kind})`
    const cases = Object.entries(errors).map(([name, message]) => [{ [name]: secret }, message(r)])
    cases.push([{ BACKFILL_OUTPUT_GLOB: JSON.stringify(['lib/**', secret]) }, `BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as ["lib/**","dist/**"], received an array holding ${r}. To fix it, give only output globs; ${fix}`])
    for (const [field, message] of [
      ['container', `BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected "container" to be the name of a blob container, received ${r}. To fix it, set "container" to the container's name; the connection string goes in "connectionString"`],
      ['credentialName', `BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected "credentialName" to be environment, workload-identity, managed-identity or azure-cli, received ${r}. To fix it, set "credentialName" to one of those names; the connection string or account URL goes in "connectionString"`],
    ]) {
      const options = { connectionString: 'UseDevelopmentStorage=true', container: 'cache', [field]: secret }
      cases.push([{ BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify(options) }, message])
    }
    for (const [vars, message] of cases) {
      const label = `${what} in ${Object.keys(vars).join(' and ')}`
      const shown = everythingShown(repo.dirs.a, vars)
      checkNothingLeaks(label, shown)
      assert.deepEqual(shown.loadConfig, { error: message, code: 'BACKFILL_NATIVE_CONFIG' }, label)
      assert.deepEqual(shown.cacheConfig, { error: message, code: 'BACKFILL_NATIVE_CONFIG' }, label)
      assert.deepEqual(shown.provider, { error: message }, label)
      assert.deepEqual(shown.logs, [`backfill-native: the cache is off: ${message}`], label)
      for (const cmd of ['config', 'hash']) assert.deepEqual(shown[cmd], { status: 1, stdout: '', stderr: `backfill-native: ${message}\n` }, `${label}: ${cmd}`)
    }

    // A secret as the provider name is warned about (and ignored), never echoed.
    const warning = `BACKFILL_CACHE_PROVIDER (from the environment) is ${r}, which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo. To fix it, set it to one of those; ${fix}`
    const shown = everythingShown(repo.dirs.a, { BACKFILL_CACHE_PROVIDER: secret })
    checkNothingLeaks(`${what} in BACKFILL_CACHE_PROVIDER`, shown)
    const notice = { code: 'CONFIG_UNKNOWN_PROVIDER', message: warning }
    assert.deepEqual([shown.loadConfig.provider, shown.loadConfig.warnings], ['local', [notice]])
    assert.deepEqual(shown.cacheConfig.warnings, [notice])
    assert.deepEqual(shown.logs, [`backfill-native: ${warning}`])
    assert.deepEqual(JSON.parse(shown.config.stdout).warnings, [notice])
    assert.equal(shown.hash.stderr, `backfill-native: warning: ${warning}\n`)

    // Options passed in code go through the same rule.
    for (const options of [{ outputGlob: ['lib/**', secret] }, { cacheFolder: secret }, { mode: secret }]) {
      const label = `${what} in the code option ${Object.keys(options)[0]}`
      const got = everythingShown(repo.dirs.a, {}, options)
      checkNothingLeaks(label, got)
      assert.equal(got.loadConfig.code, 'BACKFILL_NATIVE_CONFIG', label)
      assert.match(got.loadConfig.error, new RegExp(`\\(from the options passed in code\\) is invalid: .*received (an array holding )?a value that is not shown because it looks like a secret \\(${kind.replace(/[()]/g, '\\$&')}\\)`), label)
    }
  }
})

test('provider options: an unknown field is a warning with the closest known field, a misspelt signingKey an error, values never shown', () => {
  const repo = makeRepo(['a'])
  const P = 'BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment)'
  const KNOWN = 'Known fields: connectionString, container, maxSize, credentialName, signingKey, timeoutScale'
  const warned = (field, hint) => ({ warnings: [`${P} has an unknown field "${field}", which is ignored${hint} ${KNOWN}`] })
  const signing = (field) => ({ error: `${P} is invalid: expected the field "signingKey" (spelled exactly so), received a field "${field}", which is not read, so uploads would not be signed and downloads not checked. To fix it, rename "${field}" to "signingKey"` })
  const required = (field, known) => ({ error: `${P} is invalid: expected "${known}" to be a non-empty string for the azure-blob provider, received no such field, but a field "${field}" (did you mean "${known}"?). To fix it, rename "${field}" to "${known}"` })
  const VALUE = 'VALUE-NEVER-SHOWN'
  const base = { connectionString: CONN, container: 'cache' }
  const table = [
    [{ ...base, maxsize: VALUE }, warned('maxsize', '; did you mean "maxSize"?')],
    [{ ...base, credential_name: VALUE }, warned('credential_name', '; did you mean "credentialName"?')],
    [{ ...base, signKey: VALUE }, warned('signKey', '; did you mean "signingKey"?')],
    [{ ...base, retries: VALUE }, warned('retries', '.')],
    [{ ...base, signingkey: VALUE }, signing('signingkey')],
    [{ ...base, signing_key: VALUE }, signing('signing_key')],
    [{ ...base, 'Signing-Key': VALUE }, signing('Signing-Key')],
    [{ ...base, singingKey: VALUE }, signing('singingKey')],
    [{ ...base, signingKy: VALUE }, signing('signingKy')],
    [{ conectionString: CONN, container: 'cache' }, required('conectionString', 'connectionString')],
    [{ connectionString: CONN, containerName: 'cache' }, required('containerName', 'container')],
  ]
  for (const [options, expected] of table) {
    // WRITE_ONLY: the provider's fetch does not try the (unreachable) remote.
    const vars = { BACKFILL_MODE: 'WRITE_ONLY', BACKFILL_CACHE_PROVIDER: 'azure-blob', BACKFILL_CACHE_PROVIDER_OPTIONS: JSON.stringify(options) }
    const shown = everythingShown(repo.dirs.a, vars)
    const label = Object.keys(options).join(', ')
    const text = JSON.stringify(shown)
    for (const m of [VALUE, SECRET_KEY]) assert.ok(!text.includes(m), `${label}: a value was printed: ${text}`)
    if (expected.error) {
      assert.deepEqual(shown.loadConfig, { error: expected.error, code: 'BACKFILL_NATIVE_CONFIG' }, label)
      assert.deepEqual(shown.config, { status: 1, stdout: '', stderr: `backfill-native: ${expected.error}\n` }, label)
    } else {
      const notices = expected.warnings.map((message) => ({ code: 'CONFIG_UNKNOWN_FIELD', message }))
      assert.deepEqual(shown.loadConfig.warnings, notices, label)
      assert.deepEqual(shown.cacheConfig.warnings, notices, label)
      assert.deepEqual(shown.logs.filter((l) => l.includes('unknown field')), expected.warnings.map((w) => `backfill-native: ${w}`), label)
      assert.deepEqual(JSON.parse(shown.config.stdout).warnings, notices, label)
      assert.equal(shown.hash.stderr, expected.warnings.map((w) => `backfill-native: warning: ${w}\n`).join(''), label)
      assert.equal(shown.loadConfig.remote.maxSize ?? null, null, label)
      assert.equal(shown.loadConfig.remote.signed, false, label)
    }
  }
})

test('values that are not secrets are still accepted and echoed: brace globs, long paths, typo messages', () => {
  const repo = makeRepo(['a'])
  const folder = '/tmp/runner/work/MyRepo2024/MyRepo2024/node_modules/.cache/x'
  const c = inChild(repo.dirs.a, cleanEnv({ BACKFILL_OUTPUT_GLOB: '["{lib,dist}/**","!**/*.map"]', BACKFILL_INTERNAL_CACHE_FOLDER: folder }), 'return n.loadConfig()')
  assert.deepEqual([c.outputGlob, c.cacheFolder], [['{lib,dist}/**', '!**/*.map'], folder])
  const bad = inChild(repo.dirs.a, cleanEnv({ BACKFILL_MODE: 'READ-ONLY' }), 'return n.loadConfig()')
  assert.equal(bad.error, 'BACKFILL_MODE (from the environment) is invalid: expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received "READ-ONLY". To fix it, set one of those values or unset it (READ_WRITE is the default)')
})

// A JavaScript number above 2^32 reaches the engine as a float: a maxSize
// of 5 GiB passed in code was refused ("received 5368709120.0").
test('a maxSize above 4 GiB passed in code is taken, for every remote', () => {
  const dir = makeRepo(['a']).dirs.a
  const max = 5 * 2 ** 30
  const got = inChild(
    dir,
    cleanEnv(),
    `const max = ${max}
    const azure = n.loadConfig(undefined, { provider: 'azure-blob', providerOptions: { connectionString: 'UseDevelopmentStorage=true', container: 'c', maxSize: max } })
    const turbo = n.loadConfig(undefined, { provider: 'turborepo', providerOptions: { apiUrl: 'http://127.0.0.1:9', token: 't', maxSize: max } })
    let half
    try { n.loadConfig(undefined, { provider: 'turborepo', providerOptions: { token: 't', maxSize: 1.5 } }) } catch (e) { half = e.message }
    return [azure.remote.maxSize, turbo.turborepo.maxSize, half]`,
  )
  assert.deepEqual(got.slice(0, 2), [max, max])
  assert.match(got[2], /expected "maxSize" to be a whole number of bytes, received 1\.5/)
})
