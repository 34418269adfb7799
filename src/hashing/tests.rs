//! Digest stability, the racy-timestamp cases, and the ignore rules.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::symlink;
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

    // A settled file (older than the hashing by more than the granularity)
    // is reused: prove it by changing the bytes behind the same stamp, which
    // only a reuse would not notice.
    let settled = t.path().join("settled");
    write(&settled, "b.txt", b"1234");
    let old = SystemTime::now() - Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(settled.join("b.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    // The change time cannot be set back: let it age past the granularity.
    std::thread::sleep(Duration::from_millis(2100));
    let opts2 = HashOptions {
        state_file: Some(t.path().join("state2.json")),
        ..HashOptions::default()
    };
    hash_files(&settled, &all(), &opts2).unwrap();
    let mut states = FileStates::load(&t.path().join("state2.json"));
    assert_eq!(states.len(), 1);
    let stamp = file_states::Stamp::of(&settled.join("b.txt")).unwrap();
    assert!(
        states.reusable("b.txt", &stamp).is_some(),
        "a settled file was not reused"
    );
    // Any change of size, mtime or inode is seen.
    let mut other = stamp;
    other.size += 1;
    assert!(states.reusable("b.txt", &other).is_none());
    states.retain(|_| false);
    assert!(states.is_empty());
}
