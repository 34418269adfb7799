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

/// What the configuration's warnings say.
fn said(warnings: &[crate::notice::Notice]) -> Vec<String> {
    warnings.iter().map(|w| w.message()).collect()
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
    const ABS: &str = if cfg!(windows) {
        "C:\\abs\\cache"
    } else {
        "/abs/cache"
    };
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
        &[("BACKFILL_INTERNAL_CACHE_FOLDER", ABS)],
    )
    .unwrap();
    assert_eq!(c.cache_dir, PathBuf::from(ABS));
}

/// The cache folder `loadConfig` shows has this system's one kind of
/// separator, whatever the user wrote (Windows accepts both; a mix reads
/// as a bug). Checked on Windows by the run under wine.
#[test]
fn the_cache_folder_has_one_kind_of_separator() {
    let r = repo();
    let foreign = if cfg!(windows) { '/' } else { '\\' };
    for folder in [
        None,
        Some("node_modules/.cache/x"),
        Some("./build/./cache/"),
    ] {
        let vars: Vec<(&str, &str)> = folder
            .map(|f| ("BACKFILL_INTERNAL_CACHE_FOLDER", f))
            .into_iter()
            .collect();
        let c = load(&r.pkg, &Options::default(), &vars).unwrap();
        let shown = c.cache_dir.to_str().unwrap();
        assert!(!shown.contains(foreign), "{folder:?}: {shown}");
        let last = c.cache_dir.file_name().unwrap().to_str().unwrap();
        assert!(["backfill-native", "x", "cache"].contains(&last), "{shown}");
    }
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
}

/// Bad values from the environment: (variable, value, the whole error).
const BAD_VALUES: &[(&str, &str, &str)] = &[
    (
        "BACKFILL_MODE",
        "FAST",
        r#"BACKFILL_MODE (from the environment) is invalid: expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received "FAST". To fix it, set one of those values or unset it (READ_WRITE is the default)"#,
    ),
    (
        "BACKFILL_LOG_LEVEL",
        "loud",
        r#"BACKFILL_LOG_LEVEL (from the environment) is invalid: expected one of silly, verbose, info, warn, error, mute, received "loud". To fix it, set one of those values or unset it (info is the default)"#,
    ),
    (
        "BACKFILL_OUTPUT_GLOB",
        "lib/**",
        r#"BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as ["lib/**","dist/**"], received "lib/**". To fix it, write the globs as a JSON array of strings, starting with [ and ending with ]"#,
    ),
    (
        "LAGE_WRITE_REMOTE_CACHE",
        "maybe",
        r#"LAGE_WRITE_REMOTE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received "maybe". To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off"#,
    ),
    (
        "LAGE_WRITE_CACHE",
        "maybe",
        r#"LAGE_WRITE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received "maybe". To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off"#,
    ),
    (
        "BACKFILL_INTERNAL_CACHE_FOLDER",
        " ",
        r#"BACKFILL_INTERNAL_CACHE_FOLDER (from the environment) is invalid: expected a folder path, relative to the package directory or absolute, received an empty value. To fix it, unset it to use the default folder, or give a path"#,
    ),
    (
        "BACKFILL_CACHE_PROVIDER_OPTIONS",
        "[1]",
        r#"BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected a JSON object such as {"connectionString":"...","container":"..."}, received a JSON array. To fix it, give a JSON object"#,
    ),
];

#[test]
fn bad_values_name_the_variable_where_it_came_from_and_what_was_expected() {
    let r = repo();
    for (variable, value, expected) in BAD_VALUES {
        let msg = err(&r.pkg, &Options::default(), &[(variable, value)]);
        assert_eq!(msg, *expected, "{variable}={value:?}");
    }

    // The origin named is where the winning value came from.
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
    let code = Options {
        mode: Some("FAST".into()),
        ..Options::default()
    };
    assert_eq!(
        err(&r.pkg, &code, &[]),
        BAD_VALUES[0].2.replace(
            "(from the environment)",
            "(from the options passed in code)"
        )
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
        &[("BACKFILL_CACHE_PROVIDER", "gcs")],
    )
    .unwrap();
    assert_eq!(c.provider, Provider::Local);
    assert_eq!(
        said(&c.warnings),
        vec!["BACKFILL_CACHE_PROVIDER (from the environment) is \"gcs\", which backfill-native does not support; \
              using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo"]
    );
    assert_eq!(c.warnings[0].code(), "CONFIG_UNKNOWN_PROVIDER");
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

const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Secrets as a user would paste them, with the kind the messages name.
fn pasted_secrets() -> Vec<(String, &'static str)> {
    let conn = format!(
        "DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"
    );
    vec![
        (
            conn.clone(),
            "an Azure Storage connection string with an account key",
        ),
        (ACCOUNT_KEY.to_string(), "a long key-like token"),
        (
            format!(r#"{{"connectionString":"{conn}","container":"cache"}}"#),
            "a JSON object, such as the provider options",
        ),
    ]
}

#[test]
fn a_secret_in_any_variable_is_never_echoed() {
    let r = repo();
    let not_shown =
        |kind: &str| format!("a value that is not shown because it looks like a secret ({kind})");
    let fix = "secrets and provider options belong in BACKFILL_CACHE_PROVIDER_OPTIONS only";
    for (secret, kind) in pasted_secrets() {
        let shown = not_shown(kind);
        let cases: Vec<(&str, String)> = vec![
            ("BACKFILL_MODE", format!("BACKFILL_MODE (from the environment) is invalid: expected one of READ_ONLY, WRITE_ONLY, READ_WRITE, PASS, received {shown}. To fix it, set one of those values or unset it (READ_WRITE is the default); {fix}")),
            ("BACKFILL_LOG_LEVEL", format!("BACKFILL_LOG_LEVEL (from the environment) is invalid: expected one of silly, verbose, info, warn, error, mute, received {shown}. To fix it, set one of those values or unset it (info is the default); {fix}")),
            ("LAGE_WRITE_REMOTE_CACHE", format!("LAGE_WRITE_REMOTE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received {shown}. To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off; {fix}")),
            ("LAGE_WRITE_CACHE", format!("LAGE_WRITE_CACHE (from the environment) is invalid: expected true, 1, yes, false, 0, no or an empty value, received {shown}. To fix it, set it to true to turn remote writes on, or false (or unset it) to leave them off; {fix}")),
            ("BACKFILL_OUTPUT_GLOB", format!("BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as [\"lib/**\",\"dist/**\"], received {shown}. To fix it, write the globs as a JSON array of strings, starting with [ and ending with ]; {fix}")),
            ("BACKFILL_INTERNAL_CACHE_FOLDER", format!("BACKFILL_INTERNAL_CACHE_FOLDER (from the environment) is invalid: expected a folder path, relative to the package directory or absolute, received {shown}. To fix it, unset it to use the default folder, or give a path; {fix}")),
        ];
        for (var, expected) in cases {
            let msg = err(&r.pkg, &Options::default(), &[(var, &secret)]);
            assert_eq!(msg, expected, "{var} = {kind}");
        }
        let in_array = serde_json::to_string(&["lib/**", secret.as_str()]).unwrap();
        let msg = err(
            &r.pkg,
            &Options::default(),
            &[("BACKFILL_OUTPUT_GLOB", &in_array)],
        );
        assert_eq!(msg, format!("BACKFILL_OUTPUT_GLOB (from the environment) is invalid: expected a JSON array of glob strings such as [\"lib/**\",\"dist/**\"], received an array holding {shown}. To fix it, give only output globs; {fix}"));
        let code = Options {
            output_glob: Some(vec![secret.clone()]),
            cache_folder: Some(secret.clone()),
            ..Options::default()
        };
        let msg = err(&r.pkg, &code, &[]);
        assert!(
            msg.starts_with(
                "BACKFILL_INTERNAL_CACHE_FOLDER (from the options passed in code) is invalid"
            ),
            "{msg}"
        );
        assert!(
            !msg.contains(ACCOUNT_KEY) && !format!("{code:?}").contains(ACCOUNT_KEY),
            "{msg}"
        );

        let c = load(
            &r.pkg,
            &Options::default(),
            &[("BACKFILL_CACHE_PROVIDER", &secret)],
        )
        .unwrap();
        assert_eq!(c.provider, Provider::Local);
        assert_eq!(said(&c.warnings), vec![format!("BACKFILL_CACHE_PROVIDER (from the environment) is {shown}, which backfill-native does not support; using the local cache. Supported: local, local-skip, azure-blob, s3, turborepo. To fix it, set it to one of those; {fix}")]);

        for (field, expected) in [
            ("container", format!("BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected \"container\" to be the name of a blob container, received {shown}. To fix it, set \"container\" to the container's name; the connection string goes in \"connectionString\"")),
            ("credentialName", format!("BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid: expected \"credentialName\" to be environment, workload-identity, managed-identity or azure-cli, received {shown}. To fix it, set \"credentialName\" to one of those names; the connection string or account URL goes in \"connectionString\"")),
        ] {
            let mut options = serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "container": "cache"});
            options[field] = serde_json::Value::String(secret.clone());
            let msg = err(&r.pkg, &Options::default(), &[("BACKFILL_CACHE_PROVIDER", "azure-blob"), ("BACKFILL_CACHE_PROVIDER_OPTIONS", &options.to_string())]);
            assert_eq!(msg, expected, "{field} = {kind}");
        }
    }
}

fn azure(options: serde_json::Value) -> Result<Config> {
    let r = repo();
    load(
        &r.pkg,
        &Options::default(),
        &[
            ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS", &options.to_string()),
        ],
    )
}

#[test]
fn unknown_provider_fields_are_named_with_the_closest_known_one() {
    const KNOWN: &str =
        "Known fields: connectionString, container, maxSize, credentialName, signingKey, timeoutScale";
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment)";
    let warned = |field: &str, hint: &str| {
        format!("{P} has an unknown field \"{field}\", which is ignored{hint} {KNOWN}")
    };
    let signing = |field: &str| {
        format!("{P} is invalid: expected the field \"signingKey\" (spelled exactly so), received a field \"{field}\", which is not read, so uploads would not be signed and downloads not checked. To fix it, rename \"{field}\" to \"signingKey\"")
    };
    let required = |field: &str, known: &str| {
        format!("{P} is invalid: expected \"{known}\" to be a non-empty string for the azure-blob provider, received no such field, but a field \"{field}\" (did you mean \"{known}\"?). To fix it, rename \"{field}\" to \"{known}\"")
    };
    // (extra field, what the user is told: Ok(warning) or Err(error))
    let table: Vec<(&str, std::result::Result<String, String>)> = vec![
        (
            "maxsize",
            Ok(warned("maxsize", "; did you mean \"maxSize\"?")),
        ),
        (
            "max_size",
            Ok(warned("max_size", "; did you mean \"maxSize\"?")),
        ),
        (
            "credentialname",
            Ok(warned(
                "credentialname",
                "; did you mean \"credentialName\"?",
            )),
        ),
        (
            "ConnectionString",
            Ok(warned(
                "ConnectionString",
                "; did you mean \"connectionString\"?",
            )),
        ),
        (
            "signKey",
            Ok(warned("signKey", "; did you mean \"signingKey\"?")),
        ),
        (
            "timeout",
            Ok(warned("timeout", "; did you mean \"timeoutScale\"?")),
        ),
        ("retries", Ok(warned("retries", "."))),
        ("signingkey", Err(signing("signingkey"))),
        ("signing_key", Err(signing("signing_key"))),
        ("SIGNING-KEY", Err(signing("SIGNING-KEY"))),
        ("signinKey", Err(signing("signinKey"))),
        ("singingKey", Err(signing("singingKey"))),
        ("signingKeys", Err(signing("signingKeys"))),
    ];
    for (field, expected) in table {
        let mut options = serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "container": "cache"});
        options[field] = serde_json::Value::String("VALUE-NEVER-SHOWN".into());
        let got = azure(options)
            .map(|c| said(&c.warnings))
            .map_err(|e| e.to_string());
        match expected {
            Ok(w) => assert_eq!(got, Ok(vec![w]), "{field}"),
            Err(e) => assert_eq!(got, Err(e), "{field}"),
        }
    }

    // With signingKey given, signing is on: a stray near miss is only a warning.
    let got = azure(
        serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "container": "cache", "signingKey": "k", "signing_key": "k"}),
    );
    let c = got.unwrap();
    assert!(c.azure.unwrap().signing_key.is_some());
    assert_eq!(
        said(&c.warnings),
        vec![warned("signing_key", "; did you mean \"signingKey\"?")]
    );
    assert_eq!(c.warnings[0].code(), "CONFIG_UNKNOWN_FIELD");

    let got = azure(
        serde_json::json!({"conectionString": "UseDevelopmentStorage=true", "container": "cache"}),
    );
    assert_eq!(
        got.unwrap_err().to_string(),
        required("conectionString", "connectionString")
    );
    let got = azure(
        serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "containerName": "cache"}),
    );
    assert_eq!(
        got.unwrap_err().to_string(),
        required("containerName", "container")
    );
    let got = azure(
        serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "bucket": "cache"}),
    );
    assert_eq!(got.unwrap_err().to_string(), format!("{P} is invalid: expected \"container\" to be a non-empty string for the azure-blob provider, received no such field. To fix it, add \"container\" to the JSON object"));

    // Only the azure-blob provider reads the options.
    let r = repo();
    let c = load(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_CACHE_PROVIDER_OPTIONS", r#"{"signingkey":"x"}"#)],
    )
    .unwrap();
    assert!(c.warnings.is_empty());
}

/// `AZURE_IDENTITY_CREDENTIAL_NAME`, as backfill's azure-blob provider reads
/// it: the identity of an account URL when the options name none; an
/// invalid name is an error naming the variable; with a key connection
/// string, or a `credentialName` in the options, it is not used.
#[test]
fn azure_identity_credential_name_from_the_environment() {
    let r = repo();
    let opts = |extra: &str| {
        format!(
            r#"{{"connectionString":"https://acct.blob.core.windows.net","container":"c"{extra}}}"#
        )
    };
    let vars = |options: &str, name: &str| -> Vec<(String, String)> {
        vec![
            ("BACKFILL_CACHE_PROVIDER".into(), "azure-blob".into()),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS".into(), options.into()),
            ("AZURE_IDENTITY_CREDENTIAL_NAME".into(), name.into()),
        ]
    };
    let load_vars = |v: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        load(&r.pkg, &Options::default(), &pairs)
    };
    let identity = |c: &Config| c.azure.as_ref().unwrap().connection.auth.clone();

    let c = load_vars(vars(&opts(""), "azure-cli")).unwrap();
    assert_eq!(identity(&c), AzureAuth::Identity(AzureIdentity::AzureCli));
    assert_eq!(
        c.azure.as_ref().unwrap().credential_name.as_deref(),
        Some("azure-cli")
    );

    // The options' credentialName wins, as in backfill.
    let c = load_vars(vars(
        &opts(r#","credentialName":"managed-identity""#),
        "azure-cli",
    ))
    .unwrap();
    assert_eq!(
        identity(&c),
        AzureAuth::Identity(AzureIdentity::ManagedIdentity)
    );

    let e = load_vars(vars(&opts(""), "bogus")).unwrap_err();
    assert_eq!(e.code(), "BACKFILL_NATIVE_CONFIG");
    assert_eq!(
        e.to_string(),
        "AZURE_IDENTITY_CREDENTIAL_NAME (from the environment) is invalid: expected one of environment, \
         workload-identity, managed-identity, azure-cli, received \"bogus\". To fix it, set one of those names, \
         or unset it (the default Azure credential chain is used)"
    );

    // A key connection string needs no identity: the variable is not read.
    let keyed = format!(r#"{{"connectionString":"{SECRET}","container":"c"}}"#);
    let c = load_vars(vars(&keyed, "bogus")).unwrap();
    assert!(
        matches!(identity(&c), AzureAuth::Key { .. }),
        "{:?}",
        identity(&c)
    );

    // Unset: the default chain, as before.
    let c = load(
        &r.pkg,
        &Options::default(),
        &[
            ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
            ("BACKFILL_CACHE_PROVIDER_OPTIONS", &opts("")),
        ],
    )
    .unwrap();
    assert_eq!(identity(&c), AzureAuth::Identity(AzureIdentity::Default));
}

#[test]
fn incremental_caching_from_the_variable_or_the_option() {
    let r = repo();
    assert!(
        !load(&r.pkg, &Options::default(), &[])
            .unwrap()
            .incremental_caching
    );
    let on = Options {
        incremental_caching: Some(true),
        ..Options::default()
    };
    assert!(load(&r.pkg, &on, &[]).unwrap().incremental_caching);
    assert!(
        !load(&r.pkg, &on, &[("BACKFILL_INCREMENTAL_CACHING", "false")])
            .unwrap()
            .incremental_caching
    );
    assert!(
        load(
            &r.pkg,
            &Options::default(),
            &[("BACKFILL_INCREMENTAL_CACHING", "true")]
        )
        .unwrap()
        .incremental_caching
    );
    assert!(err(
        &r.pkg,
        &Options::default(),
        &[("BACKFILL_INCREMENTAL_CACHING", "maybe")]
    )
    .starts_with("BACKFILL_INCREMENTAL_CACHING (from the environment) is invalid"));
}

/// `"signingKey": null` is an error, as a misspelling is (it turned signing
/// off silently); an empty key or a container that is not a string gets a
/// fix that fits (it said "add ... to the JSON object", which was there).
#[test]
fn a_null_or_empty_field_is_told_how_to_fix_it() {
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid";
    let base = || serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "container": "cache"});
    let with = |field: &str, value: serde_json::Value| {
        let mut o = base();
        o[field] = value;
        azure(o).map(|_| ()).map_err(|e| e.to_string())
    };
    let signing = |received: &str| {
        Err(format!("{P}: expected \"signingKey\" to be a non-empty string for the azure-blob provider, received {received}. To fix it, give \"signingKey\" the key as a string, or remove the field to turn signing off"))
    };
    assert_eq!(
        with("signingKey", serde_json::Value::Null),
        signing("a JSON null")
    );
    assert_eq!(with("signingKey", "".into()), signing("an empty string"));
    assert_eq!(
        with("signingKey", serde_json::json!(42)),
        signing("a JSON number")
    );
    assert_eq!(
        with("container", serde_json::json!({"name": "cache"})),
        Err(format!("{P}: expected \"container\" to be a non-empty string for the azure-blob provider, received a JSON object. To fix it, give \"container\" as a non-empty string"))
    );
    assert_eq!(
        with("credentialName", "  ".into()),
        Err(format!("{P}: expected \"credentialName\" to be a non-empty string for the azure-blob provider, received an empty string. To fix it, give \"credentialName\" as a non-empty string, or remove the field"))
    );
    // Other optional fields may still be null.
    assert_eq!(with("credentialName", serde_json::Value::Null), Ok(()));
    assert_eq!(with("maxSize", serde_json::Value::Null), Ok(()));
}

/// The developer `.env` of docs/remote-cache.md, saved with a byte-order
/// mark (Notepad, PowerShell), configures the remote; its first line was
/// lost, and the provider fell back to local with no warning.
#[test]
fn a_dot_env_saved_with_a_byte_order_mark_configures_the_remote() {
    let r = repo();
    let text = "BACKFILL_CACHE_PROVIDER=azure-blob\r\nBACKFILL_CACHE_PROVIDER_OPTIONS={\"connectionString\":\"UseDevelopmentStorage=true\",\"container\":\"cache\"}\r\n";
    fs::write(
        r.root.join(".env"),
        [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
    )
    .unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    assert_eq!(c.provider, Provider::AzureBlob);
    assert_eq!(c.azure.unwrap().container, "cache");
}

fn s3(options: serde_json::Value, vars: &[(&str, &str)]) -> Result<Config> {
    let r = repo();
    let text = options.to_string();
    let mut all = vec![
        ("BACKFILL_CACHE_PROVIDER", "s3"),
        ("BACKFILL_CACHE_PROVIDER_OPTIONS", text.as_str()),
    ];
    all.extend_from_slice(vars);
    load(&r.pkg, &Options::default(), &all)
}

fn s3_options(options: serde_json::Value, vars: &[(&str, &str)]) -> S3Options {
    s3(options, vars).unwrap().s3.unwrap()
}

#[test]
fn s3_options_take_the_aws_variables_where_a_field_is_absent() {
    let bucket = || serde_json::json!({"bucket": "cache"});
    let o = s3_options(bucket(), &[]);
    assert_eq!(
        o,
        S3Options {
            bucket: "cache".into(),
            region: "us-east-1".into(),
            endpoint: None,
            prefix: String::new(),
            force_path_style: false,
            profile: None,
            max_size: None,
            signing_key: None,
            timeout_scale: 1.0,
        }
    );
    let both = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "us-west-2"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9999"),
    ];
    let o = s3_options(bucket(), &both);
    assert_eq!(o.region, "eu-west-1");
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(o.force_path_style, "an endpoint is addressed by path");
    let o = s3_options(bucket(), &[both[1], both[3]]);
    assert_eq!(o.region, "us-west-2");
    assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9999"));
    // The options win over the variables.
    let o = s3_options(
        serde_json::json!({"bucket": "cache", "region": "auto", "endpoint": "https://acct.r2.cloudflarestorage.com", "forcePathStyle": false, "prefix": "/team/cache/", "profile": "ci"}),
        &both,
    );
    assert_eq!(o.region, "auto");
    assert_eq!(
        o.endpoint.as_deref(),
        Some("https://acct.r2.cloudflarestorage.com")
    );
    assert!(!o.force_path_style);
    assert_eq!(o.prefix, "team/cache");
    assert_eq!(o.profile.as_deref(), Some("ci"));
    // Uploads follow the same trust rules as every remote's.
    let c = s3(
        bucket(),
        &[
            ("LAGE_WRITE_REMOTE_CACHE", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
        ],
    )
    .unwrap();
    assert!(c.write_remote_cache);
    assert_eq!(
        c.upload_trust
            .refusal
            .map(|r| crate::notice::Notice::UploadNotTrusted(r).code()),
        Some("UPLOAD_PULL_REQUEST")
    );
    // Only the s3 provider reads the s3 fields.
    let c = azure(
        serde_json::json!({"connectionString": "UseDevelopmentStorage=true", "container": "cache"}),
    )
    .unwrap();
    assert!(c.s3.is_none() && c.azure.is_some());
}

#[test]
fn s3_options_are_checked_and_never_echo_a_credential() {
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment) is invalid";
    let fails = |options: serde_json::Value, vars: &[(&str, &str)]| {
        s3(options, vars).map(|_| ()).unwrap_err().to_string()
    };
    assert_eq!(
        fails(serde_json::json!({"region": "eu-west-1"}), &[]),
        format!("{P}: expected \"bucket\" to be a non-empty string for the s3 provider, received no such field. To fix it, add \"bucket\" to the JSON object")
    );
    assert_eq!(
        fails(serde_json::json!({"bucketName": "cache"}), &[]),
        format!("{P}: expected \"bucket\" to be a non-empty string for the s3 provider, received no such field, but a field \"bucketName\" (did you mean \"bucket\"?). To fix it, rename \"bucketName\" to \"bucket\"")
    );
    let r = repo();
    assert_eq!(
        err(&r.pkg, &Options::default(), &[("BACKFILL_CACHE_PROVIDER", "s3")]),
        "BACKFILL_CACHE_PROVIDER_OPTIONS (not set) is invalid: expected a JSON object with a bucket, because BACKFILL_CACHE_PROVIDER is s3, received nothing. To fix it, set it in the environment or in .env, for example BACKFILL_CACHE_PROVIDER_OPTIONS={\"bucket\":\"my-cache\",\"region\":\"eu-west-1\"}"
    );
    assert_eq!(
        fails(serde_json::json!({"bucket": "cache/sub"}), &[]),
        format!("{P}: expected \"bucket\" to be the name of a bucket (no \"/\" or spaces), received \"cache/sub\". To fix it, set \"bucket\" to the bucket's name only; a folder in it goes in \"prefix\", the server in \"endpoint\"")
    );
    // Credentials in the options: an error naming the field, never its value.
    for field in [
        "accessKeyId",
        "secretAccessKey",
        "secret_access_key",
        "sessionToken",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        let msg = fails(
            serde_json::json!({"bucket": "cache", field: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}),
            &[],
        );
        assert_eq!(msg, format!("{P}: expected no credentials: the s3 provider takes them from the AWS credential chain, received a field \"{field}\" (its value is not shown). To fix it, remove \"{field}\" and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment, or use a profile (\"profile\" or AWS_PROFILE), web identity or the instance's role"));
    }
    // An endpoint with a password in it is refused without showing it.
    let msg = fails(
        serde_json::json!({"bucket": "cache", "endpoint": "https://AKIDEXAMPLE:hunter2secret@minio.local"}),
        &[],
    );
    assert!(
        !msg.contains("hunter2") && !msg.contains("AKIDEXAMPLE"),
        "{msg}"
    );
    assert!(
        msg.contains("received a URL with a user name or password in it (not shown)"),
        "{msg}"
    );
    assert_eq!(
        fails(serde_json::json!({"bucket": "cache"}), &[("AWS_ENDPOINT_URL", "minio:9000")]),
        "AWS_ENDPOINT_URL (from the environment) is invalid: expected the endpoint to be the URL of an S3-compatible server, such as https://s3.eu-west-1.amazonaws.com, received \"minio:9000\". To fix it, give the server's URL only, starting with https:// (or http://), with no query; the bucket goes in \"bucket\""
    );
    assert_eq!(
        fails(serde_json::json!({"bucket": "cache"}), &[("AWS_REGION", "eu west")]),
        "AWS_REGION (from the environment) is invalid: expected the region to be a region name such as eu-west-1, received \"eu west\". To fix it, give the bucket's region (letters, digits and \"-\"), or leave it out for us-east-1"
    );
    for prefix in ["a//b", "../up", "a/./b"] {
        assert_eq!(
            fails(serde_json::json!({"bucket": "cache", "prefix": prefix}), &[]),
            format!("{P}: expected \"prefix\" to be a folder in the bucket, such as \"backfill\" or \"team/cache\", received {prefix:?}. To fix it, give folder names separated by single \"/\", with no \".\" or \"..\"")
        );
    }
    assert_eq!(
        fails(serde_json::json!({"bucket": "cache", "forcePathStyle": "yes"}), &[]),
        format!("{P}: expected \"forcePathStyle\" to be true or false, received a JSON string. To fix it, give forcePathStyle as true or false (no quotes), or leave it out")
    );
    assert_eq!(
        fails(serde_json::json!({"bucket": "cache", "maxSize": -1}), &[]),
        format!("{P}: expected \"maxSize\" to be a whole number of bytes, received -1. To fix it, give maxSize as a number of bytes, or leave it out")
    );
}

#[test]
fn s3_unknown_fields_are_warned_and_a_misspelt_signing_key_is_an_error() {
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment)";
    let known = S3_FIELDS.join(", ");
    let c = s3(
        serde_json::json!({"bucket": "cache", "pathStyle": true, "timeout": 2}),
        &[],
    )
    .unwrap();
    assert_eq!(
        said(&c.warnings),
        vec![
            format!("{P} has an unknown field \"pathStyle\", which is ignored; did you mean \"forcePathStyle\"? Known fields: {known}"),
            format!("{P} has an unknown field \"timeout\", which is ignored; did you mean \"timeoutScale\"? Known fields: {known}"),
        ]
    );
    let msg = s3(
        serde_json::json!({"bucket": "cache", "signing_key": "k"}),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(msg, format!("{P} is invalid: expected the field \"signingKey\" (spelled exactly so), received a field \"signing_key\", which is not read, so uploads would not be signed and downloads not checked. To fix it, rename \"signing_key\" to \"signingKey\""));
    let o = s3_options(
        serde_json::json!({"bucket": "cache", "signingKey": "k1", "maxSize": 1000, "timeoutScale": 0.5}),
        &[],
    );
    assert_eq!(
        o.signing_key.map(|k| k.expose().to_string()),
        Some("k1".into())
    );
    assert_eq!((o.max_size, o.timeout_scale), (Some(1000), 0.5));
}

fn turborepo(options: Option<serde_json::Value>, vars: &[(&str, &str)]) -> Result<Config> {
    let r = repo();
    let json = options.map(|o| o.to_string());
    let mut all = vec![("BACKFILL_CACHE_PROVIDER", "turborepo")];
    if let Some(json) = &json {
        all.push(("BACKFILL_CACHE_PROVIDER_OPTIONS", json));
    }
    all.extend_from_slice(vars);
    load(&r.pkg, &Options::default(), &all)
}

const TURBO_TOKEN: &str = "tk_9f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// The options win over turbo's variables field by field, the team as a
/// whole; turbo's own default server when neither gives one.
#[test]
fn turborepo_options_and_turbo_variables() {
    let t = |c: Config| c.turborepo.unwrap();
    // Only turbo's variables.
    let c = turborepo(
        None,
        &[
            ("TURBO_API", "http://127.0.0.1:3000/"),
            ("TURBO_TOKEN", TURBO_TOKEN),
            ("TURBO_TEAM", "my-team"),
            ("TURBO_TEAMID", "team_123"),
        ],
    )
    .unwrap();
    assert_eq!(c.provider, Provider::Turborepo);
    assert!(c.azure.is_none() && c.warnings.is_empty());
    let o = t(c);
    assert_eq!(o.api_url, "http://127.0.0.1:3000");
    assert_eq!(o.token.expose(), TURBO_TOKEN);
    assert_eq!(
        (o.team_id.as_deref(), o.team_slug.as_deref()),
        (Some("team_123"), Some("my-team"))
    );
    assert_eq!(
        (o.max_size, o.signing_key, o.timeout_scale),
        (None, None, 1.0)
    );

    // The options win; a team in the options leaves both variables unread.
    let o = t(turborepo(
        Some(serde_json::json!({"apiUrl": "https://cache.example.com/base/", "token": "opt-token", "teamSlug": "mine", "maxSize": 5000, "signingKey": "k", "timeoutScale": 0.5})),
        &[
            ("TURBO_API", "http://127.0.0.1:3000"),
            ("TURBO_TOKEN", TURBO_TOKEN),
            ("TURBO_TEAMID", "team_other"),
        ],
    )
    .unwrap());
    assert_eq!(o.api_url, "https://cache.example.com/base");
    assert_eq!(o.token.expose(), "opt-token");
    assert_eq!(
        (o.team_id.as_deref(), o.team_slug.as_deref()),
        (None, Some("mine"))
    );
    assert_eq!((o.max_size, o.timeout_scale), (Some(5000), 0.5));
    assert_eq!(o.signing_key.unwrap().expose(), "k");

    // turbo's default server.
    let o = t(turborepo(None, &[("TURBO_TOKEN", TURBO_TOKEN)]).unwrap());
    assert_eq!(o.api_url, DEFAULT_API_URL);

    // A .env holds them as well as the environment.
    let r = repo();
    fs::write(
        r.root.join(".env"),
        format!("BACKFILL_CACHE_PROVIDER=turborepo\nTURBO_API=http://localhost:9\nTURBO_TOKEN={TURBO_TOKEN}\nTURBO_TEAM=t\n"),
    )
    .unwrap();
    let c = load(&r.pkg, &Options::default(), &[]).unwrap();
    let o = t(c);
    assert_eq!(
        (o.api_url.as_str(), o.team_slug.as_deref()),
        ("http://localhost:9", Some("t"))
    );

    // Uploads are trusted and remote writes apply as for azure-blob.
    let c = turborepo(
        None,
        &[
            ("TURBO_TOKEN", TURBO_TOKEN),
            ("LAGE_WRITE_REMOTE_CACHE", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_HEAD_REF", "feature"),
        ],
    )
    .unwrap();
    assert!(c.write_remote_cache);
    assert!(
        c.upload_trust.refusal.is_some(),
        "a pull request does not upload"
    );
}

#[test]
fn turborepo_errors_name_the_value_and_never_show_the_token() {
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment)";
    let msg = |options: Option<serde_json::Value>, vars: &[(&str, &str)]| {
        turborepo(options, vars).unwrap_err().to_string()
    };
    assert_eq!(
        msg(None, &[]),
        "TURBO_TOKEN (not set) is invalid: expected the cache server's token, because BACKFILL_CACHE_PROVIDER is turborepo, \
         received nothing (and no \"token\" in BACKFILL_CACHE_PROVIDER_OPTIONS). To fix it, set TURBO_TOKEN as turbo reads it \
         (in CI, from the pipeline's secrets), or give \"token\" in BACKFILL_CACHE_PROVIDER_OPTIONS"
    );
    let bad_token = "tk_9f8e7d6c5b4a3928 1706f5e4d3c2b1a0";
    let got = msg(None, &[("TURBO_TOKEN", bad_token)]);
    assert_eq!(got, "TURBO_TOKEN (from the environment) is invalid: expected a token of visible ASCII characters (it is sent as a bearer token), \
        received a token with spaces, control or non-ASCII characters (not shown: it is a secret). To fix it, copy the token again, without quotes, spaces or line breaks");
    let got = msg(
        Some(serde_json::json!({"apiUrl": format!("https://me:{TURBO_TOKEN}@cache.example.com")})),
        &[("TURBO_TOKEN", TURBO_TOKEN)],
    );
    assert!(
        got.starts_with(&format!(
            "{P} is invalid: expected the cache server's base URL"
        )),
        "{got}"
    );
    assert!(
        got.contains("a URL with a user name or password in it (not shown)"),
        "{got}"
    );
    assert!(!got.contains(TURBO_TOKEN), "{got}");
    let got = msg(
        None,
        &[
            ("TURBO_API", "http://cache?token=x"),
            ("TURBO_TOKEN", TURBO_TOKEN),
        ],
    );
    assert!(
        got.starts_with("TURBO_API (from the environment) is invalid"),
        "{got}"
    );
    assert!(!got.contains("token=x"), "{got}");
    let got = msg(
        None,
        &[("TURBO_API", "ftp://cache"), ("TURBO_TOKEN", TURBO_TOKEN)],
    );
    assert!(
        got.contains(
            "received \"ftp://cache\". To fix it, give an http:// or https:// URL with a host"
        ),
        "{got}"
    );
    let got = msg(
        None,
        &[
            ("TURBO_API", "cache.example.com"),
            ("TURBO_TOKEN", TURBO_TOKEN),
        ],
    );
    assert!(got.contains("give the URL with its scheme"), "{got}");
    // A token pasted as the team.
    let got = msg(
        None,
        &[
            ("TURBO_TOKEN", TURBO_TOKEN),
            ("TURBO_TEAM", "7Gh2Kq9Lm4Np8Rt3Vw6Xz1Bc5Df0Hj2Kl"),
        ],
    );
    assert!(got.starts_with("TURBO_TEAM (from the environment) is invalid: expected the team's slug, received a value that is not shown"), "{got}");
    // Wrong types in the options.
    let got = msg(Some(serde_json::json!({"token": 5})), &[]);
    assert_eq!(got, format!("{P} is invalid: expected \"token\" to be a non-empty string for the turborepo provider, received a JSON number. To fix it, give \"token\" as a non-empty string, or remove the field"));
    let got = msg(
        Some(serde_json::json!({"signingKey": null})),
        &[("TURBO_TOKEN", TURBO_TOKEN)],
    );
    assert!(got.contains("expected \"signingKey\" to be a non-empty string for the turborepo provider, received a JSON null"), "{got}");
    let got = msg(
        Some(serde_json::json!({"maxSize": -1})),
        &[("TURBO_TOKEN", TURBO_TOKEN)],
    );
    assert!(
        got.contains("expected \"maxSize\" to be a whole number of bytes, received -1"),
        "{got}"
    );
}

#[test]
fn turborepo_unknown_fields_warn_with_the_closest_and_a_misspelt_signing_key_is_an_error() {
    const P: &str = "BACKFILL_CACHE_PROVIDER_OPTIONS (from the environment)";
    const KNOWN: &str =
        "Known fields: apiUrl, token, teamId, teamSlug, maxSize, signingKey, timeoutScale";
    let got = turborepo(
        Some(serde_json::json!({"apiURL": "http://x", "team": "t", "container": "c"})),
        &[("TURBO_TOKEN", TURBO_TOKEN)],
    )
    .unwrap();
    let mut warnings = said(&got.warnings);
    warnings.sort();
    assert_eq!(
        warnings,
        vec![
            format!("{P} has an unknown field \"apiURL\", which is ignored; did you mean \"apiUrl\"? {KNOWN}"),
            format!("{P} has an unknown field \"container\", which is ignored. {KNOWN}"),
            format!("{P} has an unknown field \"team\", which is ignored; did you mean \"teamId\"? {KNOWN}"),
        ]
    );
    let got = turborepo(
        Some(serde_json::json!({"signing_key": "VALUE-NEVER-SHOWN"})),
        &[("TURBO_TOKEN", TURBO_TOKEN)],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(got, format!("{P} is invalid: expected the field \"signingKey\" (spelled exactly so), received a field \"signing_key\", which is not read, so uploads would not be signed and downloads not checked. To fix it, rename \"signing_key\" to \"signingKey\""));
}

#[test]
fn the_turborepo_token_never_shows_in_debug_output() {
    let c = turborepo(None, &[("TURBO_TOKEN", TURBO_TOKEN)]).unwrap();
    assert!(!format!("{c:?}").contains(TURBO_TOKEN));
}

/// JavaScript numbers above 2^32 reach the options as floats: a maxSize of
/// 5 GiB passed in code was refused ("received 5368709120.0").
#[test]
fn a_max_size_above_four_gib_from_javascript_is_taken() {
    let r = repo();
    let load_max = |max: serde_json::Value| {
        let options = Options {
            provider: Some("turborepo".into()),
            provider_options: Some(serde_json::json!({"token": "t", "maxSize": max})),
            ..Options::default()
        };
        load(&r.pkg, &options, &[]).map(|c| c.turborepo.unwrap().max_size)
    };
    assert_eq!(
        load_max(serde_json::json!(5368709120.0)).unwrap(),
        Some(5 << 30)
    );
    assert_eq!(
        load_max(serde_json::json!(5368709120u64)).unwrap(),
        Some(5 << 30)
    );
    for bad in [
        serde_json::json!(1.5),
        serde_json::json!(-1.0),
        serde_json::json!(1e300),
    ] {
        let err = load_max(bad.clone()).unwrap_err().to_string();
        assert!(
            err.contains("expected \"maxSize\" to be a whole number of bytes"),
            "{bad}: {err}"
        );
    }
}

const GITHUB_PR: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_EVENT_NAME", "pull_request"),
    ("GITHUB_REF", "refs/pull/12/merge"),
    ("GITHUB_HEAD_REF", "feature"),
];

/// The pull request scope's options are laid over the main ones field by
/// field; its number comes from the CI; only the pull request's own build
/// writes it; a trusted build has none.
#[test]
fn a_pull_request_build_gets_its_scope_from_the_ci_and_the_scope_options() {
    let main = serde_json::json!({"bucket": "cache", "region": "eu-west-1", "endpoint": "http://127.0.0.1:9000", "maxSize": 1000});
    let scope = r#"{"bucket":"cache-pr"}"#;
    let mut vars = vec![
        ("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", scope),
        ("LAGE_WRITE_REMOTE_CACHE", "true"),
    ];
    vars.extend_from_slice(GITHUB_PR);
    let c = s3(main.clone(), &vars).unwrap();
    let pr = c.pull_request_scope.as_ref().unwrap();
    assert_eq!(
        (pr.number, pr.from.as_str(), pr.writes),
        (12, "GITHUB_REF=refs/pull/12/merge", true)
    );
    assert_eq!(pr.name_prefix(), "pr-12-");
    let ScopeRemote::S3(o) = &pr.remote else {
        panic!("{:?}", pr.remote)
    };
    assert_eq!(
        (o.bucket.as_str(), o.region.as_str(), o.max_size),
        ("cache-pr", "eu-west-1", Some(1000))
    );
    assert_eq!(
        c.s3.unwrap().bucket,
        "cache",
        "the main scope is as configured"
    );
    assert_eq!(said(&c.warnings), Vec::<String>::new());
    // Main's uploads stay refused: this is a pull request build.
    assert!(c.upload_trust.refusal.is_some());

    // A push to main: no scope, whatever is configured.
    let c = s3(
        main.clone(),
        &[
            ("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", scope),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF_NAME", "main"),
        ],
    )
    .unwrap();
    assert!(c.pull_request_scope.is_none());

    // A developer asks for a pull request's scope: read, never written.
    let c = s3(
        main.clone(),
        &[
            ("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", scope),
            ("BACKFILL_NATIVE_PULL_REQUEST", "#7"),
            ("LAGE_WRITE_REMOTE_CACHE", "true"),
        ],
    )
    .unwrap();
    let pr = c.pull_request_scope.unwrap();
    assert_eq!((pr.number, pr.writes), (7, false));

    // Asking for a scope that is not configured is an error that says so.
    let e = s3(main.clone(), &[("BACKFILL_NATIVE_PULL_REQUEST", "7")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("pull request 7, with no pull request scope configured"),
        "{e}"
    );
    let e = s3(main.clone(), &[("BACKFILL_NATIVE_PULL_REQUEST", "seven")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("BACKFILL_NATIVE_PULL_REQUEST (from the environment) is invalid"),
        "{e}"
    );
}

/// What a team can get wrong is said: a pull request build whose number is
/// unknown, a scope in main's own place, an unknown field of the scope, a
/// bad merged value (named as the scope's).
#[test]
fn a_scope_configured_wrong_is_said() {
    let main = serde_json::json!({"bucket": "cache", "prefix": "ci"});
    let azure_pr = [
        ("TF_BUILD", "True"),
        ("BUILD_REASON", "PullRequest"),
        (
            "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS",
            r#"{"prefix":"pr"}"#,
        ),
    ];
    let c = s3(main.clone(), &azure_pr).unwrap();
    assert!(c.pull_request_scope.is_none());
    let codes: Vec<&str> = c.warnings.iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["PULL_REQUEST_NUMBER_UNKNOWN"]);

    let mut vars = GITHUB_PR.to_vec();
    vars.push((
        "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS",
        r#"{"maxSize":5,"prefx":"pr"}"#,
    ));
    let c = s3(main.clone(), &vars).unwrap();
    assert!(c.pull_request_scope.is_some());
    assert_eq!(
        said(&c.warnings),
        [
            "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS (from the environment) has an unknown field \"prefx\", which is ignored; did you mean \"prefix\"? Known fields: bucket, region, endpoint, prefix, forcePathStyle, profile, maxSize, signingKey, timeoutScale".to_string(),
            "the pull request scope (BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS) is the main scope's bucket 'cache' prefix 'ci': a pull request build's credential can then reach the entries trusted builds restore. To fix it, give the scope a container (azure-blob), a bucket or prefix (s3) or a server (turborepo) of its own, with a credential the storage confines to it".to_string(),
        ]
    );

    let mut vars = GITHUB_PR.to_vec();
    vars.push((
        "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS",
        r#"{"maxSize":"big"}"#,
    ));
    let e = s3(main.clone(), &vars).unwrap_err().to_string();
    assert!(
        e.starts_with("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS (laid over BACKFILL_CACHE_PROVIDER_OPTIONS) (from the environment) is invalid: expected \"maxSize\""),
        "{e}"
    );
    let mut vars = GITHUB_PR.to_vec();
    vars.push(("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", "[1]"));
    let e = s3(main, &vars).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS (from the environment) is invalid"
        ),
        "{e}"
    );
}

/// The scope of an Azure container (its own SAS) and of a second
/// turborepo server (its own token); turbo's variables fill the main scope
/// only where the scope's options leave a field out.
#[test]
fn azure_and_turborepo_scopes_take_their_own_credential() {
    let r = repo();
    let pr_sas = "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2024&sp=rcw&sig=abc";
    let scope =
        serde_json::json!({"connectionString": pr_sas, "container": "cache-pr"}).to_string();
    let main = serde_json::json!({"connectionString": SECRET, "container": "cache"}).to_string();
    let mut vars = vec![
        ("BACKFILL_CACHE_PROVIDER", "azure-blob"),
        ("BACKFILL_CACHE_PROVIDER_OPTIONS", main.as_str()),
        ("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", scope.as_str()),
    ];
    vars.extend_from_slice(&[("GITLAB_CI", "true"), ("CI_MERGE_REQUEST_IID", "31")]);
    let c = load(&r.pkg, &Options::default(), &vars).unwrap();
    let pr = c.pull_request_scope.as_ref().unwrap();
    assert_eq!(pr.number, 31);
    let ScopeRemote::AzureBlob(o) = &pr.remote else {
        panic!()
    };
    assert_eq!(o.container, "cache-pr");
    assert!(
        matches!(o.connection.auth, AzureAuth::Sas(_)),
        "{:?}",
        o.connection.auth
    );
    assert!(
        !format!("{c:?}").contains("sig=abc"),
        "the scope's SAS never shows"
    );

    let scope = serde_json::json!({"apiUrl": "http://127.0.0.1:3001", "token": "pr-token-123456"})
        .to_string();
    let c = turborepo(
        None,
        &[
            ("TURBO_API", "http://127.0.0.1:3000"),
            ("TURBO_TOKEN", TURBO_TOKEN),
            ("TURBO_TEAM", "team"),
            ("BACKFILL_NATIVE_PR_CACHE_PROVIDER_OPTIONS", scope.as_str()),
            ("BUILDKITE", "true"),
            ("BUILDKITE_PULL_REQUEST", "5"),
        ],
    )
    .unwrap();
    let pr = c.pull_request_scope.as_ref().unwrap();
    let ScopeRemote::Turborepo(o) = &pr.remote else {
        panic!()
    };
    assert_eq!(
        (pr.number, o.api_url.as_str(), o.token.expose()),
        (5, "http://127.0.0.1:3001", "pr-token-123456")
    );
    assert_eq!(o.team_slug.as_deref(), Some("team"));
    assert_eq!(c.turborepo.unwrap().api_url, "http://127.0.0.1:3000");
    assert_eq!(said(&c.warnings), Vec::<String>::new());
}
