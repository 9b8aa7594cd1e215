"""Run one command forever: restart it when it exits, log its output.

Usage: supervise.py NAME LOG_DIR -- COMMAND...

Lines of the command go to LOG_DIR/NAME.log and, prefixed with NAME, to LOG_DIR/app.log (the
combined log). A crash restarts the command after a back-off (1 s doubling to 30 s, reset
after a minute of running). SIGTERM/SIGINT stop the command and its process group (SIGTERM, then
SIGKILL after 20 s) and the supervisor; processes the command forked never outlive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime

stopping = threading.Event()
child: subprocess.Popen | None = None


def stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def pump(stream, own, combined, name: str) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        own.write(line + "\n")
        own.flush()
        combined.write(f"[{name}] {line}\n")
        combined.flush()


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the command and everything it started (it runs in its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def on_signal(signum, frame) -> None:
    stopping.set()
    if child is not None:
        signal_group(child, signal.SIGTERM)


def main() -> int:
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    name, log_dir, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    os.makedirs(log_dir, exist_ok=True)
    with (
        open(os.path.join(log_dir, f"{name}.log"), "a", buffering=1) as own,
        open(os.path.join(log_dir, "app.log"), "a", buffering=1) as combined,
    ):
        supervise(name, cmd, own, combined)
    return 0


def supervise(name: str, cmd: list[str], own, combined) -> None:
    """Run ``cmd`` again and again until stopped, with a growing pause after quick exits."""
    global child
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    backoff = 1.0
    while not stopping.is_set():
        started = time.monotonic()
        combined.write(f"{stamp()} [{name}] starting: {' '.join(cmd)}\n")
        child = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,
        )
        reader = threading.Thread(
            target=pump, args=(child.stdout, own, combined, name), daemon=True
        )
        reader.start()
        while child.poll() is None:
            if stopping.wait(0.5) and child.poll() is None:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    signal_group(child, signal.SIGKILL)
        rc = child.returncode
        # Helpers the command forked (e.g. RQ's scheduler) must not outlive it.
        signal_group(child, signal.SIGTERM)
        reader.join(timeout=5)
        signal_group(child, signal.SIGKILL)
        if stopping.is_set():
            combined.write(f"{stamp()} [{name}] stopped\n")
            return
        if time.monotonic() - started > 60:
            backoff = 1.0
        combined.write(f"{stamp()} [{name}] exited with {rc}; restarting in {backoff:.0f} s\n")
        if stopping.wait(backoff):
            return
        backoff = min(backoff * 2, 30.0)


if __name__ == "__main__":
    sys.exit(main())
