#!/usr/bin/env bash
# Builds and checks the engine for x86_64-pc-windows-gnu on this Linux
# machine, following ../shared/reference/cross-targets.md: Debian's rustc-web
# with -Zbuild-std builds std for the target, mingw-w64 links, wine runs the
# test executables. Installs what it needs (idempotently) first.
#
#   scripts/windows.sh check   cargo check --all-targets for Windows
#   scripts/windows.sh test    cargo test --lib under wine; tests of links say they
#                              are skipped there (wine makes no real links)
#
# Work folders: target/windows (cargo), target/windows-wine (the wine prefix).
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
  *)
    echo "usage: scripts/windows.sh check|test" >&2
    exit 2
    ;;
esac
