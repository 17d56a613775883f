#!/usr/bin/env bash
# Datapath benchmark for per-device accounting (a measurement, not a test).
#
# Forwarding rate (packets per second) of a router with per-device
# accounting on, divided by the same router with it off, at N known
# devices; and, side by side, the one-rule-per-host way at the same N.
# Done when on/off >= 0.9 at N = 1000 and N = 5000.
#
#   host (-h) 192.168.1.10 ── lan1 ┐
#                                  ├ br-lan 192.168.1.1/24   router (-r), ip_forward=1,
#   idle (-i) 192.168.1.20 ── lan2 ┘                        masquerade out wan
#   sink (-w) 10.99.0.2 ───────────── wan 10.99.0.1/24 (default route)
#
# Traffic: 60-byte UDP frames (64 with the FCS a wire would add) made by
# trafgen (netsniff-ng): upload host -> sink (the ingress chain on lan1
# works), download sink -> host (the egress chain on lan1 works). The
# receiving end drops every frame in its netdev ingress hook, so nothing
# answers; the rate is the receiver's rx_packets delta over a timed window
# (after a warm-up) divided by the window. veth delivers a frame in the
# sender's softirq on the sender's CPU, so generator, bridge, routing,
# NAT, the rules under test and the sink all run on one CPU and the
# generator can go only as fast as that path: the rate is the path's cost.
#
# Modes, installed in the router namespace before each window:
#   off    no netmon tables at all (with --meters: the meters table only)
#   on     table netdev netmon: the ruleset netmon installs for devices
#          (below), its sets pre-filled with N random unicast MACs plus
#          the test host's MAC (the known devices); with --meters also
#          the meters table
#   rules  the one-rule-per-host way: table inet perhost, chain forward
#          with `ip saddr X counter` and `ip daddr X counter` per host
#          (2N rules, no verdict, so every forwarded packet runs all of
#          them; the test host is one of the N)
# Per N, the modes run in rounds, the order reversed every round
# (off on rules, rules on off, ...) so drift cancels; the ratio is the
# median over rounds of on/off (and rules/off) within the same round.
#
# Then: the wall time of `nft -a list table netdev netmon` with 1000
# elements in each set (median of 20), to compare with `netmon update`.
#
# Needs root, iproute2, nft, trafgen (Debian: netsniff-ng), timeout. All
# traffic stays in the namespaces made here (deleted on exit).
#
# Usage: benches/datapath.sh [--netmon PATH] [--meters] [--sizes "1000 5000"]
#                            [--reps 9] [--duration 1] [--no-download] [--no-rt]
#   --netmon PATH  install "on" with `PATH --config FILE start` (config
#                  devices 'devices' on br-lan, max_devices 8192) instead of
#                  devices_table below, then pre-fill its sets the same way
#   --no-rt        run trafgen as an ordinary process (by default it runs
#                  SCHED_FIFO priority 1, so compiles elsewhere on the
#                  machine take the other CPU instead of preempting the
#                  measured path; RT throttling still leaves them 5% of it)
#   --meters       add the WAN meters (table inet netmon, forward chain,
#                  oifname/iifname "wan" counter) to every mode
set -euo pipefail

die() { printf 'datapath: %s\n' "$*" >&2; exit 1; }

netmon=
meters=0
sizes="1000 5000"
reps=9
duration=1
download=1
rt=(chrt -f 1)
while [ $# -gt 0 ]; do
	case $1 in
	--netmon) netmon=${2:?--netmon needs a path}; shift 2 ;;
	--meters) meters=1; shift ;;
	--sizes) sizes=${2:?}; shift 2 ;;
	--reps) reps=${2:?}; shift 2 ;;
	--duration) duration=${2:?}; shift 2 ;;
	--no-download) download=0; shift ;;
	--no-rt) rt=(); shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
case $reps in '' | *[!0-9]* | 0) die "--reps wants a positive number" ;; esac
case $duration in '' | *[!0-9]* | 0) die "--duration wants whole seconds" ;; esac
for n in $sizes; do
	case $n in '' | *[!0-9]*) die "--sizes wants numbers" ;; esac
	if [ "$n" -lt 1 ] || [ "$n" -gt 8191 ]; then
		die "N must be 1..8191 (set size 8192, plus the host)"
	fi
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nft)"
for t in ip nft trafgen timeout awk chrt; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install netsniff-ng for trafgen)"
done
if [ -n "$netmon" ]; then
	[ -x "$netmon" ] || die "no netmon binary at $netmon"
	netmon=$(cd "$(dirname "$netmon")" && pwd)/$(basename "$netmon")
fi

SET_SIZE=8192
ROUTER_MAC=02:00:00:00:01:01 # br-lan
HOST_MAC=02:00:00:00:10:10   # host eth0 (on lan1)
IDLE_MAC=02:00:00:00:20:20   # idle eth0 (on lan2)
WAN_MAC=02:00:00:00:99:01    # router wan
SINK_MAC=02:00:00:00:99:02   # sink eth0
HOST_IP=192.168.1.10
SINK_IP=10.99.0.2
WARMUP=0.5

p="nmb-dp-$$"
r=$p-r h=$p-h i=$p-i w=$p-w
work=$(mktemp -d /tmp/netmon-datapath.XXXXXX)
gen=
cleanup() {
	if [ -n "$gen" ]; then kill -TERM "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true; fi
	for ns in "$r" "$h" "$i" "$w"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------------------------------------------------------------------------
# Topology (the addresses and MACs of tests/common's Lab), quiet: no IPv6,
# static neighbours and bridge entries, so only the generated frames move.
for ns in "$r" "$h" "$i" "$w"; do
	ip netns add "$ns"
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$r" link add br-lan address "$ROUTER_MAC" type bridge
ip -n "$r" link add lan1 address 02:00:00:00:10:01 type veth peer name eth0 address "$HOST_MAC" netns "$h"
ip -n "$r" link add lan2 address 02:00:00:00:20:01 type veth peer name eth0 address "$IDLE_MAC" netns "$i"
ip -n "$r" link add wan address "$WAN_MAC" type veth peer name eth0 address "$SINK_MAC" netns "$w"
ip -n "$r" link set lan1 master br-lan
ip -n "$r" link set lan2 master br-lan
for dev in br-lan lan1 lan2 wan; do ip -n "$r" link set "$dev" up; done
for ns in "$h" "$i" "$w"; do ip -n "$ns" link set eth0 up; done
in_ns "$r" sysctl -qw net.ipv4.ip_forward=1
ip -n "$r" addr add 192.168.1.1/24 dev br-lan
ip -n "$r" addr add 10.99.0.1/24 dev wan
ip -n "$h" addr add "$HOST_IP/24" dev eth0
ip -n "$i" addr add 192.168.1.20/24 dev eth0
ip -n "$w" addr add "$SINK_IP/24" dev eth0
ip -n "$r" route add default via "$SINK_IP" dev wan
ip -n "$h" route add default via 192.168.1.1
ip -n "$i" route add default via 192.168.1.1
ip -n "$w" route add 192.168.1.0/24 via 10.99.0.1
ip -n "$r" neigh replace "$HOST_IP" lladdr "$HOST_MAC" dev br-lan nud permanent
ip -n "$r" neigh replace 192.168.1.20 lladdr "$IDLE_MAC" dev br-lan nud permanent
ip -n "$r" neigh replace "$SINK_IP" lladdr "$SINK_MAC" dev wan nud permanent
ip -n "$h" neigh replace 192.168.1.1 lladdr "$ROUTER_MAC" dev eth0 nud permanent
ip -n "$w" neigh replace 10.99.0.1 lladdr "$WAN_MAC" dev eth0 nud permanent
bridge -n "$r" fdb replace "$HOST_MAC" dev lan1 master static
bridge -n "$r" fdb replace "$IDLE_MAC" dev lan2 master static

# The router's NAT (as OpenWrt's fw4: masquerade out of the WAN zone).
in_ns "$r" nft -f - <<'EOF'
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
EOF
# The receivers drop everything at the earliest hook: no answers, no ICMP.
for ns in "$h" "$w"; do
	in_ns "$ns" nft -f - <<'EOF'
table netdev sink {
	chain ingress {
		type filter hook ingress device "eth0" priority 0; policy drop;
	}
}
EOF
done

# trafgen packet configs: one UDP flow per direction, 60-byte frames
# (14 Ethernet + 20 IPv4 + 8 UDP + 18 payload).
cat >"$work/up.trafgen" <<EOF
{ eth(da=$ROUTER_MAC, sa=$HOST_MAC), ipv4(saddr=$HOST_IP, daddr=$SINK_IP, ttl=64), udp(sp=40000, dp=5201), fill(0, 18) }
EOF
cat >"$work/down.trafgen" <<EOF
{ eth(da=$WAN_MAC, sa=$SINK_MAC), ipv4(saddr=$SINK_IP, daddr=$HOST_IP, ttl=64), udp(sp=5201, dp=40001), fill(0, 18) }
EOF

# ---------------------------------------------------------------------------
# Rulesets.

# N random unicast MACs (locally administered), one a line; fixed seed.
random_macs() {
	awk -v n="$1" 'BEGIN {
		srand(4242)
		while (c < n) {
			m = sprintf("%02x", int(rand() * 64) * 4 + 2) # unicast, local
			for (k = 0; k < 5; k++) m = m sprintf(":%02x", int(rand() * 256))
			if (m in seen) continue
			seen[m] = 1; print m; c++
		}
	}'
}

# `add element` lines for both sets: the N MACs and the host's, 500 a line.
fill_elements() {
	local n=$1
	{ random_macs "$n"; echo "$HOST_MAC"; } | awk '
		{ mac[NR] = $1 }
		END {
			for (s = 0; s < 2; s++) {
				set = s ? "down" : "up"
				for (k = 1; k <= NR; k += 500) {
					line = "add element netdev netmon " set " { "
					for (j = k; j < k + 500 && j <= NR; j++) line = line (j > k ? ", " : "") mac[j]
					print line " }"
				}
			}
		}'
}

# What netmon installs for `config devices` on br-lan (comment tags left out).
devices_table() {
	cat <<EOF
table netdev netmon {
	set up { type ether_addr; size $SET_SIZE; flags dynamic; counter; }
	set down { type ether_addr; size $SET_SIZE; flags dynamic; counter; }
	counter up_other {}
	counter down_other {}
	chain ingress {
		type filter hook ingress devices = { lan1, lan2 } priority -500; policy accept;
		ether daddr $ROUTER_MAC meta protocol { ip, ip6 } update @up { ether saddr } accept
		ether daddr $ROUTER_MAC meta protocol { ip, ip6 } counter name "up_other"
	}
	chain egress {
		type filter hook egress devices = { lan1, lan2 } priority -500; policy accept;
		ether saddr $ROUTER_MAC ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 meta protocol { ip, ip6 } update @down { ether daddr } accept
		ether saddr $ROUTER_MAC ether daddr & 01:00:00:00:00:00 == 00:00:00:00:00:00 meta protocol { ip, ip6 } counter name "down_other"
	}
}
EOF
}

# The WAN meters netmon installs (--meters).
meters_table() {
	cat <<'EOF'
table inet netmon {
	chain forward {
		type filter hook forward priority -1; policy accept;
		oifname "wan" counter
		iifname "wan" counter
	}
}
EOF
}

# One rule per host and direction; the test host is the last of the N.
perhost_table() {
	local n=$1
	echo 'table inet perhost {'
	echo '	chain forward {'
	echo '		type filter hook forward priority 0; policy accept;'
	awk -v n="$n" -v host="$HOST_IP" 'BEGIN {
		for (k = 0; k < n - 1; k++) {
			a = sprintf("192.168.%d.%d", 2 + int(k / 250), 1 + k % 250)
			printf "\t\tip saddr %s counter\n\t\tip daddr %s counter\n", a, a
		}
		printf "\t\tip saddr %s counter\n\t\tip daddr %s counter\n", host, host
	}'
	echo '	}'
	echo '}'
}

netmon_config() {
	local devices=$1
	if [ "$devices" = 1 ]; then
		printf '%s\n' "config devices 'devices'" "	option bridge 'br-lan'" "	option max_devices '$SET_SIZE'"
	fi
	if [ "$meters" = 1 ]; then
		printf '%s\n' \
			"config meter 'wan_down'" "	list hook 'forward'" "	option iif 'wan'" \
			"config meter 'wan_up'" "	list hook 'forward'" "	option oif 'wan'"
	fi
}

netmon_run() {
	local conf=$1
	shift
	in_ns "$r" "$netmon" --config "$conf" --state-dir "$work/state" \
		--persist-dir "$work/persist" --backend nft "$@" >/dev/null
}

netmon_started=
# Removes whatever the previous mode installed (NAT stays).
clear_modes() {
	if [ -n "$netmon_started" ]; then
		netmon_run "$netmon_started" stop || die "netmon stop failed"
		netmon_started=
		rm -rf "$work/state" "$work/persist"
	fi
	local t
	for t in "netdev netmon" "inet netmon" "inet perhost"; do
		# shellcheck disable=SC2086 # family and name are two words
		in_ns "$r" nft delete table $t 2>/dev/null || true
	done
}

# install MODE N: the router's ruleset for one measurement window.
install() {
	local mode=$1 n=$2 files=()
	clear_modes
	if [ -n "$netmon" ] && { [ "$mode" = on ] || [ "$meters" = 1 ]; }; then
		local conf=$work/netmon-$mode.conf
		netmon_config "$([ "$mode" = on ] && echo 1 || echo 0)" >"$conf"
		netmon_run "$conf" start || die "netmon start failed"
		netmon_started=$conf
		# Its sets, pre-filled the same way.
		[ "$mode" = on ] && files+=("$work/elements-$n.nft")
	else
		[ "$meters" = 1 ] && files+=("$work/meters.nft")
		[ "$mode" = on ] && files+=("$work/devices.nft" "$work/elements-$n.nft")
	fi
	[ "$mode" = rules ] && files+=("$work/perhost-$n.nft")
	[ ${#files[@]} -eq 0 ] || cat "${files[@]}" | in_ns "$r" nft -f - || die "installing $mode failed"
}

# ---------------------------------------------------------------------------
# Measurement.

rx_packets() { # NS: rx_packets of its eth0
	# stderr: iproute2 maps every named netns to show link-netns, and
	# complains when another one disappears meanwhile (harmless here).
	ip -n "$1" -s link show dev eth0 2>/dev/null | awk 'f { print $2; exit } /RX:/ { f = 1 }' ||
		die "cannot read rx_packets in $1"
}
now_ns() { local t=$EPOCHREALTIME; echo "${t//[.,]/}000"; }

# pps DIR: forwarded packets per second, upload (host -> sink) or download.
pps() {
	local dir=$1 from to
	if [ "$dir" = up ]; then from=$h to=$w; else from=$w to=$h; fi
	# timeout signals its whole process group: trafgen's parent passes
	# neither SIGINT nor SIGTERM on to its worker process.
	timeout -s INT $((duration + 5)) ip netns exec "$from" "${rt[@]}" \
		trafgen --no-sock-mem -Q -C -P 1 -i "$work/$dir.trafgen" -o eth0 \
		>"$work/trafgen.log" 2>&1 &
	gen=$!
	sleep "$WARMUP"
	local a t0 b t1
	a=$(rx_packets "$to")
	t0=$(now_ns)
	sleep "$duration"
	b=$(rx_packets "$to")
	t1=$(now_ns)
	kill -TERM "$gen" 2>/dev/null || true
	wait "$gen" 2>/dev/null || true
	gen=
	[ "$b" -gt "$a" ] || die "no packets reached the $dir receiver: $(cat "$work/trafgen.log")"
	echo $(((b - a) * 1000000000 / (t1 - t0)))
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a / b }'; }

# The counted proof that "on" is in the path: the host's element moved.
assert_counted() {
	local set=$1 line
	line=$(in_ns "$r" nft list set netdev netmon "$set" | tr ',{}' '\n' | grep -F "$HOST_MAC" || true)
	case $line in
	*"counter packets 0 "* | "") die "the host's element in @$set did not count: '$line'" ;;
	esac
}

meters_table >"$work/meters.nft"
devices_table >"$work/devices.nft"
for n in $sizes 1000; do
	[ -e "$work/elements-$n.nft" ] && continue
	fill_elements "$n" >"$work/elements-$n.nft"
	perhost_table "$n" >"$work/perhost-$n.nft"
done

dirs=up
[ "$download" = 1 ] && dirs="up down"
started=$SECONDS
printf 'datapath: %s reps x %ss windows (+%ss warm-up), 60-byte UDP frames, trafgen %s\n' \
	"$reps" "$duration" "$WARMUP" "$(trafgen -v | awk 'NR == 1 { print $2 }')"
on_how="nft -f (the ruleset netmon installs)"
[ -n "$netmon" ] && on_how="netmon binary $netmon"
printf 'kernel %s, %s CPUs; on = %s\n' "$(uname -r)" "$(nproc)" "$on_how"
printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$meters" = 1 ] && echo "every mode has the WAN meters (table inet netmon): off = meters only"

declare -A res
for n in $sizes; do
	for ((k = 0; k < reps; k++)); do
		order="off on rules"
		[ $((k % 2)) -eq 1 ] && order="rules on off"
		for mode in $order; do
			install "$mode" "$n"
			for d in $dirs; do
				res[$n.$d.$mode.$k]=$(pps "$d")
			done
			if [ "$mode" = on ] && [ "$k" -eq 0 ]; then
				assert_counted up
				[ "$download" = 1 ] && assert_counted down
			fi
		done
		printf '  N=%s round %s/%s done (%ss)\n' "$n" "$((k + 1))" "$reps" "$((SECONDS - started))" >&2
	done
done
clear_modes

echo
printf '%-5s %-4s %9s %9s %7s %13s %9s %7s\n' N dir "pps off" "pps on" on/off "(min-max)" "pps rules" rules/off
for n in $sizes; do
	for d in $dirs; do
		col() { for ((k = 0; k < reps; k++)); do echo "${res[$n.$d.$1.$k]}"; done | median; }
		ratios() { for ((k = 0; k < reps; k++)); do ratio "${res[$n.$d.$1.$k]}" "${res[$n.$d.off.$k]}"; done; }
		spread=$(ratios on | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "(%.2f-%.2f)", lo, hi }')
		printf '%-5s %-4s %9.0f %9.0f %6.3fx %13s %9.0f %6.3fx\n' "$n" "$d" \
			"$(col off)" "$(col on)" "$(ratios on | median)" "$spread" "$(col rules)" "$(ratios rules | median)"
	done
done
echo "(pps: median of $reps windows; ratios: median of the per-round ratios, min-max over rounds)"

# ---------------------------------------------------------------------------
# Listing the table with 1000 elements in each set, as `netmon update` will.
install on 1000
# Microseconds one run of "$@" in the router namespace takes.
took() {
	local t0=$EPOCHREALTIME
	in_ns "$r" "$@" >/dev/null
	local t1=$EPOCHREALTIME
	echo $((${t1/./} - ${t0/./}))
}
# With --netmon, `netmon update` (both listings, the fold of 1000 devices,
# the state write) alternates with the listing alone, so load drifts cancel.
list_us=() update_us=()
for _ in $(seq 20); do
	list_us+=("$(took nft -a list table netdev netmon)")
	if [ -n "$netmon" ]; then
		update_us+=("$(took "$netmon" --config "$netmon_started" --state-dir "$work/state" \
			--persist-dir "$work/persist" --backend nft update)")
	fi
done
ms() { printf '%s\n' "$@" | median | awk '{ printf "%.1f", $1 / 1000 }'; }
list_ms=$(ms "${list_us[@]}")
clear_modes
echo
printf 'nft -a list table netdev netmon, 1000 elements in each set: %s ms (median of 20)\n' "$list_ms"
if [ -n "$netmon" ]; then
	update_ms=$(ms "${update_us[@]}")
	printf 'netmon update with those 1000 devices: %s ms (median of 20), %s x the listing\n' \
		"$update_ms" "$(awk -v u="$update_ms" -v l="$list_ms" 'BEGIN { printf "%.2f", u / l }')"
fi
printf 'run time: %ss; load average at end: %s\n' "$((SECONDS - started))" "$(cut -d' ' -f1-3 /proc/loadavg)"
