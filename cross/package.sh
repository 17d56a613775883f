#!/bin/bash
# Packs built router binaries into OpenWrt packages:
#   cross/package.sh [TARGET...]   (default: all four; run cross/build.sh first)
# writes dist/netmon_<version>_<arch>.ipk, and dist/luci-app-netmon_<version>_all.ipk
# (the LuCI app in luci-app-netmon/: no binary, one package for every arch),
# for OpenWrt 24.10 and older (opkg); and the same packages for OpenWrt 25.12+
# (apk-tools 3): dist/netmon-<version>_<arch>.apk and
# dist/luci-app-netmon-<version>_noarch.apk. OpenWrt's own feeds name them
# <name>-<version>.apk in a directory per arch (include/package-pack.mk);
# the arch in the name keeps every arch's file in one flat dist/, as the
# ipks are, and apk reads the name, version and arch from the package.
#
# OpenWrt's ipk is NOT Debian's ar archive (opkg rejects that): it is a
# gzipped tar of ./debian-binary, ./data.tar.gz and ./control.tar.gz, made
# the way OpenWrt's scripts/ipkg-build makes it (GNU tar, numeric owner 0:0,
# sorted names, one fixed mtime, gzip -n), so the same inputs give the same
# bytes. mtime: $SOURCE_DATE_EPOCH, else the last commit's time.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

# Everything the ipk holds besides the binary.
OW=$ROOT/openwrt
MAINTAINER='netmon developers'
SECTION=net

[ $# -gt 0 ] || set -- "${ALL_TARGETS[@]}"
check_targets "$@"
cd "$ROOT"

VERSION=$(ipk_version)
LICENSE=$(cargo_field license)
SUMMARY=$(cargo_field description)
case $VERSION in -*) die "cannot read the version from Cargo.toml" ;; esac
[ -n "$SUMMARY" ] || die "cannot read the description from Cargo.toml"
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

# tar of a directory's contents, as ipkg-build makes it.
pack() { # DIR > FILE.tar.gz
	tar -C "$1" --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$EPOCH" -cf - . | gzip -9n
}

stage_data() { # TARGET DIR
	local d=$2
	install -d -m 0755 "$d/usr/sbin" "$d/usr/libexec" "$d/etc/init.d" "$d/etc/config" \
		"$d/lib/upgrade/keep.d"
	install -m 0755 "target/$1/release/netmon" "$d/usr/sbin/netmon"
	install -m 0755 "$OW/files/netmon-crontab" "$d/usr/libexec/netmon-crontab"
	install -m 0755 "$OW/files/netmon.init" "$d/etc/init.d/netmon"
	# 0600 as OpenWrt's INSTALL_CONF: the file may hold mail credentials.
	install -m 0600 "$OW/files/netmon.config" "$d/etc/config/netmon"
	# sysupgrade keeps what keep.d lists and sources /lib/upgrade/*.sh (0644
	# as INSTALL_DATA: sourced, not run).
	install -m 0644 "$OW/files/netmon.keep" "$d/lib/upgrade/keep.d/netmon"
	install -m 0644 "$OW/files/netmon.sysupgrade" "$d/lib/upgrade/netmon.sh"
}

stage_control() { # ARCH INSTALLED_SIZE DIR
	local d=$3 s
	install -d -m 0755 "$d"
	cat >"$d/control" <<CONTROL
Package: netmon
Version: $VERSION
Depends: libc
Source: netmon
SourceName: netmon
License: $LICENSE
Section: $SECTION
Maintainer: $MAINTAINER
Architecture: $1
Installed-Size: $2
Description: $SUMMARY
 One static binary: installs counting rules in netmon's own nftables
 table (or iptables chains), reads them from cron every 5 minutes, keeps
 totals across counter resets and reboots, reports per meter.
CONTROL
	echo /etc/config/netmon >"$d/conffiles"
	chmod 0644 "$d/control" "$d/conffiles"
	for s in postinst prerm postinst-pkg prerm-pkg; do
		install -m 0755 "$OW/control/$s" "$d/$s"
	done
}

# luci-app-netmon: luci-app-netmon/htdocs goes to /www and root/ to /, as
# luci.mk installs a LuCI app; every file 0644 (served or read, never run).
LUCI=$ROOT/luci-app-netmon
stage_luci_data() { # DIR
	local d=$1 f
	install -d -m 0755 "$d/www"
	(cd "$LUCI/htdocs" && find . -type f) | sort | while read -r f; do
		install -D -m 0644 "$LUCI/htdocs/$f" "$d/www/$f"
	done
	(cd "$LUCI/root" && find . -type f) | sort | while read -r f; do
		install -D -m 0644 "$LUCI/root/$f" "$d/$f"
	done
	find "$d" -type d -exec chmod 0755 {} +
}

stage_luci_control() { # INSTALLED_SIZE DIR
	local d=$2
	install -d -m 0755 "$d"
	cat >"$d/control" <<CONTROL
Package: luci-app-netmon
Version: $VERSION
Depends: netmon, luci-base
Source: netmon
SourceName: luci-app-netmon
License: $LICENSE
Section: luci
Maintainer: $MAINTAINER
Architecture: all
Installed-Size: $1
Description: LuCI support for netmon
 Status -> netmon: meters with a 14-day chart, devices (block/unblock),
 quotas; Services -> netmon: the settings. Runs only the netmon commands its
 ACL names.
CONTROL
	chmod 0644 "$d/control"
	install -m 0755 "$LUCI/control/postinst" "$d/postinst"
}

# ipk from a staged package dir (data/, control/) to FILE.
pack_ipk() { # PKGDIR FILE
	local p=$1
	mkdir -p "$p/out"
	pack "$p/control" >"$p/out/control.tar.gz"
	echo 2.0 >"$p/out/debian-binary"
	touch -d "@$EPOCH" "$p/out/"*
	tar -C "$p/out" --format=gnu --numeric-owner --owner=0 --group=0 \
		--mtime="@$EPOCH" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz |
		gzip -9n >"$2"
	echo "cross: $2 ($(stat -c %s "$2") bytes)" >&2
}

# --- apk (OpenWrt 25.12+) ---------------------------------------------------
# What OpenWrt's include/package-pack.mk adds to an apk beyond the ipk's data,
# and the arguments it gives `apk mkpkg`; cross/apk.py writes the package
# (no apk-tools on the build host).

# The maintainer scripts package-pack.mk generates around the package's own
# postinst/prerm (quoted, as openwrt/control/postinst is): apk runs them with
# no arguments, so pkgname is exported for /lib/functions.sh's
# default_postinst/default_prerm, which read /lib/apk/packages/<pkg>.list to
# enable/disable its init scripts; post-upgrade is post-install with
# PKG_UPGRADE=1 (enabled init scripts stay as the user left them).
apk_scripts() { # PKG POSTINST-PART PRERM-PART|'' DIR
	local head
	head=$(
		cat <<HEAD
[ -s "\${IPKG_INSTROOT}/lib/functions.sh" ] || exit 0
# shellcheck source=/dev/null
. "\${IPKG_INSTROOT}/lib/functions.sh"
export root="\${IPKG_INSTROOT}"
export pkgname="$1"
HEAD
	)
	{
		echo '#!/bin/sh'
		# shellcheck disable=SC2016 # written into the script, not expanded here
		echo '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0'
		echo "$head"
		printf '%s\n' add_group_and_user default_postinst
		sed '/^\s*#!/d' "$2"
	} >"$4/post-install"
	{
		echo '#!/bin/sh'
		echo 'export PKG_UPGRADE=1'
		sed '/^\s*#!/d' "$4/post-install"
	} >"$4/post-upgrade"
	{
		echo '#!/bin/sh'
		echo "$head"
		echo default_prerm
		[ -z "$3" ] || sed '/^\s*#!/d' "$3"
	} >"$4/pre-deinstall"
}

# /lib/apk/packages/<pkg>.list (every file, as the router's default_postinst
# and sysupgrade read it), .conffiles and .conffiles_static (path and
# SHA-256: sysupgrade keeps a conffile the user changed).
apk_metadata() { # PKG DATA-DIR CONFFILES|''
	local d=$2/lib/apk/packages f list
	install -d -m 0755 "$2/lib" "$2/lib/apk" "$d"
	# Listed before it exists, as package-pack.mk does: not in itself.
	list=$(cd "$2" && find . -type f,l -printf '/%P\n' | LC_ALL=C sort)
	printf '%s\n' "$list" >"$d/$1.list"
	if [ -n "$3" ]; then
		cp "$3" "$d/$1.conffiles"
		while read -r f; do
			[ -f "$2$f" ] || continue
			echo "$f $(sha256sum <"$2$f" | cut -d' ' -f1)"
		done <"$3" >"$d/$1.conffiles_static"
	fi
	chmod 0644 "$d"/*
}

# A control file's field ($2), continuation lines joined with single spaces
# as package-pack.mk $(strip)s the description it passes to apk.
control_field() { # CONTROL FIELD
	sed -n "/^$2: /,/^[^ ]/{/^$2: /{s///;p;d};/^ /p}" "$1" | sed 's/^ //' |
		tr '\n' ' ' | sed 's/ *$//'
}

# apk has one description: the ipk's synopsis (its first line, which has no
# full stop by convention) made a sentence, then the long text.
apk_description() { # CONTROL
	local synopsis all
	synopsis=$(sed -n 's/^Description: //p' "$1")
	all=$(control_field "$1" Description)
	printf '%s. %s' "$synopsis" "${all#"$synopsis" }"
}

# apk from a staged package dir (data/, control/, the ipk's), as
# package-pack.mk calls apk mkpkg.
pack_apk() { # PKGDIR NAME ARCH POSTINST-PART PRERM-PART|'' FILE
	local p=$1 c=$1/control/control conf=
	rm -rf "$p/apk" && mkdir -p "$p/apk/scripts"
	cp -a "$p/data" "$p/apk/data"
	[ ! -f "$p/control/conffiles" ] || conf=$p/control/conffiles
	apk_metadata "$2" "$p/apk/data" "$conf"
	apk_scripts "$2" "$4" "$5" "$p/apk/scripts"
	SOURCE_DATE_EPOCH=$EPOCH python3 "$ROOT/cross/apk.py" mkpkg \
		--info "name:$2" --info "version:$VERSION" \
		--info "description:$(apk_description "$c")" \
		--info "arch:$3" --info "license:$LICENSE" \
		--info "origin:$(control_field "$c" Source)" \
		--info "maintainer:$MAINTAINER" \
		--info "depends:$(control_field "$c" Depends | tr -d ,)" \
		--script "post-install:$p/apk/scripts/post-install" \
		--script "post-upgrade:$p/apk/scripts/post-upgrade" \
		--script "pre-deinstall:$p/apk/scripts/pre-deinstall" \
		--files "$p/apk/data" --output "$6"
	echo "cross: $6 ($(stat -c %s "$6") bytes)" >&2
}

command -v python3 >/dev/null || die "cross/package.sh needs python3 (cross/apk.py writes the apks)"
mkdir -p dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "$@"; do
	bin=target/$t/release/netmon
	[ -f "$bin" ] || die "$bin missing: run cross/build.sh $t first"
	case $(file -b "$bin") in
	"$(file_says "$t")"*"statically linked"*) ;;
	*) die "$bin is not a static $t executable" ;;
	esac
	arch=$(openwrt_arch "$t")
	rm -rf "$work/pkg" && mkdir -p "$work/pkg/data" "$work/pkg/out"
	stage_data "$t" "$work/pkg/data"
	pack "$work/pkg/data" >"$work/pkg/out/data.tar.gz"
	# As ipkg-build: Installed-Size is the uncompressed data tar's size.
	size=$(gzip -dc "$work/pkg/out/data.tar.gz" | wc -c)
	stage_control "$arch" "$size" "$work/pkg/control"
	pack_ipk "$work/pkg" "dist/netmon_${VERSION}_$arch.ipk"
	pack_apk "$work/pkg" netmon "$arch" "$OW/control/postinst-pkg" "$OW/control/prerm-pkg" \
		"dist/netmon-${VERSION}_$arch.apk"
done

rm -rf "$work/luci" && mkdir -p "$work/luci/data" "$work/luci/out"
stage_luci_data "$work/luci/data"
pack "$work/luci/data" >"$work/luci/out/data.tar.gz"
stage_luci_control "$(gzip -dc "$work/luci/out/data.tar.gz" | wc -c)" "$work/luci/control"
pack_ipk "$work/luci" "dist/luci-app-netmon_${VERSION}_all.ipk"
# luci.mk's postinst is the package's own part; it has no prerm. Arch "all"
# is apk's "noarch" (package-pack.mk).
pack_apk "$work/luci" luci-app-netmon noarch "$LUCI/control/postinst" '' \
	"dist/luci-app-netmon-${VERSION}_noarch.apk"
