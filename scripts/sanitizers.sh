#!/usr/bin/env bash
# The sanitizer build: the whole project (CPU side, no benchmarks) compiled by clang under
# AddressSanitizer + UndefinedBehaviorSanitizer in ./build-asan, with libFuzzer's instrumentation
# too, so that the fuzz targets (fuzz/, scripts/fuzz.sh) come out of the same build; then its
# test suite, every sanitizer report failing the test it happens in. CI runs the build and the
# fuzzing (.ci/run); the suite takes longer than CI's budget and is run by hand (docs/reliability.md).
#   scripts/sanitizers.sh              configure, build everything, run the test suite
#   scripts/sanitizers.sh --build      configure and build everything, run nothing
#   scripts/sanitizers.sh --configure  configure only (scripts/fuzz.sh then builds one target)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:---test}"
build=build-asan

# -O0: the build is there to find memory and undefined-behaviour faults, and unoptimised it
# compiles in about half the time of -O1 (the suite then runs slower). -gline-tables-only: file
# and line in every sanitizer report without full debug information's compile time.
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O0 -gline-tables-only" -DSPARSECAP_SANITIZE=ON -DSPARSECAP_FUZZ=ON \
  -DSPARSECAP_CUDA=OFF -DSPARSECAP_BUILD_BENCH=OFF -DSPARSECAP_CUDA_EMULATE=OFF >/dev/null
[ "$mode" = --configure ] && exit 0
cmake --build "$build" -j"$(nproc)"
[ "$mode" = --build ] && exit 0
# halt_on_error: a UBSan finding ends the program, so that it fails its test. (ASan does by
# default, and LeakSanitizer checks every test program at exit.)
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
