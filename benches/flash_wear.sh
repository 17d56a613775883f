#!/usr/bin/env bash
# Flash wear benchmark (issue 4, done-when 7; a measurement, not a test).
#
# What a day of cron updates every 5 minutes writes to persist_dir (flash)
# with the default configuration: the embedded WAN meters (no config file;
# wan_down/wan_up on the default-route interface) and sync_interval 12h.
#
# The clock cannot be faked from outside, and 288 updates 5 minutes apart
# take a day. So the 288 updates run back to back: all of them fall inside
# one sync_interval, and the run measures (a) that an update between syncs
# writes nothing to flash, and (b) the bytes and files one sync writes.
# The day is then: 86400 / sync_interval syncs (each at the first update
# after the interval passed) + 1 at `netmon stop` (shutdown) when the router
# reboots that day.
#
# Every write system call of netmon and its children is traced with
# `strace -f -y` (paths of file descriptors), so the byte count is what
# reached the file system, temp files included.
#
# Needs root, nft, strace, iproute2. Everything runs in a network namespace
# made here (deleted on exit); state goes to a temp dir, never /etc/netmon.
#
# Usage: benches/flash_wear.sh [path/to/netmon]   (default target/debug/netmon)
set -euo pipefail

# Loop mode (run under strace by the main mode): N updates back to back.
if [ "${1:-}" = --loop ]; then
	n=$2 ns=$3 netmon=$4 ram=$5 flash=$6
	shift 6
	for _ in $(seq "$n"); do
		ip netns exec "$ns" "$netmon" "$@" --state-dir "$ram" --persist-dir "$flash" --backend nft update >/dev/null
	done
	exit 0
fi

here=$(cd "$(dirname "$0")/.." && pwd)
netmon=${1:-$here/target/debug/netmon}
updates=${UPDATES:-288}
sync_interval=43200 # the default: 12h

die() { printf 'flash_wear: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, nft)"
[ -x "$netmon" ] || die "no netmon binary at $netmon (cargo build first)"
for t in ip nft strace; do
	command -v "$t" >/dev/null || die "$t not found"
done

ns="nm-durable-bench-$$"
work=$(mktemp -d /tmp/netmon-flash-wear.XXXXXX)
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A router-like namespace: a WAN interface with the default route, so the
# embedded default config finds its WAN (it reads /proc/net/route, which is
# per network namespace).
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add wan0 type veth peer name wan0-peer
ip -n "$ns" link set wan0-peer up
ip -n "$ns" link set wan0 up
ip -n "$ns" addr add 10.99.0.1/24 dev wan0
ip -n "$ns" route add default via 10.99.0.2 dev wan0

cfg=()
if [ -e /etc/config/netmon ]; then
	# A real config on this machine would not be the default: use an
	# explicit equivalent of the embedded one instead.
	printf '%s\n' \
		"config meter 'wan_down'" "	list hook 'input'" "	list hook 'forward'" "	option iif 'wan0'" \
		"config meter 'wan_up'" "	list hook 'output'" "	list hook 'forward'" "	option oif 'wan0'" \
		>"$work/netmon.conf"
	cfg=(--config "$work/netmon.conf")
fi

ram=$work/ram
flash=$work/flash
trace=$work/trace
traced() {
	local out=$1
	shift
	strace -f -qq -y -o "$out" -e trace=openat,write,pwrite64,rename,renameat,renameat2 "$@"
}

# Phase 1: start and the first sync (the persistent copy does not exist yet).
traced "$trace.start" ip netns exec "$ns" "$netmon" "${cfg[@]}" --state-dir "$ram" \
	--persist-dir "$flash" --backend nft start >/dev/null
[ -s "$flash/state" ] || die "start did not write the persistent copy"
size=$(stat -c %s "$flash/state")

# Phase 2: the updates, traced (this script again, in its loop mode).
# Nothing may reach flash between syncs.
traced "$trace" "$0" --loop "$updates" "$ns" "$netmon" "$ram" "$flash" "${cfg[@]}"

# Phase 3: stop (at shutdown) syncs once more.
traced "$trace.stop" ip netns exec "$ns" "$netmon" "${cfg[@]}" --state-dir "$ram" \
	--persist-dir "$flash" --backend nft stop >/dev/null

# Bytes written to files under $flash, and files replaced there (renames
# whose target is in $flash).
bytes_in() {
	awk -v dir="$flash/" '
		/ (p?write|pwrite64)\(/ && index($0, "<" dir) {
			n = $NF; if (n ~ /^[0-9]+$/) sum += n
		}
		END { print sum + 0 }' "$1"
}
renames_in() {
	grep -E 'rename(at2?)?\(' "$1" | grep -F -c "\"$flash/state\"" || true
}
ram_bytes() {
	awk -v dir="$ram/" '
		/ write\(/ && index($0, "<" dir) { n = $NF; if (n ~ /^[0-9]+$/) sum += n }
		END { print sum + 0 }' "$1"
}

upd_writes=$(renames_in "$trace")
upd_bytes=$(bytes_in "$trace")
start_writes=$(renames_in "$trace.start")
start_bytes=$(bytes_in "$trace.start")
stop_writes=$(renames_in "$trace.stop")
stop_bytes=$(bytes_in "$trace.stop")
ram_total=$(ram_bytes "$trace")
leftover=$(find "$flash" -mindepth 1 | wc -l)

per_day_writes=$((86400 / sync_interval))
per_day_bytes=$((per_day_writes * size))
with_stop_writes=$((per_day_writes + 1))
with_stop_bytes=$((with_stop_writes * size))

printf 'netmon:       %s\n' "$netmon"
cfg_str=${cfg[*]:-embedded default (WAN meters on wan0)}
printf 'config:       %s, sync_interval %ss\n' "$cfg_str" "$sync_interval"
printf 'state size:   %s bytes\n' "$size"
printf 'measured:     start: %s writes, %s bytes; %s updates: %s writes, %s bytes to persist_dir (%s bytes to state_dir); stop: %s writes, %s bytes\n' \
	"$start_writes" "$start_bytes" "$updates" "$upd_writes" "$upd_bytes" "$ram_total" "$stop_writes" "$stop_bytes"
printf 'files in persist_dir after stop: %s\n' "$leftover"
printf 'persist_dir: %s writes, %s bytes per simulated day (%s writes, %s bytes with a reboot that day)\n' \
	"$per_day_writes" "$per_day_bytes" "$with_stop_writes" "$with_stop_bytes"
if [ "$upd_writes" -ne 0 ] || [ "$upd_bytes" -ne 0 ]; then
	die "updates between syncs wrote to flash"
fi
if [ "$start_writes" -ne 1 ] || [ "$start_bytes" -ne "$size" ]; then
	die "start did not write exactly one copy"
fi
if [ "$stop_writes" -ne 1 ] || [ "$stop_bytes" -ne "$size" ]; then
	die "stop did not write exactly one copy"
fi
