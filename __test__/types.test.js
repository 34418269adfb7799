// The typings are part of the API: a strict TypeScript program using Cache,
// its results, loadConfig, the option unions and backfill-native/lage must
// compile against index.d.ts and lage.d.ts as published.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const TSC = require.resolve('typescript/bin/tsc')
const PROJECT = path.join(__dirname, 'fixtures', 'types')

test('tsc --noEmit --strict passes on a program using the API and backfill-native/lage', () => {
  const r = spawnSync(process.execPath, [TSC, '--noEmit', '--strict', '-p', PROJECT], { encoding: 'utf8', timeout: 120000 })
  assert.equal(`${r.stdout}${r.stderr}`, '')
  assert.equal(r.status, 0)
})

test('lage.d.ts declares what lage.js exports', () => {
  assert.deepEqual(Object.keys(require('../lage')).sort(), ['cacheStorageConfig', 'setupLageWorker'])
  assert.deepEqual(require('../lage').cacheStorageConfig({ mode: 'PASS' }), { provider: 'custom', plugin: 'backfill-native', options: { mode: 'PASS' } })
})
