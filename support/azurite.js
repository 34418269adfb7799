// Starts a real Azurite blob server for the tests, on 127.0.0.1 and a free
// port, and stops it. One process, so one PID to stop.
const { spawn } = require('node:child_process')
const { freePort, waitForPort } = require('./ports')
const path = require('node:path')

const ACCOUNT = 'devstoreaccount1'
// The documented, public key of the Azure Storage emulator account.
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const MAIN = path.join(__dirname, '..', 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js')

// Servers still running when the test process exits (a test that failed
// before its `stop`) are killed then, so that no Azurite outlives its test
// file and keeps a port, a folder or the test runner waiting.
const running = new Set()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts Azurite. With `location`, blobs live in that folder (and survive a
 * restart); otherwise in memory.
 */
async function startAzurite({ port, location } = {}) {
  port = port ?? (await freePort())
  const args = [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose']
  args.push(...(location ? ['--location', location] : ['--inMemoryPersistence']))
  const child = spawn(process.execPath, args, { stdio: 'ignore' })
  running.add(child)
  const exited = new Promise((r) => child.once('exit', r)).then(() => running.delete(child))
  try {
    await waitForPort(port, { name: 'Azurite' })
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  const endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`
  return {
    port,
    pid: child.pid,
    endpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${endpoint};`,
    /** Stops the server and waits until it is gone. */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/**
 * For a node:test file: Azurite started before its tests and stopped after.
 * The object answers `connectionString` and `endpoint` of the running
 * server, and `newContainer()` creates a container of a new name in it.
 */
function azuriteForTests(prefix) {
  const test = require('node:test')
  let server
  let count = 0
  test.before(async () => {
    server = await startAzurite()
  })
  test.after(async () => {
    await server?.stop()
  })
  return {
    get connectionString() {
      return server.connectionString
    },
    get endpoint() {
      return server.endpoint
    },
    async newContainer() {
      const name = `${prefix}${++count}-${Date.now()}`
      await blobClient(server.connectionString).getContainerClient(name).create()
      return name
    },
  }
}

/** A client of the official JS SDK, to look at and forge blobs. */
function blobClient(connectionString) {
  const { BlobServiceClient } = require('@azure/storage-blob')
  return BlobServiceClient.fromConnectionString(connectionString)
}

/** A read-only SAS connection string for the account. */
function readOnlySas(endpoint) {
  const { generateAccountSASQueryParameters, AccountSASPermissions, AccountSASServices, AccountSASResourceTypes, StorageSharedKeyCredential } = require('@azure/storage-blob')
  const sas = generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600e3),
      permissions: AccountSASPermissions.parse('rl'),
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
    },
    new StorageSharedKeyCredential(ACCOUNT, KEY),
  ).toString()
  return { sas, connectionString: `BlobEndpoint=${endpoint};SharedAccessSignature=${sas}` }
}

/** A tar archive with any entries, as a hostile writer would make it. */
function forgeTar(entries) {
  const blocks = []
  for (const { name, type = '0', link = '', body = Buffer.alloc(0), mode = 0o644 } of entries) {
    const h = Buffer.alloc(512)
    h.write(name, 0, 100, 'utf8')
    h.write(mode.toString(8).padStart(7, '0') + '\0', 100)
    h.write('0000000\0', 108)
    h.write('0000000\0', 116)
    h.write(body.length.toString(8).padStart(11, '0') + '\0', 124)
    h.write(Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0', 136)
    h.write('        ', 148)
    h.write(type, 156)
    h.write(link, 157, 100, 'utf8')
    h.write('ustar\0', 257)
    h.write('00', 263)
    let sum = 0
    for (const b of h) sum += b
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

/**
 * The kit of the shared remote table (support/remote-table.js) for Azure:
 * Azurite started with one container; the read-write options hold the
 * account key, the read-only ones a read-only SAS. `extra.port` in the
 * options sends them through another port (a fault proxy).
 */
async function azuriteKit() {
  const server = await startAzurite()
  const container = 'cache'
  const client = () => blobClient(server.connectionString).getContainerClient(container)
  await client().create()
  const endpoint = (port) => `http://127.0.0.1:${port ?? server.port}/${ACCOUNT}`
  return {
    name: 'azure-blob (Azurite)',
    provider: 'azure-blob',
    port: server.port,
    options: ({ port, ...extra } = {}) => ({
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${endpoint(port)};`,
      container,
      ...extra,
    }),
    readOnlyOptions: ({ port, ...extra } = {}) => ({ connectionString: readOnlySas(endpoint(port)).connectionString, container, ...extra }),
    env: () => ({}),
    missingContainer: { container: 'no-such-container' },
    /**
     * The pull request scope (support/scope-table.js): a container of its
     * own, reached with a SAS for that container alone (read, add, create,
     * write, list), as a pull request build holds it; main is read with
     * the read-only account SAS.
     */
    async pullRequestScope() {
      const scoped = 'cache-pr'
      await blobClient(server.connectionString).getContainerClient(scoped).createIfNotExists()
      const { generateBlobSASQueryParameters, ContainerSASPermissions, StorageSharedKeyCredential } = require('@azure/storage-blob')
      const sas = generateBlobSASQueryParameters(
        { containerName: scoped, permissions: ContainerSASPermissions.parse('racwl'), expiresOn: new Date(Date.now() + 3600e3) },
        new StorageSharedKeyCredential(ACCOUNT, KEY),
      ).toString()
      const connectionString = `BlobEndpoint=${endpoint()};SharedAccessSignature=${sas}`
      const blobs = () => blobClient(server.connectionString).getContainerClient(scoped)
      return {
        mainOptions: { connectionString: readOnlySas(endpoint()).connectionString, container },
        scopeOptions: { connectionString, container: scoped },
        credentialOnMain: { connectionString, container },
        secrets: [sas.match(/sig=([^&]+)/)[1]],
        async get(name) {
          const blob = blobs().getBlobClient(name)
          if (!(await blob.exists())) return null
          const [body, props] = await Promise.all([blob.downloadToBuffer(), blob.getProperties()])
          return { body, metadata: props.metadata ?? {} }
        },
        async put(name, buffer, metadata = {}) {
          await blobs().getBlockBlobClient(name).upload(buffer, buffer.length, { metadata })
        },
        stop: async () => {},
      }
    },
    secrets: [KEY],
    async put(key, buffer, metadata = {}) {
      await client().getBlockBlobClient(key).upload(buffer, buffer.length, { metadata })
    },
    async get(key) {
      const blob = client().getBlobClient(key)
      if (!(await blob.exists())) return null
      const [body, props] = await Promise.all([blob.downloadToBuffer(), blob.getProperties()])
      return { body, metadata: props.metadata ?? {} }
    },
    stop: () => server.stop(),
  }
}

module.exports = { startAzurite, azuriteForTests, azuriteKit, blobClient, readOnlySas, forgeTar, ACCOUNT, KEY }
