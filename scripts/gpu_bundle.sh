#!/usr/bin/env bash
# Packs what scripts/gpu_check.sh needs into one .tar.xz for a GPU machine that has the CUDA runtime
# libraries and cuDNN but none of the build dependencies (docs/cuda.md, "Checking a GPU machine"):
# stripped copies of sparsecap, the GPU test suites and the GPU benchmarks, built here for one
# architecture; the non-CUDA shared libraries they need (found with ldd: oneDNN, Google Benchmark,
# zstd, OpenMP, libstdc++, ...); configs/; and gpu_check.sh.
#
#   scripts/gpu_bundle.sh [ARCH [OUTPUT.tar.xz]]
#
# ARCH: CMAKE_CUDA_ARCHITECTURES, default 90 (Hopper); e.g. 80, 89 or "80;90".
# OUTPUT: default build-gpu-sm<ARCH>/sparsecap-gpu-sm<ARCH>.tar.xz (build-* is git-ignored).
# The build folder is build-gpu-sm<ARCH> (Release, CUDA on, emulation suites off); JOBS sets the
# parallel build jobs (default: all cores). Needs nvcc (PATH or /usr/local/cuda/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

arch=${1:-90}
[[ "$arch" =~ ^[0-9]+[a-z]?(;[0-9]+[a-z]?)*$ ]] || { echo "gpu_bundle: ARCH must look like 90 or \"80;90\", got '$arch'" >&2; exit 2; }
tag=sm${arch//;/-sm}
build=$root/build-gpu-$tag
name=sparsecap-gpu-$tag
output=${2:-$build/$name.tar.xz}
jobs=${JOBS:-$(nproc)}

if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
command -v nvcc >/dev/null 2>&1 || { echo "gpu_bundle: nvcc not found (PATH, /usr/local/cuda/bin)" >&2; exit 2; }
for tool in ldd strip tar xz; do
  command -v "$tool" >/dev/null 2>&1 || { echo "gpu_bundle: $tool not found" >&2; exit 2; }
done

# ---- build ---------------------------------------------------------------------------------------
launchers=()
if command -v ccache >/dev/null 2>&1; then
  launchers=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSPARSECAP_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$arch" \
  -DSPARSECAP_CUDA_EMULATE=OFF -DSPARSECAP_BUILD_TESTS=ON -DSPARSECAP_BUILD_BENCH=ON "${launchers[@]}" >/dev/null
# What gpu_check.sh runs; bench_train only where the tree has it.
targets=(sparsecap test_cuda_ops test_models_on_cuda test_decoding_on_cuda test_trainer bench_cuda)
known_targets=$(cmake --build "$build" --target help)
if grep -Eq '^(\.\.\. )?bench_train(:|$)' <<< "$known_targets"; then targets+=(bench_train); fi
echo "gpu_bundle: building ${targets[*]} for sm_$arch in $build (-j$jobs)"
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# ---- stage -----------------------------------------------------------------------------------------
stage_parent=$build/bundle
stage=$stage_parent/$name
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
for target in "${targets[@]}"; do
  cp "$build/bin/$target" "$stage/bin/"
  strip --strip-unneeded "$stage/bin/$target"
done
cp -r configs "$stage/configs"
cp scripts/gpu_check.sh "$stage/gpu_check.sh"
chmod +x "$stage/gpu_check.sh"

# Shared libraries: everything ldd resolves except the CUDA libraries (the GPU machine has its own,
# matching its driver), the kernel's vDSO and glibc itself (the dynamic loader must come with the
# system). libstdc++ and libgcc_s are included: the GPU machine may have older ones.
is_excluded() {
  case "$1" in
    linux-vdso.so*|linux-gate.so*|ld-linux*.so*) return 0 ;;
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*|libmvec.so*) return 0 ;;
    libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libcusparse.so*|libcudnn*.so*) return 0 ;;
    libnvJitLink.so*|libnvrtc*.so*|libnvidia-*.so*|libcufft*.so*|libcurand*.so*) return 0 ;;
  esac
  return 1
}
cuda_libraries=()
for binary in "$stage"/bin/*; do
  while read -r soname path; do
    if is_excluded "$soname"; then
      case "$soname" in lib*) cuda_libraries+=("$soname") ;; esac
      continue
    fi
    [[ -f "$path" ]] || { echo "gpu_bundle: $binary needs $soname, which ldd cannot find here" >&2; exit 1; }
    [[ -e "$stage/lib/$soname" ]] || cp -L "$path" "$stage/lib/$soname"
  done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $2 == "=>" && $3 == "not" {print $1, "-"}')
done
strip --strip-unneeded "$stage"/lib/* 2>/dev/null || true

# What the bundle is and what the GPU machine must provide.
needed=$(printf '%s\n' "${cuda_libraries[@]}" | grep -Ev '^(libc|libm|libpthread|libdl|librt|libresolv|libutil|libmvec)\.so' | sort -u | paste -sd' ' -)
glibc=$(ldd --version 2>&1 | awk 'NR == 1 {print $NF}')
{
  echo "sparsecap GPU bundle $name"
  echo "built:        $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "architecture: sm_$arch"
  echo "toolkit:      $(nvcc --version | tail -n1)"
  echo "needs there:  glibc >= $glibc, an NVIDIA driver for CUDA $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), $needed"
  echo "run:          ./gpu_check.sh [LOG_DIR]   (docs/cuda.md, \"Checking a GPU machine\")"
  echo "bin:          $(cd "$stage/bin" && echo *)"
  echo "lib:          $(cd "$stage/lib" && echo *)"
} > "$stage/BUNDLE.txt"

# ---- pack -------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$output")"
XZ_OPT="-6 -T0" tar -C "$stage_parent" -cJf "$output" "$name"
echo "gpu_bundle: wrote $output ($(du -h "$output" | cut -f1)); unpack with tar -xJf and run $name/gpu_check.sh"
cat "$stage/BUNDLE.txt"
