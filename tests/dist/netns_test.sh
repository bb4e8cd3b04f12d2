#!/bin/sh
# bench/netns_dist.sh in a short functional run: two ranks of LeNet in two network namespaces
# over a veth link shaped to 10 Gbit/s; expects both runs' reports and the hidden share, and the
# namespaces gone afterwards. Exit 77 (CTest's skip) where namespaces cannot be made.
#   netns_test.sh STRATA NETNS_DIST_SH
set -u
strata=$1 script=$2
out=$("$script" "$strata" --model lenet --batch-size 8 --iters 2 --warmup 1 --rounds 1 2>&1)
status=$?
printf '%s\n' "$out"
[ "$status" -eq 77 ] && exit 77
fail() { echo "FAIL: $1"; exit 1; }
[ "$status" -eq 0 ] || fail "netns_dist.sh exited with $status"
printf '%s\n' "$out" | grep -q '^overlap: {.*"ranks":2' || fail "no report of the run with overlap"
printf '%s\n' "$out" | grep -q '^no-overlap: {.*"ranks":2' || fail "no report of the run with --no-overlap"
printf '%s\n' "$out" | grep -Eq '^round 1: communication [0-9.]+ ms per step .* hidden -?[0-9]+%' || fail "no hidden share"
for ns in $(printf '%s\n' "$out" | sed -n 's/^link: veth between namespaces \([^ ]*\) .* and \([^ ]*\) .*/\1 \2/p'); do
  ip netns list | grep -q "^$ns\b" && fail "namespace $ns was left behind"
done
echo "ok"
