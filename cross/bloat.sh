#!/bin/bash
# Where the bytes of a router binary go: builds TARGET's release binary with
# cross/build.sh's flags plus a symbol table (`-g` to the linker only, so the
# code is the same; the size printed is the stripped one), into
# target/bloat/, then prints the bytes per origin (each netmon module, std,
# core, alloc, argh, the C library) and the largest functions.
#   cross/bloat.sh [TARGET] [N]      (default: mips-unknown-linux-musl, 25)
# Needs llvm-nm and llvm-objcopy (Debian: llvm). Symbols sharing an address
# (zig's libc exports aliases) count once. LTO inlines most single-caller
# functions into their caller, so a big function is usually several
# commands' worth of source.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"

t=${1:-mips-unknown-linux-musl}
n=${2:-25}
check_targets "$t"
for tool in llvm-nm llvm-objcopy python3; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install llvm python3)"
done
setup_toolchain
cd "$ROOT"
export CARGO_TARGET_DIR=$ROOT/target/bloat
cargo "${ZFLAGS[@]}" --config "target.$t.rustflags=[\"-Clink-arg=-g\"]" \
	--config 'profile.release.strip=false' \
	build -q --locked --release --target "$t" --bin netmon
bin=$CARGO_TARGET_DIR/$t/release/netmon
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
llvm-objcopy --strip-all "$bin" "$stripped"
echo "$t: $(stat -c %s "$stripped") bytes stripped"
# shellcheck disable=SC2016 # the quoted text is python, not shell
llvm-nm --size-sort -S -C "$bin" | python3 -c '
import collections, re, sys
n = int(sys.argv[1])
seen, rows = set(), []
for line in sys.stdin:
    m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) ([tTrR]) (.*)$", line.rstrip("\n"))
    if m and m.group(1) not in seen:
        seen.add(m.group(1))
        rows.append((int(m.group(2), 16), m.group(4)))
def origin(name):
    m = re.search(r"netmon::(\w+)", name)
    if m or name.startswith("netmon"):
        return "netmon::" + (m.group(1) if m else "main")
    for crate in ("argh", "std", "alloc", "core", "compiler_builtins"):
        if re.search(r"(^|[<&\s(])" + crate + r"::", name):
            return crate
    if name.startswith(("<str", "<[", "<char", "<u", "<i", "$anon")):
        return "core"
    return "C library"
by = collections.Counter()
for size, name in rows:
    by[origin(name)] += size
print("\nbytes  origin (code and read-only data)")
for k, v in by.most_common():
    print(f"{v:6d}  {k}")
print(f"\nlargest {n} functions")
for size, name in sorted(rows, reverse=True)[:n]:
    print(f"{size:6d}  {name[:110]}")
' "$n"
