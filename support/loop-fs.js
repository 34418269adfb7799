// Where a benchmark measures: the temp folder, tmpfs, the disk, or an XFS
// (`mkfs.xfs -m reflink=1`) or btrfs image made here and loop-mounted (as
// root, with Debian's xfsprogs and btrfs-progs), with the bytes its loop
// device has written. The image lives in a temp folder removed by close().
'use strict'

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const KINDS = ['tmp', 'tmpfs', 'disk', 'xfs', 'btrfs']

const run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/**
 * A folder to measure in on file system `kind` (one of KINDS): `{ dir,
 * written(), close() }`. `written()` is the bytes the device has written so
 * far once everything is on it, or null where the device is not the
 * benchmark's alone (anything but a loop image). `sizeGiB` sizes an image.
 */
function workFolder(kind, { sizeGiB = 4 } = {}) {
  if (!KINDS.includes(kind)) throw new Error(`BENCH_FS must be one of ${KINDS.join(', ')}, got ${kind}`)
  const plain = (parent) => {
    const dir = fs.mkdtempSync(path.join(parent, 'backfill-native-bench-'))
    return { dir, written: () => null, close: () => fs.rmSync(dir, { recursive: true, force: true }) }
  }
  if (kind === 'tmp') return plain(os.tmpdir())
  if (kind === 'tmpfs') return plain('/dev/shm')
  if (kind === 'disk') {
    // A folder beside the repository (target/bench), which is never tmpfs.
    const onDisk = path.join(__dirname, '..', 'target', 'bench')
    fs.mkdirSync(onDisk, { recursive: true })
    return plain(onDisk)
  }
  const holder = fs.mkdtempSync(path.join(os.tmpdir(), `backfill-native-bench-${kind}-`))
  const image = path.join(holder, `${kind}.img`)
  const dir = path.join(holder, 'mnt')
  let mounted = false
  const close = () => {
    if (mounted) {
      try {
        run('umount', [dir])
      } catch {
        try {
          run('umount', ['-l', dir])
        } catch {}
      }
      mounted = false
    }
    fs.rmSync(holder, { recursive: true, force: true })
  }
  try {
    fs.mkdirSync(dir)
    fs.closeSync(fs.openSync(image, 'w'))
    fs.truncateSync(image, sizeGiB * 2 ** 30)
    if (kind === 'xfs') run('mkfs.xfs', ['-q', '-m', 'reflink=1', image])
    else run('mkfs.btrfs', ['-q', image])
    run('mount', ['-o', 'loop', image, dir])
    mounted = true
  } catch (e) {
    close()
    const why = (e.stderr && String(e.stderr).trim()) || e.message
    throw new Error(`cannot make and mount a ${kind} image here (needs root, loop devices, and xfsprogs/btrfs-progs): ${why}`)
  }
  const device = path.basename(run('findmnt', ['-n', '-o', 'SOURCE', dir]).trim())
  const written = () => {
    run('sync', ['-f', dir])
    const stat = fs.readFileSync(`/sys/block/${device}/stat`, 'utf8').trim().split(/\s+/)
    return Number(stat[6]) * 512
  }
  return { dir, written, close, device }
}

module.exports = { workFolder, KINDS }
