# Shared set-up of start_app.sh and run_tests.sh; source it, then call setup_venv.
#   setup_venv runtime   -> .venv with requirements.txt
#   setup_venv dev       -> .venv with requirements-dev.txt (includes requirements.txt)
# pip runs only when the requirement files changed since the last successful install
# (a sha256 stamp is kept in .venv).

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV_DIR:-$REPO_DIR/.venv}"

log() { printf '%s %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*"; }

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

setup_venv() {
  local flavour="${1:-runtime}" req stamp want have py
  if [ "$flavour" = dev ]; then req="$REPO_DIR/requirements-dev.txt"; else req="$REPO_DIR/requirements.txt"; fi
  if [ ! -x "$VENV_DIR/bin/python" ]; then
    py="$(find_python)" || return 1
    log "creating $VENV_DIR with $py"
    "$py" -m venv "$VENV_DIR" || return 1
  fi
  stamp="$VENV_DIR/.requirements-$flavour.sha256"
  want="$(cat "$REPO_DIR/requirements.txt" "$req" | sha256sum | cut -d' ' -f1)"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    log "installing $(basename "$req") into $VENV_DIR (this takes a few minutes the first time)"
    "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check -q -r "$req" || return 1
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV_DIR/bin:$PATH"
  export VIRTUAL_ENV="$VENV_DIR"
}
