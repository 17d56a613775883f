#!/usr/bin/env bash
# The whole test suite: lint, unit and integration tests (real nft/iptables
# in network namespaces, real SMTP server on 127.0.0.1). Root-only tests
# print SKIPPED when they cannot run, and fail instead when CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
step "router build: mips (big-endian) under qemu, ipk"
# Installs Debian's rustc-web/cargo-web/rust-web-src, qemu-user-static and
# zig (PyPI) when missing; unit tests + Y2038 test under qemu-mips, release
# build, smoke run of the binary; then the ipk checks.
bash cross/test-qemu.sh mips-unknown-linux-musl
bash tests/package.sh --no-build mips-unknown-linux-musl

step "fuzz targets (short runs)"
bash tests/fuzz.sh

step "cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --lib --bins --tests -- --test-threads=2 2>&1 | tee "$log"
passed=$(grep -oE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
skipped=$(grep -c '^SKIPPED' "$log" || true)

printf '\n%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
