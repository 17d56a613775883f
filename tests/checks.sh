# shellcheck shell=bash
# The shell test scripts' checks (sourced): each prints `ok   WHAT` or
# `FAIL WHAT` and counts the failures in $fails, which the script turns
# into its exit status at the end.

fails=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
fails_check() { # DESCRIPTION COMMAND...: the command must fail
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then bad "$what"; else ok "$what"; fi
}
