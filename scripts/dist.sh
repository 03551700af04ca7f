#!/usr/bin/env bash
# Builds kiln's release artifacts into dist/:
#   kiln-VERSION-TARGET.tar.gz  the stripped binary, shell completions
#                               (bash, zsh, fish), man pages, README, LICENSE;
#   kiln_VERSION-1_ARCH.deb     the same as a Debian package (cargo-deb),
#                               installable with `apt install ./kiln_*.deb`.
# Usage: scripts/dist.sh [--no-deb] [--bin PATH] [--out DIR]
#   --no-deb    the tarball only
#   --bin PATH  package this kiln binary instead of building a release one
#               (the tests package the binary they test: crates/kiln/tests/cli/dist.rs)
#   --out DIR   write the artifacts to DIR (default: dist/)
# Needs only the Rust toolchain; cargo-deb is installed from crates.io into
# ~/.cargo/bin when missing (skip it with --no-deb; scripts/install-deps.sh
# installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

deb=1
bin=
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --no-deb) deb=0 ;;
    --bin) bin=${2:?--bin needs a path}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) echo "dist.sh: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
  shift
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
target=$(rustc -vV | sed -n 's/^host: //p')
name="kiln-$version-$target"
stage="target/dist/$name"
rm -rf "$stage" && mkdir -p "$stage/completions" "$stage/man" "$out"

if [ -z "$bin" ]; then
  cargo build --release --locked -p kiln
  bin=${CARGO_TARGET_DIR:-target}/release/kiln
fi
install -m 0755 "$bin" "$stage/kiln"
strip "$stage/kiln"

"$stage/kiln" completion bash > "$stage/completions/kiln.bash"
"$stage/kiln" completion zsh > "$stage/completions/_kiln"
"$stage/kiln" completion fish > "$stage/completions/kiln.fish"
"$stage/kiln" completion --man "$stage/man" > /dev/null
gzip -9n "$stage"/man/*.1
cp README.md LICENSE "$stage/"

tar -C target/dist -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"

if [ "$deb" = 1 ]; then
  command -v cargo-deb > /dev/null 2>&1 || cargo install --locked cargo-deb
  # cargo-deb takes the assets listed in crates/kiln/Cargo.toml
  # ([package.metadata.deb]) from target/dist/kiln-stage.
  rm -rf target/dist/kiln-stage && cp -r "$stage" target/dist/kiln-stage
  cargo deb -p kiln --no-build --no-strip --output "$out/"
  ls "$out"/*.deb
fi
