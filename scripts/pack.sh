#!/usr/bin/env bash
# npm run pack: builds the binaries this machine can build (linux-x64-gnu,
# linux-arm64-gnu) with the published `release` profile, for glibc 2.17 (the
# napi-rs cross toolchain's sysroot), and writes into dist/ the main package
# tarball and one tarball per platform package built. Installs what it needs,
# idempotently: the napi-rs cross toolchains (npm) and, for arm64, Debian's
# rustc-web with the std sources (-Zbuild-std; rustup has no arm64 std here).
#
#   bash scripts/pack.sh            # both targets
#   PACK_TARGETS=x64 bash scripts/pack.sh
#   PACK_TOOLCHAINS_ONLY=1 bash scripts/pack.sh   # only the cross toolchains
#   PACK_PREBUILT=npm bash scripts/pack.sh   # no build: the binaries that
#       `napi artifacts` put in npm/<platform>/ (the CI workflow's artifacts)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GLIBC_FLOOR=2.17
TARGETS=${PACK_TARGETS:-"x64 arm64"}

say() { printf 'pack: %s\n' "$*"; }

# --- toolchains --------------------------------------------------------------
# `napi build --use-napi-cross` takes its gcc + glibc 2.17 sysroot from
# ~/.napi-rs/cross-toolchain/<@napi-rs/cross-toolchain version>/<triple> and
# downloads it there with `npm pack <package>@<that version>` when missing.
# The registry reached here has the toolchain packages only at older
# versions (the toolchains themselves did not change), so they are put there
# from the pinned versions below; napi then finds them and downloads nothing.
XTC_VERSION=$(node -p "require('@napi-rs/cross-toolchain/package.json').version")
declare -A XTC_PACKAGE=(
  [x86_64-unknown-linux-gnu]=@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0
  [aarch64-unknown-linux-gnu]=@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3
)
toolchain() {
  local triple=$1 dir="$HOME/.napi-rs/cross-toolchain/$XTC_VERSION/$1"
  if [ ! -f "$dir/package.json" ]; then
    say "installing the napi-rs cross toolchain for $triple (${XTC_PACKAGE[$triple]})"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "${XTC_PACKAGE[$triple]}" >/dev/null && tar xzf ./*.tgz)
    rm -rf "$dir" && mkdir -p "$dir"
    tar xJf "$tmp/package/$triple.tar.xz" -C "$dir"
    rm -rf "$tmp"
  fi
  TOOLCHAIN=$dir
}

debian_rust() {
  if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || [ ! -x /usr/bin/cargo ]; then
    say "installing Debian's rustc-web, cargo-web and rust-web-src"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src >/dev/null
  fi
}

# The highest GLIBC_x.y symbol version the binary needs, checked against the floor.
glibc_needed() {
  local objdump=$1 file=$2 v
  v=$("$objdump" -T "$file" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
  say "$(basename "$file") needs glibc $v (GLIBC_$v; the floor is $GLIBC_FLOOR)"
  if [ "$(printf '%s\n%s\n' "$v" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
    say "error: $(basename "$file") needs glibc $v, above the floor $GLIBC_FLOOR" >&2
    exit 1
  fi
}

# The workflow's Linux gnu build jobs call only this part.
if [ -n "${PACK_TOOLCHAINS_ONLY:-}" ]; then
  for triple in "${!XTC_PACKAGE[@]}"; do toolchain "$triple"; done
  exit 0
fi

OUT=$ROOT/target/pack
mkdir -p "$OUT"
BUILT=()

build() {
  local arch=$1 triple key
  case $arch in
    x64) triple=x86_64-unknown-linux-gnu key=linux-x64-gnu ;;
    arm64) triple=aarch64-unknown-linux-gnu key=linux-arm64-gnu ;;
    *) say "error: unknown target $arch (x64 or arm64)" >&2; exit 2 ;;
  esac
  toolchain "$triple"
  local start=$SECONDS
  say "building $key (release profile: fat LTO, one codegen unit, stripped)"
  if [ "$arch" = x64 ]; then
    npx napi build --platform --release --use-napi-cross --target "$triple" \
      --output-dir "$OUT/$key" --no-js --dts "$OUT/$key/index.d.ts"
  else
    # Debian's toolchain builds std for arm64 from source; its own target
    # folder, so the rustup build's is left alone.
    debian_rust
    # The toolchain's gcc 4.8 does not define __ARM_ARCH, which ring's
    # assembly needs.
    CFLAGS_aarch64_unknown_linux_gnu="-D__ARM_ARCH=8" \
    CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      npx napi build --platform --release --use-napi-cross --target "$triple" \
      --target-dir "$ROOT/target/debian-cross" \
      --output-dir "$OUT/$key" --no-js --dts "$OUT/$key/index.d.ts" -- -Zbuild-std=std,panic_unwind
  fi
  local file="$OUT/$key/backfill-native.$key.node"
  say "built $key in $((SECONDS - start)) s: $(stat -c %s "$file") bytes"
  glibc_needed "$TOOLCHAIN/bin/$triple-objdump" "$file"
  BUILT+=("$key")
}

if [ "${PACK_PREBUILT:-}" = npm ]; then
  for f in npm/*/backfill-native.*.node; do
    [ -e "$f" ] || continue
    key=$(basename "$(dirname "$f")")
    mkdir -p "$OUT/$key" && cp "$f" "$OUT/$key/"
    case $key in
      linux-x64-gnu) toolchain x86_64-unknown-linux-gnu && glibc_needed "$TOOLCHAIN/bin/x86_64-unknown-linux-gnu-objdump" "$f" ;;
      linux-arm64-gnu) toolchain aarch64-unknown-linux-gnu && glibc_needed "$TOOLCHAIN/bin/aarch64-unknown-linux-gnu-objdump" "$f" ;;
    esac
    BUILT+=("$key")
  done
else
  for t in $TARGETS; do build "$t"; done
fi

# --- packages ----------------------------------------------------------------
# A copy of the package to publish: the main package's files and npm/. The
# napi CLI (`pre-publish`) stamps the version into every platform package and
# writes the main package's optionalDependencies (all eight platforms);
# platforms not built here get an empty stand-in file in the copy only, for
# its check that each package is complete. Only built ones are packed.
STAGE=$OUT/stage
rm -rf "$STAGE" && mkdir -p "$STAGE"
mapfile -t FILES < <(node -p "require('./package.json').files.join('\n')")
cp package.json README.md LICENSE "${FILES[@]}" "$STAGE/"
cp -r npm "$STAGE/npm"
rm -f "$STAGE"/npm/*/*.node
for dir in "$STAGE"/npm/*/; do
  key=$(basename "$dir")
  if [[ " ${BUILT[*]} " == *" $key "* ]]; then
    cp "$OUT/$key/backfill-native.$key.node" "$dir"
  else
    : >"$dir/backfill-native.$key.node"
  fi
done
(cd "$STAGE" && npx --prefix "$ROOT" napi pre-publish -t npm --skip-optional-publish >/dev/null)

rm -rf dist && mkdir -p dist
npm pack --silent --pack-destination dist "$STAGE" >/dev/null
for key in "${BUILT[@]}"; do npm pack --silent --pack-destination dist "$STAGE/npm/$key" >/dev/null; done

# The main package holds no binary, and names every platform package.
MAIN=$(ls dist/backfill-native-[0-9]*.tgz)
if tar tzf "$MAIN" | grep -q '\.node$'; then
  say "error: $MAIN holds a .node binary" >&2
  exit 1
fi
say "optionalDependencies: $(tar xzf "$MAIN" -O package/package.json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(Object.entries(JSON.parse(s).optionalDependencies||{}).map(([k,v])=>k+'@'+v).join(' ')))")"
for f in dist/*.tgz; do say "$f: $(stat -c %s "$f") bytes"; done
