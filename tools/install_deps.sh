#!/usr/bin/env bash
# Installs the Debian packages Strata needs that are not installed yet. Quiet when nothing is
# missing. Runs apt-get as root, or through sudo.
#   tools/install_deps.sh            build, test and train dependencies
#   tools/install_deps.sh --torch    also PyTorch with OpenBLAS (fixtures and side-by-side benchmarks
#                                    only; OpenBLAS gives PyTorch its fast matrix products)
#   tools/install_deps.sh --bench    --torch, and ONNX, OpenCV and Node.js for the onnxruntime comparison
#                                    and tools/check_onnx_export.py
#   tools/install_deps.sh --fuzz     also clang 16 and libFuzzer (make fuzz: coverage-guided fuzzing)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libstb-dev
  libonnx-dev libprotobuf-dev  # ONNX export: ONNX's protobuf classes and checker
  libopencv-dnn-dev            # tests: OpenCV's dnn module runs the exported ONNX files
  libopenmpi-dev openmpi-bin   # data-parallel training under mpirun (src/dist/)
  ocl-icd-opencl-dev   # Debian's dnnl-config.cmake calls find_package(OpenCL): a Recommends of libdnnl-dev
  dataset-fashion-mnist
)
if [[ "${1:-}" == "--torch" || "${1:-}" == "--bench" ]]; then
  packages+=(python3 python3-torch python3-numpy libopenblas0-pthread)
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-onnx python3-opencv python3-torchvision nodejs)
  # Debian's npm is its own package; other builds of nodejs (NodeSource's) carry npm inside.
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

if [[ "${1:-}" == "--fuzz" ]]; then
  # the sanitizer runtimes and libFuzzer; clang's OpenMP (the library is built with it)
  packages+=(clang-16 libclang-rt-16-dev libfuzzer-16-dev libomp-16-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "make deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt=(sudo apt-get)
else
  echo "make deps: missing packages ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
  "${apt[@]}" update -q
  "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi
