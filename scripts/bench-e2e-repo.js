'use strict'
// The monorepo `bench-e2e.js` measures: deterministic, in dependency levels,
// with mixed output sizes and some outputs identical across packages.
//
// Each package's build (`node ../../build.js`) writes the files its
// `bench.json` describes into lib/ and appends its name to builds.log at the
// root, so a run that reran a build script is seen.
const fs = require('node:fs')
const path = require('node:path')

// Three kinds of package, by how their outputs look: many small files, a
// middling tree, a few large files (weights of file count and of bytes).
const KINDS = [
  { name: 'small', files: 3, bytes: 1 },
  { name: 'medium', files: 1.2, bytes: 1 },
  { name: 'large', files: 0.2, bytes: 3 },
]
// Sizes within a package vary around its mean (their mean is 1).
const SIZE_FACTORS = [0.25, 0.5, 1, 1.5, 1.75]
// Of each package's files, this share is the same in every package
// (a vendored runtime, say): same paths, same bytes.
const SHARED_SHARE = 0.1

const BUILD = `'use strict'
// Writes this package's outputs as bench.json describes them: deterministic
// bytes (AES-CTR over zeros, keyed by the seed), so every build of a package
// produces the same tree.
const fs = require('fs')
const path = require('path')
const crypto = require('crypto')
const spec = require(path.resolve('bench.json'))
fs.appendFileSync(path.join(__dirname, 'builds.log'), spec.name + '\\n')
const stream = (seed) => crypto.createCipheriv('aes-128-ctr', crypto.createHash('md5').update(seed).digest(), Buffer.alloc(16))
const write = (files, seed) => {
  const cipher = stream(seed)
  for (const [rel, size] of files) {
    const file = path.join('lib', rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, cipher.update(Buffer.alloc(size)))
  }
}
write(spec.own, spec.name)
write(spec.shared, 'shared')
`

/** What each package builds: name, dependencies, own and shared files [rel, size]. */
function plan({ packages, files, mb }) {
  const levels = Math.max(1, Math.min(5, Math.ceil(packages / 6)))
  const perLevel = Math.ceil(packages / levels)
  const pkgs = []
  for (let i = 0; i < packages; i++) {
    const level = Math.floor(i / perLevel)
    const name = `p${String(i).padStart(2, '0')}`
    // Two dependencies on the level before (one when it has one package).
    const prev = pkgs.filter((p) => p.level === level - 1).map((p) => p.name)
    const deps = prev.length ? [...new Set([prev[i % prev.length], prev[(i + 1) % prev.length]])] : []
    pkgs.push({ name, level, deps, kind: KINDS[i % KINDS.length] })
  }
  const fileWeight = pkgs.reduce((s, p) => s + p.kind.files, 0)
  const byteWeight = pkgs.reduce((s, p) => s + p.kind.bytes, 0)
  for (const p of pkgs) {
    const count = Math.max(2, Math.round((files * p.kind.files) / fileWeight))
    const bytes = (mb * 1048576 * p.kind.bytes) / byteWeight
    const mean = bytes / count
    const sharedCount = Math.max(1, Math.round(count * SHARED_SHARE))
    const list = Array.from({ length: count }, (_, j) => Math.max(1, Math.round(mean * SIZE_FACTORS[j % SIZE_FACTORS.length])))
    // Shared files have one size, the same in every package.
    const sharedSize = 4096
    p.shared = Array.from({ length: sharedCount }, (_, j) => [`vendor/runtime-${j}.js`, sharedSize])
    p.own = list.slice(sharedCount).map((size, j) => [`${p.kind.name}/d${j % 7}/s${j % 3}/f${j}.js`, size])
  }
  return pkgs
}

/**
 * Writes the monorepo at `root`: package.json with workspaces and
 * `devDependencies` (installed by the caller), the packages, build.js,
 * .gitignore, and `extra` files ({ rel: text }).
 */
function writeRepo(root, pkgs, { devDependencies, extra = {}, packageManager }) {
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), text)
  }
  write('package.json', JSON.stringify({ name: 'bench-repo', private: true, packageManager, workspaces: ['packages/*'], devDependencies }, null, 2))
  write('build.js', BUILD)
  write('.gitignore', 'node_modules\nlib\nbuilds.log\n.turbo\n.env\n')
  for (const p of pkgs) {
    const dir = `packages/${p.name}`
    write(`${dir}/package.json`, JSON.stringify({ name: p.name, version: '1.0.0', private: true, dependencies: Object.fromEntries(p.deps.map((d) => [d, '1.0.0'])), scripts: { build: 'node ../../build.js' } }, null, 2))
    write(`${dir}/bench.json`, JSON.stringify({ name: p.name, own: p.own, shared: p.shared }))
    write(`${dir}/src/index.js`, `export const ${p.name} = ${JSON.stringify(p.name)}\n`)
  }
  for (const [rel, text] of Object.entries(extra)) write(rel, text)
}

/** Totals of a plan: files, bytes, distinct bytes (shared files once). */
function totals(pkgs) {
  let files = 0
  let bytes = 0
  let shared = 0
  for (const p of pkgs) {
    for (const [, s] of p.own) (files++, (bytes += s))
    for (const [, s] of p.shared) (files++, (bytes += s))
    shared = Math.max(shared, p.shared.reduce((a, [, s]) => a + s, 0))
  }
  const dupBytes = pkgs.reduce((a, p) => a + p.shared.reduce((b, [, s]) => b + s, 0), 0) - shared
  return { files, bytes, distinctBytes: bytes - dupBytes }
}

module.exports = { plan, writeRepo, totals }
