#!/usr/bin/env node
// Demo of the main job: a small monorepo built three times through the cache
// provider the way lage calls it (a fresh provider per fetch and per put).
//   1. cold:  every build script runs, outputs go into the native store
//   2. clean checkout (outputs deleted): every target is restored natively
//   3. no-op (outputs present and unchanged): hits rewrite nothing
// The build script is simulated: it waits 300 ms (a compiler) and writes
// 200 output files. Everything lives in a temp folder removed at the end.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

for (const k of Object.keys(process.env)) if (/^(BACKFILL_|LAGE_)/.test(k)) delete process.env[k]
const native = require('..')

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backfill-native-demo-'))
const PACKAGES = { utils: [], core: ['utils'], ui: ['core'], api: ['core'], app: ['ui', 'api'], cli: ['api'] }

function setup() {
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ private: true, workspaces: ['packages/*'] }))
  for (const name of Object.keys(PACKAGES)) {
    const dir = path.join(root, 'packages', name)
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, dependencies: Object.fromEntries(PACKAGES[name].map((d) => [d, '*'])) }))
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, 'src', `m${i}.ts`), `export const ${name}${i} = ${i}\n`)
  }
}

let buildsRun = 0
async function buildScript(dir) {
  buildsRun++
  await new Promise((r) => setTimeout(r, 300))
  for (let i = 0; i < 200; i++) {
    const out = path.join(dir, 'lib', `chunk${i % 10}`, `m${i}.js`)
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, `// compiled ${i}\n`.repeat(200))
  }
}

function hashOf(name, hashes) {
  const h = crypto.createHash('sha256')
  const src = path.join(root, 'packages', name, 'src')
  for (const f of fs.readdirSync(src).sort()) h.update(f).update(fs.readFileSync(path.join(src, f)))
  for (const d of PACKAGES[name]) h.update(hashes[d])
  return h.digest('hex')
}

const logger = { warn: (m) => console.log(`  warning: ${m}`) }
const provider = native.createProvider()

async function run(label) {
  const start = Date.now()
  const hashes = {}
  const lines = []
  const done = new Set()
  // Build in dependency waves, packages of a wave in parallel, as lage does.
  while (done.size < Object.keys(PACKAGES).length) {
    const wave = Object.keys(PACKAGES).filter((n) => !done.has(n) && PACKAGES[n].every((d) => done.has(d)))
    await Promise.all(
      wave.map(async (name) => {
        const dir = path.join(root, 'packages', name)
        hashes[name] = hashOf(name, hashes)
        const t = Date.now()
        const hit = await provider(logger, dir).fetch(hashes[name])
        if (!hit) {
          await buildScript(dir)
          await provider(logger, dir).put(hashes[name], ['lib/**'])
        }
        lines.push(`  ${name.padEnd(6)} ${hit ? 'hit  (native local store)' : 'miss (build script ran, stored)'} ${Date.now() - t} ms`)
      }),
    )
    wave.forEach((n) => done.add(n))
  }
  console.log(`${label}: ${Date.now() - start} ms`)
  console.log(lines.join('\n'))
}

;(async () => {
  try {
    setup()
    console.log(`demo monorepo: ${root} (${Object.keys(PACKAGES).length} packages)\n`)
    await run('1. cold build')
    const builtAfterCold = buildsRun
    for (const name of Object.keys(PACKAGES)) fs.rmSync(path.join(root, 'packages', name, 'lib'), { recursive: true })
    await run('\n2. clean checkout, outputs deleted')
    await run('\n3. nothing changed, outputs present')
    const stats = new native.Cache({ cwd: path.join(root, 'packages', 'app') })
    const cfg = stats.config
    console.log(`\nbuild scripts run: ${buildsRun} (${builtAfterCold} in the cold build)`)
    console.log(`native store: ${cfg.cacheFolder}`)
    if (buildsRun !== builtAfterCold) throw new Error('a build script ran on a warm build')
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
})().catch((e) => {
  console.error(e)
  process.exit(1)
})
