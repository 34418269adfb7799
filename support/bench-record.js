// Each benchmark run's results, kept: what a benchmark prints with
// console.log is also written, once the run has succeeded, to
// docs/benchmarks/<date>-<benchmark>.md (UTC date; a second run that day
// gets -<HHMM>), with the machine, the work folder's filesystem and the
// commit measured. The printed output stays as it was; the file path is
// said on stderr. docs/benchmarks.md explains the benchmarks.
//
// Env: BENCH_RECORD=0 records nothing (quick runs with small settings);
// BENCH_RECORD_DIR writes elsewhere (default: docs/benchmarks/ of this clone).
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const util = require('node:util')
const { execFileSync } = require('node:child_process')

const repo = path.resolve(__dirname, '..')

/** The filesystem a folder is on: type and source, as findmnt (or stat -f) tells. */
function filesystemOf(dir) {
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return ''
    }
  }
  const found = run('findmnt', ['-n', '-o', 'FSTYPE,SOURCE,TARGET', '-T', dir]).split(/\s+/)
  if (found[0]) return `${found[0]} (${found[1]} mounted on ${found[2]})`
  const type = run('stat', ['-f', '-c', '%T', dir]) || run('stat', ['-f', '-f', '%T', dir])
  return type || 'unknown'
}

function machine() {
  const cpus = os.cpus()
  const model = cpus.length ? cpus[0].model.replace(/\s+/g, ' ').trim() : 'unknown CPU'
  return `${os.type()} ${os.release()} ${os.arch()}, ${cpus.length} CPUs (${model}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}`
}

function commit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return dirty ? `${head} with uncommitted changes` : head
  } catch {
    return 'unknown (not a git clone)'
  }
}

const utc = (d) => d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')

/**
 * Starts recording the console.log output of benchmark `name` (the script's
 * name, `bench-local`). `workFolder`, when known now, is where it measures;
 * else call `workFolder(dir)` once it is made. Call `write()` when the run
 * has succeeded.
 */
function start(name, { workFolder, command } = {}) {
  const lines = []
  const started = new Date()
  const settings = Object.keys(process.env)
    .filter((k) => /^(BENCH_|BFN_EVICT_|UV_THREADPOOL_SIZE$)/.test(k) && k !== 'BENCH_RECORD' && k !== 'BENCH_RECORD_DIR')
    .sort()
    .map((k) => `${k}=${process.env[k]}`)
  let folder = null
  const log = console.log
  console.log = (...args) => {
    lines.push(util.format(...args))
    log(...args)
  }
  const record = {
    /** Notes the folder the benchmark measures in (its filesystem is what matters). */
    workFolder(dir) {
      folder = { dir, fs: filesystemOf(dir) }
    },
    /** Adds printed text that did not go through console.log (a child's output). */
    add(text) {
      lines.push(...text.replace(/\n$/, '').split('\n'))
    },
    /** Writes the file; returns its path, or null when BENCH_RECORD=0. */
    write() {
      if (process.env.BENCH_RECORD === '0') return null
      const ended = new Date()
      const dir = process.env.BENCH_RECORD_DIR || path.join(repo, 'docs', 'benchmarks')
      fs.mkdirSync(dir, { recursive: true })
      const day = ended.toISOString().slice(0, 10)
      let file = path.join(dir, `${day}-${name}.md`)
      if (fs.existsSync(file)) file = path.join(dir, `${day}-${name}-${ended.toISOString().slice(11, 16).replace(':', '')}.md`)
      if (fs.existsSync(file)) file = path.join(dir, `${day}-${name}-${ended.toISOString().slice(11, 19).replace(/:/g, '')}.md`)
      // The load average some benchmarks print is the moment's noise, not a
      // result: it is left out of the record.
      const output = lines.join('\n').replace(/, load \d+(\.\d+)? \d+(\.\d+)? \d+(\.\d+)?/g, '')
      const fence = output.includes('```') ? '````' : '```'
      const text = [
        `# ${name}, ${day}`,
        '',
        `Written by \`${command || `node scripts/${name}.js`}\` at the end of the run; what it measures and how to read it: [Benchmarks](${path.relative(dir, path.join(repo, 'docs', 'benchmarks.md')).split(path.sep).join('/')}).`,
        '',
        `- run: ${utc(started)} to ${utc(ended)}`,
        `- code: commit ${commit()}`,
        `- machine: ${machine()}`,
        `- work folder: ${folder ? `${folder.dir}, filesystem ${folder.fs}` : 'not recorded'}`,
        `- settings: ${settings.length ? settings.map((s) => `\`${s}\``).join(', ') : 'the defaults'}`,
        '',
        '## Output, as printed',
        '',
        fence,
        output,
        fence,
        '',
      ].join('\n')
      fs.writeFileSync(file, text)
      process.stderr.write(`${name}: results written to ${path.relative(process.cwd(), file) || file}\n`)
      return file
    },
  }
  if (workFolder) record.workFolder(workFolder)
  return record
}

module.exports = { start, filesystemOf }
