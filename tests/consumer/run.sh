#!/usr/bin/env bash
# Installs the build in BUILD_DIR into a staging prefix, checks that the library exports its public
# API and none of its internals, then builds and runs the consumer project against it twice: with
# CMake's find_package(Strata) and with pkg-config. Then configures it with
# Strata as a subdirectory (configuring only: building would compile the library once more): no
# build type forced on the parent, no clash with its target names, no CLI or tests unless asked.
#   tests/consumer/run.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null

# Exported: the public headers' namespaces (strata, data, nn, train, ...); hidden: the graph, the
# kernels (ref, cpu, dnnl_backend) and the io formats' internals.
exports=$(nm -D --defined-only -C "$work/prefix/lib/libstrata.so")
internal=$(grep -E ' [TDRBW] strata::(graph|ref|cpu|dnnl_backend|data::detail)::' <<<"$exports" | head -5 || true)
if [[ -n "$internal" ]]; then
  echo "libstrata.so exports internals:" >&2
  echo "$internal" >&2
  exit 1
fi
for symbol in 'strata::Tensor::shape() const' 'strata::data::DataLoader::epoch(long) const' \
              'strata::nn::Module::parameters() const'; do
  grep -qF " T $symbol" <<<"$exports" || { echo "libstrata.so does not export $symbol" >&2; exit 1; }
done

cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib" "$work/cmake/custom_block"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
g++ -o "$work/pkgconfig_consumer" "$here/main.cpp" $(pkg-config --cflags --libs strata)
LD_LIBRARY_PATH="$work/prefix/lib" "$work/pkgconfig_consumer"

cmake -S "$here" -B "$work/subdirectory" -DSTRATA_SOURCE_DIR="$here/../.." >"$work/subdirectory.log"
grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$work/subdirectory/CMakeCache.txt" || {
  echo "add_subdirectory(strata) set the parent's build type" >&2
  exit 1
}
for target in strata_cli test_io bench_ops strata_example_custom_block; do
  if cmake --build "$work/subdirectory" --target help | grep -q "\.\.\. $target\$"; then
    echo "add_subdirectory(strata) defines $target" >&2
    exit 1
  fi
done
echo "add_subdirectory: configured without a build type, CLI, tests, benchmarks or examples"
