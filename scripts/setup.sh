#!/usr/bin/env bash
# Installs what building and testing marlin needs on a Debian machine (see
# /work/shared/DEPENDENCIES.md for why each package), and checks the CUDA toolkit.
# Idempotent: apt is not touched when every package is already installed. Runs as root without
# sudo, or as a user with sudo.
set -euo pipefail

packages=(
  cmake ninja-build pkg-config ccache python3
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup.sh: missing packages (${missing[*]}) and no root or sudo to install them" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} packages present"
fi

# The CUDA toolkit (nvcc 13) is not a Debian package here: it must already be installed. CMake
# finds nvcc on PATH; scripts/test.sh puts /usr/local/cuda/bin there itself.
if command -v nvcc >/dev/null 2>&1; then
  nvcc_path=$(command -v nvcc)
elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc_path=/usr/local/cuda/bin/nvcc
  echo "setup.sh: nvcc is not on PATH; before configuring run: export PATH=/usr/local/cuda/bin:\$PATH"
else
  echo "setup.sh: nvcc not found (on PATH or in /usr/local/cuda/bin): install the CUDA toolkit" >&2
  exit 1
fi
echo "setup.sh: $("$nvcc_path" --version | grep -o 'release [0-9.]*') nvcc at $nvcc_path"
