//! Which builds may upload to the remote cache: the branches named in
//! `BACKFILL_NATIVE_UPLOAD_BRANCHES` (globs), never a pull request build.
//! The branch and whether this is a pull request come from the CI's own
//! variables (GitHub Actions, Azure Pipelines, GitLab CI, Buildkite,
//! Jenkins), else from git.

use std::collections::HashMap;
use std::path::Path;

use super::layers::{Layers, Origin, Raw};
use super::redact::{fix_for, secret_kind, shown};
use super::values::invalid;
use crate::error::Result;
use crate::notice::Refusal;

/// What this build is, as far as uploads go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Build {
    /// Where it was read from: `GitHub Actions`, ..., `git`.
    pub source: String,
    /// The branch, and the variable it came from.
    pub branch: Option<(String, String)>,
    /// Why this is a pull request build (`GITHUB_EVENT_NAME=pull_request`).
    pub pull_request: Option<String>,
    /// The pull request's number, and where it was read
    /// (`GITHUB_REF=refs/pull/12/merge`), when the CI says it.
    pub pull_request_number: Option<(u64, String)>,
    /// Why this is a merge queue build (`GITHUB_EVENT_NAME=merge_group`):
    /// pull requests' code merged onto the target branch, before it is
    /// accepted there.
    pub merge_queue: Option<String>,
}

/// The upload rule and this build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadTrust {
    /// `BACKFILL_NATIVE_UPLOAD_BRANCHES`; `None`: any branch.
    pub branches: Option<Vec<String>>,
    /// Why uploads are skipped in this build; `None`: they may happen.
    pub refusal: Option<Refusal>,
}

const VAR: &str = "BACKFILL_NATIVE_UPLOAD_BRANCHES";

/// The branches of GitHub's merge queue: `gh-readonly-queue/<target>/pr-<n>-<sha>`.
const MERGE_QUEUE_PREFIX: &str = "gh-readonly-queue/";

/// Resolves the rule and checks `build`, given when remote writes are on.
pub(super) fn resolve(
    layers: &Layers,
    option: Option<Vec<String>>,
    build: Option<&Build>,
) -> Result<UploadTrust> {
    let branches = layers.resolve(VAR, option.map(Raw::List), parse_branches)?;
    let matchers = match &branches {
        Some(list) => Some(globs(list)?),
        None => None,
    };
    let refusal = build.and_then(|build| refusal(build, branches.as_deref(), matchers.as_ref()));
    Ok(UploadTrust { branches, refusal })
}

/// A comma-separated list (`main,release/*`) or a JSON array.
fn parse_branches(raw: Raw, origin: &Origin) -> Result<Vec<String>> {
    let list = match raw {
        Raw::List(l) => l,
        other => {
            let text = other.into_text();
            let t = text.trim();
            if t.starts_with('[') {
                serde_json::from_str::<Vec<String>>(t).map_err(|_| {
                    invalid(
                        VAR,
                        origin,
                        "branch names or globs, comma-separated (main,release/*) or as a JSON array",
                        shown(&text),
                        &fix_for(&text, "write the array as [\"main\",\"release/*\"]"),
                    )
                })?
            } else {
                t.split(',').map(|s| s.trim().to_string()).collect()
            }
        }
    };
    let list: Vec<String> = list
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(s) = list.iter().find(|s| secret_kind(s).is_some()) {
        return Err(invalid(
            VAR,
            origin,
            "branch names or globs",
            shown(s),
            &fix_for(s, "give only branch names"),
        ));
    }
    Ok(list)
}

fn globs(list: &[String]) -> Result<Vec<globset::GlobMatcher>> {
    list.iter()
        .map(|p| {
            globset::GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| {
                    invalid(
                        VAR,
                        &Origin::Options,
                        "branch names or globs (* does not cross /, ** does)",
                        shown(p),
                        &format!("fix the glob ({})", e.kind()),
                    )
                })
        })
        .collect()
}

/// Why this build must not upload, if it must not.
fn refusal(
    build: &Build,
    branches: Option<&[String]>,
    matchers: Option<&Vec<globset::GlobMatcher>>,
) -> Option<Refusal> {
    if let Some(why) = &build.pull_request {
        return Some(Refusal::PullRequest {
            source: build.source.clone(),
            why: why.clone(),
        });
    }
    // A merge queue build runs pull requests' code that has not reached the
    // target branch yet (a group that fails its checks never does): it
    // uploads only when the rule names the queue's branches itself
    // (`gh-readonly-queue/main/*`), never through `*` or `**` alone.
    if let Some(why) = &build.merge_queue {
        let named = match (&build.branch, branches, matchers) {
            (Some((name, _)), Some(list), Some(m)) => list
                .iter()
                .zip(m)
                .any(|(glob, m)| glob.starts_with(MERGE_QUEUE_PREFIX) && m.is_match(name)),
            _ => false,
        };
        return (!named).then(|| Refusal::MergeQueue {
            source: build.source.clone(),
            why: why.clone(),
            queue: queue_glob(build.branch.as_ref().map(|(b, _)| b.as_str())),
        });
    }
    let (branches, matchers) = (branches?, matchers?);
    let allowed = if branches.is_empty() {
        "no branch".to_string()
    } else {
        branches
            .iter()
            .map(|b| shown(b))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &build.branch {
        Some((name, _)) if matchers.iter().any(|m| m.is_match(name)) => None,
        Some((name, from)) => Some(Refusal::BranchNotAllowed {
            branch: shown(name),
            from: from.clone(),
            allowed,
        }),
        None => Some(Refusal::BranchUnknown {
            why: if build.source == "git" {
                "no CI variable names it, and git is not on a branch".to_string()
            } else {
                format!("{} names no branch", build.source)
            },
            allowed,
        }),
    }
}

/// What the CI's variables (else git) say this build is.
pub fn detect(env: &HashMap<String, String>, cwd: &Path) -> Build {
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let named = |var: &str, value: Option<&str>| value.map(|v| (v.to_string(), var.to_string()));
    let heads = |v: &str| v.strip_prefix("refs/heads/").map(str::to_string);
    let mut build = Build::default();
    if get("GITHUB_ACTIONS").is_some() {
        build.source = "GitHub Actions".into();
        match get("GITHUB_EVENT_NAME") {
            Some(event) if event.starts_with("pull_request") => {
                build.pull_request = Some(format!("GITHUB_EVENT_NAME={event}"));
            }
            Some(event @ "merge_group") => {
                build.merge_queue = Some(format!("GITHUB_EVENT_NAME={event}"));
            }
            _ => {}
        }
        if build.pull_request.is_some() {
            build.pull_request_number =
                github_pull_request_number(get("GITHUB_REF"), get("GITHUB_EVENT_PATH"));
        }
        build.branch = named("GITHUB_HEAD_REF", get("GITHUB_HEAD_REF")).or_else(|| {
            let is_branch = get("GITHUB_REF_TYPE").is_none_or(|t| t == "branch");
            named(
                "GITHUB_REF_NAME",
                get("GITHUB_REF_NAME").filter(|_| is_branch),
            )
        });
    } else if get("TF_BUILD").is_some() {
        build.source = "Azure Pipelines".into();
        if let Some(id) = get("SYSTEM_PULLREQUEST_PULLREQUESTID") {
            build.pull_request = Some(format!("SYSTEM_PULLREQUEST_PULLREQUESTID={id}"));
        } else if get("BUILD_REASON") == Some("PullRequest") {
            build.pull_request = Some("BUILD_REASON=PullRequest".into());
        }
        if build.pull_request.is_some() {
            build.pull_request_number = number_of(
                &get,
                &[
                    "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER",
                    "SYSTEM_PULLREQUEST_PULLREQUESTID",
                ],
            );
        }
        build.branch = get("SYSTEM_PULLREQUEST_SOURCEBRANCH")
            .map(|b| heads(b).unwrap_or_else(|| b.to_string()))
            .map(|b| (b, "SYSTEM_PULLREQUEST_SOURCEBRANCH".to_string()))
            .or_else(|| {
                get("BUILD_SOURCEBRANCH")
                    .and_then(heads)
                    .map(|b| (b, "BUILD_SOURCEBRANCH".to_string()))
            });
    } else if get("GITLAB_CI").is_some() {
        build.source = "GitLab CI".into();
        if let Some(iid) = get("CI_MERGE_REQUEST_IID") {
            build.pull_request = Some(format!("CI_MERGE_REQUEST_IID={iid}"));
        } else if let Some(iid) = get("CI_EXTERNAL_PULL_REQUEST_IID") {
            build.pull_request = Some(format!("CI_EXTERNAL_PULL_REQUEST_IID={iid}"));
        } else if let Some(source) = get("CI_PIPELINE_SOURCE")
            .filter(|s| matches!(*s, "merge_request_event" | "external_pull_request_event"))
        {
            build.pull_request = Some(format!("CI_PIPELINE_SOURCE={source}"));
        }
        build.pull_request_number = number_of(
            &get,
            &["CI_MERGE_REQUEST_IID", "CI_EXTERNAL_PULL_REQUEST_IID"],
        );
        build.branch = named("CI_COMMIT_BRANCH", get("CI_COMMIT_BRANCH")).or_else(|| {
            named(
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
                get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
            )
        });
    } else if get("BUILDKITE").is_some() {
        build.source = "Buildkite".into();
        if let Some(pr) = get("BUILDKITE_PULL_REQUEST").filter(|p| *p != "false") {
            build.pull_request = Some(format!("BUILDKITE_PULL_REQUEST={pr}"));
        }
        build.pull_request_number = number_of(&get, &["BUILDKITE_PULL_REQUEST"]);
        build.branch = named("BUILDKITE_BRANCH", get("BUILDKITE_BRANCH"));
    } else if get("JENKINS_URL").is_some() || get("JENKINS_HOME").is_some() {
        build.source = "Jenkins".into();
        if let Some(id) = get("CHANGE_ID") {
            build.pull_request = Some(format!("CHANGE_ID={id}"));
        }
        build.pull_request_number = number_of(&get, &["CHANGE_ID"]);
        build.branch = named(
            "CHANGE_BRANCH",
            get("CHANGE_BRANCH").filter(|_| get("CHANGE_ID").is_some()),
        )
        .or_else(|| named("BRANCH_NAME", get("BRANCH_NAME")))
        .or_else(|| {
            get("GIT_BRANCH").map(|b| {
                let b = b.strip_prefix("origin/").unwrap_or(b);
                (b.to_string(), "GIT_BRANCH".to_string())
            })
        });
    } else {
        build.source = "git".into();
        build.branch = git_branch(cwd).map(|b| (b, "git".to_string()));
        // Other CIs name the branch no differently from git, but a pull
        // request build still says it is one.
        build.pull_request = [
            ("CIRCLE_PULL_REQUEST", None),
            ("TRAVIS_PULL_REQUEST", Some("false")),
            ("BITBUCKET_PR_ID", None),
        ]
        .into_iter()
        .find_map(|(var, not_pr)| {
            let value = get(var).filter(|v| Some(*v) != not_pr)?;
            Some(format!("{var}={value}"))
        });
        if build.pull_request.is_some() {
            build.pull_request_number = number_of(
                &get,
                &["CIRCLE_PR_NUMBER", "TRAVIS_PULL_REQUEST", "BITBUCKET_PR_ID"],
            )
            .or_else(|| {
                // CircleCI names the pull request by its address only.
                let url = get("CIRCLE_PULL_REQUEST")?;
                let n = url.rsplit('/').next()?.parse().ok()?;
                Some((n, format!("CIRCLE_PULL_REQUEST={url}")))
            });
        }
    }
    // A merge queue's branch is one whatever event runs on it (a push to
    // it, say).
    if build.merge_queue.is_none() && build.pull_request.is_none() {
        if let Some((name, from)) = build
            .branch
            .as_ref()
            .filter(|(name, _)| name.starts_with(MERGE_QUEUE_PREFIX))
        {
            build.merge_queue = Some(format!("{from}={name}"));
        }
    }
    build
}

/// The first of `vars` that holds a pull request's number, and where it
/// was read (`CHANGE_ID=12`).
fn number_of<'a>(get: &impl Fn(&str) -> Option<&'a str>, vars: &[&str]) -> Option<(u64, String)> {
    vars.iter().find_map(|var| {
        let value = get(var)?;
        let n = value.parse::<u64>().ok().filter(|n| *n > 0)?;
        Some((n, format!("{var}={value}")))
    })
}

/// A GitHub pull request's number: from `GITHUB_REF`
/// (`refs/pull/<n>/merge`, for `pull_request` events), else from the event
/// payload (`pull_request_target` runs on the base branch's ref).
fn github_pull_request_number(
    git_ref: Option<&str>,
    event_path: Option<&str>,
) -> Option<(u64, String)> {
    if let Some(r) = git_ref {
        let n = r
            .strip_prefix("refs/pull/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            return Some((n, format!("GITHUB_REF={r}")));
        }
    }
    let path = event_path?;
    // The payload is GitHub's own file; a large or broken one gives no number.
    let text = std::fs::read_to_string(path)
        .ok()
        .filter(|t| t.len() < 64 << 20)?;
    let event: serde_json::Value = serde_json::from_str(&text).ok()?;
    let n = event
        .pointer("/pull_request/number")
        .or_else(|| event.get("number"))?
        .as_u64()?;
    Some((n, "GITHUB_EVENT_PATH (pull_request.number)".to_string()))
}

/// The glob naming the merge queue of `branch`
/// (`gh-readonly-queue/<target>/pr-<n>-<sha>`): `gh-readonly-queue/<target>/*`.
fn queue_glob(branch: Option<&str>) -> String {
    let target = branch
        .and_then(|b| b.strip_prefix(MERGE_QUEUE_PREFIX))
        .and_then(|rest| rest.rsplit_once("/pr-").map(|(target, _)| target))
        .filter(|t| !t.is_empty())
        .unwrap_or("main");
    format!("{MERGE_QUEUE_PREFIX}{target}/*")
}

/// The branch git is on in `cwd`; `None` on a detached HEAD, outside a
/// repository or without git.
fn git_branch(cwd: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["symbolic-ref", "--short", "-q", "HEAD"])
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(vars: &[(&str, &str)]) -> Build {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(&env, Path::new("/"))
    }

    fn check(vars: &[(&str, &str)], branches: &[&str]) -> Option<String> {
        let list: Vec<String> = branches.iter().map(|s| s.to_string()).collect();
        let m = globs(&list).unwrap();
        refusal(&build(vars), Some(&list), Some(&m)).map(|r| r.message())
    }

    #[test]
    fn each_ci_names_its_branch_and_its_pull_requests() {
        let b = build(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_EVENT_NAME", "push"),
        ]);
        assert_eq!(b.branch, Some(("main".into(), "GITHUB_REF_NAME".into())));
        assert_eq!(b.pull_request, None);
        let b = build(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF_NAME", "12/merge"),
            ("GITHUB_HEAD_REF", "main"),
            ("GITHUB_EVENT_NAME", "pull_request_target"),
        ]);
        assert_eq!(b.branch, Some(("main".into(), "GITHUB_HEAD_REF".into())));
        assert_eq!(
            b.pull_request.as_deref(),
            Some("GITHUB_EVENT_NAME=pull_request_target")
        );
        let b = build(&[
            ("TF_BUILD", "True"),
            ("BUILD_SOURCEBRANCH", "refs/heads/release/2.0"),
        ]);
        assert_eq!(
            b.branch,
            Some(("release/2.0".into(), "BUILD_SOURCEBRANCH".into()))
        );
        let b = build(&[
            ("TF_BUILD", "True"),
            ("BUILD_REASON", "PullRequest"),
            ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/main"),
        ]);
        assert_eq!(b.pull_request.as_deref(), Some("BUILD_REASON=PullRequest"));
        let b = build(&[
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "main"),
        ]);
        assert_eq!(b.pull_request.as_deref(), Some("CI_MERGE_REQUEST_IID=7"));
        let b = build(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_BRANCH", "main"),
            ("BUILDKITE_PULL_REQUEST", "false"),
        ]);
        assert_eq!(
            (b.branch.map(|b| b.0), b.pull_request),
            (Some("main".into()), None)
        );
        let b = build(&[
            ("JENKINS_URL", "http://ci"),
            ("BRANCH_NAME", "PR-3"),
            ("CHANGE_ID", "3"),
            ("CHANGE_BRANCH", "main"),
        ]);
        assert_eq!(b.pull_request.as_deref(), Some("CHANGE_ID=3"));
        let b = build(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", "external_pull_request_event"),
            ("CI_COMMIT_BRANCH", "main"),
        ]);
        assert_eq!(
            b.pull_request.as_deref(),
            Some("CI_PIPELINE_SOURCE=external_pull_request_event")
        );
        // CIs known only by their pull-request variables (the branch comes
        // from git): CircleCI, Travis, Bitbucket.
        for (vars, pr) in [
            (
                &[("CIRCLE_PULL_REQUEST", "https://github.com/o/r/pull/9")][..],
                Some("CIRCLE_PULL_REQUEST=https://github.com/o/r/pull/9"),
            ),
            (
                &[("TRAVIS_PULL_REQUEST", "12")][..],
                Some("TRAVIS_PULL_REQUEST=12"),
            ),
            (&[("TRAVIS_PULL_REQUEST", "false")][..], None),
            (&[("BITBUCKET_PR_ID", "4")][..], Some("BITBUCKET_PR_ID=4")),
        ] {
            assert_eq!(build(vars).pull_request.as_deref(), pr, "{vars:?}");
        }
    }

    /// Each CI's pull request number, for the pull request scope; none
    /// where the build is not a pull request or the CI does not say it.
    #[test]
    fn each_ci_says_its_pull_requests_number() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"opened","number":77,"pull_request":{"number":77}}"#,
        )
        .unwrap();
        let event = event.display().to_string();
        type Vars<'a> = Vec<(&'a str, &'a str)>;
        let cases: Vec<(Vars, Option<(u64, &str)>)> = vec![
            (
                vec![
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_EVENT_NAME", "pull_request"),
                    ("GITHUB_REF", "refs/pull/12/merge"),
                ],
                Some((12, "GITHUB_REF=refs/pull/12/merge")),
            ),
            // pull_request_target runs on the base branch's ref: the payload says it.
            (
                vec![
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_EVENT_NAME", "pull_request_target"),
                    ("GITHUB_REF", "refs/heads/main"),
                    ("GITHUB_EVENT_PATH", &event),
                ],
                Some((77, "GITHUB_EVENT_PATH (pull_request.number)")),
            ),
            (
                vec![
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_EVENT_NAME", "push"),
                    ("GITHUB_REF", "refs/pull/12/merge"),
                ],
                None,
            ),
            (
                vec![
                    ("TF_BUILD", "True"),
                    ("BUILD_REASON", "PullRequest"),
                    ("SYSTEM_PULLREQUEST_PULLREQUESTID", "901"),
                    ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "45"),
                ],
                Some((45, "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER=45")),
            ),
            (
                vec![
                    ("TF_BUILD", "True"),
                    ("SYSTEM_PULLREQUEST_PULLREQUESTID", "901"),
                ],
                Some((901, "SYSTEM_PULLREQUEST_PULLREQUESTID=901")),
            ),
            (
                vec![("TF_BUILD", "True"), ("BUILD_REASON", "PullRequest")],
                None,
            ),
            (
                vec![("GITLAB_CI", "true"), ("CI_MERGE_REQUEST_IID", "31")],
                Some((31, "CI_MERGE_REQUEST_IID=31")),
            ),
            (
                vec![("GITLAB_CI", "true"), ("CI_EXTERNAL_PULL_REQUEST_IID", "8")],
                Some((8, "CI_EXTERNAL_PULL_REQUEST_IID=8")),
            ),
            (
                vec![("BUILDKITE", "true"), ("BUILDKITE_PULL_REQUEST", "5")],
                Some((5, "BUILDKITE_PULL_REQUEST=5")),
            ),
            (
                vec![("BUILDKITE", "true"), ("BUILDKITE_PULL_REQUEST", "false")],
                None,
            ),
            (
                vec![("JENKINS_URL", "http://ci"), ("CHANGE_ID", "3")],
                Some((3, "CHANGE_ID=3")),
            ),
            (
                vec![("CIRCLE_PULL_REQUEST", "https://github.com/o/r/pull/9")],
                Some((9, "CIRCLE_PULL_REQUEST=https://github.com/o/r/pull/9")),
            ),
            (
                vec![("TRAVIS_PULL_REQUEST", "12")],
                Some((12, "TRAVIS_PULL_REQUEST=12")),
            ),
            (
                vec![("BITBUCKET_PR_ID", "4")],
                Some((4, "BITBUCKET_PR_ID=4")),
            ),
        ];
        for (vars, want) in cases {
            let got = build(&vars).pull_request_number;
            assert_eq!(
                got.as_ref().map(|(n, from)| (*n, from.as_str())),
                want,
                "{vars:?}"
            );
        }
    }

    #[test]
    fn only_allowed_branches_upload_and_never_a_pull_request() {
        let gh = |branch: &'static str| {
            [
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_REF_NAME", branch),
                ("GITHUB_EVENT_NAME", "push"),
            ]
        };
        assert_eq!(check(&gh("main"), &["main", "release/*"]), None);
        assert_eq!(check(&gh("release/1.2"), &["main", "release/*"]), None);
        let why = check(&gh("release/1.2/hotfix"), &["main", "release/*"]).unwrap();
        assert_eq!(
            why,
            "remote cache uploads are skipped: branch \"release/1.2/hotfix\" (from GITHUB_REF_NAME) is not one of \
             the branches BACKFILL_NATIVE_UPLOAD_BRANCHES allows (\"main\", \"release/*\"); outputs are still cached locally"
        );
        let pr = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_HEAD_REF", "main"),
            ("GITHUB_EVENT_NAME", "pull_request"),
        ];
        let why = check(&pr, &["main"]).unwrap();
        assert!(
            why.contains(
                "this is a pull request build (GitHub Actions: GITHUB_EVENT_NAME=pull_request)"
            ),
            "{why}"
        );
        // Without a branch rule, any branch uploads, but a pull request never.
        assert_eq!(refusal(&build(&gh("feature")), None, None), None);
        assert!(refusal(&build(&pr), None, None).is_some());
        let why = check(&[("BUILDKITE", "true")], &["main"]).unwrap();
        assert!(
            why.contains("the branch of this build is unknown (Buildkite names no branch)"),
            "{why}"
        );
    }

    /// A GitHub merge queue build (its branch `gh-readonly-queue/main/...`)
    /// uploaded whenever no branch rule was set. It uploads only when the
    /// rule names the queue's branches.
    #[test]
    fn merge_queue_builds_upload_only_when_the_rule_names_the_queue() {
        let queue = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "merge_group"),
            ("GITHUB_REF_NAME", "gh-readonly-queue/main/pr-42-0123abcd"),
        ];
        let b = build(&queue);
        assert_eq!(
            b.merge_queue.as_deref(),
            Some("GITHUB_EVENT_NAME=merge_group")
        );
        assert_eq!(b.pull_request, None);
        let refused = "remote cache uploads are skipped: this is a merge queue build (GitHub Actions: \
             GITHUB_EVENT_NAME=merge_group), which runs pull requests' code before it reaches the target \
             branch; to let merge queue builds upload, add \"gh-readonly-queue/main/*\" to \
             BACKFILL_NATIVE_UPLOAD_BRANCHES; outputs are still cached locally";
        assert_eq!(
            refusal(&b, None, None).map(|r| r.message()).as_deref(),
            Some(refused)
        );
        assert_eq!(check(&queue, &["main"]).as_deref(), Some(refused));
        assert_eq!(check(&queue, &["**"]).as_deref(), Some(refused));
        assert_eq!(check(&queue, &["main", "gh-readonly-queue/main/*"]), None);
        assert_eq!(check(&queue, &["gh-readonly-queue/**"]), None);
        assert_eq!(
            check(&queue, &["gh-readonly-queue/release/*"]).as_deref(),
            Some(refused)
        );
        // A push to a queue branch is a merge queue build too; the hint
        // names the queue of its own target branch.
        let pushed = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            (
                "GITHUB_REF_NAME",
                "gh-readonly-queue/release/2.0/pr-7-89abcdef",
            ),
        ];
        let got = refusal(&build(&pushed), None, None).map(|r| r.message());
        assert_eq!(
            got.as_deref(),
            Some(
                "remote cache uploads are skipped: this is a merge queue build (GitHub Actions: \
                 GITHUB_REF_NAME=gh-readonly-queue/release/2.0/pr-7-89abcdef), which runs pull requests' \
                 code before it reaches the target branch; to let merge queue builds upload, add \
                 \"gh-readonly-queue/release/2.0/*\" to BACKFILL_NATIVE_UPLOAD_BRANCHES; outputs are still \
                 cached locally"
            )
        );
        assert_eq!(check(&pushed, &["gh-readonly-queue/release/**"]), None);
    }
}
