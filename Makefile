# Strata's single entry point. `make train` and `make test` are the README's quick start.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
MODEL      ?= lenet-bn
TRAIN_ARGS ?=
# make fuzz: seconds per harness, and which harnesses (default: all; names as in fuzz/corpus/).
FUZZ_SECONDS   ?= 60
FUZZ_HARNESSES ?=

.PHONY: all deps deps-torch deps-bench deps-fuzz configure build test test-asan fuzz train package clean

all: build

deps:
	@tools/install_deps.sh

deps-torch:
	@tools/install_deps.sh --torch

# What the benchmarks against PyTorch and onnxruntime need (bench/compare_*.py): PyTorch and ONNX
# from Debian, and onnxruntime's CPU library from npm's onnxruntime-node, into $(BUILD)/onnxruntime
# (without its install script, which downloads GPU files from elsewhere).
ORT_VERSION ?= 1.30.0
deps-bench:
	@tools/install_deps.sh --bench
	@test -f $(BUILD)/onnxruntime/node_modules/onnxruntime-node/package.json || \
	  npm install --prefix $(BUILD)/onnxruntime --ignore-scripts --no-audit --no-fund onnxruntime-node@$(ORT_VERSION)

deps-fuzz:
	@tools/install_deps.sh --fuzz

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# Trains MODEL on Fashion-MNIST with the book's recipe into runs/MODEL (replacing an earlier run
# there), then prints the test accuracy and where the weights, metrics and curves are. Extra
# options go in TRAIN_ARGS, e.g. make train MODEL=lenet TRAIN_ARGS="--epochs 5".
train: build
	$(BUILD)/strata train $(MODEL) --out runs/$(MODEL) --overwrite $(TRAIN_ARGS)

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, at -O1 (what ASan's
# authors recommend: nearly the speed of -O2 at a third less compile time).
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DSTRATA_SANITIZE=ON -DSTRATA_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS) --timeout 1200

# Coverage-guided fuzzing of every file reader (fuzz/, docs/FUZZING.md): the whole library and the
# harnesses built with clang's libFuzzer, ASan and UBSan in $(FUZZ_BUILD) (at -O1, with line
# tables for the stacks), then each harness run FUZZ_SECONDS seconds over a copy of its seed corpus,
# memory bounded. Fails when a harness finds a crash, a hang, a sanitizer report or an oversized
# allocation; the input is kept in $(FUZZ_BUILD)/fuzz-findings/<harness>/.
# E.g. make fuzz FUZZ_SECONDS=300 FUZZ_HARNESSES="npy safetensors".
fuzz: deps-fuzz
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_CXX_FLAGS_RELEASE="-O1 -gline-tables-only" -DSTRATA_FUZZ=ON -DSTRATA_BUILD_TESTS=OFF \
		-DSTRATA_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_harnesses
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

# A Debian package of the library, headers, CMake package and CLI (build/strata_<version>_amd64.deb):
# apt install ./build/strata_*.deb on a Debian 12 machine pulls in its runtime dependencies.
package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
