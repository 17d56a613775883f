#!/bin/bash
# Checks netmon's apk writer (cross/apk.py) without apk-tools, which Debian 12
# does not package:
#   tests/apk.sh [--no-build] [TARGET]   (default mips-unknown-linux-musl)
# --no-build: pack the binary already in target/TARGET/release.
#
# 1. Golden packages: tests/fixtures/apk/ holds apks the real `apk mkpkg`
#    (apk-tools 3.0.6) made from the inputs beside them; the writer, given
#    the same inputs and arguments, must write the same bytes (compressed,
#    and decompressed, which does not depend on zlib's version). A changed
#    --info field or one changed input byte must make them differ.
# 2. The reader (apk.py dump) accepts apk-tools' own output and rejects a
#    package with one byte changed in its ADB block or in a file's content.
# 3. The dist apks cross/package.sh writes, read back: the ipk's files with
#    their modes and bytes, its fields and dependencies, OpenWrt's
#    /lib/apk/packages/<pkg>.{list,conffiles,conffiles_static}, the
#    maintainer scripts (cron line, init script enable/disable) run against
#    a temporary root, and the same bytes when packed again.
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

# Project rule: a check that cannot run says so, and fails under CI.
skip() {
	echo "SKIPPED tests/apk.sh: $*"
	if [ "${CI:-}" = true ]; then exit 1; fi
	exit 0
}
for tool in python3 shellcheck tar gzip cmp sha256sum; do
	command -v "$tool" >/dev/null || skip "needs $tool"
done

# shellcheck source=tests/checks.sh
. tests/checks.sh

w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
fx=tests/fixtures/apk
apkpy=(python3 cross/apk.py)

# The decompressed package (apk's "ADBd" + raw deflate): what the format
# work is, whatever zlib compressed it.
inflated() { # APK > stdout
	python3 -c 'import sys,zlib; d=open(sys.argv[1],"rb").read(); assert d[:4]==b"ADBd"
sys.stdout.buffer.write(zlib.decompress(d[4:], -15))' "$1"
}
same_inflated() { cmp -s <(inflated "$1") <(inflated "$2"); }

# --- 1. golden packages ---------------------------------------------------------
golden=(netmon-0.1.0-r1.apk luci-app-netmon-0.1.0-r1.apk)
mkdir "$w/out"
bash "$fx/make.sh" "$w/out" "${apkpy[@]}" mkpkg
# The fixtures' deflate is Debian 12's zlib (README.md there); another zlib may
# compress the same stream differently, so only there are compressed bytes
# expected equal.
zlib=$(python3 -c 'import zlib; print(zlib.ZLIB_RUNTIME_VERSION)')
for g in "${golden[@]}"; do
	check "writer = apk mkpkg 3.0.6, decompressed: $g" same_inflated "$w/out/$g" "$fx/$g"
	if [ "$zlib" = 1.2.13 ]; then
		check "writer = apk mkpkg 3.0.6, byte for byte: $g" cmp -s "$w/out/$g" "$fx/$g"
	else
		echo "SKIPPED compressed bytes of $g: zlib $zlib, the fixtures' is 1.2.13"
		[ "${CI:-}" != true ] || bad "zlib $zlib on CI (Debian 12 has 1.2.13)"
	fi
done

# Mutations: one --info field, then one byte of one input file.
cat >"$w/mutating-mkpkg" <<'EOF'
#!/bin/bash
# apk.py mkpkg with the maintainer field changed by one letter.
args=()
for a in "$@"; do args+=("${a/#maintainer:netmon developers/maintainer:netmon developerz}"); done
exec python3 "$APKPY" "${args[@]}"
EOF
mkdir "$w/mut-field"
APKPY=$PWD/cross/apk.py bash "$fx/make.sh" "$w/mut-field" bash "$w/mutating-mkpkg" mkpkg
fails_check "mutation: one --info field changed -> differs from the golden netmon apk" \
	same_inflated "$w/mut-field/netmon-0.1.0-r1.apk" "$fx/netmon-0.1.0-r1.apk"
cp -r "$fx" "$w/fx-byte"
cfg=$w/fx-byte/netmon/root/etc/config/netmon
printf 'X' | dd of="$cfg" bs=1 seek=3 conv=notrunc status=none
check "mutation: the input really has one byte changed" \
	test "$(cmp -l "$cfg" "$fx/netmon/root/etc/config/netmon" | wc -l)" = 1
mkdir "$w/mut-byte"
bash "$w/fx-byte/make.sh" "$w/mut-byte" "${apkpy[@]}" mkpkg
fails_check "mutation: one file byte changed -> differs from the golden netmon apk" \
	same_inflated "$w/mut-byte/netmon-0.1.0-r1.apk" "$fx/netmon-0.1.0-r1.apk"
check "mutation: the untouched luci apk still equals its golden" \
	same_inflated "$w/mut-byte/luci-app-netmon-0.1.0-r1.apk" "$fx/luci-app-netmon-0.1.0-r1.apk"

# --- 2. the reader on apk-tools' own output -------------------------------------
for g in "${golden[@]}"; do
	if "${apkpy[@]}" dump "$fx/$g" >"$w/${g%.apk}.json"; then
		ok "reader accepts apk-tools' $g (unique id, data blocks, sizes, SHA-256)"
	else
		bad "reader rejects apk-tools' $g"
	fi
done
field() { # JSON-FILE PYTHON-EXPR-ON-d: printed as is (a script keeps its last newline)
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.stdout.write(str(eval(sys.argv[2])))' "$1" "$2"
}
check "reader: golden luci depends are sorted as apk sorts them" \
	test "$(field "$w/luci-app-netmon-0.1.0-r1.json" '" ".join(d["info"]["depends"])')" = "luci-base netmon"
check "reader: golden netmon scripts are the inputs" \
	test "$(field "$w/netmon-0.1.0-r1.json" 'd["scripts"]["pre-deinstall"]')" = "$(cat "$fx/netmon/pre-deinstall")"
mkdir "$w/golden-x"
"${apkpy[@]}" extract "$fx/netmon-0.1.0-r1.apk" "$w/golden-x"
check "reader: golden netmon files are the inputs, byte for byte" \
	diff -r "$w/golden-x" "$fx/netmon/root"
check "reader: golden conffile mode 0600" test "$(stat -c %a "$w/golden-x/etc/config/netmon")" = 600

# Corrupt copies: one byte of a file's content (its SHA-256 no longer
# matches), one byte of the ADB block (the unique id no longer matches).
corrupt() { # APK OUT WHERE(content|adb)
	python3 - "$@" <<'EOF'
import sys, zlib
src, out, where = sys.argv[1:]
d = bytearray(zlib.decompress(open(src, "rb").read()[4:], -15))
i = d.index(b"config netmon") if where == "content" else d.index(b"netmon developers")
d[i] ^= 0x20
z = zlib.compressobj(9, zlib.DEFLATED, -15)
open(out, "wb").write(b"ADBd" + z.compress(bytes(d)) + z.flush())
EOF
}
corrupt "$fx/netmon-0.1.0-r1.apk" "$w/bad-content.apk" content
corrupt "$fx/netmon-0.1.0-r1.apk" "$w/bad-adb.apk" adb
fails_check "reader rejects one changed byte of file content" "${apkpy[@]}" dump "$w/bad-content.apk"
fails_check "reader rejects one changed byte of the ADB block" "${apkpy[@]}" dump "$w/bad-adb.apk"

# --- 3. the dist apks against the ipks ------------------------------------------
[ $build -eq 0 ] || cross/build.sh "$t"
cross/package.sh "$t" 2>/dev/null
arch=$(openwrt_arch "$t")
version=$(ipk_version)

# An ipk unpacked: control/, data/.
unipk() { # IPK DIR
	mkdir -p "$2/outer" "$2/control" "$2/data"
	tar -C "$2/outer" -xzf "$1"
	tar -C "$2/control" -xzf "$2/outer/control.tar.gz"
	tar -C "$2/data" -xzf "$2/outer/data.tar.gz"
}
# "mode path" of every file and directory, as the reader reports it.
apk_list() { # JSON
	python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))["paths"]:
    d = p["dir"]
    print(p["mode"], p["user"] + ":" + p["group"], "./" + d + ("/" if d else ""))
    for f in p["files"]:
        print(f["mode"], f["user"] + ":" + f["group"], "./" + (d + "/" if d else "") + f["name"])' "$1" | sort
}
tar_list() { # DATA-TAR-GZ
	tar -tvzf "$1" | awk '{ m = 0; for (i = 2; i <= 10; i++) { m = m * 2 + (substr($1, i, 1) != "-") }
		printf "%04o %s %s\n", m, ($2 == "0/0" ? "root:root" : $2), $6 }' | sort
}
mtimes() { # JSON: the distinct file times
	python3 -c 'import json,sys
print(" ".join(sorted({str(f["mtime"]) for p in json.load(open(sys.argv[1]))["paths"] for f in p["files"]})))' "$1"
}
cfield() { # CONTROL FIELD: continuation lines joined, as package.sh passes them
	sed -n "/^$2: /,/^[^ ]/{/^$2: /{s///;p;d};/^ /p}" "$1" | sed 's/^ //' | tr '\n' ' ' | sed 's/ *$//'
}
# The ipk's Description as the apk's: the synopsis line made a sentence,
# then the continuation lines joined.
cdesc() { # CONTROL
	printf '%s. %s' "$(sed -n 's/^Description: //p' "$1")" \
		"$(sed -n '/^Description: /,/^[^ ]/{/^ /p}' "$1" | sed 's/^ //' | tr '\n' ' ' | sed 's/ *$//')"
}
# The tree without what OpenWrt's apk adds (/lib/apk/, and /lib when the
# ipk has none) is the ipk's data, byte for byte.
same_files_as_ipk() { # APK-TREE IPK-DATA
	rm -rf "$w/cmp" && cp -a "$1" "$w/cmp"
	rm -r "$w/cmp/lib/apk"
	[ -d "$2/lib" ] || rmdir "$w/cmp/lib"
	diff -r "$w/cmp" "$2" >/dev/null
}

check_dist() { # APK IPK PKG APK-ARCH
	local a=$1 i=$2 p=$3 d=$w/dist-$3 c
	check "cross/package.sh wrote $a" test -f "$a"
	unipk "$i" "$d/ipk"
	c=$d/ipk/control/control
	if ! "${apkpy[@]}" dump "$a" >"$d/apk.json"; then
		bad "$a: reader rejects it"
		return
	fi
	ok "$a: reader accepts it (unique id, one data block per file, sizes, SHA-256)"
	mkdir "$d/apk"
	"${apkpy[@]}" extract "$a" "$d/apk"
	info() { field "$d/apk.json" "d['info']['$1']"; }
	check "$p apk: name $p" test "$(info name)" = "$p"
	check "$p apk: version $version (as the ipk)" test "$(info version)" = "$(cfield "$c" Version)"
	check "$p apk: arch $4" test "$(info arch)" = "$4"
	check "$p apk: depends = the ipk's Depends" \
		test "$(field "$d/apk.json" '" ".join(d["info"]["depends"])')" = \
		"$(cfield "$c" Depends | tr -d , | tr ' ' '\n' | LC_ALL=C sort | xargs)"
	check "$p apk: license, origin, maintainer, description = the ipk's" test \
		"$(info license)|$(info origin)|$(info maintainer)|$(info description)" = \
		"$(cfield "$c" License)|$(cfield "$c" Source)|$(cfield "$c" Maintainer)|$(cdesc "$c")"
	check "$p apk: installed-size is the files' total" test "$(info installed-size)" = \
		"$(find "$d/apk" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')"
	tar_list "$d/ipk/outer/data.tar.gz" >"$d/ipk-list"
	{
		cat "$d/ipk-list"
		printf '0755 root:root ./lib/\n0755 root:root ./lib/apk/\n0755 root:root ./lib/apk/packages/\n'
		printf '0644 root:root ./lib/apk/packages/%s\n' "$p.list"
		[ ! -f "$d/ipk/control/conffiles" ] ||
			printf '0644 root:root ./lib/apk/packages/%s\n' "$p.conffiles" "$p.conffiles_static"
	} | sort -u >"$d/want-list"
	apk_list "$d/apk.json" >"$d/apk-list"
	if cmp -s "$d/apk-list" "$d/want-list"; then
		ok "$p apk: the ipk's files and directories, modes, root:root, + /lib/apk/packages/$p.*"
	else
		bad "$p apk: files, modes, owners"
		diff "$d/want-list" "$d/apk-list" | sed 's/^/     /' || true
	fi
	check "$p apk: every file's content = the ipk's, byte for byte" \
		same_files_as_ipk "$d/apk" "$d/ipk/data"
	# Honest comparison: one changed byte in a copy must be noticed.
	cp -a "$d/apk" "$d/apk-mut"
	printf '\001' | dd of="$(find "$d/apk-mut" -type f -size +0 ! -path '*/lib/apk/*' | sort | head -n 1)" \
		bs=1 seek=0 conv=notrunc status=none
	fails_check "$p apk: mutation: one changed byte is noticed by the comparison" \
		same_files_as_ipk "$d/apk-mut" "$d/ipk/data"
	check "$p apk: file times are the ipk's (SOURCE_DATE_EPOCH / last commit)" test \
		"$(mtimes "$d/apk.json")" = "$(tar -tvzf "$d/ipk/outer/data.tar.gz" --full-time |
			awk '{ print $4 " " $5 }' | sort -u | xargs -I{} date -u -d '{}' +%s | sort -u | xargs)"
	(cd "$d/ipk/data" && find . -type f -printf '/%P\n' | LC_ALL=C sort) >"$d/want-pkglist"
	check "$p apk: /lib/apk/packages/$p.list lists the ipk's files" \
		cmp -s "$d/apk/lib/apk/packages/$p.list" "$d/want-pkglist"
	if [ -f "$d/ipk/control/conffiles" ]; then
		check "$p apk: $p.conffiles = the ipk's conffiles" \
			cmp -s "$d/apk/lib/apk/packages/$p.conffiles" "$d/ipk/control/conffiles"
		check "$p apk: $p.conffiles_static: path and SHA-256 of each conffile" test \
			"$(cat "$d/apk/lib/apk/packages/$p.conffiles_static")" = \
			"$(while read -r f; do echo "$f $(sha256sum <"$d/ipk/data$f" | cut -d' ' -f1)"; done \
				<"$d/ipk/control/conffiles")"
	fi
	local s
	for s in post-install post-upgrade pre-deinstall; do
		field "$d/apk.json" "d['scripts']['$s']" >"$d/$s"
	done
	check "$p apk: exactly post-install, post-upgrade, pre-deinstall" \
		test "$(field "$d/apk.json" '" ".join(sorted(d["scripts"]))')" = "post-install post-upgrade pre-deinstall"
	check "shellcheck: $p apk scripts (as packed)" \
		shellcheck -s sh "$d/post-install" "$d/post-upgrade" "$d/pre-deinstall"
	check "$p apk: post-upgrade is post-install with PKG_UPGRADE=1" test \
		"$(cat "$d/post-upgrade")" = "$(printf '#!/bin/sh\nexport PKG_UPGRADE=1\n'; sed 1d "$d/post-install")"
	check "$p apk: scripts call default_postinst/default_prerm for pkgname=$p" \
		grep -qx "export pkgname=\"$p\"" "$d/post-install"
}

ipk=dist/netmon_${version}_$arch.ipk
lipk=dist/luci-app-netmon_${version}_all.ipk
napk=dist/netmon-${version}_$arch.apk
lapk=dist/luci-app-netmon-${version}_noarch.apk
check_dist "$napk" "$ipk" netmon "$arch"
check_dist "$lapk" "$lipk" luci-app-netmon noarch
own_part() { sed '/^\s*#!/d' "$1"; }
check "netmon apk post-install ends with the ipk's postinst-pkg" \
	test "$(tail -n "$(own_part openwrt/control/postinst-pkg | wc -l)" "$w/dist-netmon/post-install")" = \
	"$(own_part openwrt/control/postinst-pkg)"
check "netmon apk pre-deinstall ends with the ipk's prerm-pkg" \
	test "$(tail -n "$(own_part openwrt/control/prerm-pkg | wc -l)" "$w/dist-netmon/pre-deinstall")" = \
	"$(own_part openwrt/control/prerm-pkg)"
check "luci apk post-install ends with the ipk's postinst" \
	test "$(tail -n "$(own_part luci-app-netmon/control/postinst | wc -l)" "$w/dist-luci-app-netmon/post-install")" = \
	"$(own_part luci-app-netmon/control/postinst)"

# --- the scripts against a temporary root -----------------------------------------
# As an image build runs them (IPKG_INSTROOT set), with a stand-in for
# OpenWrt's /lib/functions.sh whose default_postinst/default_prerm record
# the init scripts they would enable/disable, found as OpenWrt finds them:
# from $pkgname and /lib/apk/packages/$pkgname.list.
r=$w/root
cp -a "$w/dist-netmon/apk" "$r"
mkdir -p "$r/etc/crontabs"
cat >"$r/lib/functions.sh" <<'EOF'
add_group_and_user() { :; }
default_postinst() {
	for i in $(grep "^/etc/init.d/" "$root/lib/apk/packages/$pkgname.list"); do echo "enable $i"; done >>"$root/rc.log"
}
default_prerm() {
	for i in $(grep "^/etc/init.d/" "$root/lib/apk/packages/$pkgname.list"); do echo "disable $i"; done >>"$root/rc.log"
}
EOF
tab=$r/etc/crontabs/root
printf '0 4 * * * /sbin/reboot\n' >"$tab"
line='*/5 * * * * /usr/sbin/netmon update'
host_tab_before=$(stat -c '%i %Y %s' /etc/crontabs/root 2>/dev/null || echo absent)
run() { env -i PATH="$PATH" IPKG_INSTROOT="$r" sh "$w/dist-netmon/$1"; }
count() { grep -cxF "$1" "$tab" || true; }
run post-install && run post-upgrade
check "apk post-install + post-upgrade: netmon's cron line once, the other job kept" \
	test "$(count "$line"):$(count '0 4 * * * /sbin/reboot')" = 1:1
check "apk post-install: default_postinst found /etc/init.d/netmon from netmon.list" \
	grep -qx 'enable /etc/init.d/netmon' "$r/rc.log"
run pre-deinstall
check "apk pre-deinstall: cron line gone, the other job kept" \
	test "$(count "$line"):$(count '0 4 * * * /sbin/reboot')" = 0:1
check "apk pre-deinstall: default_prerm disables /etc/init.d/netmon" \
	grep -qx 'disable /etc/init.d/netmon' "$r/rc.log"
check "IPKG_INSTROOT set: the build host's /etc/crontabs/root untouched" \
	test "$(stat -c '%i %Y %s' /etc/crontabs/root 2>/dev/null || echo absent)" = "$host_tab_before"

# --- reproducible -----------------------------------------------------------------
cp "$napk" "$w/first.apk"
cp "$lapk" "$w/first-luci.apk"
cross/package.sh "$t" 2>/dev/null
check "repacking gives the same netmon apk bytes" cmp -s "$napk" "$w/first.apk"
check "repacking gives the same luci-app-netmon apk bytes" cmp -s "$lapk" "$w/first-luci.apk"

if [ $fails -ne 0 ]; then
	echo "tests/apk.sh: $fails check(s) failed"
	exit 1
fi
echo "tests/apk.sh: all checks passed"
