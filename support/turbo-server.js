// Starts a real turborepo remote cache server (npm turborepo-remote-cache
// 2.12.0, ducktors) for the tests, on 127.0.0.1 and a free port, with its
// local storage in a temp folder, and stops it. One process, so one PID to
// stop.
//
// What 2.12 does, as the tests rely on it:
// - static tokens: TURBO_TOKEN is a comma-separated list, every token in it
//   may read and write; a wrong token is 401, none is 400;
// - READ_ONLY=true refuses every PUT with 403 (after reading its body), so
//   read-only credentials are a second server on the same storage with a
//   token of its own;
// - an artifact's `x-artifact-tag` is kept only when the server has
//   TURBO_REMOTE_CACHE_SIGNATURE_KEY; such a server then answers 404 for an
//   artifact stored without a tag, and one without the key never returns a
//   tag;
// - `teamId` (or `slug`) is required in the query; the artifact is stored
//   as <STORAGE_PATH>/<team>/<hash>, its tag beside it as <hash>.tag;
// - GET streams the artifact with no Content-Length, HEAD gives no size;
// - a PUT body over BODY_LIMIT (104857600 bytes by default) is 413.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const { freePort } = require('./ports')
const path = require('node:path')

const { tempDir } = require('./helpers')

const CLI = path.join(__dirname, '..', 'node_modules', 'turborepo-remote-cache', 'dist', 'cli.js')
/** The team every kit's artifacts belong to. */
const TEAM = 'team_backfill_native'
/** The tag prefixes backfill-native writes (src/remote/turborepo.rs): unsigned, and signed. */
const TAG_VERSION = 'bfn1'
const SIGNED_TAG_VERSION = 'bfn2'
const ENTRY_TAG_VERSION = 'bfn3'

/** Waits until `port` answers HTTP (the server listens once its plugins are loaded). */
async function waitForServer(port, child, deadline = Date.now() + 30000) {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the turborepo cache server exited (${child.exitCode}) before listening on ${port}`)
    try {
      await fetch(`http://127.0.0.1:${port}/v8/artifacts/status`)
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`the turborepo cache server did not listen on ${port}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

// Servers still running when the test process exits (a test that failed
// before its `stop`) are killed then.
const running = new Set()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** A token no test guesses: `prefix` and 32 random hex digits. */
function newToken(prefix) {
  return `${prefix}-${crypto.randomBytes(16).toString('hex')}`
}

/**
 * Starts turborepo-remote-cache with local storage in `storage` (a new temp
 * folder by default), accepting `tokens`; `readOnly` refuses uploads;
 * `signatureKey` (default: a random one) makes it keep artifact tags, `null`
 * starts it without, so it drops them. `storageEnv` replaces the local
 * storage's variables (`STORAGE_PROVIDER: 's3'` and its `S3_*`).
 */
async function startTurboServer({ storage = tempDir('bfn-turbo-'), tokens, readOnly = false, signatureKey = newToken('sig'), bodyLimit, port, storageEnv } = {}) {
  port = port ?? (await freePort())
  // Only what the server reads: a developer's own variables (TURBO_*, AWS_*)
  // must not configure it.
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'error',
    STORAGE_PROVIDER: 'local',
    STORAGE_PATH: storage,
    STORAGE_PATH_USE_TMP_FOLDER: 'false',
    TURBO_TOKEN: tokens.join(','),
    READ_ONLY: String(readOnly),
    ...(signatureKey && { TURBO_REMOTE_CACHE_SIGNATURE_KEY: signatureKey }),
    ...(bodyLimit && { BODY_LIMIT: String(bodyLimit) }),
    // Another storage (STORAGE_PROVIDER=s3 with its S3_* variables).
    ...storageEnv,
  }
  const child = spawn(process.execPath, [CLI], { env, stdio: 'ignore' })
  running.add(child)
  const exited = new Promise((r) => child.once('exit', r)).then(() => running.delete(child))
  try {
    await waitForServer(port, child)
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  return {
    port,
    pid: child.pid,
    storage,
    apiUrl: `http://127.0.0.1:${port}`,
    /**
     * Stops the server and waits until it is gone. SIGKILL by default: on
     * SIGTERM it waits up to 10 s for open keep-alive connections.
     */
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/**
 * The tag backfill-native writes for `metadata` ({ backfillnative_entry,
 * backfillnative_mac3 }); an earlier version's metadata
 * ({ backfillnative_blake3, backfillnative_mac2 or the oldest
 * backfillnative_mac }) as earlier versions wrote it.
 */
function encodeTag(metadata = {}) {
  if (metadata.backfillnative_entry !== undefined) {
    return [ENTRY_TAG_VERSION, metadata.backfillnative_entry, ...(metadata.backfillnative_mac3 !== undefined ? [metadata.backfillnative_mac3] : [])].join(':')
  }
  const digest = metadata.backfillnative_blake3
  if (digest === undefined) return null
  if (metadata.backfillnative_mac2 !== undefined) return [SIGNED_TAG_VERSION, digest, metadata.backfillnative_mac2].join(':')
  if (metadata.backfillnative_mac !== undefined) return [TAG_VERSION, digest, metadata.backfillnative_mac].join(':')
  return [TAG_VERSION, digest].join(':')
}

/** The metadata an artifact's tag carries, as src/remote/turborepo.rs reads it (well-formed tags only). */
function decodeTag(tag) {
  const [version, digest, mac] = (tag ?? '').split(':')
  if (version === ENTRY_TAG_VERSION && digest) return { backfillnative_entry: digest, ...(mac && { backfillnative_mac3: mac }) }
  if (version === SIGNED_TAG_VERSION && digest && mac) return { backfillnative_blake3: digest, backfillnative_mac2: mac }
  if (version !== TAG_VERSION || !digest) return {}
  return { backfillnative_blake3: digest, ...(mac && { backfillnative_mac: mac }) }
}

/** An artifact request to `apiUrl` for `key` of `team`, with `token`. */
async function artifactRequest({ apiUrl, token, team = TEAM }, method, key, { body, tag } = {}) {
  const url = `${apiUrl}/v8/artifacts/${encodeURIComponent(key)}?teamId=${encodeURIComponent(team)}`
  const headers = { Authorization: `Bearer ${token}` }
  if (body) headers['Content-Type'] = 'application/octet-stream'
  if (tag) headers['x-artifact-tag'] = tag
  const res = await fetch(url, { method, headers, body })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

/**
 * The remote kit of the shared table (support/remote-table.js): a
 * read-write server keeping tags and a read-only one (READ_ONLY, a token of
 * its own) on the same storage. `signatureKey: null` starts the read-write
 * server without the key, so it drops tags.
 */
async function turboKit({ signatureKey } = {}) {
  const storage = tempDir('bfn-turbo-')
  const token = newToken('turbo-rw')
  const readOnlyToken = newToken('turbo-ro')
  const key = signatureKey === undefined ? newToken('sig') : signatureKey
  const rw = await startTurboServer({ storage, tokens: [token], signatureKey: key })
  let ro
  try {
    ro = await startTurboServer({ storage, tokens: [readOnlyToken], readOnly: true, signatureKey: key })
  } catch (e) {
    await rw.stop()
    throw e
  }
  const options = (server, tok, { port, ...extra } = {}) => ({
    apiUrl: `http://127.0.0.1:${port ?? server.port}`,
    token: tok,
    teamId: TEAM,
    ...extra,
  })
  const direct = { apiUrl: rw.apiUrl, token }
  return {
    name: 'turborepo (turborepo-remote-cache)',
    provider: 'turborepo',
    port: rw.port,
    readOnlyPort: ro.port,
    storage,
    team: TEAM,
    token,
    readOnlyToken,
    /**
     * What GET answers before the body: turborepo-remote-cache streams an
     * artifact with no Content-Length (and HEAD gives no size), so an
     * artifact over maxSize is known only by reading up to maxSize of it.
     */
    sizeBeforeDownload: false,
    /** Read-write provider options, merged with `extra`; `extra.port` sends them through another port (a fault proxy). */
    options: (extra) => options(rw, token, extra),
    /** The same against the read-only server, with its token. */
    readOnlyOptions: (extra) => options(ro, readOnlyToken, extra),
    /** turbo's variables for the read-write (or read-only) server. */
    env: (readOnly = false) => ({
      TURBO_API: (readOnly ? ro : rw).apiUrl,
      TURBO_TOKEN: readOnly ? readOnlyToken : token,
      TURBO_TEAMID: TEAM,
    }),
    /** A cache server has no container or bucket to name. */
    missingContainer: null,
    /**
     * The pull request scope (support/scope-table.js): a server of its own
     * (its own storage and token), as pull request builds would reach it;
     * main is read through the read-only server and its token.
     */
    async pullRequestScope() {
      const prToken = newToken('turbo-pr')
      const server = await startTurboServer({ tokens: [prToken], signatureKey: key ?? newToken('sig') })
      const scoped = { apiUrl: server.apiUrl, token: prToken }
      return {
        mainOptions: options(ro, readOnlyToken),
        scopeOptions: { apiUrl: server.apiUrl, token: prToken },
        credentialOnMain: options(rw, prToken),
        secrets: [prToken],
        async get(name) {
          const res = await artifactRequest(scoped, 'GET', name)
          if (res.status === 404) return null
          if (res.status !== 200) throw new Error(`GET ${name}: HTTP ${res.status} ${res.body}`)
          return { body: res.body, metadata: decodeTag(res.headers.get('x-artifact-tag')) }
        },
        async put(name, buffer, metadata) {
          const res = await artifactRequest(scoped, 'PUT', name, { body: buffer, tag: encodeTag(metadata) ?? 'planted-without-metadata' })
          if (res.status !== 200) throw new Error(`PUT ${name}: HTTP ${res.status} ${res.body}`)
        },
        stop: () => server.stop(),
      }
    },
    /** Secrets the kit's remotes use, which no message may show. */
    secrets: [token, readOnlyToken],
    /**
     * Stores `buffer` as the artifact of `key` with the tag `metadata` makes,
     * as a hostile writer could. Without metadata the tag is one that is not
     * backfill-native's: a server keeping tags answers 404 for an artifact
     * stored without one.
     */
    async put(key, buffer, metadata) {
      const res = await artifactRequest(direct, 'PUT', key, { body: buffer, tag: encodeTag(metadata) ?? 'planted-without-metadata' })
      if (res.status !== 200) throw new Error(`PUT ${key}: HTTP ${res.status} ${res.body}`)
    },
    /** The artifact of `key`: its bytes and the metadata its tag carries, or null. */
    async get(key) {
      const res = await artifactRequest(direct, 'GET', key)
      if (res.status === 404) return null
      if (res.status !== 200) throw new Error(`GET ${key}: HTTP ${res.status} ${res.body}`)
      return { body: res.body, metadata: decodeTag(res.headers.get('x-artifact-tag')), tag: res.headers.get('x-artifact-tag') }
    },
    async stop() {
      await Promise.all([rw.stop(), ro.stop()])
    },
  }
}

module.exports = { startTurboServer, turboKit, artifactRequest, encodeTag, decodeTag, newToken, TEAM }
