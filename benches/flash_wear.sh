#!/usr/bin/env bash
# Flash wear benchmark (issue 4, done-when 7; issue 11, done-when 6; a
# measurement with a budget, not a test).
#
# What a day of cron updates every 5 minutes writes to persist_dir (flash)
# with the default configuration (no config file; sync_interval 12h), in two
# routers:
#   1. WAN meters only: a WAN interface with the default route, no LAN
#      bridge, so the embedded default counts no devices;
#   2. the same plus a LAN bridge `br-lan` with $DEVICES (default 100) LAN
#      devices, every one of them sending and receiving at every update:
#      the embedded default counts devices whenever br-lan exists.
# Budget (issue 11): on a day without a reboot, at most 2 writes and
# 128 KiB to persist_dir, with 100 devices active every day of a month.
# The script exits 1 when a figure is over it.
#
# The clock cannot be faked from outside, and 288 updates 5 minutes apart
# take a day. So the 288 updates run back to back: all of them fall inside
# one sync_interval, and the run measures (a) that an update between syncs
# writes nothing to flash, and (b) the bytes and files one sync writes.
# The day is then: 86400 / sync_interval syncs (each at the first update
# after the interval passed) + 1 at `netmon stop` (shutdown) when the router
# reboots that day.
#
# A month of day buckets cannot be made in a run either: the devices'
# state holds one day bucket and one billing-month bucket each. Its size
# after a month is extrapolated from the measured size, explicitly (see
# `month_bytes`), and the budget is checked against that.
#
# Every write system call of netmon and its children is traced with
# `strace -f -y` (paths of file descriptors), so the byte count is what
# reached the file system, temp files included. The devices' traffic is
# sent between the traced runs and is not traced.
#
# Needs root, nft, strace, iproute2, python3. Everything runs in network
# namespaces made here (deleted on exit); state goes to a temp dir, never
# /etc/netmon.
#
# Usage: benches/flash_wear.sh [path/to/netmon]   (default target/debug/netmon)
#        UPDATES=N DEVICES=N benches/flash_wear.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
netmon=${1:-$here/target/debug/netmon}
updates=${UPDATES:-288}
devices=${DEVICES:-100}
sync_interval=43200 # the default: 12h
budget_writes=2
budget_bytes=$((128 * 1024))

die() {
	printf 'flash_wear: %s\n' "$*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, nft)"
[ -x "$netmon" ] || die "no netmon binary at $netmon (cargo build first)"
for t in ip nft strace python3; do
	command -v "$t" >/dev/null || die "$t not found"
done
# The distribution's python first: a pyenv shim takes a second to start.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
case $devices in
'' | *[!0-9]*) die "DEVICES must be a number from 1 to 200" ;;
esac
if [ "$devices" -lt 1 ] || [ "$devices" -gt 200 ]; then
	die "DEVICES must be from 1 to 200"
fi

ns="nm-durable-bench-$$"
lan="$ns-lan"
work=$(mktemp -d /tmp/netmon-flash-wear.XXXXXX)
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	ip netns del "$lan" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The router's MAC on the LAN, and device i's MAC and address (i = 1..200).
router_mac=02:00:00:00:01:01
dev_mac() { printf '02:00:00:01:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }
dev_ip() { printf '192.168.1.%d' $((10 + $1)); }

# A router-like namespace: a WAN interface with the default route, so the
# embedded default config finds its WAN (it reads /proc/net/route, which is
# per network namespace).
make_router() {
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add wan0 type veth peer name wan0-peer
	ip -n "$ns" link set wan0-peer up
	ip -n "$ns" link set wan0 up
	ip -n "$ns" addr add 10.99.0.1/24 dev wan0
	ip -n "$ns" route add default via 10.99.0.2 dev wan0
}

# The LAN: br-lan with one port, lan1, whose far end (namespace $lan) holds
# one macvlan per device, each with its own MAC and address. Neighbours are
# static both ways (no ARP); the bridge learns the MACs from the traffic.
make_lan() {
	local n=$1 i
	ip -n "$ns" link add br-lan address "$router_mac" type bridge
	ip -n "$ns" addr add 192.168.1.1/24 dev br-lan
	ip netns add "$lan"
	ip -n "$lan" link set lo up
	ip -n "$ns" link add lan1 type veth peer name eth0 netns "$lan"
	ip -n "$ns" link set lan1 master br-lan
	ip -n "$ns" link set lan1 up
	ip -n "$ns" link set br-lan up
	ip -n "$lan" link set eth0 up
	for i in $(seq "$n"); do
		printf 'link add mv%d link eth0 address %s type macvlan mode bridge\n' "$i" "$(dev_mac "$i")"
		printf 'addr add %s/24 dev mv%d\n' "$(dev_ip "$i")" "$i"
		printf 'link set mv%d up\n' "$i"
		printf 'neigh replace 192.168.1.1 lladdr %s dev mv%d nud permanent\n' "$router_mac" "$i"
	done | ip -n "$lan" -batch -
	for i in $(seq "$n"); do
		printf 'neigh replace %s lladdr %s dev br-lan nud permanent\n' "$(dev_ip "$i")" "$(dev_mac "$i")"
	done | ip -n "$ns" -batch -
}

# One update's worth of traffic: each device sends the router a datagram
# (upload) and the router sends each device one (download). Nothing
# listens on port 9: the ICMP errors add a little traffic both ways.
# shellcheck disable=SC2016 # the $-free Python below is not shell
send_py='
import socket, sys
n, size, who = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(1, n + 1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ip = "192.168.1.%d" % (10 + i)
    if who == "lan":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"mv%d" % i)
        s.bind((ip, 0))
        s.sendto(b"u" * size, ("192.168.1.1", 9))
    else:
        s.sendto(b"d" * size, (ip, 9))
    s.close()
'
lan_traffic() {
	ip netns exec "$lan" "$python" -c "$send_py" "$1" 300 lan
	ip netns exec "$ns" "$python" -c "$send_py" "$1" 1400 router
}

traced() {
	local out=$1
	shift
	# --seccomp-bpf: only the traced calls stop the process (nft writes its
	# listing a line at a time: without it, a run with devices takes 4 times longer).
	strace -f --seccomp-bpf -qq -y -A -o "$out" -e trace=openat,write,pwrite64,rename,renameat,renameat2 "$@"
}

# Bytes written to files under directory $2, per trace $1.
bytes_in() {
	awk -v dir="$2/" '
		/ (p?write|pwrite64)\(/ && index($0, "<" dir) {
			n = $NF; if (n ~ /^[0-9]+$/) sum += n
		}
		END { print sum + 0 }' "$1"
}
# Files replaced in $2 (renames whose target is $2/state), per trace $1.
renames_in() {
	grep -E 'rename(at2?)?\(' "$1" | grep -F -c "\"$2/state\"" || true
}

# The size after a month of the state file measured with $2 devices at
# $1 bytes, each device holding one day and one billing-month bucket of a
# few hundred KB. Per device, at most:
#   30 more day buckets x 11 bytes (key step 1 byte, down and up under
#     32 GiB a day: LEB128 varints of 5 bytes, see src/state/codec.rs),
#   1 more billing-month bucket x 13 bytes (a month spans two billing
#     periods; down and up under 4 TiB: 6 bytes each),
#   100 bytes as its 16 counter varints and the 4 of its measured buckets
#     grow to a month's values (each to at most 6 bytes, from at least 1),
#   48 bytes of what the bench's devices lack: a name of up to 32 bytes
#     (from the leases) and an IPv6 address.
per_device_month=$((30 * 11 + 13 + 100 + 32 + 16))
month_bytes() { echo $(($1 + $2 * per_device_month)); }

# Runs start, $updates updates (each after one round of LAN traffic when
# there are devices) and stop, all traced; prints the figures; checks that
# updates between syncs write nothing to flash and that a sync writes one
# copy. $1 = devices (0: no LAN bridge). Sets `size` and `per_day_*`.
measure() {
	local n=$1 cfg=() ram=$work/ram-$1 flash=$work/flash-$1 trace=$work/trace-$1
	make_router
	[ "$n" -eq 0 ] || make_lan "$n"
	if [ -e /etc/config/netmon ]; then
		# A real config on this machine would not be the default: use an
		# explicit equivalent of the embedded one instead.
		printf '%s\n' \
			"config meter 'wan_down'" "	list hook 'input'" "	list hook 'forward'" "	option iif 'wan0'" \
			"config meter 'wan_up'" "	list hook 'output'" "	list hook 'forward'" "	option oif 'wan0'" \
			>"$work/netmon-$n.conf"
		[ "$n" -eq 0 ] || printf '%s\n' "config devices 'devices'" "	option bridge 'br-lan'" >>"$work/netmon-$n.conf"
		cfg=(--config "$work/netmon-$n.conf")
	fi
	local nm=(ip netns exec "$ns" "$netmon" "${cfg[@]}" --state-dir "$ram" --persist-dir "$flash" --backend nft)

	# Phase 1: start and the first sync (the persistent copy does not exist yet).
	traced "$trace.start" "${nm[@]}" start >/dev/null
	[ -s "$flash/state" ] || die "start did not write the persistent copy"
	local start_size
	start_size=$(stat -c %s "$flash/state")

	# Phase 2: the updates, traced one by one. Nothing may reach flash between syncs.
	local t0 i
	t0=$(date +%s)
	: >"$trace"
	for i in $(seq "$updates"); do
		[ "$n" -eq 0 ] || lan_traffic "$n"
		traced "$trace" "${nm[@]}" update >/dev/null
	done
	local secs=$(($(date +%s) - t0))
	local counted=0
	if [ "$n" -gt 0 ]; then
		counted=$("${nm[@]}" devices --format json | grep -o '"mac":"' | wc -l)
		[ "$counted" -eq "$n" ] || die "netmon counts $counted devices, not $n"
	fi

	# Phase 3: stop (at shutdown) syncs once more.
	traced "$trace.stop" "${nm[@]}" stop >/dev/null
	size=$(stat -c %s "$flash/state")

	local upd_writes upd_bytes start_writes start_bytes stop_writes stop_bytes ram_total leftover
	upd_writes=$(renames_in "$trace" "$flash")
	upd_bytes=$(bytes_in "$trace" "$flash")
	start_writes=$(renames_in "$trace.start" "$flash")
	start_bytes=$(bytes_in "$trace.start" "$flash")
	stop_writes=$(renames_in "$trace.stop" "$flash")
	stop_bytes=$(bytes_in "$trace.stop" "$flash")
	ram_total=$(bytes_in "$trace" "$ram")
	leftover=$(find "$flash" -mindepth 1 | wc -l)

	per_day_writes=$((86400 / sync_interval))
	per_day_bytes=$((per_day_writes * size))

	local cfg_str=${cfg[*]:-embedded default}
	printf '== %s LAN devices ==\n' "$n"
	printf 'config:       %s, sync_interval %ss\n' "$cfg_str" "$sync_interval"
	[ "$n" -eq 0 ] || printf 'devices:      %s counted, each sending and receiving at every update\n' "$counted"
	printf 'state size:   %s bytes\n' "$size"
	printf 'measured:     start: %s writes, %s bytes; %s updates (%s s): %s writes, %s bytes to persist_dir (%s bytes to state_dir); stop: %s writes, %s bytes\n' \
		"$start_writes" "$start_bytes" "$updates" "$secs" "$upd_writes" "$upd_bytes" "$ram_total" "$stop_writes" "$stop_bytes"
	printf 'files in persist_dir after stop: %s\n' "$leftover"
	printf 'persist_dir:  %s writes, %s bytes per simulated day (%s writes, %s bytes with a reboot that day)\n' \
		"$per_day_writes" "$per_day_bytes" "$((per_day_writes + 1))" "$(((per_day_writes + 1) * size))"
	if [ "$upd_writes" -ne 0 ] || [ "$upd_bytes" -ne 0 ]; then
		die "updates between syncs wrote to flash"
	fi
	if [ "$start_writes" -ne 1 ] || [ "$start_bytes" -ne "$start_size" ]; then
		die "start did not write exactly one copy"
	fi
	if [ "$stop_writes" -ne 1 ] || [ "$stop_bytes" -ne "$size" ]; then
		die "stop did not write exactly one copy"
	fi
	ip netns del "$ns"
	[ "$n" -eq 0 ] || ip netns del "$lan"
}

printf 'netmon:       %s\n' "$netmon"
measure 0
measure "$devices"
month=$(month_bytes "$size" "$devices")
month_day=$((per_day_writes * month))
printf 'a month:      %s + %s devices x %s bytes (30 day buckets x 11, 1 billing month x 13, 100 for counters grown, 48 for a name and an IPv6 address) = %s bytes a state\n' \
	"$size" "$devices" "$per_device_month" "$month"
printf 'persist_dir:  %s writes, %s bytes per day with %s devices active every day of a month (budget: %s writes, %s bytes)\n' \
	"$per_day_writes" "$month_day" "$devices" "$budget_writes" "$budget_bytes"
[ "$per_day_writes" -le "$budget_writes" ] || die "over budget: $per_day_writes writes a day"
[ "$month_day" -le "$budget_bytes" ] || die "over budget: $month_day bytes a day"
