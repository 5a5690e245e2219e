#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time under ASan+UBSan (fuzz/CMakeLists.txt):
#   scripts/fuzz.sh TARGET SECONDS     e.g. scripts/fuzz.sh safetensors 60
# TARGET is one of: npy npz image karpathy coco_results safetensors csr_export run_config.
# Builds the target in the sanitizer build, ./build-asan (scripts/sanitizers.sh configures it when
# needed; only the target and its libraries are built here). Starts
# from the seed corpus in fuzz/corpus/TARGET (new inputs go to a scratch copy, not into the tree).
# A crash is copied to fuzz/regressions/TARGET/, where ctest replays it (fuzz_replay_TARGET) once
# it is fixed; the script then exits non-zero. SPARSECAP_FUZZ_SEED=N fixes libFuzzer's seed (CI
# sets it, so that a CI run explores the same inputs each time; by hand each run explores anew).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET SECONDS}"
seconds="${2:?usage: scripts/fuzz.sh TARGET SECONDS}"
build=build-asan
[ -f "$build/CMakeCache.txt" ] || scripts/sanitizers.sh --configure
cmake --build "$build" -j"$(nproc)" --target "fuzz_$target" >/dev/null
scratch="$(mktemp -d)"
artifacts="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$scratch" "$artifacts" "$log"' EXIT
status=0
# -rss_limit_mb: a reader must refuse, not allocate, what a hostile header asks for.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$build/bin/fuzz_$target" "$scratch" "fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -timeout=10 ${SPARSECAP_FUZZ_SEED:+-seed=$SPARSECAP_FUZZ_SEED} -artifact_prefix="$artifacts/" -print_final_stats=1 \
  >"$log" 2>&1 || status=$?
if compgen -G "$artifacts/*" >/dev/null; then
  # The whole report: a fault's first frames are what tells where it is, and a fault met once in
  # a timed run may not come back.
  grep -v '^#[0-9]*\s*\(NEW\|REDUCE\|pulse\|INITED\)' "$log" >&2 || true
  mkdir -p "fuzz/regressions/$target"
  cp "$artifacts"/* "fuzz/regressions/$target/"
  echo "fuzz.sh: $target found a fault; the input is in fuzz/regressions/$target/" >&2
  exit 1
fi
tail -n 25 "$log"
exit "$status"
