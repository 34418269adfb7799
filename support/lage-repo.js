// A small monorepo built by the real lage 2.17.0, using backfill-native
// through `backfill-native/lage`, with build scripts that count their runs.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { tempDir } = require('./helpers')
const { cleanEnv } = require('./env')

const ROOT = path.resolve(__dirname, '..')
const LAGE = path.join(ROOT, 'node_modules', 'lage', 'dist', 'lage.js')

// a <- b <- c (each depends on the one before), d and e alone.
const PACKAGES = { a: [], b: ['a'], c: ['b'], d: [], e: [] }

// Writes outputs a user would compare: nested folders, a dot file, an
// executable, a binary; appends to builds.log so runs can be counted.
const BUILD = `const fs = require('fs'), path = require('path')
const name = require('./package.json').name
fs.appendFileSync(path.join(__dirname, '..', '..', 'builds.log'), name + '\\n')
fs.mkdirSync('lib/nested/deeper', { recursive: true })
fs.mkdirSync('lib/.meta', { recursive: true })
const src = fs.readFileSync('src/index.js', 'utf8')
fs.writeFileSync('lib/index.js', '// built\\n' + src.toUpperCase())
fs.writeFileSync('lib/nested/deeper/data.bin', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * name.charCodeAt(0)) % 256)))
fs.writeFileSync('lib/.meta/build.json', JSON.stringify({ name }))
fs.writeFileSync('lib/cli.js', '#!/usr/bin/env node\\n')
fs.chmodSync('lib/cli.js', 0o755)
`

/**
 * Makes the monorepo; `config` is the argument of cacheStorageConfig().
 * With `plainMarker`, lage.config.js holds the marker object itself and
 * relies on NODE_OPTIONS="--require backfill-native/lage" instead.
 * `cacheOptions` adds lage cacheOptions fields (writeRemoteCache, ...);
 * `build` replaces the build script (it runs in the package folder).
 */
function makeLageRepo(config = {}, { plainMarker = false, cacheOptions = {}, build = BUILD } = {}) {
  const root = tempDir('bfn-lage-')
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), text)
  }
  write('package.json', JSON.stringify({ name: 'repo', private: true, workspaces: ['packages/*'] }))
  // lage finds the monorepo's package manager by its lock file.
  write('package-lock.json', JSON.stringify({ name: 'repo', lockfileVersion: 3, requires: true, packages: {} }))
  write(
    'lage.config.js',
    `module.exports = {
  pipeline: { build: ['^build'] },
  cacheOptions: {
    outputGlob: ['lib/**'],${Object.entries(cacheOptions).map(([k, v]) => `\n    ${k}: ${JSON.stringify(v)},`).join('')}
    cacheStorageConfig: ${plainMarker ? JSON.stringify({ provider: 'custom', plugin: 'backfill-native', options: config }) : `require('backfill-native/lage').cacheStorageConfig(${JSON.stringify(config)})`},
  },
}
`,
  )
  for (const [name, deps] of Object.entries(PACKAGES)) {
    write(`packages/${name}/package.json`, JSON.stringify({ name, version: '1.0.0', dependencies: Object.fromEntries(deps.map((d) => [d, '*'])), scripts: { build: 'node build.js' } }))
    write(`packages/${name}/build.js`, build)
    write(`packages/${name}/src/index.js`, `export const ${name} = "${name}"\n`)
  }
  // How a user gets the package: node_modules/backfill-native.
  fs.mkdirSync(path.join(root, 'node_modules'), { recursive: true })
  fs.symlinkSync(ROOT, path.join(root, 'node_modules', 'backfill-native'))
  write('.gitignore', 'node_modules\nlib\nbuilds.log\nseen\n.env\n')
  const git = (...args) => spawnSync('git', args, { cwd: root, env: cleanEnv({ GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' }) })
  git('init', '-q')
  git('add', '-A')
  git('commit', '-qm', 'init')
  return {
    root,
    packages: Object.keys(PACKAGES),
    dir: (name) => path.join(root, 'packages', name),
    builds: () => (fs.existsSync(path.join(root, 'builds.log')) ? fs.readFileSync(path.join(root, 'builds.log'), 'utf8').trim().split('\n').filter(Boolean) : []),
    lageCacheDir: path.join(root, 'node_modules', '.cache', 'lage', 'cache'),
    nativeStore: path.join(root, 'node_modules', '.cache', 'backfill-native'),
    /** Runs `lage build` with `env` added to a clean environment. */
    lage(args = [], env = {}) {
      return this.lageCommand(['build', '--reporter', 'default', ...args], env)
    },
    /** Runs lage with these arguments (`['cache', '--clear']`) and `env` added to a clean environment. */
    lageCommand(args, env = {}) {
      const started = Date.now()
      const r = spawnSync(process.execPath, [LAGE, ...args], {
        cwd: root,
        env: cleanEnv({ CI: '', TF_BUILD: '', ...env }),
        encoding: 'utf8',
        timeout: 240000,
      })
      return { status: r.status, output: `${r.stdout}${r.stderr}`, ms: Date.now() - started }
    },
  }
}

module.exports = { makeLageRepo, LAGE }
