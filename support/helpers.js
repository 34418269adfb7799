// Shared helpers for the JS tests and scripts: real folders on a real disk,
// snapshots of what a user would compare (bytes, modes, link targets).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const tempDirs = new Set()
process.once('exit', removeTempDirs)

/** A fresh temp folder, removed when the process exits (or by `removeTempDir`). */
function tempDir(prefix = 'bfn-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

/** Removes a temp folder now: a test with large files frees the disk as it goes. */
function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

function removeTempDirs() {
  for (const dir of tempDirs) {
    // A server killed a moment ago may still be writing into its folder.
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    } catch (e) {
      console.error(`could not remove the temp folder ${dir}: ${e.message}`)
    }
  }
  tempDirs.clear()
}

/** Writes `files` ({ rel: content | { content, mode } | { link } }) under `dir`. */
function writeTree(dir, files) {
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(dir, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    if (spec && typeof spec === 'object' && 'link' in spec) {
      fs.symlinkSync(spec.link, p)
    } else if (spec && typeof spec === 'object' && !Buffer.isBuffer(spec)) {
      fs.writeFileSync(p, spec.content)
      fs.chmodSync(p, spec.mode)
    } else {
      fs.writeFileSync(p, spec)
    }
  }
}

/** { rel: { bytes (hex digest of content), mode } | { link } } for every file under `dir`. */
function snapshot(dir) {
  const out = {}
  if (!fs.existsSync(dir)) return out
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      const rel = path.relative(dir, p).split(path.sep).join('/')
      if (e.isSymbolicLink()) out[rel] = { link: fs.readlinkSync(p) }
      else if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        out[rel] = { content: fs.readFileSync(p).toString('base64'), mode: fs.statSync(p).mode & 0o7777 }
      }
    }
  }
  walk(dir)
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** A monorepo root (package.json with workspaces) and package folders in it. */
function makeRepo(packages = ['a']) {
  const root = tempDir('bfn-repo-')
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'repo', private: true, workspaces: ['packages/*'] }))
  const dirs = {}
  for (const name of packages) {
    dirs[name] = path.join(root, 'packages', name)
    fs.mkdirSync(dirs[name], { recursive: true })
    fs.writeFileSync(path.join(dirs[name], 'package.json'), JSON.stringify({ name }))
  }
  return { root, dirs, cacheDir: path.join(root, 'node_modules', '.cache', 'backfill-native') }
}

/** A logger like the one lage passes, recording every call. */
function recordingLogger() {
  const lines = []
  const logger = {}
  for (const level of ['silly', 'verbose', 'info', 'warn', 'error']) {
    logger[level] = (...args) => lines.push({ level, text: args.join(' ') })
  }
  return { logger, lines, at: (level) => lines.filter((l) => l.level === level).map((l) => l.text) }
}

module.exports = { tempDir, removeTempDir, writeTree, snapshot, makeRepo, recordingLogger }
