#!/usr/bin/env bash
# Stages the Debian packages the build needs into .deps/ (git-ignored), for the GPU machine,
# which has CUDA, CMake and ninja but no package registry: carry .deps with the device call and
# scripts/gpu-check.sh puts .deps/usr on CMAKE_PREFIX_PATH. Run here, on a machine with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libfmt-dev libfmt9)
rm -rf .deps && mkdir -p .deps/debs
lists=$(mktemp -d)
mkdir -p "$lists/partial"
apt_opts=(-o "Dir::State::Lists=$lists")
apt-get "${apt_opts[@]}" update -qq
(cd .deps/debs && apt-get "${apt_opts[@]}" download "${packages[@]}" >/dev/null)
for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps; done
rm -rf .deps/debs "$lists" .deps/usr/share/doc .deps/usr/share/man
echo "staged: ${packages[*]} -> .deps ($(du -sh .deps | cut -f1))"
