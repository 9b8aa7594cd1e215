#!/usr/bin/env bash
# The static checks CI runs before the tests: ./scripts/lint.sh [style|types|django|all]
#   style:  ruff lint and ruff format (pyproject.toml)
#   types:  mypy (strict on lipsync/, checked on the Django apps; pyproject.toml)
#   django: manage.py check, check --deploy in production mode, no missing migration
# Exits non-zero when any check fails. Uses .venv (run ./run_tests.sh once to create it).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
what="${1:-all}"
failed=()

run() {
  local name="$1"; shift
  echo "== $name"
  "$@" || failed+=("$name")
}

if [ "$what" = style ] || [ "$what" = all ]; then
  run "ruff check" "$PY" -m ruff check .
  run "ruff format" "$PY" -m ruff format --check .
fi
if [ "$what" = types ] || [ "$what" = all ]; then
  run "mypy" "$PY" -m mypy
fi
if [ "$what" = django ] || [ "$what" = all ]; then
  run "manage.py check" "$PY" manage.py check --fail-level WARNING
  run "manage.py check --deploy" env DJANGO_ENV=production SECRET_KEY="ci-$(date +%s)-not-a-real-key-but-long-enough-for-the-check-0123456789" \
    "$PY" manage.py check --deploy --fail-level WARNING
  run "makemigrations --check" "$PY" manage.py makemigrations --check --dry-run
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all static checks passed"
