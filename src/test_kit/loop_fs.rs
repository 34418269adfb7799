//! Real file systems for tests: an XFS (`mkfs.xfs -m reflink=1`) or btrfs
//! image in a temp folder, loop-mounted (as root; Debian's `xfsprogs` and
//! `btrfs-progs`), with what its loop device has written. Unmounted, its
//! loop device detached and the image removed when dropped, whatever the
//! test did. Where a machine cannot make or mount one, [`LoopFs::mount`]
//! prints why and the test is skipped, never passed in silence; with
//! `BFN_REQUIRE_LOOP_FS=1` (CI, as root) it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The file systems that clone.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Xfs,
    Btrfs,
}

impl Kind {
    /// Both, for tests that run on each.
    pub const ALL: [Kind; 2] = [Kind::Xfs, Kind::Btrfs];

    fn name(self) -> &'static str {
        match self {
            Kind::Xfs => "xfs",
            Kind::Btrfs => "btrfs",
        }
    }
}

/// A mounted image.
pub struct LoopFs {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// The loop device (`loop3`).
    device: String,
    image: PathBuf,
    _dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{:?} could not run: {e}", cmd.get_program())),
    }
}

impl LoopFs {
    /// A fresh file system of `kind`, mounted; `None` (after printing why,
    /// naming `test`) where this machine cannot.
    pub fn mount(kind: Kind, test: &str) -> Option<LoopFs> {
        if !cfg!(target_os = "linux") {
            eprintln!("{test}: SKIPPED: loop-mounted images are made on Linux only");
            return None;
        }
        match Self::try_mount(kind) {
            Ok(fs) => Some(fs),
            Err(why) => {
                let msg = format!(
                    "{test}: SKIPPED on {}: {why} (needs root, loop devices and Debian's xfsprogs and btrfs-progs)",
                    kind.name()
                );
                if std::env::var("BFN_REQUIRE_LOOP_FS").is_ok_and(|v| v == "1") {
                    panic!("{msg}; BFN_REQUIRE_LOOP_FS=1 makes this a failure");
                }
                eprintln!("{msg}");
                None
            }
        }
    }

    fn try_mount(kind: Kind) -> Result<LoopFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = dir.path().join(format!("{}.img", kind.name()));
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).map_err(|e| e.to_string())?;
        // Sparse: only what is written takes room.
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(512 << 20).map_err(|e| e.to_string())?;
        drop(file);
        match kind {
            Kind::Xfs => run(Command::new("mkfs.xfs")
                .args(["-q", "-m", "reflink=1"])
                .arg(&image))?,
            Kind::Btrfs => run(Command::new("mkfs.btrfs").arg("-q").arg(&image))?,
        };
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount))?;
        let source = run(Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&mount));
        let device = source
            .ok()
            .and_then(|s| Some(s.trim().strip_prefix("/dev/")?.to_string()))
            .filter(|d| d.starts_with("loop"));
        let fs = LoopFs {
            mount,
            device: device.unwrap_or_default(),
            image,
            _dir: dir,
        };
        if fs.device.is_empty() {
            return Err("the image is mounted, but not on a loop device".into());
        }
        Ok(fs)
    }

    /// A new folder in the file system.
    pub fn dir(&self, name: &str) -> PathBuf {
        let p = self.mount.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Bytes the loop device has written so far, once everything of the
    /// file system is on it (`/sys/block/loopN/stat`, written sectors).
    pub fn written_bytes(&self) -> u64 {
        run(Command::new("sync").arg("-f").arg(&self.mount)).unwrap();
        let stat = std::fs::read_to_string(format!("/sys/block/{}/stat", self.device)).unwrap();
        let sectors: u64 = stat.split_whitespace().nth(6).unwrap().parse().unwrap();
        sectors * 512
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if run(Command::new("umount").arg(&self.mount)).is_err() {
            let _ = run(Command::new("umount").arg("-l").arg(&self.mount));
        }
        // `mount -o loop` detaches it on unmount; this is for a lazy one,
        // and only while it is still ours (another test may reuse it).
        let backing = format!("/sys/block/{}/loop/backing_file", self.device);
        let ours = std::fs::read_to_string(backing)
            .is_ok_and(|b| Path::new(b.trim()) == self.image.as_path());
        if ours {
            let _ = run(Command::new("losetup")
                .arg("-d")
                .arg(format!("/dev/{}", self.device)));
        }
    }
}

/// Whether `filefrag -v` shows `path` sharing any extent with another file.
pub fn shares_extents(path: &Path) -> bool {
    let out = run(Command::new("filefrag").arg("-v").arg(path)).unwrap();
    out.lines().any(|l| l.contains("shared"))
}
