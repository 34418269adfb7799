// The layering ARCHITECTURE.md promises, checked on the sources: napi only in
// src/binding/, and no module reaching into a layer above it. A Cargo
// workspace would let the compiler check the first; see ARCHITECTURE.md, "Why
// one crate", for why this test does instead.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const SRC = path.join(__dirname, '..', 'src')

// folder under src/ -> the crate modules it must not use
const RULES = {
  store: ['engine', 'transfer', 'remote', 'archive', 'binding'],
  config: ['engine', 'transfer', 'remote', 'store', 'binding'],
  remote: ['engine', 'transfer', 'store', 'archive', 'binding'],
  archive: ['engine', 'transfer', 'remote', 'binding'],
  transfer: ['engine', 'binding'],
  engine: ['binding'],
  hashing: ['engine', 'transfer', 'remote', 'binding'],
}

function rustFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return rustFiles(p)
    return e.name.endsWith('.rs') ? [p] : []
  })
}

/** What breaks the layering under `src`, as "file:line: why". */
function violations(src) {
  const out = []
  for (const file of rustFiles(src)) {
    const rel = path.relative(src, file).split(path.sep).join('/')
    const top = rel.split('/')[0].replace(/\.rs$/, '')
    const lines = fs.readFileSync(file, 'utf8').split('\n')
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '')
      if (top !== 'binding' && /\bnapi(_derive)?\b/.test(code)) out.push(`${rel}:${i + 1}: uses napi outside src/binding/`)
      for (const banned of RULES[top] ?? []) {
        if (new RegExp(`\\bcrate::${banned}\\b`).test(code)) out.push(`${rel}:${i + 1}: ${top} uses crate::${banned}`)
      }
    })
  }
  return out
}

test('napi only in src/binding/, and no module uses a layer above it', () => {
  assert.deepEqual(violations(SRC), [])
})

test('the check names a file that breaks the layering', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bfn-layers-'))
  try {
    fs.mkdirSync(path.join(dir, 'store'))
    fs.writeFileSync(path.join(dir, 'store', 'bad.rs'), '// crate::engine in a comment is fine\nuse crate::engine::Engine;\nuse napi::bindgen_prelude::*;\n')
    assert.deepEqual(violations(dir), ['store/bad.rs:2: store uses crate::engine', 'store/bad.rs:3: uses napi outside src/binding/'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// .cargo/audit.toml ignores RUSTSEC-2023-0071 (rsa, no fixed release) on
// one ground: no RSA private-key operation can run. The only user of rsa
// reachable from here is reqsign-azure-storage's client-certificate
// credential: never named, and left out of the default chain.
test('no credential that signs with an RSA key is ever made (the ground for the audit ignore)', () => {
  const uses = []
  let defaults = 0
  for (const file of rustFiles(SRC)) {
    const rel = path.relative(SRC, file).split(path.sep).join('/')
    const code = fs.readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '')
    if (/ClientCertificateCredentialProvider|encode_rs256|\brsa::/.test(code)) uses.push(rel)
    for (const m of code.matchAll(/DefaultCredentialProvider\s*::\s*(\w+)\s*\(\s*\)([\s\S]{0,200})/g)) {
      // The AWS chain (remote/s3.rs, always named by its crate) has no
      // RSA credential: reqsign-aws-core and reqsign-aws-v4 use no rsa.
      if (/reqsign_aws_v4::\s*$/.test(code.slice(0, m.index))) continue
      defaults++
      if (m[1] !== 'builder' || !/\.no_client_certificate\(\)/.test(m[2])) uses.push(`${rel}: DefaultCredentialProvider::${m[1]}() with its client-certificate credential`)
    }
  }
  assert.deepEqual(uses, [])
  assert.ok(defaults >= 1, 'the default Azure chain is made somewhere; this check looks for it')
  const audit = fs.readFileSync(path.join(__dirname, '..', '.cargo', 'audit.toml'), 'utf8')
  assert.match(audit, /ignore = \["RUSTSEC-2023-0071"\]/)
})
