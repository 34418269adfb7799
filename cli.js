#!/usr/bin/env node
// backfill-native's command line: the native store's equivalents of
// `lage cache --clear` and `lage cache --prune <days>`, and the resolved
// configuration. Run it from the repository (or a package) folder.
//
// Exit codes: 0 done, 1 the operation failed, 2 bad arguments.
'use strict'

const USAGE = `usage: backfill-native <command>

commands:
  clear                 remove everything from the native local store (lage cache --clear)
  purge [--days N]      remove entries not used for N days (default 30) and the
                        file contents no entry uses any more (lage cache --prune N)
  config                print the resolved configuration (secrets redacted)

The store and the settings are those of the current folder: the variables and
.env file described in the README apply.`

function fail(message, code) {
  console.error(`backfill-native: ${message}`)
  process.exit(code)
}

const [command, ...rest] = process.argv.slice(2)
if (!command || command === '--help' || command === '-h') {
  console.log(USAGE)
  process.exit(command ? 0 : 2)
}

let native
try {
  native = require('./index.js')
} catch (e) {
  fail(`the native addon could not be loaded: ${e.message}`, 1)
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`

try {
  if (command === 'clear' && rest.length === 0) {
    const cache = new native.Cache()
    const r = cache.clearSync()
    console.log(`cleared ${cache.config.cacheFolder}: ${r.entriesRemoved} entries, ${r.contentsRemoved} contents, ${mb(r.bytesFreed)}`)
  } else if (command === 'purge') {
    let days = 30
    if (rest.length === 2 && rest[0] === '--days' && /^\d+(\.\d+)?$/.test(rest[1])) days = Number(rest[1])
    else if (rest.length !== 0) fail(`purge takes --days N with N a number of days, got: ${rest.join(' ')}\n\n${USAGE}`, 2)
    const cache = new native.Cache()
    const r = cache.purgeSync(days)
    console.log(`purged ${cache.config.cacheFolder} of entries unused for ${days} days: ${r.entriesRemoved} removed, ${r.entriesKept} kept, ${r.contentsRemoved} contents removed, ${mb(r.bytesFreed)} freed`)
  } else if (command === 'config' && rest.length === 0) {
    console.log(JSON.stringify(native.loadConfig(), null, 2))
  } else {
    fail(`unknown command or arguments: ${[command, ...rest].join(' ')}\n\n${USAGE}`, 2)
  }
} catch (e) {
  fail(e.message, 1)
}
