#!/usr/bin/env bash
# Runs the libFuzzer harnesses of a STRATA_FUZZ build (make fuzz): each for SECONDS seconds, one
# after the other, then prints a line per harness (executions, exec/s, coverage, corpus size,
# outcome) and exits 1 when any harness found something.
#   fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]      (default: every harness with a corpus/ folder)
# Each harness fuzzes BUILD_DIR/fuzz-corpus/<name>/, a copy of fuzz/corpus/<name>/ (plus a few test
# fixtures written by numpy, safetensors and PyTorch) that keeps what earlier runs found; the
# committed corpus is only read. A finding lands in BUILD_DIR/fuzz-findings/<name>/ and the whole
# output in BUILD_DIR/fuzz-logs/<name>.log. Memory is bounded so that a size read from a file can
# never become a huge allocation unnoticed: one allocation over 1 GiB, or 2 GiB resident, is a
# finding; so is one input running over 25 seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1
seconds=$2
shift 2
harnesses=("$@")
if [[ ${#harnesses[@]} -eq 0 ]]; then
  for dir in fuzz/corpus/*/; do harnesses+=("$(basename "$dir")"); done
fi

# Seeds from other writers than Strata's own, copied next to the generated ones.
declare -A extra_seeds=(
  [npy]="tests/fixtures/io/*.npy"
  [safetensors]="tests/fixtures/io/*.safetensors"
  [onnx]="tests/fixtures/onnx/mixed_opset11.onnx tests/fixtures/onnx/mixed_opset13.onnx"
)

export OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

summary=()
failed=0
for name in "${harnesses[@]}"; do
  binary=$build/fuzz/fuzz_$name
  corpus=$build/fuzz-corpus/$name
  findings=$build/fuzz-findings/$name
  log=$build/fuzz-logs/$name.log
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  cp fuzz/corpus/"$name"/* "$corpus"/
  # shellcheck disable=SC2086 # the patterns expand here
  [[ -n "${extra_seeds[$name]:-}" ]] && cp ${extra_seeds[$name]} "$corpus"/
  dict=()
  [[ -f fuzz/dict/$name.dict ]] && dict=(-dict="fuzz/dict/$name.dict")
  echo "fuzz: $name for ${seconds}s (log: $log)"
  "$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -timeout=25 -artifact_prefix="$findings/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  # The last status line: "#N  DONE  cov: C ft: F corp: U/S exec/s: E rss: R".
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$status")
  execs=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$status")
  outcome=ok
  if [[ $rc -ne 0 ]]; then
    outcome="FOUND (exit $rc): $(grep -m1 -E 'ERROR: |fuzz finding|runtime error' "$log" | cut -c1-150); input in $findings/"
    failed=1
  fi
  summary+=("$(printf '%-12s runs %-10s exec/s %-7s cov %-6s ft %-7s corpus %-12s %s' "$name" "${runs:-?}" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$outcome")")
done

echo
echo "fuzz summary (${seconds}s per harness):"
printf '  %s\n' "${summary[@]}"
exit $failed
