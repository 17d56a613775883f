#!/bin/bash
# Checks luci-app-netmon without LuCI (which cannot run here: no rpcd, ubus
# or uhttpd on the build machine):
#   tests/luci.sh
# - every JSON file (menu, ACL) parses; every view passes `node --check`;
# - the ACL grants exactly the netmon argv the views pass to fs.exec, both
#   ways; its read part has no block/unblock, no glob, no write; the menu
#   and the view files agree (tests/luci/check.py acl);
# - the views run in headless Chromium against a stand-in for the LuCI
#   modules they use (tests/luci/fake-luci.js, with LuCI's E()/dom.append
#   semantics), fs.exec answering with the JSON the real netmon binary
#   (target/debug) printed in a network-namespace lab: a LAN bridge with two
#   devices, one of them named `<img src=x onerror=alert(1)>` by a static
#   DHCP host entry, blocked, and a quota. The rendered tables must hold the
#   data, the hostile name must be text, sorting and Block/Unblock must run
#   the right argv (tests/luci/check.py dom).
# The lab needs root, nft and ip netns: without them the browser part prints
# SKIPPED (and fails when CI is set).
set -euo pipefail
cd "$(dirname "$0")/.."

A=luci-app-netmon
VIEWS=$A/htdocs/luci-static/resources/view/netmon
ACL=$A/root/usr/share/rpcd/acl.d/luci-app-netmon.json
MENU=$A/root/usr/share/luci/menu.d/luci-app-netmon.json
CHROMIUM=${CHROMIUM:-chromium}

# shellcheck source=tests/checks.sh
. tests/checks.sh
# Runs tests/luci/check.py, counting its FAIL lines.
pycheck() {
	local out rc=0
	out=$(python3 tests/luci/check.py "$@") || rc=$?
	echo "$out"
	fails=$((fails + $(grep -c '^FAIL' <<<"$out" || true)))
	[ "$rc" -eq 0 ] || grep -q '^FAIL' <<<"$out" || bad "check.py $1 exited with $rc"
}
for tool in python3 node; do
	command -v "$tool" >/dev/null || {
		echo "tests/luci.sh needs $tool" >&2
		exit 1
	}
done

# --- static ---------------------------------------------------------------------
while IFS= read -r f; do
	check "JSON parses: $f" python3 -m json.tool "$f" >/dev/null
done < <(find "$A" -name '*.json' | sort)
for f in "$VIEWS"/*.js; do
	check "node --check $f" node --check "$f"
	check "$f: 'use strict' and 'require view' first, returns view.extend" \
		eval "head -n 2 '$f' | tr -d '\n' | grep -qx \"'use strict';'require view';\" && grep -q '^return view.extend({' '$f'"
done
pycheck acl "$VIEWS" "$ACL" "$MENU"

# --- the views in a browser, on real netmon output ------------------------------
skip() {
	if [ -n "${CI:-}" ]; then
		bad "browser checks cannot run: $1"
	else
		echo "SKIPPED browser checks: $1"
	fi
}

w=$(mktemp -d /dev/shm/netmon-luci.XXXXXX 2>/dev/null || mktemp -d)
R=nml-r-$$ H=nml-h-$$ G=nml-g-$$
cleanup() {
	local n
	for n in "$R" "$H" "$G"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$w"
}
trap cleanup EXIT

NM=$PWD/target/debug/netmon
HOSTILE='<img src=x onerror=alert(1)>'
LAPTOP=02:00:00:00:00:10 GUEST=02:00:00:00:00:11

# The lab: router R with br-lan (ports lan1, lan2 to hosts H and G) and a
# WAN veth; netmon counts both devices and three meters. /etc is overlaid
# inside R's mount namespace (ip netns exec makes one) so the hostile static
# host entry never touches the machine's /etc.
lab() {
	ip netns add "$R" && ip netns add "$H" && ip netns add "$G"
	ip -n "$R" link set lo up
	ip -n "$R" link add br-lan type bridge
	ip -n "$R" link add wan type veth peer name wanp
	ip -n "$R" addr add 192.168.1.1/24 dev br-lan
	ip -n "$R" addr add 10.99.0.1/24 dev wan
	local i=1 ns mac
	for ns in "$H" "$G"; do
		mac=$([ "$ns" = "$H" ] && echo $LAPTOP || echo $GUEST)
		ip -n "$R" link add "lan$i" type veth peer name eth0 netns "$ns"
		ip -n "$R" link set "lan$i" master br-lan
		ip -n "$R" link set "lan$i" up
		ip -n "$ns" link set eth0 address "$mac"
		ip -n "$ns" addr add "192.168.1.1$i/24" dev eth0
		ip -n "$ns" link set eth0 up
		i=$((i + 1))
	done
	for l in br-lan wan wanp; do ip -n "$R" link set "$l" up; done
	cat >"$w/config" <<'CONFIG'
config devices 'devices'
	option bridge 'br-lan'

config meter 'wan_down'
	option hook 'input forward'
	option iif 'wan'

config meter 'wan_up'
	option hook 'output forward'
	option oif 'wan'

config meter 'lan_in'
	option hook 'input'
	option iif 'br-lan'

config quota 'kids'
	list device 'laptop'
	option period 'month'
	option limit '10G'
	option direction 'total'
	option action 'block mail'
CONFIG
	mkdir -p "$w/etc/config" "$w/etc.work" "$w/state" "$w/persist"
	printf "config host\n\toption name 'laptop'\n\toption mac '%s'\n\nconfig host\n\toption name '%s'\n\toption mac '%s'\n" \
		"$LAPTOP" "$HOSTILE" "$GUEST" >"$w/etc/config/dhcp"
}
nm() {
	# shellcheck disable=SC2016 # $0/$@ of the inner sh
	ip netns exec "$R" sh -c 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/etc,workdir=$0/etc.work" /etc && exec "$@"' \
		"$w" "$NM" --config "$w/config" --state-dir "$w/state" --persist-dir "$w/persist" "$@"
}
data() {
	local d=$w/data
	mkdir -p "$d"
	nm start >/dev/null
	ip netns exec "$H" ping -c 3 -i 0.2 -s 1000 192.168.1.1 >/dev/null
	ip netns exec "$G" ping -c 2 -i 0.2 -s 300 192.168.1.1 >/dev/null
	nm update
	# A second update over a second later: the devices have rates.
	sleep 1.1
	ip netns exec "$H" ping -c 2 -i 0.2 -s 1000 192.168.1.1 >/dev/null
	nm update
	nm block "$GUEST" --for 2h >/dev/null
	nm report --peek --format json --days 14 >"$d/report.json"
	nm devices --format json >"$d/devices.json"
	nm blocked --format json >"$d/blocked.json"
	nm quota --format json >"$d/quota.json"
	# The argv each answer is for, as the views pass it.
	cat >"$d/argv.json" <<'ARGV'
{"report --peek --format json --days 14": "report.json", "devices --format json": "devices.json",
 "blocked --format json": "blocked.json", "quota --format json": "quota.json"}
ARGV
	printf '%s' "$HOSTILE" >"$d/hostile"
}

if [ "$(id -u)" -ne 0 ]; then
	skip "not root (the lab needs network namespaces)"
elif ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
	skip "nft or ip missing"
elif ! command -v "$CHROMIUM" >/dev/null; then
	skip "$CHROMIUM missing"
elif ! cargo build --quiet --locked; then
	bad "cargo build"
elif ! (lab && data) >"$w/lab.log" 2>&1; then
	bad "lab: netmon on a LAN bridge in network namespaces"
	sed 's/^/     /' "$w/lab.log"
else
	ok "lab: real netmon JSON from a LAN bridge with two devices (one hostile name, blocked) and a quota"
	mkdir "$w/page"
	cp tests/luci/page.html tests/luci/fake-luci.js tests/luci/run-views.js "$w/page/"
	pycheck wrap "$VIEWS" "$w/data" "$w/page" "$ACL"
	# --virtual-time-budget: the page's promises and timers run to the end
	# before the DOM is dumped.
	if "$CHROMIUM" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 \
		--dump-dom "file://$w/page/page.html" >"$w/dom.html" 2>"$w/chromium.log"; then
		ok "chromium --headless --dump-dom"
		pycheck dom "$w/dom.html" "$w/data" src
	else
		bad "chromium --headless --dump-dom"
		tail -n 20 "$w/chromium.log" | sed 's/^/     /'
	fi
fi

if [ $fails -ne 0 ]; then
	echo "tests/luci.sh: $fails check(s) failed"
	exit 1
fi
echo "tests/luci.sh: all checks passed"
