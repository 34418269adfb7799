// hashFiles and hashPackage through the addon, on real files.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const native = require('..')
const { makeRepo, writeTree } = require('../support/helpers')

test('hashFiles: digests keyed by package path; node_modules, .git and the cache are skipped', async () => {
  const repo = makeRepo(['a'])
  writeTree(repo.dirs.a, {
    'src/index.ts': 'export {}',
    'src/.hidden.ts': 'dot files count',
    'node_modules/dep/index.js': 'not an input',
    '.git/HEAD': 'not an input',
    'dist/out.js': 'ignored by git',
    '.gitignore': 'dist/\n',
  })
  execFileSync('mkfifo', [path.join(repo.dirs.a, 'pipe')])
  const all = await native.hashFiles(repo.dirs.a, ['**/*'])
  assert.deepEqual(Object.keys(all), ['.gitignore', 'dist/out.js', 'package.json', 'src/.hidden.ts', 'src/index.ts'])
  for (const d of Object.values(all)) assert.match(d, /^[0-9a-f]{64}$/)
  assert.deepEqual(native.hashFilesSync(repo.dirs.a, ['**/*']), all, 'the Sync twin differs')
  const ignoring = await native.hashFiles(repo.dirs.a, ['src/**', 'dist/**'], { gitignore: true })
  assert.deepEqual(Object.keys(ignoring), ['src/.hidden.ts', 'src/index.ts'])
  // Same bytes, same digest; the state file lives in the cache folder.
  writeTree(repo.dirs.a, { 'src/copy.ts': 'export {}' })
  const again = await native.hashFiles(repo.dirs.a, ['src/**'])
  assert.equal(again['src/copy.ts'], all['src/index.ts'])
  // One state file per selection of inputs, so selections do not evict
  // each other's states.
  assert.equal(fs.readdirSync(path.join(repo.cacheDir, 'input-states-v3')).length, 3)
  // The digests are blake3 of the bytes (published test vectors), on the
  // first hash and the next.
  writeTree(repo.dirs.a, { 'src/empty': '', 'src/abc': 'abc' })
  const vectors = {
    'src/empty': 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
    'src/abc': '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
  }
  for (let i = 0; i < 2; i++) {
    const d = native.hashFilesSync(repo.dirs.a, ['src/empty', 'src/abc'])
    assert.deepEqual(d, { 'src/abc': vectors['src/abc'], 'src/empty': vectors['src/empty'] })
  }
  // Any file name is an own key of a plain object, even '__proto__'.
  const odd = path.join(repo.root, 'odd')
  fs.mkdirSync(odd)
  for (const [name, text] of [['__proto__', 'abc'], ['constructor', ''], ['10', 'abc']]) fs.writeFileSync(path.join(odd, name), text)
  const d = await native.hashFiles(odd, ['**/*'])
  assert.equal(Object.getPrototypeOf(d), Object.prototype)
  assert.deepEqual(Object.keys(d).sort(), ['10', '__proto__', 'constructor'])
  assert.equal(Object.getOwnPropertyDescriptor(d, '__proto__').value, vectors['src/abc'])
  assert.equal(d.constructor, vectors['src/empty'])
})

test('hashPackage: stable across copies and orders, sensitive to what it should be', async () => {
  const [one, two] = [makeRepo(['a']), makeRepo(['a'])]
  writeTree(one.dirs.a, { 'src/x.ts': 'x', 'src/y.ts': 'y' })
  writeTree(two.dirs.a, { 'src/y.ts': 'y', 'src/x.ts': 'x' })
  const opts = (cwd, extra = {}) => ({ cwd, salt: 'tsc', dependencyHashes: ['d1', 'd2'], ...extra })
  const base = await native.hashPackage(opts(one.dirs.a))
  assert.match(base, /^[0-9a-f]{64}$/)
  assert.equal(await native.hashPackage(opts(two.dirs.a, { dependencyHashes: ['d2', 'd1'] })), base)
  assert.equal(native.hashPackageSync(opts(one.dirs.a)), base)
  assert.notEqual(await native.hashPackage(opts(one.dirs.a, { salt: 'tsc --build' })), base)
  process.env.BFN_TEST_VAR = 'one'
  const withVar = await native.hashPackage(opts(one.dirs.a, { envVars: ['BFN_TEST_VAR'] }))
  process.env.BFN_TEST_VAR = 'two'
  assert.notEqual(await native.hashPackage(opts(one.dirs.a, { envVars: ['BFN_TEST_VAR'] })), withVar)
  delete process.env.BFN_TEST_VAR
  // A root file named by extraInputs (relative to the workspace root) counts.
  writeTree(one.root, { 'tsconfig.base.json': '{}' })
  const extra = await native.hashPackage(opts(one.dirs.a, { extraInputs: ['tsconfig.base.json'] }))
  writeTree(one.root, { 'tsconfig.base.json': '{"strict":true}' })
  assert.notEqual(await native.hashPackage(opts(one.dirs.a, { extraInputs: ['tsconfig.base.json'] })), extra)
  writeTree(one.dirs.a, { 'src/x.ts': 'x changed' })
  assert.notEqual(await native.hashPackage(opts(one.dirs.a)), base)
})

test('a missing package folder is a clear error', async () => {
  await assert.rejects(native.hashFiles('/nonexistent/pkg', ['**/*']), (e) => e.code === 'BACKFILL_NATIVE_CWD' && /package directory \/nonexistent\/pkg cannot be read/.test(e.message))
})
