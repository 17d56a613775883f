#!/bin/bash
# Smoke-runs a built router binary under qemu-user-static:
#   cross/smoke.sh TARGET   (after cross/build.sh TARGET)
# --help, a usage error, and `--dry-run` start/report with the shipped
# /etc/config/netmon and with the blog's meter (prints the firewall commands,
# runs none, writes no state): the real binary parses, validates and renders
# on the target's byte order and word size.
# The shipped file defines no meter, so it counts the default WAN meters on
# the interface of this machine's default route: the machine needs one.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: cross/smoke.sh TARGET"
t=$1
check_targets "$t"
qemu=$(qemu_for "$t")
bin=$(bin_path "${NETMON_PANIC:-$DEFAULT_PANIC}" "$t")
[ -x "$bin" ] || die "$bin missing: run cross/build.sh $t"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
printf "config meter 'proxy'\n\toption hook 'input'\n\toption src '192.168.1.10'\n" >"$w/blog.cfg"

fails=0
expect() { # DESCRIPTION WANT_STATUS WANT_TEXT ARGS... (text: in stdout+stderr)
	local what=$1 status=$2 text=$3 got=0
	shift 3
	"$qemu" "$bin" "$@" >"$w/out" 2>&1 || got=$?
	if [ "$got" -eq "$status" ] && grep -qF -- "$text" "$w/out"; then
		echo "ok   $t: $what"
	else
		echo "FAIL $t: $what (exit $got, want $status and '$text'):"
		sed 's/^/     /' "$w/out" | head -n 20
		fails=$((fails + 1))
	fi
}
state=(--state-dir "$w/state" --persist-dir "$w/persist")
expect "--help" 0 'Usage: netmon' --help
expect "unknown command is a usage error" 2 'netmon: ' bogus
expect "shipped config, nft, dry-run start" 0 'counter name "m_wan_up"' \
	--config "$ROOT/openwrt/files/netmon.config" "${state[@]}" --backend nft --dry-run start
expect "shipped config, iptables, dry-run start" 0 'iptables -w -t filter' \
	--config "$ROOT/openwrt/files/netmon.config" "${state[@]}" --backend iptables --dry-run start
expect "blog meter, dry-run report" 0 'ip saddr 192.168.1.10/32 counter name "m_proxy"' \
	--config "$w/blog.cfg" "${state[@]}" --backend nft --dry-run report
if [ -e "$w/state" ] || [ -e "$w/persist" ]; then
	echo "FAIL $t: --dry-run wrote state"
	fails=$((fails + 1))
fi
[ $fails -eq 0 ] || die "$fails smoke check(s) failed for $bin"
