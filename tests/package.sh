#!/bin/bash
# Builds netmon for a router target, packs its ipk and checks the package as
# opkg and an OpenWrt image build would see it:
#   tests/package.sh [--no-build] [TARGET]   (default mips-unknown-linux-musl)
# --no-build: check the binary already in target/TARGET/release.
#
# Checks: outer format (gzipped tar of exactly ./debian-binary,
# ./data.tar.gz, ./control.tar.gz; not Debian's ar), debian-binary, control
# fields, Installed-Size, conffiles, the exact file list with modes and owner,
# the binary's ELF type, the sysupgrade keep list, shellcheck on every script
# as packed, the init script and sysupgrade hook as packed
# (tests/initscript.sh), the feed Makefile installing the same files, the
# package scripts against a temporary root (IPKG_INSTROOT), byte-identical
# repacking. And luci-app-netmon's ipk (arch all): format, control, its files
# at LuCI's paths with the repository's bytes, installed as opkg lays it out
# beside netmon, its feed Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/../cross/lib.sh
. cross/lib.sh

build=1
if [ "${1:-}" = --no-build ]; then
	build=0
	shift
fi
t=${1:-mips-unknown-linux-musl}
check_targets "$t"
for tool in file shellcheck tar gzip cmp; do
	command -v "$tool" >/dev/null || die "tests/package.sh needs $tool"
done

# shellcheck source=tests/checks.sh
. tests/checks.sh

[ $build -eq 0 ] || cross/build.sh "$t"
cross/package.sh "$t"
arch=$(openwrt_arch "$t")
version=$(ipk_version)
ipk=dist/netmon_${version}_$arch.ipk
[ -f "$ipk" ] || die "$ipk was not written"

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

# --- outer format -----------------------------------------------------------
check "ipk is gzip (1f 8b), not an ar archive" \
	test "$(head -c 2 "$ipk" | od -An -tx1 | tr -d ' ')" = 1f8b
check "ipk gzip stream is intact" gzip -t "$ipk"
tar -tzf "$ipk" >"$w/members"
printf './debian-binary\n./data.tar.gz\n./control.tar.gz\n' >"$w/want-members"
check "exactly ./debian-binary ./data.tar.gz ./control.tar.gz, in ipkg-build's order" \
	cmp -s "$w/members" "$w/want-members"
mkdir "$w/outer" "$w/control" "$w/data"
tar -C "$w/outer" -xzf "$ipk"
printf '2.0\n' >"$w/want-db"
check "debian-binary is \"2.0\\n\"" cmp -s "$w/outer/debian-binary" "$w/want-db"
tar -C "$w/control" -xzf "$w/outer/control.tar.gz"
tar -C "$w/data" -xzf "$w/outer/data.tar.gz"

# --- control ----------------------------------------------------------------
field() { sed -n "s/^$1: //p" "$w/control/control"; }
for f in Package Version Depends Source License Section Maintainer Architecture \
	Installed-Size Description; do
	check "control has $f" test -n "$(field "$f")"
done
check "Package is netmon" test "$(field Package)" = netmon
check "Version is $version (Cargo.toml + release)" test "$(field Version)" = "$version"
check "Architecture is $arch for $t" test "$(field Architecture)" = "$arch"
check "Installed-Size is the uncompressed data size (as ipkg-build)" \
	test "$(field Installed-Size)" = "$(gzip -dc "$w/outer/data.tar.gz" | wc -c)"
check "Description has continuation lines" grep -q '^ [^ ]' "$w/control/control"
printf '/etc/config/netmon\n' >"$w/want-conffiles"
check "conffiles lists exactly /etc/config/netmon" cmp -s "$w/control/conffiles" "$w/want-conffiles"
tar -tvzf "$w/outer/control.tar.gz" | awk '{print $1, $2, $6}' >"$w/control-list"
cat >"$w/want-control-list" <<'EOF'
drwxr-xr-x 0/0 ./
-rw-r--r-- 0/0 ./conffiles
-rw-r--r-- 0/0 ./control
-rwxr-xr-x 0/0 ./postinst
-rwxr-xr-x 0/0 ./postinst-pkg
-rwxr-xr-x 0/0 ./prerm
-rwxr-xr-x 0/0 ./prerm-pkg
EOF
check "control.tar.gz: files, modes, owner 0:0" cmp -s "$w/control-list" "$w/want-control-list"

# --- data -------------------------------------------------------------------
tar -tvzf "$w/outer/data.tar.gz" | awk '{print $1, $2, $6}' >"$w/data-list"
cat >"$w/want-data-list" <<'EOF'
drwxr-xr-x 0/0 ./
drwxr-xr-x 0/0 ./etc/
drwxr-xr-x 0/0 ./etc/config/
-rw------- 0/0 ./etc/config/netmon
drwxr-xr-x 0/0 ./etc/init.d/
-rwxr-xr-x 0/0 ./etc/init.d/netmon
drwxr-xr-x 0/0 ./lib/
drwxr-xr-x 0/0 ./lib/upgrade/
drwxr-xr-x 0/0 ./lib/upgrade/keep.d/
-rw-r--r-- 0/0 ./lib/upgrade/keep.d/netmon
-rw-r--r-- 0/0 ./lib/upgrade/netmon.sh
drwxr-xr-x 0/0 ./usr/
drwxr-xr-x 0/0 ./usr/libexec/
-rwxr-xr-x 0/0 ./usr/libexec/netmon-crontab
drwxr-xr-x 0/0 ./usr/sbin/
-rwxr-xr-x 0/0 ./usr/sbin/netmon
EOF
if cmp -s "$w/data-list" "$w/want-data-list"; then
	ok "data.tar.gz: files, modes (0755 binary/init, 0600 conffile, 0644 sysupgrade files), owner 0:0"
else
	bad "data.tar.gz: files, modes, owner"
	diff "$w/want-data-list" "$w/data-list" || true
fi
info=$(file -b "$w/data/usr/sbin/netmon")
check "binary is $(file_says "$t"), statically linked ($info)" \
	grep -q "^$(file_says "$t").*statically linked" <<<"$info"
check "binary is the one built for $t" cmp -s "$w/data/usr/sbin/netmon" "target/$t/release/netmon"
init_is_procd() {
	local f=$w/data/etc/init.d/netmon
	[ "$(head -n 1 "$f")" = '#!/bin/sh /etc/rc.common' ] && grep -qx 'USE_PROCD=1' "$f" &&
		[ "$(sed -n 's/^START=\([0-9]*\).*/\1/p' "$f")" -gt 19 ]
}
check "init script is procd style (rc.common, USE_PROCD=1, START after the firewall's 19)" \
	init_is_procd
printf '/etc/netmon/\n' >"$w/want-keep"
check "sysupgrade keeps persist_dir: /lib/upgrade/keep.d/netmon is exactly /etc/netmon/" \
	cmp -s "$w/data/lib/upgrade/keep.d/netmon" "$w/want-keep"
check "shellcheck: init script, crontab helper, sysupgrade hook, package scripts (as packed)" \
	shellcheck -s sh "$w/data/etc/init.d/netmon" "$w/data/usr/libexec/netmon-crontab" \
	"$w/data/lib/upgrade/netmon.sh" \
	"$w/control/postinst" "$w/control/prerm" "$w/control/postinst-pkg" "$w/control/prerm-pkg"
if bash tests/initscript.sh "$w/data/etc/init.d/netmon" "$w/data/lib/upgrade/netmon.sh" \
	>"$w/initscript.out"; then
	ok "tests/initscript.sh: init script and sysupgrade hook (as packed)"
else
	bad "tests/initscript.sh: init script and sysupgrade hook (as packed)"
	grep '^FAIL\|^     ' "$w/initscript.out" || true
fi

# --- the feed recipe agrees -----------------------------------------------------
check "openwrt/Makefile PKG_VERSION-rPKG_RELEASE is $version" \
	test "$(sed -n 's/^PKG_VERSION:=//p' openwrt/Makefile)-r$(sed -n 's/^PKG_RELEASE:=//p' openwrt/Makefile)" = "$version"
# Commands (comments dropped) of a script, and of a Makefile `define` block.
commands() { grep -v '^#' "$1"; }
make_block() {
	sed -n "/^define Package\/netmon\/$1\$/,/^endef/p" openwrt/Makefile |
		sed '1d;$d' | grep -v '^#' | sed 's/\$\$/$/g'
}
for s in postinst prerm; do
	check "openwrt/Makefile Package/netmon/$s runs what the ipk's $s-pkg runs" \
		test "$(make_block "$s")" = "$(commands "openwrt/control/$s-pkg")"
done
# Package/netmon/install: the files the ipk holds, with its modes, and for
# files from openwrt/files/ the same bytes.
make_files() {
	# shellcheck disable=SC2016 # Make's $(...), not the shell's
	make_block install | sed -n 's/^\t$(INSTALL_\(BIN\|CONF\|DATA\)) \([^ ]*\) $(1)\(\/[^ ]*\)$/\1 \2 \3/p' |
		while read -r how src dest; do
			case $how in BIN) mode=-rwxr-xr-x ;; CONF) mode=-rw------- ;; DATA) mode=-rw-r--r-- ;; esac
			echo "$mode 0/0 .$dest"
			case $src in ./files/*)
				cmp -s "openwrt/${src#./}" "$w/data$dest" || echo "differs: $src $dest"
				;;
			esac
		done | sort
}
if [ "$(make_files)" = "$(grep -v '^d' "$w/data-list" | sort)" ]; then
	ok "openwrt/Makefile Package/netmon/install: the ipk's files, modes and contents"
else
	bad "openwrt/Makefile Package/netmon/install: the ipk's files, modes and contents"
	diff <(grep -v '^d' "$w/data-list" | sort) <(make_files) | sed 's/^/     /' || true
fi

# --- package scripts against a temporary root --------------------------------
# Lay the package out as opkg does (data unpacked, control files as
# usr/lib/opkg/info/netmon.*) and give the root a stand-in for OpenWrt's
# /lib/functions.sh whose default_postinst/default_prerm run the package's own
# part (`.postinst-pkg`/`.prerm-pkg`, found from $0 as OpenWrt finds it);
# enabling and starting init scripts is OpenWrt's business, not tested here.
r=$w/root
mkdir -p "$r/usr/lib/opkg/info" "$r/lib" "$r/etc/crontabs"
tar -C "$r" -xzf "$w/outer/data.tar.gz"
for s in control conffiles postinst prerm postinst-pkg prerm-pkg; do
	cp -p "$w/control/$s" "$r/usr/lib/opkg/info/netmon.$s"
done
cat >"$r/lib/functions.sh" <<'EOF'
default_postinst() {
	( . "$IPKG_INSTROOT/usr/lib/opkg/info/$(basename "${1%.*}").postinst-pkg" )
}
default_prerm() {
	. "$IPKG_INSTROOT/usr/lib/opkg/info/$(basename "${1%.*}").prerm-pkg"
}
EOF
tab=$r/etc/crontabs/root
# Someone else's job, without a final newline: it must survive untouched.
printf '0 4 * * * /sbin/reboot' >"$tab"
chmod 0600 "$tab"
line='*/5 * * * * /usr/sbin/netmon update'
host_tab_before=$(stat -c '%i %Y %s' /etc/crontabs/root 2>/dev/null || echo absent)
run() { IPKG_INSTROOT=$r sh "$r/usr/lib/opkg/info/netmon.$1" "${2:-}"; }
count() { grep -cxF "$1" "$tab" || true; }

run postinst configure && run postinst configure
check "postinst twice: netmon's cron line once" test "$(count "$line")" = 1
check "postinst: the other job kept, on its own line" test "$(count '0 4 * * * /sbin/reboot')" = 1
check "postinst: crontab is exactly the two lines" test "$(wc -l <"$tab")" = 2
check "postinst: crontab mode 0600 kept" test "$(stat -c %a "$tab")" = 600
run prerm remove && run prerm remove
check "prerm twice: netmon's cron line gone" test "$(count "$line")" = 0
check "prerm: the other job kept" test "$(count '0 4 * * * /sbin/reboot')" = 1
check "prerm: nothing else left" test "$(wc -l <"$tab")" = 1
run postinst configure
check "postinst after prerm: line back, once" test "$(count "$line")" = 1
rm "$tab"
run postinst configure
check "postinst without a crontab: creates it with the line" test "$(cat "$tab")" = "$line"
check "IPKG_INSTROOT set: the build host's /etc/crontabs/root untouched" \
	test "$(stat -c '%i %Y %s' /etc/crontabs/root 2>/dev/null || echo absent)" = "$host_tab_before"
rm "$r/lib/functions.sh"
cp "$tab" "$w/tab-before"
run postinst configure && run prerm remove
check "no /lib/functions.sh (not OpenWrt): scripts do nothing" cmp -s "$tab" "$w/tab-before"

# --- luci-app-netmon ------------------------------------------------------------
lipk=dist/luci-app-netmon_${version}_all.ipk
check "cross/package.sh wrote $lipk" test -f "$lipk"
l=$w/luci
mkdir -p "$l/outer" "$l/control" "$l/data"
tar -tzf "$lipk" >"$l/members" 2>/dev/null || true
check "luci ipk: gzipped tar of exactly ./debian-binary ./data.tar.gz ./control.tar.gz" \
	cmp -s "$l/members" "$w/want-members"
tar -C "$l/outer" -xzf "$lipk"
check "luci ipk: debian-binary is \"2.0\\n\"" cmp -s "$l/outer/debian-binary" "$w/want-db"
tar -C "$l/control" -xzf "$l/outer/control.tar.gz"
tar -C "$l/data" -xzf "$l/outer/data.tar.gz"
lfield() { sed -n "s/^$1: //p" "$l/control/control"; }
check "luci control: Package luci-app-netmon" test "$(lfield Package)" = luci-app-netmon
check "luci control: Architecture all" test "$(lfield Architecture)" = all
check "luci control: Depends netmon, luci-base" test "$(lfield Depends)" = "netmon, luci-base"
check "luci control: Version $version" test "$(lfield Version)" = "$version"
check "luci control: Installed-Size is the uncompressed data size" \
	test "$(lfield Installed-Size)" = "$(gzip -dc "$l/outer/data.tar.gz" | wc -c)"
tar -tvzf "$l/outer/control.tar.gz" | awk '{print $1, $2, $6}' >"$l/control-list"
printf '%s\n' 'drwxr-xr-x 0/0 ./' '-rw-r--r-- 0/0 ./control' '-rwxr-xr-x 0/0 ./postinst' \
	>"$l/want-control-list"
check "luci control.tar.gz: control and postinst, modes, owner 0:0" \
	cmp -s "$l/control-list" "$l/want-control-list"
check "shellcheck: luci postinst (as packed)" shellcheck -s sh "$l/control/postinst"
tar -tvzf "$l/outer/data.tar.gz" | awk '{print $1, $2, $6}' >"$l/data-list"
cat >"$l/want-data-list" <<'LIST'
drwxr-xr-x 0/0 ./
drwxr-xr-x 0/0 ./usr/
drwxr-xr-x 0/0 ./usr/share/
drwxr-xr-x 0/0 ./usr/share/luci/
drwxr-xr-x 0/0 ./usr/share/luci/menu.d/
-rw-r--r-- 0/0 ./usr/share/luci/menu.d/luci-app-netmon.json
drwxr-xr-x 0/0 ./usr/share/rpcd/
drwxr-xr-x 0/0 ./usr/share/rpcd/acl.d/
-rw-r--r-- 0/0 ./usr/share/rpcd/acl.d/luci-app-netmon.json
drwxr-xr-x 0/0 ./www/
drwxr-xr-x 0/0 ./www/luci-static/
drwxr-xr-x 0/0 ./www/luci-static/resources/
drwxr-xr-x 0/0 ./www/luci-static/resources/view/
drwxr-xr-x 0/0 ./www/luci-static/resources/view/netmon/
-rw-r--r-- 0/0 ./www/luci-static/resources/view/netmon/devices.js
-rw-r--r-- 0/0 ./www/luci-static/resources/view/netmon/overview.js
-rw-r--r-- 0/0 ./www/luci-static/resources/view/netmon/quotas.js
-rw-r--r-- 0/0 ./www/luci-static/resources/view/netmon/settings.js
LIST
if cmp -s "$l/data-list" "$l/want-data-list"; then
	ok "luci data.tar.gz: views in /www/luci-static/resources/view/netmon/, menu.d, rpcd acl.d; 0644, owner 0:0"
else
	bad "luci data.tar.gz: files at LuCI's paths, modes, owner"
	diff "$l/want-data-list" "$l/data-list" | sed 's/^/     /' || true
fi
same_as_repo() {
	local f
	for f in luci-app-netmon/htdocs/luci-static/resources/view/netmon/*.js \
		luci-app-netmon/root/usr/share/luci/menu.d/luci-app-netmon.json \
		luci-app-netmon/root/usr/share/rpcd/acl.d/luci-app-netmon.json; do
		case $f in
		*/htdocs/*) cmp -s "$f" "$l/data/www/${f#luci-app-netmon/htdocs/}" || return 1 ;;
		*) cmp -s "$f" "$l/data/${f#luci-app-netmon/root/}" || return 1 ;;
		esac
	done
}
check "luci ipk: the repository's views, menu and ACL, byte for byte" same_as_repo
# Installed as opkg lays a package out, into the root netmon is in: the
# ACL's command is the binary netmon installs; postinst under IPKG_INSTROOT
# (an image build) touches nothing and succeeds.
tar -C "$r" -xzf "$l/outer/data.tar.gz"
for s in control postinst; do
	cp -p "$l/control/$s" "$r/usr/lib/opkg/info/luci-app-netmon.$s"
done
luci_installed() {
	[ -x "$r/usr/sbin/netmon" ] &&
		[ -f "$r/usr/share/rpcd/acl.d/luci-app-netmon.json" ] &&
		[ -f "$r/usr/share/luci/menu.d/luci-app-netmon.json" ] &&
		[ -f "$r/www/luci-static/resources/view/netmon/overview.js" ] &&
		grep -q '"/usr/sbin/netmon devices --format json"' "$r/usr/share/rpcd/acl.d/luci-app-netmon.json"
}
check "luci ipk installed beside netmon: the ACL's /usr/sbin/netmon is netmon's binary" luci_installed
check "luci postinst with IPKG_INSTROOT: exits 0" \
	env IPKG_INSTROOT="$r" sh "$r/usr/lib/opkg/info/luci-app-netmon.postinst" configure
lm=openwrt/luci-app-netmon/Makefile
luci_makefile() {
	grep -qx 'include ../../luci.mk' "$lm" && grep -qx 'LUCI_DEPENDS:=+luci-base +netmon' "$lm" &&
		grep -qx 'LUCI_PKGARCH:=all' "$lm"
}
check "$lm: a luci.mk app, depends on luci-base and netmon (as the ipk), arch all" luci_makefile

# --- reproducible -------------------------------------------------------------
cp "$ipk" "$w/first.ipk"
cp "$lipk" "$w/first-luci.ipk"
cross/package.sh "$t" 2>/dev/null
check "repacking gives the same bytes" cmp -s "$ipk" "$w/first.ipk"
check "repacking gives the same luci-app-netmon bytes" cmp -s "$lipk" "$w/first-luci.ipk"

if [ $fails -ne 0 ]; then
	echo "tests/package.sh: $fails check(s) failed for $ipk"
	exit 1
fi
echo "tests/package.sh: all checks passed for $ipk"
