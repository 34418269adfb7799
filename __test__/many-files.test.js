// A restore replacing thousands of outputs under a low limit of open files
// (macOS's default is 256): no descriptor is held per file while the
// replacements wait to be renamed into place.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

require('../support/env').scrubCacheEnv()

const { makeRepo } = require('../support/helpers')

const FILES = 2000

test(`a fetch replacing ${FILES} changed files works with 256 open files allowed`, () => {
  const repo = makeRepo(['a'])
  const lib = path.join(repo.dirs.a, 'lib')
  const writeAll = (tag) => {
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(lib, String(i % 20))
      fs.mkdirSync(dir, { recursive: true })
      fs.writeFileSync(path.join(dir, `f${i}.js`), `${tag} ${i}\n`)
    }
  }
  writeAll('cached')
  const script = `
    const native = require(${JSON.stringify(path.join(__dirname, '..'))})
    const cache = new native.Cache({ cwd: ${JSON.stringify(repo.dirs.a)} })
    const op = process.argv[1]
    const r = op === 'put' ? cache.putSync('h', ['lib/**']) : cache.fetchSync('h')
    console.log(JSON.stringify(r))`
  const run = (op) => {
    const r = spawnSync('bash', ['-c', 'ulimit -n 256 && exec "$0" -e "$1" "$2"', process.execPath, script, op], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  assert.equal(run('put').files, FILES)
  // Every output changed since (a branch switch): all are replaced.
  writeAll('changed')
  const got = run('fetch')
  assert.deepEqual([got.hit, got.filesRestored, got.warnings], [true, FILES, []])
  assert.equal(fs.readFileSync(path.join(lib, '7', 'f1987.js'), 'utf8'), 'cached 1987\n')
  const leftovers = fs.readdirSync(lib, { recursive: true }).filter((n) => path.basename(n).startsWith('.backfill-native-'))
  assert.deepEqual(leftovers, [])
})
