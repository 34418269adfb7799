// scripts/check-links.js: every relative link and anchor in the Markdown
// resolves, with GitHub's heading slugs; a broken one is named by file:line.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const script = path.join(__dirname, '..', 'scripts', 'check-links.js')
const run = (...files) => spawnSync(process.execPath, [script, ...files], { encoding: 'utf8' })

test("the repository's Markdown has no broken link", () => {
  const r = run()
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /all resolve/)
})

test('slugs as GitHub makes them; broken files and anchors named by file:line; code is not read', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bfn-check-links-'))
  try {
    fs.writeFileSync(path.join(dir, 'other.md'), '# Other\n\n## Set `BACKFILL_MODE` (or `mode`)\n<a id="kept-anchor"></a>\n')
    fs.writeFileSync(path.join(dir, 'code.js'), '// code\n')
    const lines = [
      '# Page', // 1
      '## Notes', // 2
      '## Notes', // 3
      '```', // 4
      '## Notes', // 5: in a fence, not a heading
      '[fenced](#nowhere)', // 6: in a fence, not a link
      '```', // 7
      '[a](#notes) [b](#notes-1) [c](other.md#set-backfill_mode-or-mode) [d](other.md#kept-anchor)', // 8
      '[e](code.js#L1) [f](https://example.com/#x) `[g](#in-code)` [h](<other.md>) [i](./)', // 9
      '[j](#notes-2)', // 10: the third Notes is in the fence
      '[k](missing.md)', // 11
      '[l](other.md#no-such-heading)', // 12
      '[ref]: #page', // 13
    ]
    const page = path.join(dir, 'page.md')
    fs.writeFileSync(page, `${lines.join('\n')}\n`)
    const r = run(page)
    assert.equal(r.status, 1)
    const broken = r.stderr
      .split('\n')
      .filter((l) => l.includes(': broken link "'))
      .map((l) => l.replace(/^.*page\.md:/, 'page.md:').replace(/: broken link "([^"]*)".*/, ' $1'))
    assert.deepEqual(broken, ['page.md:10 #notes-2', 'page.md:11 missing.md', 'page.md:12 other.md#no-such-heading'])
    assert.match(r.stderr, /check-links: 3 broken links in 1 file$/m)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
