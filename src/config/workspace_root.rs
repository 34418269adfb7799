//! Finding the monorepo root that holds the shared local store.

use std::path::{Path, PathBuf};

/// The workspace root for a package directory: the nearest ancestor (or
/// `cwd` itself) with a `package.json` declaring `workspaces`, a
/// `lage.config.*` or a `pnpm-workspace.yaml`; else the nearest git root;
/// else `cwd`.
pub fn workspace_root(cwd: &Path) -> PathBuf {
    if let Some(root) = cwd.ancestors().find(|d| is_workspace_root(d)) {
        return root.to_path_buf();
    }
    if let Some(root) = cwd.ancestors().find(|d| d.join(".git").exists()) {
        return root.to_path_buf();
    }
    cwd.to_path_buf()
}

fn is_workspace_root(dir: &Path) -> bool {
    const MARKERS: [&str; 6] = [
        "lage.config.js",
        "lage.config.cjs",
        "lage.config.mjs",
        "lage.config.ts",
        "lage.config.json",
        "pnpm-workspace.yaml",
    ];
    if MARKERS.iter().any(|m| dir.join(m).is_file()) {
        return true;
    }
    std::fs::read(dir.join("package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|json| json.get("workspaces").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_the_nearest_marker_then_git_then_cwd() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let pkg = repo.join("packages/a");
        fs::create_dir_all(&pkg).unwrap();
        fs::write(pkg.join("package.json"), r#"{"name":"a"}"#).unwrap();
        assert_eq!(workspace_root(&pkg), pkg);

        fs::create_dir(repo.join(".git")).unwrap();
        assert_eq!(workspace_root(&pkg), repo);

        fs::write(
            repo.join("package.json"),
            r#"{"workspaces":["packages/*"]}"#,
        )
        .unwrap();
        assert_eq!(workspace_root(&pkg), repo);

        fs::write(repo.join("packages/lage.config.js"), "module.exports = {}").unwrap();
        assert_eq!(workspace_root(&pkg), repo.join("packages"));
    }
}
