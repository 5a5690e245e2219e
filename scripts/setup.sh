#!/usr/bin/env bash
# Installs the Debian 12 packages sparsecap needs (only those missing), then configures and builds
# it in ./build. Safe to run again: a second run only rebuilds what changed.
#   scripts/setup.sh [extra cmake arguments, e.g. -DSPARSECAP_CUDA=OFF]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake git pkg-config
  libdnnl-dev            # oneDNN: GEMM and the CPU's fast paths
  ocl-icd-opencl-dev     # OpenCL headers: oneDNN's CMake package config requires them
  libopenblas-dev        # OpenBLAS: only the benchmark baseline
  libeigen3-dev          # Eigen: only the sparse benchmark's peer
  nlohmann-json3-dev libcli11-dev libstb-dev zlib1g-dev libzstd-dev libstemmer-dev
  googletest libgtest-dev libbenchmark-dev
  wordnet-base           # WordNet database for METEOR's synonym matching
  protobuf-compiler libprotobuf-dev  # TensorBoard event files
  python3-matplotlib     # figures of `sparsecap gates` and `sparsecap sweep`
  clang libclang-rt-14-dev  # libFuzzer + ASan/UBSan runtimes for the fuzz targets (fuzz/, CI)
  libomp-dev             # OpenMP for clang: the engine-backed fuzz targets build the engine with it
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CUDA toolkit is not a Debian 12 package: when nvcc is installed (usually /usr/local/cuda),
# SPARSECAP_CUDA=AUTO finds it and builds the CUDA backend too.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$(nproc)"
