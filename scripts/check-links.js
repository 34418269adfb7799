#!/usr/bin/env node
// Checks that every relative link and anchor in the repository's Markdown
// resolves: README.md, CHANGELOG.md, CONTRIBUTING.md, ARCHITECTURE.md (when
// present) and docs/**/*.md. A link to a file needs the file (or folder); a
// link with `#anchor` to a Markdown file needs a heading with that slug or an
// explicit `<a id="...">` (or `name`) there. Links with a scheme (https:,
// mailto:) are not fetched.
//
// Slugs follow GitHub: the heading's text as rendered (code spans, emphasis
// and link targets dropped), lower case, every character that is not a
// letter, a digit, a space, '-' or '_' removed, spaces turned into '-';
// the second heading with the same slug gets '-1', the third '-2', ...
//
// Run: `npm run check:links` (part of .ci/run), or
// `node scripts/check-links.js [file.md ...]` to check other files.
// Exits 1 and prints `file:line: ...` for each broken link.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

/** The Markdown files to check, relative to the repository root. */
function defaultFiles() {
  const files = ['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', 'ARCHITECTURE.md'].filter((f) => fs.existsSync(path.join(root, f)))
  const walk = (dir) => {
    if (!fs.existsSync(path.join(root, dir))) return
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = `${dir}/${e.name}`
      if (e.isDirectory()) walk(rel)
      else if (e.name.endsWith('.md')) files.push(rel)
    }
  }
  walk('docs')
  return files
}

/**
 * The lines of a Markdown file outside fenced code blocks, with inline code
 * spans blanked (a link-like text in code is not a link). Lines in a fence
 * come back as ''. One entry per line, so indexes are line numbers - 1.
 */
function proseLines(text) {
  let fence = null
  return text.split(/\r?\n/).map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line)
    if (fence) {
      // A closing fence: the same character, at least as long, nothing after it.
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && /^ {0,3}[`~]+\s*$/.test(line)) fence = null
      return ''
    }
    if (m) {
      fence = m[1]
      return ''
    }
    return line.replace(/(`+)[\s\S]*?\1/g, (s) => 'x'.repeat(s.length))
  })
}

/** GitHub's slug of a heading's Markdown text. */
function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/`/g, '')
    .replace(/\*+/g, '')
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

const anchorCache = new Map()
/** Every anchor a Markdown file defines: heading slugs (with -1, -2 for repeats) and explicit ids. */
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file)
  const anchors = new Set()
  const seen = new Map()
  const raw = fs.readFileSync(file, 'utf8').split(/\r?\n/)
  const lines = proseLines(raw.join('\n'))
  lines.forEach((line, i) => {
    if (raw[i] !== '' && line === '') return // in a fence
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw[i])
    if (h && line !== '') {
      const base = slug(h[1])
      const n = seen.get(base) || 0
      seen.set(base, n + 1)
      anchors.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const a of line.matchAll(/<a\s[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(a[1])
  })
  anchorCache.set(file, anchors)
  return anchors
}

// [text](target "title"), ![alt](target); text may hold one level of [...].
const INLINE = /!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?\s*\)/g
// [label]: target
const DEFINITION = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/

/** Problems with one link target found in `file`, or null when it resolves. */
function check(file, target) {
  if (target.startsWith('<') && target.endsWith('>')) target = target.slice(1, -1)
  if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null
  const hash = target.indexOf('#')
  const rawPath = hash < 0 ? target : target.slice(0, hash)
  const fragment = hash < 0 ? null : target.slice(hash + 1)
  let dest
  try {
    dest = rawPath === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(rawPath))
  } catch {
    return `"${target}": the path is not valid percent-encoding`
  }
  if (rawPath.startsWith('/')) return `"${target}": an absolute path (relative links only, so that they work on GitHub and in the package)`
  if (!fs.existsSync(dest)) return `"${target}": ${path.relative(root, dest) || dest} does not exist`
  if (fragment === null || fragment === '') return null
  if (!dest.endsWith('.md') || fs.statSync(dest).isDirectory()) {
    // GitHub's line anchors of a source file.
    return /^L\d+(-L\d+)?$/.test(fragment) ? null : `"${target}": #${fragment} is not a line anchor (#L12, #L12-L20) and ${path.relative(root, dest)} is not Markdown`
  }
  let wanted
  try {
    wanted = decodeURIComponent(fragment)
  } catch {
    wanted = fragment
  }
  const anchors = anchorsOf(dest)
  if (anchors.has(wanted) || anchors.has(wanted.toLowerCase())) return null
  return `"${target}": ${path.relative(root, dest)} has no heading or <a id> with the anchor #${wanted}`
}

function main() {
  const args = process.argv.slice(2)
  const files = args.length ? args.map((f) => path.relative(root, path.resolve(f))) : defaultFiles()
  const problems = []
  let links = 0
  for (const rel of files) {
    const file = path.join(root, rel)
    const lines = proseLines(fs.readFileSync(file, 'utf8'))
    lines.forEach((line, i) => {
      const targets = [...line.matchAll(INLINE)].map((m) => m[1])
      const def = DEFINITION.exec(line)
      if (def) targets.push(def[1])
      for (const t of targets) {
        links++
        const problem = check(file, t)
        if (problem) problems.push(`${rel}:${i + 1}: broken link ${problem}`)
      }
    })
  }
  for (const p of problems) console.error(p)
  if (problems.length) {
    console.error(`check-links: ${problems.length} broken link${problems.length === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'}`)
    process.exitCode = 1
  } else {
    console.log(`check-links: ${links} links in ${files.length} file${files.length === 1 ? '' : 's'}, all resolve`)
  }
}

main()
