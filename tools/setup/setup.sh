#!/usr/bin/env bash
# make setup: Debian packages, Caffe (cached or CAFFE_ROOT), .venv. Idempotent.
source "$(dirname "$0")/common.sh"
if [ -z "${CAFFE_ROOT:-}" ]; then bash "$(dirname "$0")/apt_packages.sh"; fi
root=$(bash "$(dirname "$0")/build_caffe.sh")
bash "$(dirname "$0")/make_venv.sh" "$root"
