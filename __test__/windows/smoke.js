// Smoke test of the Windows addon in Windows Node (run under wine by
// `scripts/windows.sh smoke`): load the package, put and fetch a package
// with nested folders, a read-only file and a path longer than 260
// characters, compare the bytes, hash inputs, check the lock and the
// configuration's paths. Plain assertions; exit code 0 when all pass.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const packageDir = process.argv[2]
const steps = []
async function step(name, fn) {
  try {
    await fn()
    steps.push(`ok ${name}`)
  } catch (e) {
    steps.push(`FAILED ${name}\n${e && e.stack ? e.stack : e}`)
    process.exitCode = 1
  }
}

function files(dir) {
  const out = {}
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out[path.relative(dir, p).split(path.sep).join('/')] = {
        bytes: fs.readFileSync(p).toString('base64'),
        readOnly: (fs.statSync(p).mode & 0o200) === 0,
      }
    }
  }
  walk(dir)
  return out
}

function removeTree(dir) {
  // Windows refuses to delete read-only files.
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else fs.chmodSync(p, 0o666)
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  fs.rmSync(dir, { recursive: true, force: true })
}

async function main() {
  assert.equal(process.platform, 'win32', 'this smoke test runs in Windows Node')
  const native = require(packageDir)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bfn-smoke-'))
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ private: true, workspaces: ['packages/*'] }))
  const pkg = path.join(root, 'packages', 'app')
  const deep = Array.from({ length: 10 }, (_, i) => `level-${i}-${'d'.repeat(24)}`).join('/')
  const tree = {
    'lib/index.js': 'module.exports = 1\n',
    'lib/nested/a/b/c.js': 'c'.repeat(5000),
    'lib/types.d.ts': 'export {}\n',
    [`lib/${deep}/long-name-file.js`]: 'far down\n',
    'lib/big.bin': Buffer.alloc(3 << 20, 7),
    'src/index.ts': 'export const x = 1\n',
  }
  for (const [rel, content] of Object.entries(tree)) {
    const p = path.join(pkg, ...rel.split('/'))
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, content)
  }
  fs.chmodSync(path.join(pkg, 'lib', 'types.d.ts'), 0o444)
  const longPath = path.join(pkg, 'lib', ...deep.split('/'), 'long-name-file.js')
  assert.ok(longPath.length > 260, `the long path has ${longPath.length} characters`)

  await step('loadConfig: the cache folder has one kind of separator', () => {
    const config = native.loadConfig(pkg)
    assert.equal(config.cacheFolder, path.join(root, 'node_modules', '.cache', 'backfill-native'))
    assert.ok(!config.cacheFolder.includes('/'), config.cacheFolder)
  })

  const want = files(path.join(pkg, 'lib'))
  assert.equal(want['types.d.ts'].readOnly, true)

  await step('put, then fetch into a wiped folder: same bytes, read-only kept, long path', async () => {
    const cache = new native.Cache({ cwd: pkg })
    assert.equal((await cache.fetch('smoke-1')).hit, false)
    const put = await cache.put('smoke-1', ['lib/**'])
    assert.deepEqual([put.stored, put.files], [true, Object.keys(tree).length - 1])
    removeTree(path.join(pkg, 'lib'))
    const hit = await cache.fetch('smoke-1')
    assert.deepEqual([hit.hit, hit.source, hit.filesRestored], [true, 'local', put.files])
    assert.deepEqual(files(path.join(pkg, 'lib')), want)
  })

  await step('fetch over edited outputs, a read-only one among them: replaced, nothing else', async () => {
    const cache = new native.Cache({ cwd: pkg })
    const ro = path.join(pkg, 'lib', 'types.d.ts')
    fs.chmodSync(ro, 0o666)
    fs.writeFileSync(ro, 'edited')
    fs.chmodSync(ro, 0o444)
    fs.writeFileSync(path.join(pkg, 'lib', 'index.js'), 'edited too')
    const hit = await cache.fetch('smoke-1')
    assert.deepEqual([hit.filesRestored, hit.filesUnchanged], [2, Object.keys(want).length - 2])
    assert.deepEqual(files(path.join(pkg, 'lib')), want)
    const left = fs.readdirSync(path.join(pkg, 'lib')).filter((n) => n.startsWith('.backfill-native-'))
    assert.deepEqual(left, [], 'temp files or backups were left')
  })

  await step('the sync twins and a second process share the store', async () => {
    const { execFileSync } = require('node:child_process')
    const script = `const n=require(${JSON.stringify(packageDir)});` +
      `const c=new n.Cache({cwd:${JSON.stringify(pkg)}});` +
      `const r=c.putSync('smoke-2',['lib/**']); if(!r.stored) process.exit(3)`
    execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' })
    removeTree(path.join(pkg, 'lib'))
    const hit = new native.Cache({ cwd: pkg }).fetchSync('smoke-2')
    assert.equal(hit.hit, true)
    assert.deepEqual(files(path.join(pkg, 'lib')), want)
  })

  await step('hashFiles and hashFilesSync agree, paths with /', async () => {
    const hashes = await native.hashFiles(pkg, ['**', '!lib/big.bin'])
    assert.deepEqual(hashes, native.hashFilesSync(pkg, ['**', '!lib/big.bin']))
    assert.ok(hashes['src/index.ts'] && hashes[`lib/${deep}/long-name-file.js`], Object.keys(hashes).join(', '))
    assert.ok(Object.keys(hashes).every((k) => !k.includes('\\')))
    assert.equal(hashes['lib/nested/a/b/c.js'], native.hashFilesSync(pkg, ['lib/nested/**'])['lib/nested/a/b/c.js'])
  })

  await step('storeUsage, purge and clear', async () => {
    const cache = new native.Cache({ cwd: pkg })
    const usage = await cache.storeUsage()
    assert.equal(usage.entries, 2)
    await cache.clear()
    assert.equal((await cache.storeUsage()).entries, 0)
    assert.equal((await cache.fetch('smoke-1')).hit, false)
  })

  removeTree(root)
}

main()
  .catch((e) => {
    steps.push(`FAILED setup\n${e && e.stack ? e.stack : e}`)
    process.exitCode = 1
  })
  .finally(() => {
    console.log(steps.join('\n'))
    console.log(process.exitCode ? 'windows smoke test: FAILED' : `windows smoke test: ${steps.length} steps passed`)
  })
