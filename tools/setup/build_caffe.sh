#!/usr/bin/env bash
# Build official Caffe 1.0 (Debian's source package) CPU-only with Python layers into a cache
# outside the clone, keyed by version and options; print the resulting CAFFE_ROOT on stdout.
# An existing build named by CAFFE_ROOT is used instead when it has pycaffe and Python layers.
source "$(dirname "$0")/common.sh"
PYTHON="${PYTHON:-python3}"

has_python_layer() {  # $1: a Caffe root; true when its libcaffe registers the Python layer
  local lib
  lib=$(ls "$1"/build/lib/libcaffe.so* "$1"/lib/libcaffe.so* 2>/dev/null | head -n 1)
  [ -n "$lib" ] && [ -e "$1/python/caffe/_caffe.so" ] && grep -aq PythonLayer "$lib"
}

if [ -n "${CAFFE_ROOT:-}" ]; then
  has_python_layer "$CAFFE_ROOT" \
    || die_manual "CAFFE_ROOT=$CAFFE_ROOT is not a Caffe build with pycaffe (python/caffe/_caffe.so) and WITH_PYTHON_LAYER; rebuild it with the Python layer enabled, or unset CAFFE_ROOT so 'make setup' builds its own"
  say "using existing Caffe at CAFFE_ROOT=$CAFFE_ROOT"
  echo "$CAFFE_ROOT"; exit 0
fi

VERSION="1.0.0+git20180821.99bd997-8"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CMAKE_OPTS=(-DCPU_ONLY=ON -DUSE_OPENCV=OFF -DUSE_LEVELDB=OFF -DUSE_LMDB=OFF -DBUILD_python=ON
            -DBUILD_python_layer=ON -Dpython_version=3 -DBLAS=Open -DBUILD_docs=OFF
            -DCMAKE_BUILD_TYPE=Release)
# the key covers the source changes too: editing patch_caffe.sh makes a new build
KEY=$( (printf '%s py%s %s' "$VERSION" "$PYVER" "${CMAKE_OPTS[*]}"; cat "$(dirname "$0")/patch_caffe.sh") \
      | sha1sum | cut -c1-10)
ROOT="$CACHE_DIR/caffe-${VERSION%%+*}-$KEY"
if [ -e "$ROOT/.built" ] && has_python_layer "$ROOT/src"; then
  say "Caffe: cached build at $ROOT/src"
  echo "$ROOT/src"; exit 0
fi

say "building Caffe $VERSION (CPU-only, Python layer) into $ROOT; about 3 minutes on 2 cores"
rm -rf "$ROOT"; mkdir -p "$ROOT/apt/lists/partial" "$ROOT/apt/cache/archives/partial" "$ROOT/fetch"
read -r MIRROR KEYRING < <("$PYTHON" "$(dirname "$0")/debian_mirror.py")
# Debian 12 ships no caffe; bullseye's source package builds here. A private sources list and
# lists directory leave the system's own apt state untouched.
echo "deb-src [signed-by=$KEYRING] $MIRROR bullseye main" > "$ROOT/apt/sources.list"
APT_OPTS=(-oDir::Etc::SourceList="$ROOT/apt/sources.list" -oDir::Etc::SourceParts=/dev/null
          -oDir::State::Lists="$ROOT/apt/lists" -oDir::Cache="$ROOT/apt/cache" -oAPT::Sandbox::User=root -qq)
apt-get "${APT_OPTS[@]}" update || die_manual "could not read the caffe source package index from the configured Debian mirror; fetch 'caffe=$VERSION' sources by hand and set CAFFE_ROOT after building them"
(cd "$ROOT/fetch" && apt-get "${APT_OPTS[@]}" source "caffe=$VERSION" >/dev/null 2>&1) \
  || die_manual "'apt-get source caffe=$VERSION' failed (dpkg-dev is needed to unpack it)"
mv "$ROOT"/fetch/caffe-*/ "$ROOT/src"

bash "$(dirname "$0")/patch_caffe.sh" "$ROOT/src"

mkdir -p "$ROOT/src/build"
(cd "$ROOT/src/build" \
  && cmake .. "${CMAKE_OPTS[@]}" -DPYTHON_EXECUTABLE="$(command -v "$PYTHON")" > "$ROOT/cmake.log" 2>&1 \
  && make -j"$(nproc)" caffe pycaffe caffe.bin > "$ROOT/make.log" 2>&1) \
  || die_manual "building Caffe failed; see $ROOT/cmake.log and $ROOT/make.log"
has_python_layer "$ROOT/src" || die_manual "the Caffe build at $ROOT/src lacks the Python layer"
touch "$ROOT/.built"
say "Caffe built at $ROOT/src"
echo "$ROOT/src"
