#!/usr/bin/env bash
# CPU cost of `netmon top` (a measurement, not a test).
#
# A router namespace with per-device accounting on br-lan, 1000 devices in
# each kernel set (plus the one host that moves), runs
# `netmon top --interval 1 >/dev/null` for DURATION seconds while the host
# pings the WAN side; the figure is the CPU time netmon and the children it
# reaped (nft, ip) used in that window, from /proc/PID/stat fields 14-17
# (utime, stime, cutime, cstime; the kernel's work for netmon's netlink
# dumps is its stime), as a share of one core. Goal: < 2 %.
#
#   host (-h) 192.168.1.10 ── lan1 ─ br-lan 192.168.1.1/24   router (-r)
#   sink (-w) 10.99.0.2 ───────────── wan 10.99.0.1/24 (default route)
#
# Needs root, iproute2, nft, awk. Everything stays in the namespaces made
# here (deleted on exit).
#
# Usage: benches/top_cpu.sh [--netmon PATH] [--devices 1000] [--duration 30]
#   --netmon PATH  the binary (default target/release/netmon; build it with
#                  cargo build --release)
set -euo pipefail

die() { printf 'top_cpu: %s\n' "$*" >&2; exit 1; }

netmon=target/release/netmon
devices=1000
duration=30
while [ $# -gt 0 ]; do
	case $1 in
	--netmon) netmon=${2:?--netmon needs a path}; shift 2 ;;
	--devices) devices=${2:?}; shift 2 ;;
	--duration) duration=${2:?}; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
case $devices in '' | *[!0-9]*) die "--devices wants a number" ;; esac
case $duration in '' | *[!0-9]* | 0) die "--duration wants whole seconds" ;; esac
[ "$devices" -le 8000 ] || die "--devices: at most 8000 (the sets hold 8192)"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nft)"
for t in ip nft awk; do command -v "$t" >/dev/null || die "$t not found"; done
[ -x "$netmon" ] || die "no netmon binary at $netmon (cargo build --release)"
netmon=$(cd "$(dirname "$netmon")" && pwd)/$(basename "$netmon")

p="nmb-top-$$"
r=$p-r h=$p-h w=$p-w
work=$(mktemp -d /tmp/netmon-top-cpu.XXXXXX)
top_pid='' ping_pid=''
cleanup() {
	for pid in $top_pid $ping_pid; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	# Anything else left in the namespaces made here (they outlive `ip netns del`).
	for ns in "$r" "$h" "$w"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
	for ns in "$r" "$h" "$w"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Topology (addresses and MACs of tests/common's Lab).
for ns in "$r" "$h" "$w"; do
	ip netns add "$ns"
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$r" link add br-lan address 02:00:00:00:01:01 type bridge
ip -n "$r" link add lan1 type veth peer name eth0 address 02:00:00:00:10:10 netns "$h"
ip -n "$r" link add wan address 02:00:00:00:99:01 type veth peer name eth0 address 02:00:00:00:99:02 netns "$w"
ip -n "$r" link set lan1 master br-lan
for dev in br-lan lan1 wan; do ip -n "$r" link set "$dev" up; done
for ns in "$h" "$w"; do ip -n "$ns" link set eth0 up; done
in_ns "$r" sysctl -qw net.ipv4.ip_forward=1
ip -n "$r" addr add 192.168.1.1/24 dev br-lan
ip -n "$r" addr add 10.99.0.1/24 dev wan
ip -n "$h" addr add 192.168.1.10/24 dev eth0
ip -n "$w" addr add 10.99.0.2/24 dev eth0
ip -n "$r" route add default via 10.99.0.2 dev wan
ip -n "$h" route add default via 192.168.1.1
ip -n "$w" route add 192.168.1.0/24 via 10.99.0.1

# netmon as shipped (default WAN meters on the link) with devices on br-lan.
printf "config devices 'devices'\n\toption bridge 'br-lan'\n\toption max_devices '8192'\n" >"$work/config"
nm=("$netmon" --config "$work/config" --state-dir "$work/state" --persist-dir "$work/persist" --backend nft)
in_ns "$r" "${nm[@]}" start >/dev/null

# N random unicast MACs (locally administered, fixed seed) in both sets,
# 500 a command.
awk -v n="$devices" 'BEGIN {
	srand(4242)
	while (c < n) {
		m = sprintf("%02x", int(rand() * 64) * 4 + 2)
		for (k = 0; k < 5; k++) m = m sprintf(":%02x", int(rand() * 256))
		if (m in seen) continue
		seen[m] = 1; mac[++c] = m
	}
	for (s = 0; s < 2; s++) {
		set = s ? "down" : "up"
		for (k = 1; k <= n; k += 500) {
			line = "add element netdev netmon " set " { "
			for (j = k; j < k + 500 && j <= n; j++) line = line (j > k ? ", " : "") mac[j]
			print line " }"
		}
	}
}' >"$work/elements.nft"
in_ns "$r" nft -f "$work/elements.nft"
# One device that moves: the host, 5 pings a second to the WAN side.
ip netns exec "$h" ping -q -i 0.2 -w $((duration + 30)) 10.99.0.2 >/dev/null 2>&1 &
ping_pid=$!
sleep 1
listed=$(in_ns "$r" nft list set netdev netmon up | grep -o 'counter packets' | wc -l)
[ "$listed" -ge "$devices" ] || die "the up set holds $listed elements, not $devices"

# `ip netns exec` execs netmon (no function or subshell around it): $! is
# netmon itself.
ip netns exec "$r" "${nm[@]}" top --interval 1 >/dev/null 2>"$work/top.err" &
top_pid=$!
sleep 3 # past the start-up and the first readings
[ "$(cat "/proc/$top_pid/comm" 2>/dev/null)" = netmon ] || die "netmon top is not running: $(cat "$work/top.err")"

# utime stime cutime cstime (after the command name, which has no blanks here).
ticks() { awk '{ print $14 + $15, $16 + $17 }' "/proc/$top_pid/stat"; }
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
read -r own0 kids0 < <(ticks)
t0=$(now_ms)
sleep "$duration"
read -r own1 kids1 < <(ticks)
t1=$(now_ms)
hz=$(getconf CLK_TCK)
awk -v o=$((own1 - own0)) -v k=$((kids1 - kids0)) -v ms=$((t1 - t0)) -v hz="$hz" \
	-v n="$devices" -v d="$duration" 'BEGIN {
	cpu = (o + k) / hz
	printf "netmon top --interval 1, %d devices in each set, %d s: CPU %.2f s = %.2f %% of one core\n",
		n, d, cpu, 100 * cpu * 1000 / ms
	printf "  netmon itself %.2f %%, its children (nft, ip) %.2f %%; per reading %.1f ms\n",
		100 * o / hz * 1000 / ms, 100 * k / hz * 1000 / ms, cpu * 1000 / (ms / 1000)
}'
