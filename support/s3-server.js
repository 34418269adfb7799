// Starts a real S3-compatible server for the tests: moto 5.2.5's server mode
// (from PyPI, in a venv the first run makes under target/), on 127.0.0.1 and
// a free port, with IAM enforced: a bucket, a read-write user and a
// read-only user (a policy allowing only s3:GetObject and s3:ListBucket),
// each with its access key. Stopped (killed) with `stop`, or when the test
// process exits.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const { freePort, waitForPort } = require('./ports')
const path = require('node:path')

const { tempDir } = require('./helpers')

const MOTO = 'moto[server]==5.2.5'
const BOTO3 = 'boto3==1.44.18'
const ROOT = path.join(__dirname, '..')
const VENV = path.join(ROOT, 'target', 'moto-venv')
const WINDOWS = process.platform === 'win32'
const BIN = path.join(VENV, WINDOWS ? 'Scripts' : 'bin')
const PYTHON = path.join(BIN, WINDOWS ? 'python.exe' : 'python')
/** Written last by the install, with what was installed: a venv without it is incomplete. */
const READY = path.join(VENV, 'backfill-native-ready')

const BUCKET = 'backfill-cache'
const REGION = 'us-east-1'
const PREFIX = 'backfill'
/** Profile names in the credentials file the kit writes, unlike any of a developer's. */
const PROFILES = { rw: 'backfill-native-test-rw', ro: 'backfill-native-test-ro', any: 'backfill-native-test-any', pr: 'backfill-native-test-pr' }
/** The pull request scope's bucket (support/scope-table.js). */
const PR_BUCKET = 'backfill-cache-pr'

// The requests moto serves before it enforces IAM: exactly what SETUP makes
// (the two buckets; per user: the user, its policy, its key).
const NO_AUTH_ACTIONS = 14
const SETUP = `
import json, sys, boto3
endpoint, bucket, pr_bucket = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name='${REGION}', aws_access_key_id='setup', aws_secret_access_key='setup')
s3 = boto3.client('s3', **kw)
s3.create_bucket(Bucket=bucket)
s3.create_bucket(Bucket=pr_bucket)
iam = boto3.client('iam', **kw)
arns = lambda b: ['arn:aws:s3:::' + b, 'arn:aws:s3:::' + b + '/*']
READ = ['s3:GetObject', 's3:ListBucket']
WRITE = ['s3:GetObject', 's3:PutObject', 's3:ListBucket', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts']
users = {
    'rw': [(WRITE, arns(bucket))],
    'ro': [(READ, arns(bucket))],
    # Reads every bucket: moto checks IAM before the bucket, so only such a
    # user sees NoSuchBucket (AWS answers it to any user).
    'any': [(READ, ['arn:aws:s3:::*'])],
    # A pull request build's: reads the main bucket, writes only its own.
    'pr': [(READ, arns(bucket)), (WRITE, arns(pr_bucket))],
}
out = {}
for name, statements in users.items():
    iam.create_user(UserName='backfill-' + name)
    iam.put_user_policy(UserName='backfill-' + name, PolicyName='cache', PolicyDocument=json.dumps({
        'Version': '2012-10-17',
        'Statement': [{'Effect': 'Allow', 'Action': a, 'Resource': r} for a, r in statements],
    }))
    key = iam.create_access_key(UserName='backfill-' + name)['AccessKey']
    out[name] = {'accessKeyId': key['AccessKeyId'], 'secretAccessKey': key['SecretAccessKey']}
print(json.dumps(out))
`

function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.slice(-2000)}`))))
  })
}

function pythonCommand() {
  return process.env.PYTHON || (WINDOWS ? 'python' : 'python3')
}

/**
 * Makes the venv with moto and boto3 the first time (about 30 s; one line
 * says so), once even when several test files ask at the same time: the
 * first takes a lock folder, the others wait for the ready mark.
 */
async function ensureMoto() {
  const want = `${MOTO} ${BOTO3}`
  const ready = () => fs.existsSync(READY) && fs.readFileSync(READY, 'utf8') === want
  if (ready()) return
  fs.mkdirSync(path.dirname(VENV), { recursive: true })
  const lock = `${VENV}.lock`
  const deadline = Date.now() + 10 * 60 * 1000
  for (;;) {
    try {
      fs.mkdirSync(lock)
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid))
      break
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
      if (ready()) return
      // A holder that died (killed mid-install) leaves its lock behind; one
      // killed before it wrote its pid leaves the folder alone, for good.
      let holder = null
      try {
        holder = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'))
      } catch {}
      const orphan = !holder && Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 60000
      if ((holder && !alive(holder)) || orphan) fs.rmSync(lock, { recursive: true, force: true })
      else if (Date.now() > deadline) throw new Error(`the moto venv is still being installed by process ${holder} after 10 minutes (${lock})`)
      else await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    if (ready()) return
    process.stderr.write(`installing ${MOTO} and ${BOTO3} into ${path.relative(ROOT, VENV)} for the S3 tests (once)\n`)
    fs.rmSync(VENV, { recursive: true, force: true })
    await run(pythonCommand(), ['-m', 'venv', VENV])
    await run(PYTHON, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', MOTO, BOTO3])
    fs.writeFileSync(READY, want)
  } finally {
    fs.rmSync(lock, { recursive: true, force: true })
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

const running = new Set()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts moto with its bucket and users. Answers the server's `port` and
 * `endpoint`, the `bucket`, the `keys` ({ rw, ro, any }: { accessKeyId,
 * secretAccessKey }) and `stop()`.
 */
async function startMoto() {
  await ensureMoto()
  const port = await freePort()
  const exe = path.join(BIN, WINDOWS ? 'moto_server.exe' : 'moto_server')
  const child = spawn(exe, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, SYSTEMROOT: process.env.SYSTEMROOT, INITIAL_NO_AUTH_ACTION_COUNT: String(NO_AUTH_ACTIONS) },
  })
  running.add(child)
  const exited = new Promise((r) => child.once('exit', r)).then(() => running.delete(child))
  const endpoint = `http://127.0.0.1:${port}`
  let keys
  try {
    await waitForPort(port, { name: 'moto_server', child, ms: 30000, every: 100 })
    keys = JSON.parse(await run(PYTHON, ['-c', SETUP, endpoint, BUCKET, PR_BUCKET]))
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  return {
    port,
    endpoint,
    bucket: BUCKET,
    keys,
    /** Stops the server and waits until it is gone. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

// ---- AWS Signature Version 4, for the kit's own requests ----------------

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest()
const encode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/** One signed path-style request to the bucket; resolves { status, headers, body }. */
function s3Request({ port, key: { accessKeyId, secretAccessKey }, bucket = BUCKET }, method, objectKey, { body = Buffer.alloc(0), headers = {} } = {}) {
  const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '')
  const day = now.slice(0, 8)
  const host = `127.0.0.1:${port}`
  const uri = `/${bucket}/${objectKey.split('/').map(encode).join('/')}`
  const all = { ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()])), host, 'x-amz-date': now, 'x-amz-content-sha256': sha256(body) }
  const names = Object.keys(all).sort()
  const canonical = [method, uri, '', ...names.map((n) => `${n}:${all[n]}`), '', names.join(';'), all['x-amz-content-sha256']].join('\n')
  const scope = `${day}/${REGION}/s3/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', now, scope, sha256(canonical)].join('\n')
  const signingKey = ['s3', 'aws4_request'].reduce(hmac, hmac(hmac(`AWS4${secretAccessKey}`, day), REGION))
  const signature = crypto.createHmac('sha256', signingKey).update(toSign).digest('hex')
  all.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`
  all['content-length'] = String(body.length)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: uri, headers: all }, (res) => {
      const chunks = []
      res.on('data', (d) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** PUTs `buffer` with user metadata at `objectKey` of `target`'s bucket. */
async function putObject(target, objectKey, buffer, metadata = {}) {
  const headers = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k}`, v]))
  const res = await s3Request(target, 'PUT', objectKey, { body: buffer, headers })
  if (res.status !== 200) throw new Error(`PUT ${objectKey}: HTTP ${res.status} ${res.body}`)
}

/** The object at `objectKey` of `target`'s bucket: its bytes and user metadata, or null. */
async function getObject(target, objectKey) {
  const res = await s3Request(target, 'GET', objectKey)
  if (res.status === 404) return null
  if (res.status !== 200) throw new Error(`GET ${objectKey}: HTTP ${res.status} ${res.body}`)
  const metadata = Object.fromEntries(
    Object.entries(res.headers)
      .filter(([k]) => k.startsWith('x-amz-meta-'))
      .map(([k, v]) => [k.slice('x-amz-meta-'.length), v]),
  )
  return { body: res.body, metadata }
}

/**
 * The kit of the shared remote table (support/remote-table.js) for S3:
 * moto started, its credentials in a shared-credentials file of this test
 * process (AWS_SHARED_CREDENTIALS_FILE and an empty AWS_CONFIG_FILE, set in
 * `process.env`, as the AWS credential chain reads them there), and the
 * provider options naming a profile of it, so read-write and read-only
 * remotes live side by side in one process. Objects are under the prefix
 * `backfill/`.
 */
async function s3Kit() {
  const server = await startMoto()
  const dir = tempDir('bfn-aws-')
  const credentials = path.join(dir, 'credentials')
  const config = path.join(dir, 'config')
  const profile = (p, k) => `[${p}]\naws_access_key_id = ${k.accessKeyId}\naws_secret_access_key = ${k.secretAccessKey}\n`
  fs.writeFileSync(credentials, Object.entries(PROFILES).map(([k, p]) => profile(p, server.keys[k])).join(''))
  fs.writeFileSync(config, '')
  process.env.AWS_SHARED_CREDENTIALS_FILE = credentials
  process.env.AWS_CONFIG_FILE = config
  // The machine's own AWS settings must not reach the remote under test.
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']) delete process.env[k]
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  const options = (readOnly, { port, ...extra } = {}) => ({
    bucket: server.bucket,
    region: REGION,
    endpoint: `http://127.0.0.1:${port ?? server.port}`,
    prefix: PREFIX,
    profile: readOnly ? PROFILES.ro : PROFILES.rw,
    ...extra,
  })
  const rw = { port: server.port, key: server.keys.rw }
  return {
    name: 's3 (moto)',
    provider: 's3',
    port: server.port,
    bucket: server.bucket,
    prefix: PREFIX,
    endpoint: server.endpoint,
    /** Read-write provider options, merged with `extra`; `extra.port` sends them through another port (a fault proxy). */
    options: (extra) => options(false, extra),
    /** The same with the read-only user's credentials. */
    readOnlyOptions: (extra) => options(true, extra),
    /**
     * The variables a child process takes the credentials from: the keys
     * (for options without a profile) and the credentials file (for
     * `options()`, which names a profile of it).
     */
    env: (readOnly = false) => {
      const k = readOnly ? server.keys.ro : server.keys.rw
      return {
        AWS_ACCESS_KEY_ID: k.accessKeyId,
        AWS_SECRET_ACCESS_KEY: k.secretAccessKey,
        AWS_SHARED_CREDENTIALS_FILE: credentials,
        AWS_CONFIG_FILE: config,
        AWS_EC2_METADATA_DISABLED: 'true',
      }
    },
    /** Options naming a bucket that does not exist, with a user that may read any bucket. */
    missingContainer: { bucket: 'no-such-bucket', profile: PROFILES.any },
    /** Secrets the kit's remotes use, which no message may show. */
    secrets: Object.values(server.keys).map((k) => k.secretAccessKey),
    /** Stores `buffer` as the object of `key` (a hash) with user metadata, as a hostile writer could. */
    put: (key, buffer, metadata) => putObject(rw, `${PREFIX}/${key}`, buffer, metadata),
    /** The object of `key` (a hash): its bytes and user metadata, or null. */
    get: (key) => getObject(rw, `${PREFIX}/${key}`),
    /**
     * The pull request scope (support/scope-table.js): a bucket of its own.
     * The pull request build's one credential (the \`pr\` user) reads the
     * main bucket and writes only its own, as an IAM policy confines it;
     * the scope's options name the bucket and that credential's profile.
     */
    async pullRequestScope() {
      const pr = { port: server.port, key: server.keys.pr, bucket: PR_BUCKET }
      return {
        mainOptions: options(false, { profile: PROFILES.pr }),
        scopeOptions: { bucket: PR_BUCKET, profile: PROFILES.pr },
        credentialOnMain: options(false, { profile: PROFILES.pr }),
        secrets: [],
        get: (name) => getObject(pr, `${PREFIX}/${name}`),
        put: (name, buffer, metadata) => putObject(pr, `${PREFIX}/${name}`, buffer, metadata),
        stop: async () => {},
      }
    },
    stop: () => server.stop(),
  }
}

module.exports = { startMoto, s3Kit, ensureMoto, s3Request, BUCKET, PREFIX }
