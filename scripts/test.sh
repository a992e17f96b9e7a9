#!/usr/bin/env bash
# The test command (README, CI): configure with the cpu-tests preset, build everything with all
# cores (the CUDA kernels included), run every test not labelled gpu.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
jobs=$(nproc)
cmake --preset cpu-tests
cmake --build --preset cpu-tests -j "$jobs"
ctest --preset cpu -j "$jobs"
