#!/bin/bash
# Checks the OpenWrt init script and the sysupgrade hook by sourcing them the
# way OpenWrt does, under small stand-ins:
#   tests/initscript.sh [INIT_SCRIPT [SYSUPGRADE_HOOK]]
# (default openwrt/files/netmon.init and openwrt/files/netmon.sysupgrade;
# tests/package.sh passes the copies packed in the ipk).
#
# procd, ubus and /sbin/sysupgrade cannot run here (no OpenWrt, no Docker),
# so the stand-ins keep only what the checks rely on, as read in
# openwrt/openwrt:
# - package/base-files/files/etc/rc.common defines start, stop, restart,
#   boot and `shutdown() { stop; }` before it sources the init script; with
#   USE_PROCD it then redefines start (start_service between
#   procd_open_service and procd_close_service, which calls
#   service_triggers), stop (stop_service, then procd_kill) and reload
#   (reload_service when the script has one, else start). procd runs the
#   K scripts with `shutdown` at reboot.
# - package/system/procd/files/procd.sh: the procd_* functions build JSON for
#   `ubus call service set`; here each records its name and arguments.
# - package/base-files/files/sbin/sysupgrade sets the hook list
#   sysupgrade_init_conffiles, sources /lib/upgrade/*.sh, then calls
#   run_hooks "$CONFFILES" $sysupgrade_init_conffiles (lib/upgrade/common.sh)
#   before it writes the backup.
# The scripts run under sh (dash here; busybox ash on the router), with a
# stand-in netmon that records its argv, one [arg] per argument.
set -euo pipefail
cd "$(dirname "$0")/.."
init=$(realpath -m "${1:-openwrt/files/netmon.init}")
hook=$(realpath -m "${2:-openwrt/files/netmon.sysupgrade}")
[ -f "$init" ] || {
	echo "FAIL init script $init exists"
	exit 1
}

# shellcheck source=tests/checks.sh
. tests/checks.sh
same() { # DESCRIPTION WANT GOT: exact text, with a diff on failure
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		bad "$1"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/     /' || true
	fi
}

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export CALLS=$w/calls

cat >"$w/netmon" <<'EOF'
#!/bin/sh
{
	printf netmon
	printf ' [%s]' "$@"
	echo
} >>"$CALLS"
echo "netmon's stdout"
exit "${FAKE_EXIT:-0}"
EOF
chmod +x "$w/netmon"

# rc.sh INIT ACTION: runs ACTION as /etc/rc.common would, recording calls.
cat >"$w/rc.sh" <<'EOF'
rec() {
	{
		printf %s "$1"
		shift
		printf ' [%s]' "$@"
		echo
	} >>"$CALLS"
}
for f in procd_open_service procd_close_service procd_add_instance \
	procd_add_raw_trigger procd_add_config_trigger procd_add_interface_trigger \
	procd_add_mount_trigger procd_add_reload_trigger procd_add_reload_data_trigger \
	procd_add_reload_interface_trigger procd_add_action_mount_trigger \
	procd_add_reload_mount_trigger procd_add_restart_mount_trigger \
	procd_open_trigger procd_close_trigger procd_open_instance procd_close_instance \
	procd_open_validate procd_close_validate procd_add_jail procd_add_jail_mount \
	procd_add_jail_mount_rw procd_set_param procd_append_param procd_add_validation \
	procd_set_config_changed procd_kill procd_send_signal procd_lock; do
	eval "$f() { rec $f \"\$@\"; }"
done
procd_close_service() {
	service_triggers
	rec procd_close_service "$@"
}

initscript=/etc/init.d/netmon
action=$2
# rc.common, before the init script.
start() { return 0; }
stop() { return 0; }
reload() { restart; }
restart() {
	stop "$@"
	start "$@"
}
boot() { start "$@"; }
shutdown() { stop; }
start_service() { return 0; }
stop_service() { return 0; }
service_triggers() { return 0; }
. "$1"
echo "PROG=$PROG START=$START STOP=${STOP-} USE_PROCD=${USE_PROCD-}" >"$CALLS.vars"
PROG=$FAKE
# rc.common with USE_PROCD, after the init script.
[ -n "$USE_PROCD" ] && {
	start() {
		procd_open_service netmon "$initscript"
		start_service "$@"
		procd_close_service set
	}
	stop() {
		stop_service "$@"
		procd_kill netmon "$1"
	}
	reload() {
		if type reload_service >/dev/null 2>&1; then reload_service "$@"; else start; fi
	}
}
"$action"
EOF

rc() { # ACTION: the calls it made, one per line
	: >"$CALLS"
	FAKE=$w/netmon sh "$w/rc.sh" "$init" "$1" >/dev/null 2>"$w/stderr" || true
	cat "$CALLS"
}
netmon_calls() { rc "$1" | grep '^netmon' || true; }

# --- the script itself ----------------------------------------------------------
check "init script starts with #!/bin/sh /etc/rc.common" \
	test "$(head -n 1 "$init")" = '#!/bin/sh /etc/rc.common'
rc start >/dev/null
same "PROG is /usr/sbin/netmon, START=99 (after the firewall's 19), STOP set (a K link: shutdown runs at reboot), procd" \
	"PROG=/usr/sbin/netmon START=99 STOP=10 USE_PROCD=1" "$(cat "$CALLS.vars")"
check "shellcheck -s sh: init script" shellcheck -s sh "$init"

# --- triggers -------------------------------------------------------------------
triggers=$(rc service_triggers)
same "triggers: netmon's, wireless and network config, and every interface event (update and down)" \
	"procd_add_reload_trigger [netmon] [wireless] [network]
procd_add_raw_trigger [interface.*] [5000] [/etc/init.d/netmon] [reload]" "$triggers"
# procd service/trigger.c trigger_match: a type containing ".*" matches every
# event that starts with the part before it, and nothing after it counts.
procd_matches() { # EVENT TYPE
	case $2 in
	*.\**) [[ $1 == "${2%%.\**}"* ]] ;;
	*) [ "$1" = "$2" ] ;;
	esac
}
types=$(sed -n 's/^procd_add_\(raw\|interface\)_trigger \[\([^]]*\)\].*/\2/p' <<<"$triggers")
suffixed=$(grep '\.\*.' <<<"$types" || true)
check "no trigger type with text after .* (procd ignores it: 'interface.*.up' is 'interface.*')" \
	test -z "$suffixed"
for ev in interface.update interface.down; do
	hit=0
	while read -r t; do
		[ -n "$t" ] && procd_matches "$ev" "$t" && hit=1
	done <<<"$types"
	check "netifd's $ev (netifd ubus.c) reloads netmon" test $hit = 1
done
check "no trigger on /etc/config/firewall (fw4/fw3 reloads keep netmon's rules)" \
	test -z "$(grep '^procd_add_reload_trigger.*\[firewall\]' <<<"$triggers" || true)"
check "triggers run reload, never start/stop/restart (a stop would stick)" \
	test -z "$(grep '^procd_add' <<<"$triggers" | grep -v '\[reload\]$\|^procd_add_reload_trigger' || true)"

# --- actions ----------------------------------------------------------------------
same "shutdown (procd's K scripts at reboot) runs netmon --syslog shutdown, then drops the triggers" \
	"netmon [--syslog] [shutdown]
procd_kill [netmon]" "$(rc shutdown)"
check "shutdown never runs netmon stop (a stop sticks)" \
	test -z "$(rc shutdown | grep '^netmon.*\[stop\]' || true)"
same "start runs netmon --syslog start" "netmon [--syslog] [start]" "$(netmon_calls start)"
same "boot runs netmon --syslog start" "netmon [--syslog] [start]" "$(netmon_calls boot)"
same "reload (the triggers' command) runs netmon --syslog update (it must not end a stop)" \
	"netmon [--syslog] [update]" "$(netmon_calls reload)"
same "stop runs netmon --syslog stop" "netmon [--syslog] [stop]" "$(netmon_calls stop)"
same "restart runs netmon --syslog stop, then start" "netmon [--syslog] [stop]
netmon [--syslog] [start]" "$(netmon_calls restart)"
check "start registers the triggers with the service (procd_close_service calls service_triggers)" \
	grep -q '^procd_add_raw_trigger \[interface\.\*\]' <(rc start)

# --- sysupgrade hook ----------------------------------------------------------------
# sysupgrade.sh HOOK MODE: sources HOOK as /sbin/sysupgrade's `include
# /lib/upgrade` does, then (MODE run) runs the hooks as do_save_conffiles /
# create_backup_archive does. stdout is kept: with `sysupgrade -b -` it is
# the archive.
cat >"$w/sysupgrade.sh" <<'EOF'
CONFFILES=$W/sysupgrade.conffiles
sysupgrade_init_conffiles="add_uci_conffiles"
add_uci_conffiles() {
	echo "add_uci_conffiles [$1]" >>"$CALLS"
	: >"$1"
}
run_hooks() {
	local arg="$1"
	shift
	for func in "$@"; do
		eval "$func $arg"
	done
}
. "$1"
[ "$2" = twice ] && . "$1"
echo "netmon_prog=$netmon_prog" >"$CALLS.vars"
echo "hooks [$sysupgrade_init_conffiles]" >>"$CALLS"
[ "$2" = missing ] && netmon_prog=$W/absent || netmon_prog=$FAKE
[ "$2" = source ] && exit 0
run_hooks "$CONFFILES" $sysupgrade_init_conffiles
echo "run_hooks returned $?" >>"$CALLS"
EOF
sysupgrade() { # MODE [VAR=VALUE...]: the calls made
	local mode=$1
	shift
	: >"$CALLS"
	env "$@" W="$w" FAKE="$w/netmon" sh "$w/sysupgrade.sh" "$hook" "$mode" \
		>"$w/stdout" 2>"$w/stderr" || echo "sysupgrade.sh exited $?" >>"$CALLS"
	cat "$CALLS"
}
if [ ! -f "$hook" ]; then
	bad "sysupgrade hook $hook exists"
else
	same "sourcing the hook runs nothing and puts netmon's function first in the hook list" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]" "$(sysupgrade source)"
	same "the hook calls /usr/sbin/netmon" "netmon_prog=/usr/sbin/netmon" "$(cat "$CALLS.vars")"
	same "sysupgrade with kept settings / -b: netmon --syslog sync, before the keep list is made" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]
netmon [--syslog] [sync]
add_uci_conffiles [$w/sysupgrade.conffiles]
run_hooks returned 0" "$(sysupgrade run)"
	check "nothing on sysupgrade's stdout (the archive with -b -)" test ! -s "$w/stdout"
	same "netmon sync failing: the keep list is still made, the upgrade goes on" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]
netmon [--syslog] [sync]
add_uci_conffiles [$w/sysupgrade.conffiles]
run_hooks returned 0" "$(sysupgrade run FAKE_EXIT=1)"
	check "netmon sync failing: one line on stderr says so" grep -q '^netmon: ' "$w/stderr"
	same "sysupgrade -l (CONF_BACKUP_LIST=1) only lists: no sync" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]
add_uci_conffiles [$w/sysupgrade.conffiles]
run_hooks returned 0" "$(sysupgrade run CONF_BACKUP_LIST=1)"
	same "sourced twice: netmon's function listed once" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]" "$(sysupgrade twice | head -n 1)"
	same "netmon binary gone: nothing run, the keep list made" \
		"hooks [netmon_sysupgrade_sync add_uci_conffiles]
add_uci_conffiles [$w/sysupgrade.conffiles]
run_hooks returned 0" "$(sysupgrade missing)"
	check "shellcheck -s sh: sysupgrade hook" shellcheck -s sh "$hook"
fi

if [ $fails -ne 0 ]; then
	echo "tests/initscript.sh: $fails check(s) failed"
	exit 1
fi
echo "tests/initscript.sh: all checks passed"
