'use strict'
// What `require('backfill-native')` says when no binary loads: one error
// naming the platform, the package that should have been installed, the
// supported platforms and the fix. napi-rs's generated message (binding.js)
// is generic and names a wasm package this project does not ship.

const path = require('node:path')

const PACKAGE = 'backfill-native'
// The platform packages published, as `npm/` holds them (a test checks the two agree).
const SUPPORTED = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
  'win32-arm64-msvc',
]

function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    const report = process.report && process.report.getReport()
    if (report && report.header && report.header.glibcVersionRuntime) return false
    if (report && Array.isArray(report.sharedObjects)) return report.sharedObjects.some((f) => f.includes('musl'))
  } catch {}
  return false
}

/** The platform package's suffix for this process, as napi-rs names it. */
function platformKey() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function version() {
  try {
    return require('./package.json').version
  } catch {
    return undefined
  }
}

/** Whether the platform package resolves from the main package's folder. */
function resolves(name) {
  try {
    require.resolve(`${name}/package.json`, { paths: [__dirname] })
    return true
  } catch {
    return false
  }
}

/**
 * The reason napi's loader gave that is not "module not found" (its error's
 * `cause` is a chain of plain errors, one per attempt, messages only).
 */
function loadFailure(err) {
  const seen = new Set()
  let reason = null
  for (let e = err && err.cause; e && !seen.has(e); e = e.cause) {
    seen.add(e)
    const m = String(e.message || '')
    if (!m.startsWith('Cannot find module')) reason = m.split('\n')[0]
  }
  return reason
}

/**
 * The error for a binary that did not load, from napi-rs's own error (its
 * `cause` chain lists every attempt, the wasm fallback we do not ship among
 * them): kept as the non-enumerable `loadError`, so that printing the error
 * shows our message, not that chain.
 */
function missingBinaryError(cause) {
  const key = platformKey()
  const v = version()
  const pkg = `${PACKAGE}-${key}`
  const supported = `Supported platforms: ${SUPPORTED.join(', ')}.`
  let message
  if (!SUPPORTED.includes(key)) {
    message =
      `${PACKAGE}: this platform (${key}, Node ${process.versions.node}) is not supported; no ${pkg} package is published. ${supported} ` +
      `Fix: run on a supported platform, or build the binary from a clone (npm run build, Rust toolchain needed) and set NAPI_RS_NATIVE_LIBRARY_PATH to the .node file.`
  } else if (resolves(pkg)) {
    const why = loadFailure(cause)
    message =
      `${PACKAGE}: ${pkg} is installed but its binary did not load on this platform (${key}, Node ${process.versions.node})` +
      `${why ? `: ${why}` : ''}. ${supported} The Linux gnu binaries need glibc 2.17 or later. ` +
      `Fix: reinstall so that ${pkg}${v ? `@${v}` : ''} matches ${PACKAGE}${v ? `@${v}` : ''} (delete node_modules and install again).`
  } else {
    message =
      `${PACKAGE}: no binary for this platform (${key}, Node ${process.versions.node}): the package ${pkg}${v ? `@${v}` : ''}, ` +
      `an optional dependency of ${PACKAGE}, should have been installed and was not. ${supported} ` +
      `Fix: install again with optional dependencies (not --omit=optional, --no-optional or --ignore-optional); ` +
      `if the lockfile was made on another platform, delete node_modules and the lockfile and install again (npm/cli#4828), ` +
      `or add ${pkg}${v ? `@${v}` : ''} as a dependency.`
  }
  const e = new Error(message)
  Object.defineProperty(e, 'loadError', { value: cause, enumerable: false })
  e.code = 'BFN_NO_BINARY'
  e.platform = key
  e.package = pkg
  return e
}

module.exports = { missingBinaryError, platformKey, SUPPORTED, PACKAGE, root: path.resolve(__dirname) }
