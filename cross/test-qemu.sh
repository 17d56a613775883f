#!/bin/bash
# Runs netmon's portable tests for a router target under qemu-user-static,
# then smoke-runs the release binary there:
#   cross/test-qemu.sh [--no-smoke] TARGET [extra `cargo test` args]
# e.g. cross/test-qemu.sh mips-unknown-linux-musl   (big-endian, 32-bit usize)
#
# Portable = the library's unit tests (`--lib`: pure logic, no root, no
# namespaces, no firewall tools) plus tests/y2038.rs. Byte order and 32-bit
# `usize` mistakes show up here and nowhere on an x86_64 host.
#
# The test harness is built with panic=unwind (std, panic_unwind and test from
# source): with panic=abort libtest runs every test in a child process of
# itself, which qemu-user cannot exec without binfmt_misc (absent in
# containers). Tests use the dev profile, so overflow checks are on.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

smoke=1
if [ "${1:-}" = --no-smoke ]; then
	smoke=0
	shift
fi
[ $# -ge 1 ] || die "usage: cross/test-qemu.sh [--no-smoke] TARGET [cargo test args]"
t=$1
shift
check_targets "$t"
setup_toolchain
qemu=$(qemu_for "$t")
command -v "$qemu" >/dev/null || die "$qemu not found (qemu-user-static)"
runner_var=CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_RUNNER
export "$runner_var=$qemu"
cd "$ROOT"

echo "cross: testing $t under $qemu" >&2
cargo '-Zbuild-std=std,panic_unwind,test' test --locked --target "$t" \
	--lib --test y2038 "$@"

[ $smoke -eq 1 ] || exit 0
"$CROSS_DIR/build.sh" "$t"
"$CROSS_DIR/smoke.sh" "$t"
