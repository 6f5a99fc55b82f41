#!/usr/bin/env bash
# Install the Debian packages Caffe's build and runtime need; a no-op when all are present.
source "$(dirname "$0")/common.sh"

PACKAGES=(cmake make g++ dpkg-dev binutils libprotobuf-dev protobuf-compiler libgoogle-glog-dev
          libgflags-dev libhdf5-dev libboost-system-dev libboost-thread-dev
          libboost-filesystem-dev libboost-python-dev libopenblas-dev libpython3-dev python3-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { say "Debian packages: all present"; exit 0; }

manual="install these Debian 12 packages by hand (as root: apt-get update && apt-get install -y ${missing[*]}), or point CAFFE_ROOT at an existing Caffe 1.0 build with pycaffe and WITH_PYTHON_LAYER so nothing is built, then run 'make setup' again"
command -v apt-get >/dev/null 2>&1 || die_manual "apt-get is not available on this machine; $manual."
say "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq || die_manual "'apt-get update' failed or needs root (not root and no password-less sudo); $manual."
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || die_manual "'apt-get install' failed for some of: ${missing[*]}; $manual."
