#!/usr/bin/env bash
# Short libFuzzer runs of every fuzz target (fuzz/), part of the suite.
# Same instrumentation cargo-fuzz uses, on the stable toolchain
# (RUSTC_BOOTSTRAP for -Z-free sancov flags); SECONDS_PER_TARGET each.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${SECONDS_PER_TARGET:-15}
export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
triple=x86_64-unknown-linux-gnu
cargo build --locked --quiet --release --bins --target "$triple"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parse_nft" "$work/parse_iptables" "$work/state_decode" "$work/parse_hosts" \
  "$work/parse_nfnetlink"
cp ../tests/fixtures/*.nft "$work/parse_nft/" 2>/dev/null || true
cp ../tests/fixtures/*.txt "$work/parse_iptables/" 2>/dev/null || true
cp ../tests/fixtures/state-v*.bin "$work/state_decode/" 2>/dev/null || true
for f in dhcp.leases dhcp.leases-hostile odhcpd-hosts odhcpd-statefile-2026 dhcp.uci ethers \
  proc-net-arp ip6-neigh-iproute2.txt ip6-neigh-busybox.txt; do
  cp "../tests/fixtures/$f" "$work/parse_hosts/" 2>/dev/null || true
done
for t in parse_nft parse_iptables state_decode parse_hosts parse_nfnetlink; do
  echo "fuzz $t for ${secs}s"
  if ! "target/$triple/release/$t" -max_total_time="$secs" -max_len=9000 \
    -print_final_stats=1 "$work/$t" >"$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log"
    echo "fuzz target $t found a crash"
    exit 1
  fi
  grep -E 'stat::number_of_executed_units' "$work/$t.log"
done
