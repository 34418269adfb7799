//! Precedence, `.env` discovery and error messages of the configuration.

use std::collections::HashMap;
use std::fs;

use super::*;

const SECRET: &str = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Repo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pkg: PathBuf,
}

fn repo() -> Repo {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let pkg = root.join("packages/a");
    fs::create_dir_all(&pkg).unwrap();
    fs::write(
        root.join("package.json"),
        r#"{"workspaces":["packages/*"]}"#,
    )
    .unwrap();
    Repo {
        _tmp: tmp,
        root,
        pkg,
    }
}

fn load(pkg: &Path, options: &Options, vars: &[(&str, &str)]) -> Result<Config> {
    Config::load_with_env(pkg, options, &env(vars))
}

fn err(pkg: &Path, options: &Options, vars: &[(&str, &str)]) -> String {
    load(pkg, options, vars).unwrap_err().to_string()
}

#[test]
fn defaults() {
    let r = repo();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(c.provider, Provider::Local);
    assert_eq!(c.mode, Mode::ReadWrite);
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(!c.write_remote_cache);
    assert_eq!(c.output_glob, vec!["lib/**"]);
    assert_eq!(c.workspace_root, r.root);
    assert_eq!(
        c.cache_dir,
        r.root.join("node_modules/.cache/backfill-native")
    );
    assert!(c.env_file.is_none() && c.warnings.is_empty());
}

#[test]
fn precedence_is_options_then_dotenv_then_environment() {
    let r = repo();
    fs::write(
        r.root.join(".env"),
        "BACKFILL_MODE=READ_ONLY\nBACKFILL_LOG_LEVEL=warn\n",
    )
    .unwrap();
    let options = Options {
        mode: Some("PASS".into()),
        log_level: Some("silly".into()),
        output_glob: Some(vec!["dist/**".into()]),
        ..Options::default()
    };
    let c = load(&r.pkg, &options, &[("BACKFILL_LOG_LEVEL", "error")]).unwrap();
    assert_eq!(c.output_glob, vec!["dist/**"], "options beat defaults");
    assert_eq!(c.mode, Mode::ReadOnly, ".env beats options");
    assert_eq!(c.log_level, LogLevel::Error, "environment beats .env");
    assert_eq!(c.env_file, Some(r.root.join(".env")));
}

#[test]
fn nearest_dotenv_wins_and_is_never_written_to_the_process() {
    let r = repo();
    fs::write(r.root.join(".env"), "BACKFILL_MODE=READ_ONLY\n").unwrap();
    fs::write(
        r.pkg.join(".env"),
        "BACKFILL_MODE=WRITE_ONLY\nBACKFILL_NATIVE_TEST_MARKER=1\n",
    )
    .unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(c.mode, Mode::WriteOnly);
    assert!(std::env::var("BACKFILL_NATIVE_TEST_MARKER").is_err());
}

#[test]
fn cache_folder_is_relative_to_the_package() {
    let r = repo();
    let c = load(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_INTERNAL_CACHE_FOLDER", "node_modules/.cache/x")],
    )
    .unwrap();
    assert_eq!(c.cache_dir, r.pkg.join("node_modules/.cache/x"));
    let c = load(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_INTERNAL_CACHE_FOLDER", "/abs/cache")],
    )
    .unwrap();
    assert_eq!(c.cache_dir, PathBuf::from("/abs/cache"));
}

#[test]
fn remote_write_switches() {
    let r = repo();
    let on = |vars: &[(&str, &str)]| {
        load(&r.pkg, &Options::default(), vars)
            .unwrap()
            .write_remote_cache
    };
    for v in ["true", "1", "yes", "TRUE"] {
        assert!(on(&[("LAGE_WRITE_REMOTE_CACHE", v)]), "{v}");
    }
    // Unlike lage 1, "false" means off.
    for v in ["false", "0", "no", ""] {
        assert!(!on(&[("LAGE_WRITE_REMOTE_CACHE", v)]), "{v}");
    }
    assert!(on(&[("LAGE_WRITE_CACHE", "true")]));
    assert!(!on(&[
        ("LAGE_WRITE_CACHE", "false"),
        ("LAGE_WRITE_REMOTE_CACHE", "true")
    ]));
    let opt = Options {
        write_remote_cache: Some(true),
        ..Options::default()
    };
    assert!(load(&r.pkg, &opt, &[]).unwrap().write_remote_cache);
    let msg = err(
        &r.pkg,
        &Options::default(),
        &[("LAGE_WRITE_REMOTE_CACHE", "maybe")],
    );
    assert_eq!(
        msg,
        "LAGE_WRITE_REMOTE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, \
         received \"maybe\". To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off"
    );
}

#[test]
fn bad_values_name_the_variable_where_it_came_from_and_what_was_expected() {
    let r = repo();
    fs::write(r.root.join(".env"), "BACKFILL_LOG_LEVEL=loud\n").unwrap();
    let msg = err(&r.pkg, &Options::default(), &[]);
    assert_eq!(
        msg,
        format!(
            "BACKFILL_LOG_LEVEL (from {}) is invalid: expected one of silly, verbose, info, warn, error, mute, received \"loud\". \
             To fix it, set one of those values or unset it (info is the default)",
            r.root.join(".env").display()
        )
    );
    fs::remove_file(r.root.join(".env")).unwrap();
    let msg = err(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_OUTPUT_GLOB", "lib/**")],
    );
    assert!(
        msg.starts_with(
            "BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array"
        ),
        "{msg}"
    );
    assert!(msg.contains("received \"lib/**\""), "{msg}");
    let msg = err(&r.pkg, &Options::default(), &[("BACKFILL_MODE", "FAST")]);
    assert!(
        msg.contains("expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received \"FAST\""),
        "{msg}"
    );
    let missing = r.root.join("nope");
    let msg = load(&missing, &Options::default(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!(
            "package directory {} cannot be read",
            missing.display()
        )),
        "{msg}"
    );
}

#[test]
fn provider_options_errors_never_show_the_secret() {
    let r = repo();
    let broken = format!("{{\"connectionString\":\"{SECRET}\",\"container\":");
    let msg = err(
        &r.pkg,
        &Options::default(),
        &[
            ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS", &broken),
        ],
    );
    assert!(msg.starts_with("BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected a JSON object"), "{msg}");
    assert!(
        msg.contains("could not be parsed as JSON (error at line 1 column"),
        "{msg}"
    );
    assert!(
        !msg.contains("c2VjcmV0") && !msg.contains("AccountKey"),
        "secret leaked: {msg}"
    );

    let no_container = format!("{{\"connectionString\":\"{SECRET}\"}}");
    let msg = err(
        &r.pkg,
        &Options::default(),
        &[
            ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS", &no_container),
        ],
    );
    assert!(msg.contains("expected \"container\" to be a non-empty string for the azure-blob provider, received no such field"), "{msg}");
    assert!(!msg.contains("c2VjcmV0"), "{msg}");

    let msg = err(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_CACHE_PROVIDER", "azure-blob")],
    );
    assert!(
        msg.starts_with("BACKFILL_CACHE_PROVIDER_OPTIONS (not set) is invalid"),
        "{msg}"
    );

    let good =
        format!("{{\"connectionString\":\"{SECRET}\",\"container\":\"c\",\"maxSize\":1000}}");
    let c = load(
        &r.pkg,
        &Options::default(),
        &[
            ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS", &good),
        ],
    )
    .unwrap();
    let azure = c.azure.clone().unwrap();
    assert_eq!(
        (azure.container.as_str(), azure.max_size),
        ("c", Some(1000))
    );
    assert_eq!(azure.connection_string.expose(), SECRET);
    assert!(
        !format!("{c:?}").contains("c2VjcmV0"),
        "Debug output leaks the secret"
    );
}

#[test]
fn unknown_provider_is_a_warning_not_an_error() {
    let r = repo();
    let c = load(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_CACHE_PROVIDER", "s3")],
    )
    .unwrap();
    assert_eq!(c.provider, Provider::Local);
    assert_eq!(
        c.warnings,
        vec!["BACKFILL_CACHE_PROVIDER (from the environment) is \"s3\", which backfill-native does not support; \
              using the local cache. Supported: local, local-skip, azure-blob"]
    );
}

#[test]
fn dotenv_is_looked_for_up_to_the_workspace_root_never_above() {
    let r = repo();
    let above = r.root.parent().unwrap().join(".env");
    fs::write(&above, "BACKFILL_MODE=PASS\n").unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(
        (c.mode, c.env_file),
        (Mode::ReadWrite, None),
        "read {above:?}"
    );

    fs::write(r.root.join(".env"), "BACKFILL_MODE=READ_ONLY\n").unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(
        (c.mode, c.env_file),
        (Mode::ReadOnly, Some(r.root.join(".env")))
    );

    fs::write(r.pkg.join(".env"), "BACKFILL_MODE=WRITE_ONLY\n").unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(
        (c.mode, c.env_file),
        (Mode::WriteOnly, Some(r.pkg.join(".env")))
    );
}

#[test]
fn without_a_workspace_marker_dotenv_stops_at_the_git_root() {
    let tmp = tempfile::tempdir().unwrap();
    let git_root = tmp.path().join("repo");
    let pkg = git_root.join("packages/a");
    fs::create_dir_all(&pkg).unwrap();
    fs::create_dir(git_root.join(".git")).unwrap();
    fs::write(tmp.path().join(".env"), "BACKFILL_MODE=PASS\n").unwrap();
    let c = load(&pkg, &Options::default(), &[]).unwrap();
    assert_eq!((c.mode, c.env_file), (Mode::ReadWrite, None));
    fs::write(git_root.join(".env"), "BACKFILL_MODE=READ_ONLY\n").unwrap();
    let c = load(&pkg, &Options::default(), &[]).unwrap();
    assert_eq!(
        (c.mode, c.env_file),
        (Mode::ReadOnly, Some(git_root.join(".env")))
    );
}
