"""The fault suite's stack: real processes that the tests kill, cut off and restart.

One :class:`FaultStack` per test module (``fault_stack``): a private, durable Redis started
exactly as the embedded one (:func:`heygem_site.embedded_redis.server_command`: append-only
file, ``appendfsync everysec``), and whichever of ``manage.py rqworker gpu`` / ``rqworker
cpu`` / ``reconcile_tasks --loop`` / daphne a module starts, all on the test database
(SQLite file or, with ``DATABASE_URL`` on PostgreSQL, the PostgreSQL test database) and one
media folder. Short limits keep the suite fast: a task silent for 3 s is judged, a worker
silent for 8 s counts as dead (a job's heartbeat thread can be starved for a few seconds on a
loaded 2-core machine: a tighter limit would take live runs for lost), reconcilers run every
second, a job that never arrived is looked for after 3 s.

Tests use ``transactional_db`` (their rows are committed, the subprocesses see them); the
library rows come from ``tests/batches/conftest.py``'s ``library`` on this stack's media folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from tests.batches.conftest import clip_files, library  # noqa: F401  (fixtures used here)
from tests.conftest import REPO, _redis_settings, free_port

T = TypeVar("T")
ASGI_APP = "heygem_site.asgi:application"

#: The short limits of the suite, for the subprocesses and this process alike.
LIMITS = {
    "RENDER_STALE_AFTER_S": 3,
    "WORKER_STALE_AFTER_S": 8,
    "RECONCILE_INTERVAL_S": 1,
    "RECONCILE_LOST_QUEUED_S": 3,
    "PROGRESS_HEARTBEAT_INTERVAL_S": 1.0,
    "RENDER_RETRY_INTERVALS_S": [1],
}


def database_url() -> str:
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db.get("USER") or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return (
        f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


class FaultStack:
    """Processes of one module's stack (see the module docstring)."""

    def __init__(self, root: Path, db_url: str, secret_key: str) -> None:
        self.root = root
        self.media = root / "media"
        self.media.mkdir(parents=True, exist_ok=True)
        self.redis_dir = root / "redis"
        self.redis_dir.mkdir(exist_ok=True)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = 0
        self.env = dict(os.environ)
        for key in ("PYTEST_CURRENT_TEST", "DJANGO_ENV", "HEYGEM_MODE", "DEBUG"):
            self.env.pop(key, None)
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
                "DATABASE_URL": db_url,
                "SECRET_KEY": secret_key,
                "REDIS_URL": self.redis_url,
                "MEDIA_ROOT": str(self.media),
                "LIPSYNC_CACHE_DIR": str(self.media / "tracks"),
                "LIPSYNC_DEVICE": "cpu",
                "HEYGEM_VAR_DIR": str(root / "var"),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO),
                "LOG_LEVEL": "INFO",
                **{
                    k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
                    for k, v in LIMITS.items()
                },
            }
        )

    # --- Redis -----------------------------------------------------------------------------

    @property
    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=5)

    def redis_pid(self) -> int | None:
        try:
            return int((self.redis_dir / "redis.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start_redis(self) -> None:
        from heygem_site.embedded_redis import answers, server_command

        subprocess.run(
            server_command(
                self.redis_port,
                self.redis_dir,
                self.redis_dir / "redis.pid",
                self.root / "redis.log",
                daemonize=True,
            ),
            check=True,
        )
        wait_for(lambda: answers(self.redis_url, 0.5), 20, "redis to answer", self)

    def stop_redis(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM: a clean shutdown; ``kill``: SIGKILL, as a crash)."""
        pid = self.redis_pid()
        assert pid, "redis is not running"
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, 20, "redis to stop", self)
        (self.redis_dir / "redis.pid").unlink(missing_ok=True)

    # --- processes -------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def spawn_worker(self, name: str, *queues: str) -> subprocess.Popen:
        """Start ``rqworker <queues> --name <name>`` without waiting for it."""
        return self.spawn(name, [sys.executable, "manage.py", "rqworker", *queues, "--name", name])

    def wait_registered(self, *names: str) -> None:
        """Wait until the workers ``names`` have registered in Redis (they are serving)."""

        def ready() -> bool:
            for name in names:
                assert self.procs[name].poll() is None, self.logs()
            return all(self.redis_client.exists(f"rq:worker:{name}") for name in names)

        wait_for(ready, 120, f"workers {', '.join(names)} to start", self)

    def start_worker(self, name: str, *queues: str) -> subprocess.Popen:
        proc = self.spawn_worker(name, *queues)
        self.wait_registered(name)
        return proc

    def start_reconciler(self) -> subprocess.Popen:
        return self.spawn(
            "reconciler", [sys.executable, "manage.py", "reconcile_tasks", "--loop", "1"]
        )

    def spawn_web(self) -> None:
        """Start daphne on a free port without waiting for it (:meth:`wait_web`)."""
        self.port = free_port()
        self.spawn(
            "daphne",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), ASGI_APP],
        )

    def wait_web(self) -> None:
        web = self.procs["daphne"]

        def up() -> bool:
            assert web.poll() is None, self.logs()
            try:
                urllib.request.urlopen(self.url("/accounts/login/"), timeout=1)
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_for(up, 120, "daphne to start", self)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def kill(self, name: str) -> None:
        """kill -9 the process ``name`` (and the RQ scheduler it may have forked)."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def logs(self) -> str:
        parts = []
        for path in sorted(self.root.glob("*.log")):
            parts.append(f"--- {path.name} ---\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def stop(self) -> None:
        """Kill everything (what these processes do at a clean shutdown is not under test)."""
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # with a scheduler a worker forked
            except ProcessLookupError:
                continue
        for proc in self.procs.values():
            proc.wait(timeout=10)
        if self.redis_pid():
            self.stop_redis(kill=True)


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str, stack: Any) -> T:
    """Poll ``predicate`` until it returns something true; fail with the stack's logs."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what}\n{stack.logs()}"
            )
        time.sleep(0.1)


@pytest.fixture(scope="module")
def fault_stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[FaultStack]:
    """The module's stack: its durable Redis runs; the module starts the processes it needs."""
    from django.conf import settings

    with django_db_blocker.unblock():
        url = database_url()
    stack = FaultStack(tmp_path_factory.mktemp("faults"), url, settings.SECRET_KEY)
    from django.test import override_settings

    from studio.services.storage import mark_media_store

    with override_settings(MEDIA_ROOT=stack.media):
        mark_media_store()  # what the web host does; render workers check it at start
    stack.start_redis()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def _on_the_stack(request, settings) -> None:
    """This process's settings on the module's stack (only for tests that use it)."""
    if "fault_stack" not in request.fixturenames:
        return
    stack: FaultStack = request.getfixturevalue("fault_stack")
    for key, value in _redis_settings(stack.redis_url, True).items():
        setattr(settings, key, value)
    for key, value in LIMITS.items():
        setattr(settings, key, value)
    settings.MEDIA_ROOT = stack.media
    settings.LIPSYNC_CACHE_DIR = str(stack.media / "tracks")


@pytest.fixture(scope="session")
def speech_16s(tmp_path_factory) -> Path:
    """16 s of speech: a render long enough to break in the middle, short enough to redo."""
    from tests.engine.mediagen import make_speech_wav

    return make_speech_wav(
        tmp_path_factory.mktemp("fault-media") / "sixteen.wav",
        text="A render long enough to break in the middle of it, and short enough to redo.",
        seconds=16.0,
    )


@pytest.fixture
def media_root(fault_stack, settings) -> Path:
    """The stack's media folder (``library`` puts its files there, the workers read them)."""
    from studio.services.storage import mark_media_store

    settings.MEDIA_ROOT = fault_stack.media
    mark_media_store()
    return fault_stack.media


def part_files(root: Path) -> list[Path]:
    """Hidden part files (an encoder's output before its final rename) anywhere under ``root``."""
    return sorted(root.rglob(".*.part.mp4"))
