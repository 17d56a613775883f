# shellcheck shell=bash
# Shared by cross/build.sh, cross/test-qemu.sh, cross/package.sh, cross/size.sh:
# the offline toolchain (Debian's Rust 1.96 + std source, zig from PyPI as
# linker and musl provider, qemu-user-static) and what each router target is
# called by Rust, zig, qemu and OpenWrt. ../shared/CROSS.md explains the choices.

# Pinned tool versions. Debian 12's rustc-web/cargo-web/rust-web-src are
# 1.96.0+dfsg1-1~deb12u2 at the time of writing; build.sh checks the major.minor.
ZIGLANG_VERSION=0.17.1
RUST_WANT=1.96

CROSS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
ROOT=$(dirname "$CROSS_DIR")
# Caches (zig venv, zig's musl builds) live outside the repo.
CACHE=${NETMON_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netmon-cross}
ALL_TARGETS=(mips-unknown-linux-musl mipsel-unknown-linux-musl
	armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl)

die() {
	printf 'cross: %s\n' "$*" >&2
	exit 1
}

# OpenWrt package architecture of a Rust target (the CPU of the most common
# router family for it; the binary itself only assumes the baseline ISA).
openwrt_arch() {
	case $1 in
	mips-unknown-linux-musl) echo mips_24kc ;;
	mipsel-unknown-linux-musl) echo mipsel_24kc ;;
	armv7-unknown-linux-musleabihf) echo arm_cortex-a7_neon-vfpv4 ;;
	aarch64-unknown-linux-musl) echo aarch64_cortex-a53 ;;
	*) die "unknown target $1 (known: ${ALL_TARGETS[*]})" ;;
	esac
}

# qemu-user-static binary that runs the target's executables.
qemu_for() {
	case $1 in
	mips-unknown-linux-musl) echo qemu-mips-static ;;
	mipsel-unknown-linux-musl) echo qemu-mipsel-static ;;
	armv7-unknown-linux-musleabihf) echo qemu-arm-static ;;
	aarch64-unknown-linux-musl) echo qemu-aarch64-static ;;
	*) die "unknown target $1 (known: ${ALL_TARGETS[*]})" ;;
	esac
}

# Words `file` prints for a correct binary of the target.
file_says() {
	case $1 in
	mips-unknown-linux-musl) echo 'ELF 32-bit MSB executable, MIPS' ;;
	mipsel-unknown-linux-musl) echo 'ELF 32-bit LSB executable, MIPS' ;;
	armv7-unknown-linux-musleabihf) echo 'ELF 32-bit LSB executable, ARM' ;;
	aarch64-unknown-linux-musl) echo 'ELF 64-bit LSB executable, ARM aarch64' ;;
	*) die "unknown target $1 (known: ${ALL_TARGETS[*]})" ;;
	esac
}

# Installs what is missing, quickly a no-op when everything is there.
ensure_debian_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	echo "cross: installing ${missing[*]}" >&2
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
}

ensure_zig() {
	local venv=$CACHE/venv-ziglang-$ZIGLANG_VERSION
	if ! [ -x "$venv/bin/python" ] ||
		! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
		echo "cross: installing ziglang==$ZIGLANG_VERSION into $venv" >&2
		rm -rf "$venv"
		# Debian's python (python3-venv), whatever python3 is first in PATH.
		/usr/bin/python3 -m venv "$venv"
		"$venv/bin/pip" install -q "ziglang==$ZIGLANG_VERSION"
	fi
	ZIG=$("$venv/bin/python" -c \
		'import ziglang,os;print(os.path.join(os.path.dirname(ziglang.__file__),"zig"))')
	export ZIG
}

# Everything build.sh and test-qemu.sh need, then the environment that makes
# plain `cargo` mean Debian's 1.96 with build-std.
setup_toolchain() {
	ensure_debian_packages rustc-web cargo-web rust-web-src qemu-user-static python3-venv
	ensure_zig
	# rustup's proxies usually come first in PATH: take Debian's explicitly.
	export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	unset RUSTUP_TOOLCHAIN RUSTFLAGS CARGO_BUILD_RUSTFLAGS
	# Unstable -Z flags on a stable compiler (the std source matches it exactly).
	export RUSTC_BOOTSTRAP=1
	export ZIG_GLOBAL_CACHE_DIR=$CACHE/zig ZIG_LOCAL_CACHE_DIR=$CACHE/zig
	local v
	v=$(/usr/bin/rustc --version)
	case $v in
	"rustc $RUST_WANT".*) ;;
	*) die "want Debian's rustc $RUST_WANT (rustc-web), found: $v" ;;
	esac
	[ -d /usr/lib/rustlib/src/rust/library/std ] || die "rust-web-src: no std source"
	PANIC=${NETMON_PANIC:-$DEFAULT_PANIC}
	# std built from source: `optimize_for_size` replaces std's default
	# features, which drops the backtrace symbolizer (panics abort anyway).
	ZFLAGS=('-Zbuild-std=std,panic_abort' -Zbuild-std-features=optimize_for_size)
	case $PANIC in
	abort) ;;
	immediate-abort)
		ZFLAGS+=(-Zpanic-immediate-abort --config 'profile.release.panic="immediate-abort"')
		;;
	*) die "NETMON_PANIC must be abort or immediate-abort, not $PANIC" ;;
	esac
	# Release-only rustflags, appended to each target's from .cargo/config.toml
	# (arrays merge). Not for cross/test-qemu.sh: its test harness unwinds.
	# Paths are relative to the package root (rustc's and the linker's working
	# directory) so that every checkout passes the same flags to std's build.
	local rf=(
		# Nothing unwinds in a release build: no unwind tables for Rust code.
		-Cforce-unwind-tables=no
		# ...nor for zig's musl, which has them: release.ld drops them.
		'-Clink-arg=-Wl,-T,cross/release.ld'
		# No RELRO segment: only a dynamic loader makes it read-only after
		# relocating, and a static musl binary has none (the kernel ignores
		# PT_GNU_RELRO), so it only cost a segment header and alignment.
		'-Clink-arg=-Wl,-z,norelro'
	)
	if [ "$PANIC" = immediate-abort ]; then
		# `{:?}` prints nothing and derived Debug impls are empty. netmon's
		# output never uses Debug (STYLE: ufmt, no `{:?}` outside tests); what
		# remains is std's, for panic messages that immediate-abort never
		# prints. NETMON_PANIC=abort keeps Debug for its messages.
		rf+=(-Zfmt-debug=none)
	fi
	local t f flags
	for t in "${ALL_TARGETS[@]}"; do
		flags=
		for f in "${rf[@]}"; do flags+="${flags:+, }\"$f\""; done
		ZFLAGS+=(--config "target.$t.rustflags=[$flags]")
	done
}

# A `key = "value"` of Cargo.toml's [package] section.
cargo_field() {
	sed -n '/^\[package\]/,/^\[/s/^'"$1"' *= *"\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1
}

# The ipk/apk version: Cargo's version, then OpenWrt's package release.
ipk_version() {
	echo "$(cargo_field version)-r1"
}

# Router builds abort on a panic without unwinding, formatting or printing
# anything (panic = "immediate-abort", set on cargo's command line because the
# profile value is unstable): no core::fmt, panic hook or libunwind in the
# binary, the largest structural choice in its size. Panics are bugs (no input may cause
# one); a crash shows as SIGILL/SIGTRAP, and NETMON_PANIC=abort builds the
# variant that prints the panic message and location, into a target dir of its
# own (cross/README.md: "Diagnosing a crash").
DEFAULT_PANIC=immediate-abort

# Where cross/build.sh leaves the binary for a target and panic strategy.
bin_path() { # PANIC TARGET
	if [ "$1" = "$DEFAULT_PANIC" ]; then
		echo "$ROOT/target/$2/release/netmon"
	else
		echo "$ROOT/target/panic-$1/$2/release/netmon"
	fi
}

check_targets() {
	local t
	for t in "$@"; do openwrt_arch "$t" >/dev/null; done
}
