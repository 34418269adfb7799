//! The store lock: fetches and puts share it, purge, clear and eviction take
//! it alone, so none of them ever deletes content a concurrent put has just
//! counted on, or an entry a fetch is restoring.
//!
//! It is an advisory file lock (`flock`), so it works across processes and,
//! since every holder opens the file itself, across threads too. A file
//! lock prefers nobody: shared holders coming and going without a gap would
//! keep an exclusive taker waiting forever (a busy lage build and its
//! eviction). So a second file, the gate, is taken shared for an instant
//! before the lock, and an exclusive taker holds the gate while it waits:
//! new fetches and puts queue behind it, the ones under way finish, and it
//! gets the lock. It holds the gate for a moment at a time only
//! ([`GATE_HOLD`]): a holder of the shared lock may be a long upload or
//! download, and the builds must not all wait for it.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::layout::Layout;
use std::time::{Duration, Instant};

use crate::error::{CacheError, IoContext, Result};
use crate::notice::Notice;

/// How long a `clear`, `purge` or `evict` asked for by a user waits for the
/// store, and where it says that it waits.
#[derive(Clone, Copy)]
pub struct Wait<'a> {
    /// Given up after this long, with [`CacheError::Busy`].
    pub limit: Duration,
    /// Told once, when the store is not free at once, what is waited for.
    pub notice: &'a dyn Fn(&Notice),
}

impl Default for Wait<'_> {
    fn default() -> Self {
        Wait {
            limit: crate::config::DEFAULT_LOCK_WAIT,
            notice: &|_| {},
        }
    }
}

/// A held lock, released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    _gate: Option<File>,
}

impl StoreLock {
    /// Takes the shared lock, creating the store folder if `create`;
    /// `None` when the store does not exist and `create` is false.
    pub fn shared(layout: &Layout, create: bool) -> Result<Option<StoreLock>> {
        let root = layout.root();
        let Some(file) = open(root, &layout.lock(), create)? else {
            return Ok(None);
        };
        // Passed as soon as no exclusive taker waits; released at once. A
        // store made before the gate existed (or read-only) has none.
        if let Some(gate) = open(root, &layout.gate(), create)? {
            gate.lock_shared().at("lock the cache folder", root)?;
        }
        file.lock_shared().at("lock the cache folder", root)?;
        Ok(Some(StoreLock {
            _file: file,
            _gate: None,
        }))
    }

    /// Takes the exclusive lock, waiting for the fetches and puts under way
    /// and keeping new ones out meanwhile; `None` when the store does not
    /// exist.
    pub fn exclusive(layout: &Layout) -> Result<Option<StoreLock>> {
        Self::exclusive_until(layout, None)
    }

    /// As [`StoreLock::exclusive`], giving up at `deadline` (`None` when
    /// the lock was not had by then, or the store does not exist).
    pub fn exclusive_until(
        layout: &Layout,
        deadline: Option<Instant>,
    ) -> Result<Option<StoreLock>> {
        Self::take_exclusive(layout, deadline, &mut || {})
    }

    /// As [`StoreLock::exclusive`] for a user's `action` (clear, purge,
    /// evict): when the store is in use it says so once through
    /// `wait.notice`, and after `wait.limit` it gives up with
    /// [`CacheError::Busy`] instead of waiting without a word or an end.
    pub fn exclusive_waiting(
        layout: &Layout,
        action: &'static str,
        wait: &Wait<'_>,
    ) -> Result<Option<StoreLock>> {
        let folder = layout.cache_dir();
        let mut told = false;
        let mut tell = || {
            if !told {
                told = true;
                (wait.notice)(&Notice::WaitingForStore {
                    action,
                    folder: folder.to_path_buf(),
                    limit_secs: wait.limit.as_secs(),
                });
            }
        };
        let lock = Self::take_exclusive(layout, Some(Instant::now() + wait.limit), &mut tell)?;
        match lock {
            None if layout.root().is_dir() => Err(CacheError::Busy {
                action,
                path: folder.to_path_buf(),
                waited_secs: wait.limit.as_secs(),
            }),
            other => Ok(other),
        }
    }

    /// Takes the exclusive lock; `waiting` is called each time the gate is
    /// let go without it.
    fn take_exclusive(
        layout: &Layout,
        deadline: Option<Instant>,
        waiting: &mut dyn FnMut(),
    ) -> Result<Option<StoreLock>> {
        let root = layout.root();
        if !root.is_dir() {
            return Ok(None);
        }
        let Some(file) = open(root, &layout.lock(), true)? else {
            return Ok(None);
        };
        loop {
            let Some(gate) = open(root, &layout.gate(), true)? else {
                return Ok(None);
            };
            // Another exclusive taker (a purge, a clear, an eviction) holds
            // the gate for its whole run: wait for it as for a shared
            // holder, saying so and keeping to the deadline.
            match gate.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    drop(gate);
                    waiting();
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                    std::thread::sleep(GATE_HOLD / 2);
                    continue;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).at("lock the cache folder", root)
                }
            }
            let held = Instant::now();
            while held.elapsed() < GATE_HOLD {
                match file.try_lock() {
                    Ok(()) => {
                        return Ok(Some(StoreLock {
                            _file: file,
                            _gate: Some(gate),
                        }))
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(e).at("lock the cache folder", root)
                    }
                }
            }
            // A long holder (an upload, a download): let the others pass.
            // Closing the handle lets the gate go. Not `File::unlock`: it
            // unlocks twice on Windows, and wine fails the second with
            // "Lock violation" where Windows says "not locked".
            drop(gate);
            waiting();
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            std::thread::sleep(GATE_HOLD / 2);
        }
    }

    /// The lock of one eviction at a time in the store, across processes:
    /// `None` when another process evicts now (or the store is gone).
    pub fn try_evictor(layout: &Layout) -> Result<Option<File>> {
        let root = layout.root();
        let Some(file) = open(root, &layout.evict_lock(), true)? else {
            return Ok(None);
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e).at("lock the cache folder", root),
        }
    }
}

/// How long an exclusive taker keeps new fetches and puts waiting at the
/// gate before it lets them pass and tries again.
pub const GATE_HOLD: Duration = Duration::from_millis(200);

/// Opens the lock file `path` of the store in `root`.
fn open(root: &Path, path: &Path, create: bool) -> Result<Option<File>> {
    if create {
        std::fs::create_dir_all(root).at("create the cache folder", root)?;
    }
    // Without `create` nothing is written: a read-only user must not create
    // files, and a store without its lock file has nothing to protect.
    match OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at("open the cache lock file", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    const CHILD_DIR: &str = "BACKFILL_NATIVE_LOCK_TEST_DIR";

    fn wait_for(path: &Path, what: &str) {
        let start = Instant::now();
        while !path.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Holds the shared lock in a thread for `hold`, as a long upload or
    /// download would; answers once it has the lock.
    fn hold_shared(root: &Layout, hold: Duration) -> std::thread::JoinHandle<()> {
        let root = root.clone();
        let (tx, rx) = mpsc::channel();
        let holder = std::thread::spawn(move || {
            let lock = StoreLock::shared(&root, true).unwrap().unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(hold);
            drop(lock);
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the holder never got the shared lock");
        holder
    }

    /// An exclusive taker behind a holder longer than [`GATE_HOLD`] lets the
    /// gate go and takes it again (under wine, a second `UnlockFile` of
    /// std's `unlock` failed with "Lock violation" there), lets new shared
    /// takers pass meanwhile, and gets the lock when the holder ends.
    #[test]
    fn an_exclusive_taker_waits_out_a_long_holder_and_lets_others_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Layout::new(&tmp.path().join("cache"));
        // Long enough that a slow machine (wine under load) still asks for
        // the second shared lock while this one is held.
        let hold = GATE_HOLD * 10;
        let start = Instant::now();
        let holder = hold_shared(&root, hold);

        let (tx, rx) = mpsc::channel();
        let taker_root = root.clone();
        let taker = std::thread::spawn(move || {
            let answer = StoreLock::exclusive(&taker_root)
                .map(|l| l.is_some())
                .map_err(|e| e.to_string());
            tx.send((answer, start.elapsed())).unwrap();
        });
        // A fetch arriving while the exclusive taker waits gets through in
        // one of its pauses, long before the holder ends.
        std::thread::sleep(GATE_HOLD / 4);
        let passed = StoreLock::shared(&root, true).unwrap();
        assert!(passed.is_some());
        if let Ok(answer) = rx.try_recv() {
            panic!("the exclusive taker answered {answer:?} while a shared lock was held");
        }
        drop(passed);

        let (answer, granted) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(answer, Ok(true));
        assert!(
            granted >= hold,
            "the exclusive lock was granted after {granted:?}, before the holder let go"
        );
        taker.join().unwrap();
        holder.join().unwrap();
    }

    /// A deadline ends the wait with `None`, and leaves the gate open: the
    /// next fetch or put is not kept waiting.
    /// A user's clear, purge or evict behind a holder that never lets go
    /// (a build stopped with Ctrl-Z) says once what it waits for and gives
    /// up with `BACKFILL_NATIVE_BUSY` (it waited without a word or an end).
    #[test]
    fn a_users_clear_says_it_waits_and_gives_up_at_its_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Layout::new(&tmp.path().join("cache"));
        let held = StoreLock::shared(&root, true).unwrap().unwrap();
        let said = std::cell::RefCell::new(Vec::new());
        let notice = |n: &Notice| said.borrow_mut().push(n.message());
        let wait = Wait {
            limit: Duration::from_secs(1),
            notice: &notice,
        };
        let err = StoreLock::exclusive_waiting(&root, "clear", &wait).unwrap_err();
        assert_eq!(err.code(), "BACKFILL_NATIVE_BUSY");
        let folder = tmp.path().join("cache");
        assert_eq!(
            err.to_string(),
            format!("could not clear {}: it stayed in use by a fetch, put or upload for 1 s. Wait for the builds using it to end (a process stopped with Ctrl-Z holds it until it is resumed or ended), or wait longer with BACKFILL_NATIVE_LOCK_WAIT (for example 10m)", folder.display())
        );
        assert_eq!(
            said.into_inner(),
            vec![format!("waiting to clear {}: fetches, puts or uploads are using it; giving up after 1 s (BACKFILL_NATIVE_LOCK_WAIT sets how long)", folder.display())]
        );
        // Free, it takes the lock at once and says nothing.
        drop(held);
        let said = std::cell::RefCell::new(Vec::new());
        let notice = |n: &Notice| said.borrow_mut().push(n.message());
        let wait = Wait {
            limit: Duration::from_secs(3600),
            notice: &notice,
        };
        assert!(StoreLock::exclusive_waiting(&root, "clear", &wait)
            .unwrap()
            .is_some());
        assert!(said.into_inner().is_empty());
    }

    #[test]
    fn an_exclusive_taker_gives_up_at_its_deadline_and_leaves_the_gate_open() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Layout::new(&tmp.path().join("cache"));
        let holder = hold_shared(&root, GATE_HOLD * 10);
        let deadline = Instant::now() + GATE_HOLD * 2;
        let got = StoreLock::exclusive_until(&root, Some(deadline)).unwrap();
        assert!(
            got.is_none(),
            "the exclusive lock was granted while a shared one was held"
        );
        assert!(Instant::now() >= deadline);

        let (tx, rx) = mpsc::channel();
        let next_root = root.clone();
        std::thread::spawn(move || {
            let lock = StoreLock::shared(&next_root, true).unwrap();
            tx.send(lock.is_some()).unwrap();
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "a shared taker waited after the exclusive one gave up"
        );
        holder.join().unwrap();
    }

    /// The other process of `the_lock_holds_across_processes`: holds the
    /// exclusive lock until told to let go. Ignored, so it runs only when
    /// that test starts it (and returns at once if run by hand).
    #[test]
    #[ignore = "run as a child process by the_lock_holds_across_processes"]
    fn hold_the_lock_in_a_child() {
        let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
            return;
        };
        let lock = StoreLock::exclusive(&Layout::new(&dir.join("cache")))
            .unwrap()
            .unwrap();
        fs::write(dir.join("held"), b"").unwrap();
        wait_for(&dir.join("release"), "the parent to release the child");
        drop(lock);
    }

    /// A purge in one process (the exclusive lock) keeps a fetch or put in
    /// another (the shared lock) waiting until it ends, on Unix (`flock`)
    /// and Windows (`LockFileEx`) alike.
    #[test]
    fn the_lock_holds_across_processes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        fs::create_dir_all(Layout::new(&dir.join("cache")).root()).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::lock::tests::hold_the_lock_in_a_child",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&dir.join("held"), "the child to take the lock");

        let (tx, rx) = mpsc::channel();
        let root = Layout::new(&dir.join("cache"));
        let waiter = std::thread::spawn(move || {
            let lock = StoreLock::shared(&root, true).unwrap().unwrap();
            tx.send(()).unwrap();
            drop(lock);
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(700)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "the shared lock was granted while another process held the exclusive one"
        );
        fs::write(dir.join("release"), b"").unwrap();
        assert!(child.wait().unwrap().success());
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the shared lock was not granted once the other process let go");
        waiter.join().unwrap();
    }
}
