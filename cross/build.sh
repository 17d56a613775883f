#!/bin/bash
# Builds static, stripped netmon binaries for routers, offline on Debian 12,
# no Docker: cross/build.sh [TARGET...]   (default: all four)
# leaves target/<TARGET>/release/netmon.
#
# Installs what is missing (apt: rustc-web cargo-web rust-web-src
# qemu-user-static python3-venv; PyPI: ziglang, pinned, in a venv under
# ~/.cache/netmon-cross), then builds with Debian's cargo 1.96,
# RUSTC_BOOTSTRAP=1 and -Zbuild-std (MIPS is a tier-3 target: no prebuilt std).
# Per-target linker and rustflags: .cargo/config.toml.
#
# Panics: immediate-abort (no message, ~100 KB smaller on mips; see lib.sh).
# NETMON_PANIC=abort builds the variant that prints the panic message, into
# target/panic-abort/<TARGET>/release/netmon.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || set -- "${ALL_TARGETS[@]}"
check_targets "$@"
setup_toolchain
cd "$ROOT"
if [ "$PANIC" != "$DEFAULT_PANIC" ]; then
	export CARGO_TARGET_DIR=$ROOT/target/panic-$PANIC
fi
for t in "$@"; do
	echo "cross: building $t (panic=$PANIC)" >&2
	# ZFLAGS (lib.sh) also carries the release-only rustflags and link
	# arguments (no unwind tables, ...) that the test harness must not get.
	cargo "${ZFLAGS[@]}" build --locked --release --target "$t" --bin netmon
	bin=$(bin_path "$PANIC" "$t")
	info=$(file -b "$bin")
	case $info in
	"$(file_says "$t")"*"statically linked"*) ;;
	*) die "$bin is not a static $t executable: $info" ;;
	esac
	echo "cross: $bin: $(stat -c %s "$bin") bytes" >&2
done
