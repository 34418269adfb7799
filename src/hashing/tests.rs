//! Digest stability, the racy-timestamp cases, and the ignore rules.

use crate::platform::testing::symlink;
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn all() -> Vec<String> {
    vec!["**/*".to_string()]
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn key(dir: &Path, change: impl FnOnce(&mut PackageInputs)) -> String {
    let mut inputs = PackageInputs {
        cwd: dir.to_path_buf(),
        root: dir.to_path_buf(),
        salt: "tsc -p .".into(),
        ..PackageInputs::default()
    };
    change(&mut inputs);
    hash_package(&inputs, &HashOptions::default(), &no_env).unwrap()
}

#[test]
fn digests_are_blake3_of_contents_and_links_of_their_target() {
    if crate::platform::testing::skip_without_links(
        "digests_are_blake3_of_contents_and_links_of_their_target",
    ) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "src/a.ts", b"alpha");
    write(t.path(), "empty", b"");
    symlink("does/not/exist", t.path().join("broken")).unwrap();
    let big: Vec<u8> = (0..(40u32 << 20)).map(|i| (i % 253) as u8).collect();
    write(t.path(), "big.bin", &big);
    let d = hash_files(t.path(), &all(), &HashOptions::default()).unwrap();
    assert_eq!(d["src/a.ts"], blake3::hash(b"alpha").to_hex().as_str());
    assert_eq!(d["empty"], blake3::hash(b"").to_hex().as_str());
    assert_eq!(
        d["big.bin"],
        blake3::hash(&big).to_hex().as_str(),
        "parallel hashing of a big file"
    );
    assert!(
        d.contains_key("broken"),
        "a broken link is an input (its target text)"
    );
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        vec!["big.bin", "broken", "empty", "src/a.ts"]
    );
}

#[test]
fn package_keys_are_stable_and_sensitive_to_each_input() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Same files written in a different order, in different absolute places.
    for (dir, order) in [(a.path(), [0, 1, 2]), (b.path(), [2, 1, 0])] {
        let files = [
            ("src/x.ts", b"x".as_slice()),
            ("src/deep/y.ts", b"y"),
            ("package.json", b"{}"),
        ];
        for i in order {
            write(dir, files[i].0, files[i].1);
        }
    }
    let base = key(a.path(), |_| {});
    assert_eq!(
        key(b.path(), |_| {}),
        base,
        "walk order or absolute path changed the key"
    );
    // mtimes do not matter.
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(b.path().join("src/x.ts"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(key(b.path(), |_| {}), base);
    // Each input does.
    assert_ne!(key(a.path(), |i| i.salt = "tsc -b".into()), base);
    assert_ne!(
        key(a.path(), |i| i.dependency_hashes = vec!["d1".into()]),
        base
    );
    assert_eq!(
        key(a.path(), |i| i.dependency_hashes =
            vec!["d1".into(), "d2".into()]),
        key(a.path(), |i| i.dependency_hashes =
            vec!["d2".into(), "d1".into()]),
        "dependency order changed the key"
    );
    let env = HashMap::from([("NODE_ENV".to_string(), "production".to_string())]);
    let with_env = |vars: &HashMap<String, String>| {
        let inputs = PackageInputs {
            cwd: a.path().to_path_buf(),
            root: a.path().to_path_buf(),
            salt: "tsc -p .".into(),
            env_vars: vec!["NODE_ENV".into()],
            ..PackageInputs::default()
        };
        hash_package(&inputs, &HashOptions::default(), &|n| vars.get(n).cloned()).unwrap()
    };
    assert_ne!(
        with_env(&env),
        with_env(&HashMap::new()),
        "an unset variable hashed like a set one"
    );
    write(a.path(), "src/x.ts", b"x2");
    assert_ne!(key(a.path(), |_| {}), base);
    // Moving content between files changes the key even with equal bytes overall.
    write(b.path(), "src/x.ts", b"");
    write(b.path(), "src/deep/y.ts", b"xy");
    assert_ne!(key(b.path(), |_| {}), base);
}

#[test]
fn extra_inputs_outside_the_package_count() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "tsconfig.base.json", b"{}");
    write(t.path(), "packages/a/src/x.ts", b"x");
    let pkg = t.path().join("packages/a");
    let with_extra = |root: &Path| {
        let inputs = PackageInputs {
            cwd: pkg.clone(),
            root: root.to_path_buf(),
            extra_inputs: vec!["tsconfig.base.json".into()],
            ..PackageInputs::default()
        };
        hash_package(&inputs, &HashOptions::default(), &no_env).unwrap()
    };
    let before = with_extra(t.path());
    write(t.path(), "tsconfig.base.json", b"{\"strict\":true}");
    assert_ne!(with_extra(t.path()), before);
}

#[test]
fn skips_node_modules_git_and_the_cache_folder_and_optionally_gitignored_files() {
    let t = tempfile::tempdir().unwrap();
    for rel in [
        "src/a.ts",
        "node_modules/x/index.js",
        ".git/HEAD",
        "cache/entry",
        "dist/out.js",
        ".env.example",
    ] {
        write(t.path(), rel, b"x");
    }
    write(t.path(), ".gitignore", b"dist/\n");
    let opts = HashOptions {
        skip: Some(t.path().join("cache")),
        ..HashOptions::default()
    };
    let keys = |o: &HashOptions| {
        hash_files(t.path(), &all(), o)
            .unwrap()
            .into_keys()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(&opts),
        vec![".env.example", ".gitignore", "dist/out.js", "src/a.ts"]
    );
    let ignoring = HashOptions {
        gitignore: true,
        ..opts.clone()
    };
    assert_eq!(
        keys(&ignoring),
        vec![".env.example", ".gitignore", "src/a.ts"]
    );
    // Globs and negation as for outputs.
    let only_src = hash_files(t.path(), &["src/**".into(), "!**/*.md".into()], &opts).unwrap();
    assert_eq!(only_src.into_keys().collect::<Vec<_>>(), vec!["src/a.ts"]);
}

// Unix only: Windows has no FIFOs in the file system.
#[cfg(unix)]
#[test]
fn fifos_are_skipped_not_read() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "a", b"a");
    let fifo = t.path().join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let d = hash_files(t.path(), &all(), &HashOptions::default()).unwrap();
    assert_eq!(d.into_keys().collect::<Vec<_>>(), vec!["a"]);
    let err = digest_file(&fifo).unwrap_err().to_string();
    assert!(err.contains("it is not a regular file or a link"), "{err}");
}

/// The racy case: a file rewritten with the same size and the same mtime
/// right after it was hashed is read again; a settled file is not.
#[test]
fn file_states_never_miss_an_edit_and_reuse_settled_files() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state.json");
    let pkg = t.path().join("pkg");
    write(&pkg, "a.txt", b"aaaa");
    let opts = HashOptions {
        state_file: Some(state.clone()),
        ..HashOptions::default()
    };
    let first = hash_files(&pkg, &all(), &opts).unwrap();
    // Same size, and the mtime put back: only the hashing time can tell.
    let mtime = fs::metadata(pkg.join("a.txt")).unwrap().modified().unwrap();
    write(&pkg, "a.txt", b"bbbb");
    fs::File::options()
        .write(true)
        .open(pkg.join("a.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let second = hash_files(&pkg, &all(), &opts).unwrap();
    assert_ne!(
        second["a.txt"], first["a.txt"],
        "a racily clean edit was missed"
    );
    assert_eq!(second["a.txt"], blake3::hash(b"bbbb").to_hex().as_str());

    if !crate::platform::STAMPS_SHOW_EVERY_WRITE {
        // Windows: no recorded state is trusted, settled or not.
        let states = FileStates::load(&state);
        assert_eq!(states.len(), 1);
        let stamp = Stamp::of(&pkg.join("a.txt")).unwrap();
        assert!(states.get("a.txt").is_some());
        assert_eq!(states.reusable("a.txt", &stamp), None);
        return;
    }
    // A settled file (older than the hashing by more than the granularity)
    // is reused: prove it by changing the bytes behind the same stamp, which
    // only a reuse would not notice.
    let settled = t.path().join("settled");
    let old = SystemTime::now() - Duration::from_secs(60);
    for (rel, bytes) in [("b.txt", b"1234"), ("c/d.txt", b"5678")] {
        write(&settled, rel, bytes);
        fs::File::options()
            .write(true)
            .open(settled.join(rel))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    // The change time cannot be set back: let it age past the granularity.
    std::thread::sleep(Duration::from_millis(2100));
    let opts2 = HashOptions {
        state_file: Some(t.path().join("state2.json")),
        ..HashOptions::default()
    };
    let first = hash_files(&settled, &all(), &opts2).unwrap();
    // Rehashing the settled tree reads nothing, so the state file is left
    // as it is (it is replaced whenever a file had to be read).
    let inode = |p: &Path| crate::platform::file_id(&fs::metadata(p).unwrap());
    let state2 = t.path().join("state2.json");
    let before = inode(&state2);
    assert_eq!(hash_files(&settled, &all(), &opts2).unwrap(), first);
    assert_eq!(inode(&state2), before, "an unchanged file was read again");
    let states = FileStates::load(&t.path().join("state2.json"));
    assert_eq!(states.len(), 2);
    let stamp = Stamp::of(&settled.join("b.txt")).unwrap();
    assert!(
        states.reusable("b.txt", &stamp).is_some(),
        "a settled file was not reused"
    );
    // Any change of size, mtime, ctime or inode is seen.
    for change in [
        |s: &mut Stamp| s.size += 1,
        |s: &mut Stamp| s.mtime_ns -= 1,
        |s: &mut Stamp| s.ctime_ns += 1,
        |s: &mut Stamp| s.inode += 1,
    ] {
        let mut other = stamp;
        change(&mut other);
        assert!(states.reusable("b.txt", &other).is_none(), "{other:?}");
    }
    assert!(states.reusable("other.txt", &stamp).is_none());
}

/// A damaged, truncated, unsorted or old-format state file is ignored (every
/// file is read again), never trusted, and never an error.
#[test]
fn damaged_state_files_are_ignored() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("states");
    let stamp = Stamp {
        size: 4,
        mtime_ns: 1,
        ctime_ns: 2,
        inode: 3,
    };
    let s = FileState {
        stamp,
        digest: blake3::hash(b"x"),
        hashed_ns: 10_000_000_000,
    };
    FileStates::save(&state, [("a", &s), ("b", &s)].into_iter()).unwrap();
    let good = fs::read(&state).unwrap();
    assert_eq!(FileStates::load(&state).len(), 2);
    assert_eq!(
        FileStates::load(&state).get_sorted(["b"].into_iter()),
        vec![Some(s)]
    );
    // Looked up in one pass for a sorted list of paths.
    let got = FileStates::load(&state).get_sorted(["0", "a", "a0", "b", "c"].into_iter());
    assert_eq!(got, vec![None, Some(s), None, Some(s), None]);
    // Truncated anywhere.
    for cut in [1, 10, good.len() - 1] {
        fs::write(&state, &good[..good.len() - cut]).unwrap();
        assert!(FileStates::load(&state).is_empty(), "cut {cut}");
    }
    // Not sorted.
    FileStates::save(&state, [("b", &s), ("a", &s)].into_iter()).unwrap();
    assert!(FileStates::load(&state).is_empty());
    // The previous text format.
    fs::write(&state, "backfill-native file states v2\n4 1 2 3 10 ab a\n").unwrap();
    assert!(FileStates::load(&state).is_empty());
    // And hashing through a damaged file still gives the right digests.
    let pkg = t.path().join("pkg");
    write(&pkg, "a", b"fresh");
    fs::write(&state, &good[..good.len() - 3]).unwrap();
    let opts = HashOptions {
        state_file: Some(state.clone()),
        ..HashOptions::default()
    };
    let d = hash_files(&pkg, &all(), &opts).unwrap();
    assert_eq!(d["a"], blake3::hash(b"fresh").to_hex().as_str());
    assert_eq!(FileStates::load(&state).len(), 1);
}

/// The walk lists inputs sorted by path (byte order, as the state file and
/// the key need) without sorting the whole list: names around `/` must land
/// where a full sort would put them.
#[test]
fn inputs_come_out_sorted_and_their_states_are_kept() {
    let t = tempfile::tempdir().unwrap();
    let pkg = t.path().join("pkg");
    let names = [
        "a.txt",
        "a/x",
        "a/y/z",
        "a0",
        "a-b/c",
        "a b",
        "b/a/z",
        "A",
        "é",
        "_",
        "a/.hidden",
    ];
    // "A" beside the folder "a" needs a file system that tells case apart.
    let names: Vec<&str> = names
        .into_iter()
        .filter(|n| !(crate::platform::CASE_INSENSITIVE && *n == "A"))
        .collect();
    for rel in &names {
        write(&pkg, rel, rel.as_bytes());
    }
    let found: Vec<String> = find_inputs(&pkg, &all(), &HashOptions::default())
        .unwrap()
        .into_iter()
        .map(|i| i.rel)
        .collect();
    let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(found, sorted);

    let state = t.path().join("states");
    let opts = HashOptions {
        state_file: Some(state.clone()),
        ..HashOptions::default()
    };
    hash_files(&pkg, &all(), &opts).unwrap();
    // A state file out of order would be refused on load, silently making
    // every rehash read every file.
    assert_eq!(FileStates::load(&state).len(), names.len());

    // A new file is hashed and a removed one forgotten.
    fs::remove_file(pkg.join("a/x")).unwrap();
    write(&pkg, "a/new", b"new");
    let d = hash_files(&pkg, &all(), &opts).unwrap();
    assert!(!d.contains_key("a/x"));
    assert_eq!(d["a/new"], blake3::hash(b"new").to_hex().as_str());
    let states = FileStates::load(&state);
    assert_eq!(states.len(), names.len());
    assert!(states.get("a/x").is_none());
    assert!(states.get("a/new").is_some());
}

/// `.gitignore` as git reads it: `.git/info/exclude`, then each `.gitignore`
/// from the repository root down, inner rules (and `!` rules) winning; an
/// ignore file above the repository does not count.
#[test]
fn gitignore_rules_apply_from_the_repository_root_down() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let pkg = repo.join("packages/app");
    write(t.path(), ".gitignore", b"*.ts\n");
    write(&repo, ".git/HEAD", b"ref: refs/heads/main\n");
    write(&repo, ".git/info/exclude", b"local.txt\n");
    write(&repo, ".gitignore", b"*.log\n");
    write(&pkg, ".gitignore", b"!keep.log\ngen/\n");
    write(&pkg, "src/.gitignore", b"secret.txt\n");
    for rel in [
        "src/a.ts",
        "src/secret.txt",
        "debug.log",
        "keep.log",
        "gen/out.js",
        "local.txt",
        "lib/gen",
    ] {
        write(&pkg, rel, b"x");
    }
    let opts = HashOptions {
        gitignore: true,
        ..HashOptions::default()
    };
    let keys: Vec<String> = hash_files(&pkg, &all(), &opts)
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        keys,
        vec![
            ".gitignore",
            "keep.log",
            "lib/gen",
            "src/.gitignore",
            "src/a.ts"
        ]
    );
    // Without the option every file counts.
    let every = hash_files(&pkg, &all(), &HashOptions::default()).unwrap();
    assert_eq!(every.len(), 9);
}

#[cfg(unix)]
fn git(dir: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "core.excludesFile=/dev/null"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {o:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// With `gitignore: true` the inputs are exactly what git lists as tracked
/// or untracked-but-not-ignored.
#[cfg(unix)]
fn same_as_git(pkg: &Path) {
    use std::collections::BTreeSet;
    let expected: BTreeSet<String> = git(pkg, &["ls-files", "-co", "--exclude-standard"])
        .lines()
        .map(String::from)
        .collect();
    let opts = HashOptions {
        gitignore: true,
        ..HashOptions::default()
    };
    let got: BTreeSet<String> = hash_files(pkg, &all(), &opts)
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        got,
        expected,
        "only ours: {:?}, only git's: {:?}",
        got.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&got).collect::<Vec<_>>()
    );
}

// Unix only: it compares with the git command, which the Windows test run (wine) does not have.
#[cfg(unix)]
#[test]
fn gitignore_agrees_with_git_ls_files() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    git(r, &["init", "-q"]);
    write(
        r,
        ".gitignore",
        b"/pkg/rooted.txt\n*.log\nbuild/\npkg/mid/slash.txt\nfoo/**\n!foo/bar\n",
    );
    write(r, ".git/info/exclude", b"by-info.txt\n");
    write(
        &r.join("pkg"),
        ".gitignore",
        b"/anchored.txt\n!keep.log\nout/*\n!out/keep.txt\ndironly/\n!build/keep.js\na/**/d.md\n",
    );
    write(
        &r.join("pkg"),
        "sub/.gitignore",
        b"/anchored2.txt\nnested/deeper.txt\n",
    );
    for f in [
        "anchored.txt",
        "sub/anchored.txt",
        "sub/anchored2.txt",
        "sub/x/anchored2.txt",
        "sub/nested/deeper.txt",
        "nested/deeper.txt",
        "a.log",
        "keep.log",
        "build/b.js",
        "build/keep.js",
        "out/a",
        "out/keep.txt",
        "dironly",
        "sub/dironly/f",
        "rooted.txt",
        "sub/rooted.txt",
        "mid/slash.txt",
        "by-info.txt",
        "a/b/c/d.md",
        "foo/bar",
        "foo/baz",
        "ok.js",
    ] {
        write(&r.join("pkg"), f, b"x");
    }
    same_as_git(&r.join("pkg"));
    same_as_git(r);

    // A package inside a folder the repository ignores has no inputs.
    write(r, "build/pkg/a.js", b"x");
    same_as_git(&r.join("build/pkg"));
}

/// In a linked work tree `.git` is a file naming the real git folder: the
/// shared `info/exclude` still applies, and the `.git` file (which holds an
/// absolute path) is never an input.
// Unix only: it makes the work tree with the git command, which the Windows test run (wine) does not have.
#[cfg(unix)]
#[test]
fn gitignore_in_a_linked_work_tree() {
    let t = tempfile::tempdir().unwrap();
    let main = t.path().join("main");
    write(&main, "a.js", b"x");
    git(&main, &["init", "-q"]);
    git(&main, &["add", "-A"]);
    git(&main, &["commit", "-qm", "x"]);
    write(&main, ".git/info/exclude", b"secret.txt\n");
    let wt = t.path().join("wt");
    git(&main, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    write(&wt, "secret.txt", b"x");
    same_as_git(&wt);
    let every = hash_files(&wt, &all(), &HashOptions::default()).unwrap();
    assert_eq!(
        every.into_keys().collect::<Vec<_>>(),
        vec!["a.js", "secret.txt"]
    );
}

/// Names that are not UTF-8 are fine where git ignores them, and a dangling
/// `.gitignore` link is no ignore file (as for git), not an error. Unix
/// only: Windows names are UTF-16 and cannot be made non-UTF-8 this way.
#[cfg(unix)]
#[test]
fn ignored_odd_names_and_a_dangling_gitignore_link_are_fine() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, ".gitignore", b"tmp/\n*.bak\n");
    write(d, "a.js", b"x");
    write(d, "tmp/x", b"x");
    let odd = |p: &Path| p.join(std::ffi::OsStr::from_bytes(b"caf\xe9.bak"));
    fs::write(odd(d), b"x").unwrap();
    fs::write(odd(&d.join("tmp")), b"x").unwrap();
    let opts = HashOptions {
        gitignore: true,
        ..HashOptions::default()
    };
    let keys = hash_files(d, &all(), &opts)
        .unwrap()
        .into_keys()
        .collect::<Vec<_>>();
    assert_eq!(keys, vec![".gitignore", "a.js"]);
    // Not ignored, the odd name is an error that names it.
    let err = hash_files(d, &all(), &HashOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("caf") && err.contains("not valid UTF-8"),
        "{err}"
    );

    let e = tempfile::tempdir().unwrap();
    write(e.path(), "a.js", b"x");
    symlink("nowhere", e.path().join(".gitignore")).unwrap();
    let keys = hash_files(e.path(), &all(), &opts)
        .unwrap()
        .into_keys()
        .collect::<Vec<_>>();
    assert_eq!(keys, vec![".gitignore", "a.js"]);
}

/// A very deep tree is walked without a deep stack (a stack overflow would
/// abort the whole Node process).
#[test]
fn a_very_deep_tree_is_walked() {
    let t = tempfile::tempdir().unwrap();
    let mut p = t.path().to_path_buf();
    for _ in 0..1500 {
        p.push("a");
    }
    fs::create_dir_all(&p).unwrap();
    // Down there too, the inputs come out in path order.
    for rel in ["f", "b.txt", "b/x", "b/y/z", "b0", "b-c/d"] {
        write(&p, rel, rel.as_bytes());
    }
    let found: Vec<String> = find_inputs(t.path(), &all(), &HashOptions::default())
        .unwrap()
        .into_iter()
        .map(|i| i.rel)
        .collect();
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(found, sorted);
    assert_eq!(found.len(), 6);
    assert!(found[0].ends_with("/a/b-c/d"), "{found:?}");
}

/// Timestamps before 1970 and past 2262 neither panic nor get trusted wrongly.
#[test]
fn odd_timestamps_are_handled() {
    let t = tempfile::tempdir().unwrap();
    let pkg = t.path().join("pkg");
    write(&pkg, "old", b"x");
    write(&pkg, "future", b"y");
    let set = |rel: &str, when: SystemTime| {
        fs::File::options()
            .write(true)
            .open(pkg.join(rel))
            .unwrap()
            .set_modified(when)
            .unwrap()
    };
    set(
        "old",
        SystemTime::UNIX_EPOCH - Duration::new(1, 500_000_000),
    );
    set(
        "future",
        SystemTime::UNIX_EPOCH + Duration::new(10_000_000_000, 500_000_000),
    );
    let opts = HashOptions {
        state_file: Some(t.path().join("states")),
        ..HashOptions::default()
    };
    let a = hash_files(&pkg, &all(), &opts).unwrap();
    // A future file is never settled: an edit that keeps its stamp is seen.
    write(&pkg, "future", b"z");
    set(
        "future",
        SystemTime::UNIX_EPOCH + Duration::new(10_000_000_000, 500_000_000),
    );
    let b = hash_files(&pkg, &all(), &opts).unwrap();
    assert_eq!(a["old"], b["old"]);
    assert_eq!(b["future"], blake3::hash(b"z").to_hex().as_str());
}
