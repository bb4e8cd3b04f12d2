#!/bin/sh
# Two ranks of a data-parallel job talking over TCP between two network namespaces joined by a
# veth pair shaped to a given rate with tc's token bucket filter (tbf) in both directions: the
# communication of `strata bench MODEL --mode train` over a real (if local) link, with and
# without overlapping the all-reduce with backward (docs/distributed.md).
#
#   bench/netns_dist.sh STRATA [options]            (as root: it makes namespaces and links)
#     --model M         zoo model (resnet18)
#     --batch-size B    per rank (16)
#     --iters I         timed steps per run (8); --warmup W untimed (2)
#     --rounds R        pairs of runs, overlap then --no-overlap (2)
#     --rate RATE       tc rate of each direction (10gbit)
#     --threads T       per rank (1)
#     --bucket-mb S     MiB of gradients per all-reduce (25, as `strata train`)
#
# Prints each run's JSON (strata bench --json) as "overlap: {...}" / "no-overlap: {...}", then per
# round the hidden share of the communication:
#     hidden = 1 - comm_wait_ms(overlap) / comm_wait_ms(--no-overlap)
# comm_wait_ms is the time a step waits in DataParallel::finish_gradients() for the sums. With
# --no-overlap every all-reduce starts there, so that wait is the whole communication of a step;
# with overlap it is what backward did not hide.
#
# Exit status 77 when network namespaces cannot be made here (not root, no CAP_NET_ADMIN, no
# `ip`/`tc`): callers may treat it as "skipped". The namespaces and the agent script are removed
# on every exit.
set -eu

usage() { sed -n '2,26p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
strata=$(readlink -f "$1"); shift
model=resnet18 batch=16 iters=8 warmup=2 rounds=2 rate=10gbit threads=1 bucket_mb=25
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2 ;;
    --batch-size) batch=$2 ;;
    --iters) iters=$2 ;;
    --warmup) warmup=$2 ;;
    --rounds) rounds=$2 ;;
    --rate) rate=$2 ;;
    --threads) threads=$2 ;;
    --bucket-mb) bucket_mb=$2 ;;
    *) usage ;;
  esac
  shift 2
done

# Names unique to this run, so that runs side by side (CTest, a benchmark) do not collide.
tag=sd$$
ns_a=${tag}a ns_b=${tag}b
net=10.$(( $$ % 200 + 20 )).$(( ($$ / 200) % 250 )).
ip_a=${net}1 ip_b=${net}2
work=$(mktemp -d)

cleanup() {
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1 || ! ip netns add "$ns_a" 2>/dev/null; then
  echo "netns_dist: cannot make network namespaces here (needs root, ip and tc): skipped" >&2
  exit 77
fi
ip netns add "$ns_b"
# The veth pair: one end in each namespace (deleting a namespace deletes its end and the pair).
ip link add "${tag}va" netns "$ns_a" type veth peer name "${tag}vb" netns "$ns_b"
for side in a b; do
  eval ns=\$ns_$side addr=\$ip_$side
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "${tag}v$side"
  ip -n "$ns" link set "${tag}v$side" up
  # Each end shapes what it sends: both directions at `rate`. The bucket holds at least one
  # 64 KiB segment (veth passes segmentation-offloaded packets of that size).
  ip netns exec "$ns" tc qdisc add dev "${tag}v$side" root tbf rate "$rate" burst 256kb latency 20ms
done

# Open MPI's rsh launcher starts the remote daemon as `AGENT HOST COMMAND...`: here the agent
# runs the command in the namespace that holds HOST's address, as ssh would on that host.
cat > "$work/agent" <<AGENT
#!/bin/sh
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case "\$host" in
  $ip_a) ns=$ns_a ;;
  $ip_b) ns=$ns_b ;;
  *) echo "netns agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
AGENT
chmod +x "$work/agent"

# mpirun runs in the first namespace (its rank is local there) and reaches the second's daemon
# over the veth link: out-of-band and MPI traffic both on it, TCP only.
run() {
  ip netns exec "$ns_a" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 GOMP_SPINCOUNT=1000 \
    timeout 600 mpirun --oversubscribe --bind-to none -H "$ip_a:1,$ip_b:1" -np 2 \
    --mca plm_rsh_agent "$work/agent" --mca btl tcp,self \
    --mca btl_tcp_if_include "${net}0/24" --mca oob_tcp_if_include "${net}0/24" \
    "$strata" bench "$model" --mode train --threads "$threads" --batch-size "$batch" --iters "$iters" \
    --warmup "$warmup" --bucket-mb "$bucket_mb" --json "$@"
}

# The value of a numeric field of a one-line JSON object.
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p"; }

echo "link: veth between namespaces $ns_a ($ip_a) and $ns_b ($ip_b), tbf $rate each way; $model, batch $batch per rank, buckets of $bucket_mb MiB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
round=1
while [ "$round" -le "$rounds" ]; do
  overlap=$(run | tail -n 1)
  echo "overlap: $overlap"
  serial=$(run --no-overlap | tail -n 1)
  echo "no-overlap: $serial"
  awk -v r="$round" -v w="$(field "$overlap" comm_wait_ms)" -v c="$(field "$serial" comm_wait_ms)" \
      -v a="$(field "$overlap" images_per_sec)" -v b="$(field "$serial" images_per_sec)" 'BEGIN {
    if (c <= 0) { print "round " r ": no communication time measured"; exit 1 }
    printf "round %d: communication %.1f ms per step (--no-overlap), not hidden %.1f ms with overlap: hidden %.0f%%; %.1f vs %.1f images/s\n",
           r, c, w, 100 * (1 - w / c), a, b
  }'
  round=$((round + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
