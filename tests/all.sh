#!/usr/bin/env bash
# The whole test suite: lint, unit and integration tests (real nft/iptables
# in network namespaces, real SMTP server on 127.0.0.1). Root-only tests
# print SKIPPED when they cannot run, and fail instead when CI is set.
#
# Every step runs, whatever the ones before it did; each step's exit status
# is recorded, and the summary at the end names the steps that failed and
# counts the tests (from cargo test's output). The exit status is non-zero
# when any step or any test failed.
#
# No `set -e`: a failing step must not end the script before the summary
# (a pipeline failing under -e used to do exactly that).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

steps=0
failed_steps=()

# step NAME COMMAND...: runs one step and records how it ended.
step() {
	local name=$1 rc=0
	shift
	printf '\n== %s\n' "$name"
	steps=$((steps + 1))
	"$@" || rc=$?
	if [ "$rc" -eq 0 ]; then
		printf '== %s: ok\n' "$name"
	else
		printf '== %s: FAILED (exit %s)\n' "$name" "$rc"
		failed_steps+=("$name (exit $rc)")
	fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# --no-fail-fast: a failing test binary must not hide the ones after it
# from the counts.
cargo_test() {
	cargo test --locked --no-fail-fast --lib --bins --tests -- --test-threads=2 2>&1 |
		tee "$log"
}

step "cargo fmt --check" cargo fmt --check
step "cargo clippy" cargo clippy --locked --all-targets -- -D warnings
# Installs Debian's rustc-web/cargo-web/rust-web-src, qemu-user-static and
# zig (PyPI) when missing; unit tests + Y2038 test under qemu-mips, release
# build, smoke run of the binary.
step "router build: mips (big-endian) under qemu" \
	bash cross/test-qemu.sh mips-unknown-linux-musl
# Also runs tests/initscript.sh (the init script and the sysupgrade hook)
# on the files as packed.
step "ipk package checks: mips" \
	bash tests/package.sh --no-build mips-unknown-linux-musl
# JSON, node --check, ACL == the views' fs.exec argv, the views rendered
# in headless Chromium on real netmon output (network-namespace lab).
# The apk writer against apk-tools' own golden packages (with mutations),
# and the dist apks read back against the ipks (tests/apk.sh says more).
step "apk package checks: mips" bash tests/apk.sh --no-build mips-unknown-linux-musl
step "luci-app-netmon checks" bash tests/luci.sh
step "fuzz targets (short runs)" bash tests/fuzz.sh
step "cargo test" cargo_test

sum() { awk '{ s += $1 } END { print s + 0 }'; }
results=$(grep -E '^test result: ' "$log")
passed=$(grep -oE '[0-9]+ passed' <<<"$results" | sum)
failed=$(grep -oE '[0-9]+ failed' <<<"$results" | sum)
skipped=$(grep -c '^SKIPPED' "$log")

printf '\n== summary\n'
printf 'tests: %s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
if [ ${#failed_steps[@]} -eq 0 ]; then
	printf 'steps: all %s passed\n' "$steps"
else
	printf 'steps: %s of %s failed:\n' "${#failed_steps[@]}" "$steps"
	printf '  %s\n' "${failed_steps[@]}"
fi
if [ ${#failed_steps[@]} -gt 0 ] || [ "$failed" -ne 0 ]; then
	exit 1
fi
