// A platform package that is missing (or broken, or for no supported
// platform): one clear error from `require`, and one line from lage, which
// runs no target and never falls back to its own cache.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { tempDir } = require('../support/helpers')
const { cleanEnv } = require('../support/env')
const { makeLageRepo } = require('../support/lage-repo')

const ROOT = path.resolve(__dirname, '..')
const PKG = require('../package.json')
const { platformKey } = require('../missing-binary')
const KEY = platformKey()
const SUPPORTED =
  'Supported platforms: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, win32-x64-msvc, win32-arm64-msvc.'

/** The main package as published (its `files`), with no binary beside it. */
function mainPackageWithoutBinary(dir) {
  fs.mkdirSync(dir, { recursive: true })
  for (const f of [...PKG.files.filter((f) => fs.existsSync(path.join(ROOT, f))), 'package.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f))
  return dir
}

/** `require(dir)` in a fresh Node; the error's message and code. */
function requireIn(dir, preload = []) {
  const code = `try { require(${JSON.stringify(dir)}); console.log('loaded') } catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code, keys: Object.keys(e) })) }`
  const r = spawnSync(process.execPath, [...preload.flatMap((p) => ['--require', p]), '-e', code], { encoding: 'utf8', env: cleanEnv({ NAPI_RS_NATIVE_LIBRARY_PATH: '' }) })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

test('the supported platforms are the npm/ packages and the napi targets', () => {
  const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort()
  assert.deepEqual([...require('../missing-binary').SUPPORTED].sort(), dirs)
  assert.equal(PKG.napi.targets.length, dirs.length)
  for (const d of dirs) assert.equal(require(`../npm/${d}/package.json`).name, `backfill-native-${d}`)
})

test('require: a platform package that was not installed is one error naming it, the platforms and the fix', () => {
  const dir = mainPackageWithoutBinary(path.join(tempDir('bfn-nobin-'), 'node_modules', 'backfill-native'))
  const e = requireIn(dir)
  assert.equal(
    e.message,
    `backfill-native: no binary for this platform (${KEY}, Node ${process.versions.node}): the package backfill-native-${KEY}@${PKG.version}, ` +
      `an optional dependency of backfill-native, should have been installed and was not. ${SUPPORTED} ` +
      `Fix: install again with optional dependencies (not --omit=optional, --no-optional or --ignore-optional); ` +
      `if the lockfile was made on another platform, delete node_modules and the lockfile and install again (npm/cli#4828), ` +
      `or add backfill-native-${KEY}@${PKG.version} as a dependency.`,
  )
  assert.equal(e.code, 'BFN_NO_BINARY')
  // Printed as is, the error shows no chain of napi's attempts (nor its wasm fallback).
  assert.deepEqual(e.keys.sort(), ['code', 'package', 'platform'])
  assert.doesNotMatch(e.message, /wasm|wasi/i)
})

test('require: a platform package whose binary does not load says so, with the reason', () => {
  const nm = path.join(tempDir('bfn-badbin-'), 'node_modules')
  const dir = mainPackageWithoutBinary(path.join(nm, 'backfill-native'))
  const plat = path.join(nm, `backfill-native-${KEY}`)
  fs.mkdirSync(plat)
  fs.writeFileSync(path.join(plat, 'package.json'), JSON.stringify({ name: `backfill-native-${KEY}`, version: PKG.version, main: `backfill-native.${KEY}.node` }))
  fs.writeFileSync(path.join(plat, `backfill-native.${KEY}.node`), 'not a shared object')
  const e = requireIn(dir)
  assert.equal(e.code, 'BFN_NO_BINARY')
  assert.match(e.message, new RegExp(`^backfill-native: backfill-native-${KEY} is installed but its binary did not load on this platform \\(${KEY}, Node [0-9.]+\\): .*(invalid ELF header|too short|not a mach-o|not a valid Win32)`, 'i'))
  assert.ok(e.message.includes(SUPPORTED))
  assert.ok(e.message.endsWith(`Fix: reinstall so that backfill-native-${KEY}@${PKG.version} matches backfill-native@${PKG.version} (delete node_modules and install again).`), e.message)
})

test('require: a platform with no package says it is not supported', () => {
  const dir = mainPackageWithoutBinary(path.join(tempDir('bfn-freebsd-'), 'node_modules', 'backfill-native'))
  const preload = path.join(dir, '..', 'freebsd.js')
  fs.writeFileSync(preload, "Object.defineProperty(process, 'platform', { value: 'freebsd' })\n")
  const e = requireIn(dir, [preload])
  assert.equal(
    e.message,
    `backfill-native: this platform (freebsd-${process.arch}, Node ${process.versions.node}) is not supported; no backfill-native-freebsd-${process.arch} package is published. ${SUPPORTED} ` +
      'Fix: run on a supported platform, or build the binary from a clone (npm run build, Rust toolchain needed) and set NAPI_RS_NATIVE_LIBRARY_PATH to the .node file.',
  )
})

test('lage: a missing binary is one line and exit 1; no target runs, lage writes no cache of its own', () => {
  const repo = makeLageRepo()
  const link = path.join(repo.root, 'node_modules', 'backfill-native')
  fs.rmSync(link)
  mainPackageWithoutBinary(link)
  const run = repo.lage()
  assert.equal(run.status, 1, run.output)
  const expected = requireIn(link).message
  assert.equal(run.output, `${expected}\n`)
  assert.deepEqual(repo.builds(), [])
  assert.equal(fs.existsSync(repo.lageCacheDir), false, "lage's own cache folder was written")
})
