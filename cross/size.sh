#!/bin/bash
# Prints the stripped size of each built router binary, per panic strategy:
#   cross/size.sh [TARGET...]   (default: all four)
# A strategy's column is filled when `NETMON_PANIC=<it> cross/build.sh` ran.
# The line (not a test): mips stripped <= 320 KiB with every feature.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || set -- "${ALL_TARGETS[@]}"
check_targets "$@"

cell() { # FILE
	[ -f "$1" ] || {
		echo -
		return
	}
	case $(file -b "$1") in
	*"not stripped"*) die "$1 is not stripped" ;;
	esac
	local b
	b=$(stat -c %s "$1")
	echo "$b B = $(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1024 }') KiB"
}

row='%-31s %-25s %-22s %s\n'
# shellcheck disable=SC2059 # the format is ours
printf "$row" target arch panic=abort panic=immediate-abort
for t in "$@"; do
	# shellcheck disable=SC2059
	printf "$row" "$t" "$(openwrt_arch "$t")" "$(cell "$(bin_path abort "$t")")" \
		"$(cell "$(bin_path immediate-abort "$t")")"
done
