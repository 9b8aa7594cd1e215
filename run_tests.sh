#!/usr/bin/env bash
# The whole test suite: ./run_tests.sh [pytest arguments]
# Sets up .venv like start_app.sh (plus requirements-dev.txt), makes sure the system tools
# the tests use are there, then runs pytest over tests/. DATABASE_URL selects the database
# (SQLite under var/ by default).
set -uo pipefail
cd "$(dirname "$0")"
. scripts/setup_env.sh
setup_venv dev || exit 1

missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A CJK font, so the Chinese screenshots of the browser tests are legible.
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      || log "apt-get failed; the tests that need ${missing[*]} will be skipped"
  else
    log "missing ${missing[*]} (not root, no apt-get): the tests that need them are skipped"
  fi
fi

python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then
  log "pytest collected no tests: that is a failure of the suite"
  exit 1
fi
exit "$rc"
