// The one rule for keeping a developer's cache settings out of tests and
// scripts: every BACKFILL_* and LAGE_* variable (cache folder, mode,
// provider, remote writes) would otherwise redirect or skew what they check.
// The CI markers go too: the branch and pull request a CI names decide
// whether uploads happen (BACKFILL_NATIVE_UPLOAD_BRANCHES). And the AWS
// variables: the s3 provider takes its region, endpoint and credentials
// from them; and turbo's remote cache variables, which the turborepo
// provider reads where its options leave a value out (a test's server
// gives its own).
const CACHE_ENV = /^(BACKFILL_|LAGE_|AWS_|TURBO_API$|TURBO_TOKEN$|TURBO_TEAM$|TURBO_TEAMID$|GITHUB_ACTIONS$|TF_BUILD$|GITLAB_CI$|BUILDKITE$|JENKINS_URL$|JENKINS_HOME$|CIRCLE_PULL_REQUEST$|TRAVIS_PULL_REQUEST$|BITBUCKET_PR_ID$)/

/** Removes every BACKFILL_* / LAGE_* / AWS_* variable, turbo's remote cache variables and CI marker from `env` (default: this process's), in place. */
function scrubCacheEnv(env = process.env) {
  for (const k of Object.keys(env)) if (CACHE_ENV.test(k)) delete env[k]
  return env
}

/** A copy of this process's environment without them, plus `extra`: for child processes. */
function cleanEnv(extra = {}) {
  return { ...scrubCacheEnv({ ...process.env }), ...extra }
}

module.exports = { scrubCacheEnv, cleanEnv, CACHE_ENV }
