#!/usr/bin/env bash
# Create .venv with the pinned dependencies, the project (editable), pycaffe on its path, and
# a .venv/bin/caffe wrapper. Usage: make_venv.sh CAFFE_ROOT. Quick when nothing changed.
source "$(dirname "$0")/common.sh"
CAFFE_ROOT="$1"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$REPO/.venv"
PYTHON="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" \
  || die_manual "'$PYTHON -m venv' failed; install Python 3.11 with its venv module (Debian: apt-get install python3-venv)"

# Reinstall only when the pins or setup.py changed. The editable install is a path entry
# (compat mode), so packages added later import without reinstalling.
STAMP="$VENV/.installed"
WANT=$(cat "$REPO/requirements.txt" "$REPO/setup.py" | sha1sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  say "installing Python packages into .venv"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REPO/requirements.txt" \
    || die_manual "pip could not install requirements.txt into .venv; check the package index configured for pip"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$REPO" \
    --config-settings editable_mode=compat \
    || die_manual "pip could not install the project itself (setup.py) into .venv"
  echo "$WANT" > "$STAMP"
fi
# CuPy is optional: only where an NVIDIA GPU is visible.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  "$VENV/bin/python" -c "import cupy" 2>/dev/null \
    || "$VENV/bin/pip" install -q cupy-cuda12x || say "CuPy could not be installed; the GPU backend stays off"
fi

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$CAFFE_ROOT/python" > "$SITE/pycaffe.pth"

# The caffe binary embeds the system libpython, which sees only what PYTHONPATH gives it.
cat > "$VENV/bin/caffe" <<WRAPPER
#!/bin/sh
# Caffe's tool with the project's layers and .venv's packages importable (made by make setup).
export PYTHONPATH="$REPO:$CAFFE_ROOT/python:$SITE\${PYTHONPATH:+:\$PYTHONPATH}"
exec "$CAFFE_ROOT/build/tools/caffe" "\$@"
WRAPPER
chmod +x "$VENV/bin/caffe"
"$VENV/bin/python" -c "import caffe, sampler, layers, data" \
  || die_manual "'import caffe, sampler, layers, data' fails in .venv; see the error above"
say "environment ready: .venv (caffe at $CAFFE_ROOT)"
