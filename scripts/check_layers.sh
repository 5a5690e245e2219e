#!/usr/bin/env bash
# The include rule of docs/architecture.md, checked: every project #include "folder/..." in a
# folder must name a folder that folder may depend on. Dependencies point down only:
#   engine/kernels  <  engine  <  cuda (the backend, below the engine's users)
#   engine  <  models, pruning, data, eval  <  train  <  apps, bench
# Prints every offending line and exits 1; run by ctest as "layering".
#   scripts/check_layers.sh [repository root]
set -euo pipefail
root="${1:-$(dirname "$0")/..}"
cd "$root"

# folder -> the top-level folders its files may include from (itself included), or single headers
# (train/ may ask which CUDA devices there are: cuda/cuda_runtime_info.h has no CUDA header and a
# CPU-only build's stub)
declare -A allowed=(
  [engine/kernels]="engine/kernels"
  [engine]="engine"
  [cuda]="cuda engine"
  [models]="engine models"
  [pruning]="engine pruning"
  [data]="engine data"
  [eval]="engine eval"
  [train]="engine models pruning data eval train cuda/cuda_runtime_info.h"
  [apps]="engine cuda models pruning data eval train apps"
  [bench]="engine cuda models pruning data eval train bench"
)

violations=0
for folder in engine/kernels engine cuda models pruning data eval train apps bench; do
  [ -d "$folder" ] || continue
  # engine/kernels is checked on its own: skip it while checking engine.
  exclude=()
  [ "$folder" = engine ] && exclude=(--exclude-dir=kernels)
  while IFS= read -r line; do
    file="${line%%:*}"
    [[ "$line" =~ \#[[:space:]]*include[[:space:]]+\"([^\"]+)\" ]] || continue
    target="${BASH_REMATCH[1]}"
    ok=0
    for prefix in ${allowed[$folder]}; do
      if [[ "$target" == "$prefix"/* || "$target" == "$prefix" ]]; then ok=1; break; fi
    done
    # A folder-less include ("shim.h") or one relative to the file is local, not a layer crossing.
    [[ "$target" != */* || "$target" == ./* || "$target" == ../* ]] && ok=1
    if [ "$ok" -eq 0 ]; then
      echo "layering: $file includes \"$target\", but $folder/ may only include from: ${allowed[$folder]}"
      violations=$((violations + 1))
    fi
  done < <(grep -rn --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' "${exclude[@]}" \
             -E '^\s*#\s*include\s+"' "$folder" || true)
done

if [ "$violations" -gt 0 ]; then
  echo "layering: $violations include(s) run upwards (see docs/architecture.md)"
  exit 1
fi
echo "layering: every include runs downwards"
