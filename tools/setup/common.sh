# Shared helpers for the set-up scripts (sourced, not run).
set -euo pipefail

say() { printf '[setup] %s\n' "$*" >&2; }

# Stop with one paragraph telling the user what to do by hand.
die_manual() {
  printf '\n[setup] cannot continue: %s\n\n' "$*" >&2
  exit 1
}

# Run a command as root: directly, through sudo, or not at all (with a clear message).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 126
  fi
}

CACHE_DIR="${CNNCRF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cnncrf}"
