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
step "cargo test"
cargo test --locked -- --test-threads=2
