#!/usr/bin/env bash
# HeyGem Studio on this machine: ./start_app.sh [start|stop|status|restart]
#
# start (default): create/update .venv, migrate, collect static files, create the first
# administrator, start Redis if none answers at REDIS_URL (default: this checkout's own, see
# heygem_site/local_redis.py), then daphne on 127.0.0.1:7860 and the RQ workers (cpu, gpu) in
# the background, each under a supervisor that restarts it if it crashes. BIND=0.0.0.0 opens
# the port to the network: do that only behind an HTTPS reverse proxy (README, "Configuration").
# Logs: logs/app.log (combined), logs/<process>.log. Safe to run again.
# config: print what start would use (URL, bind address, Redis URL without its password).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup_env.sh

PORT="${PORT:-7860}"
# Loopback by default: daphne speaks plain HTTP, so other machines reach the studio through
# an HTTPS reverse proxy on this one (or set BIND=0.0.0.0 behind one elsewhere).
BIND="${BIND:-127.0.0.1}"
# REDIS_URL: left unset, every process takes this checkout's own (var/redis-url, a password
# and a port of its own), so a second checkout on this machine never shares its queues.
VAR="$REPO_DIR/var"
LOGS="$REPO_DIR/logs"
PROCESSES=(web worker-cpu worker-gpu reconciler)
mkdir -p "$VAR" "$LOGS"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

command_for() {
  case "$1" in
    web)
      # Behind a reverse proxy set PROXY_HEADERS=1 so client addresses come from
      # X-Forwarded-For; without a proxy that header would let clients forge them.
      if [ "${PROXY_HEADERS:-0}" = 1 ]; then
        echo "daphne -b $BIND -p $PORT --proxy-headers heygem_site.asgi:application"
      else
        echo "daphne -b $BIND -p $PORT heygem_site.asgi:application"
      fi ;;
    worker-cpu) echo "python manage.py rqworker cpu" ;;
    worker-gpu) echo "python manage.py rqworker gpu" ;;
    # Recovers lost background jobs (renders, checks, thumbnails, webhooks) even when no
    # worker is idle or alive to do it.
    reconciler) echo "python manage.py reconcile_tasks --loop ${RECONCILE_INTERVAL_S:-10}" ;;
  esac
}

start_process() {
  local name="$1" pidfile="$VAR/$1.pid"
  if pid_alive "$pidfile"; then
    log "$name already running (pid $(cat "$pidfile"))"
    return
  fi
  # shellcheck disable=SC2046
  setsid nohup python scripts/supervise.py "$name" "$LOGS" -- $(command_for "$name") \
    >>"$LOGS/supervisor.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  log "$name started (supervisor pid $!)"
}

stop_process() {
  local name="$1" pidfile="$VAR/$1.pid" pid
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return
  fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; fi
  rm -f "$pidfile"
  log "$name stopped"
}

url() {
  local host
  host="$(hostname)"
  case "$BIND" in
    127.*|localhost|::1)
      echo "http://127.0.0.1:$PORT  (this machine only; for other machines put an HTTPS proxy in front, or BIND=0.0.0.0: see README)" ;;
    *)
      echo "http://127.0.0.1:$PORT  (from other machines: http://$host:$PORT, add the name to ALLOWED_HOSTS; plain HTTP: put an HTTPS proxy in front)" ;;
  esac
}

do_config() {
  local py="$VENV_DIR/bin/python"
  [ -x "$py" ] || py="$(find_python)"
  echo "url: $(url)"
  echo "web: $(command_for web)"
  echo "redis: $(cd "$REPO_DIR" && "$py" -m heygem_site.local_redis)"
}

do_start() {
  setup_venv runtime
  log "migrating the database"
  python manage.py migrate --noinput >>"$LOGS/setup.log" 2>&1 || { tail -20 "$LOGS/setup.log"; exit 1; }
  log "collecting static files"
  python manage.py collectstatic --noinput >>"$LOGS/setup.log" 2>&1 || { tail -20 "$LOGS/setup.log"; exit 1; }
  python manage.py ensure_admin
  python manage.py ensure_media_store >>"$LOGS/setup.log" 2>&1
  python -m heygem_site.embedded_redis start
  for name in "${PROCESSES[@]}"; do start_process "$name"; done
  for _ in $(seq 1 100); do
    if python - "$PORT" <<'PY' 2>/dev/null
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
PY
    then
      log "HeyGem Studio is up: $(url)"
      log "follow what happens with: tail -f logs/app.log"
      return 0
    fi
    sleep 0.3
  done
  log "the web server did not open port $PORT yet; see logs/app.log"
  return 1
}

do_stop() {
  for name in "${PROCESSES[@]}"; do stop_process "$name"; done
  if [ -x "$VENV_DIR/bin/python" ]; then "$VENV_DIR/bin/python" -m heygem_site.embedded_redis stop; fi
}

do_status() {
  local rc=0 name
  for name in "${PROCESSES[@]}"; do
    if pid_alive "$VAR/$name.pid"; then
      echo "$name: running (supervisor pid $(cat "$VAR/$name.pid"))"
    else
      echo "$name: stopped"; rc=3
    fi
  done
  if [ -x "$VENV_DIR/bin/python" ]; then "$VENV_DIR/bin/python" -m heygem_site.embedded_redis status || rc=3; fi
  [ "$rc" = 0 ] && echo "url: $(url)"
  return "$rc"
}

case "${1:-start}" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status) do_status ;;
  config) do_config ;;
  *) echo "usage: $0 [start|stop|status|restart|config]" >&2; exit 2 ;;
esac
