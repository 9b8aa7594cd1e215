"""The real studio stack for browser tests: Redis, daphne (HTTP + websockets), an RQ worker.

Everything runs as subprocesses on free ports against a fresh directory (SQLite database,
media, collected static files), with DEBUG off as in production, so the browser sees exactly
what a user sees: WhiteNoise-served static files, the chunked upload API, live websocket
progress and the real render worker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited ({proc.returncode}) before listening on {port}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(
        f"nothing listened on port {port} within {timeout_s}s:\n"
        + log.read_text(errors="replace")[-4000:]
    )


@dataclass
class Stack:
    root: Path
    redis_url: str
    env: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    base_url: str = ""

    def manage(self, *args: str, timeout_s: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        fh = open(log, "wb")
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=self.env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        self.logs.append((name, log, fh))
        return proc

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        # As start_app.sh: the web host marks its media directory (render workers check it).
        self.manage("ensure_media_store")
        port = free_port()
        web = self.spawn(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "heygem_site.asgi:application",
            ],
        )
        wait_for_port(port, web, self.root / "daphne.log")
        self.base_url = f"http://127.0.0.1:{port}"
        self.spawn("worker", [sys.executable, "manage.py", "rqworker", "gpu", "cpu"])

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for name, log, fh in self.logs:
            fh.flush()
            parts.append(f"--- {name} ---\n" + log.read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for _, _, fh in self.logs:
            fh.close()

    def create_user(self, username: str, password: str, team: str) -> None:
        """A user who owns ``team`` (made through the same service the UI uses)."""
        code = (
            "from django.contrib.auth import get_user_model\n"
            "from studio.actor import Actor\n"
            "from studio.services.teams import create_team\n"
            f"u = get_user_model().objects.create_user(\n"
            f"    {username!r}, {username + '@example.org'!r}, {password!r})\n"
            f"create_team(Actor.of(u), u, {team!r})\n"
        )
        self.manage("shell", "-c", code)


def make_stack(root: Path, redis_url: str) -> Stack:
    env = dict(os.environ)
    for key in ("DJANGO_ENV", "HEYGEM_MODE", "DEBUG", "DATABASE_URL", "PYTEST_CURRENT_TEST"):
        env.pop(key, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
            "HEYGEM_VAR_DIR": str(root / "var"),
            "MEDIA_ROOT": str(root / "media"),
            # A model folder of the stack's own (empty until a test installs something), not
            # the checkout's models/.
            "LIPSYNC_MODEL_DIR": str(root / "models"),
            "STATIC_ROOT": str(root / "static"),
            "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "UPLOAD_CHUNK_BYTES": str(64 * 1024),
            # E-mails (notifications, invitations) go to files the tests read.
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(root / "mail"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return Stack(root=root, redis_url=redis_url, env=env)
