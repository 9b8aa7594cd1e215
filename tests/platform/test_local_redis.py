"""Safe defaults of a one-machine install (issue 9, item 13): daphne on loopback, and without
``REDIS_URL`` a Redis per checkout, so a second checkout on the same machine never attaches
to the first one's queues."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import REPO

#: What the processes of a checkout must not inherit from the test run.
_DROP = ("REDIS_URL", "HEYGEM_VAR_DIR", "BIND", "PORT", "DJANGO_SETTINGS_MODULE")


def checkout_env(var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(HEYGEM_VAR_DIR=str(var), HEYGEM_LOG_DIR=str(var / "logs"), PYTHONPATH=str(REPO))
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def settings_redis_url(var: Path) -> str:
    code = "from django.conf import settings; print(settings.REDIS_URL)"
    return run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], checkout_env(var))


def test_two_var_dirs_get_two_private_default_urls(tmp_path):
    a, b = settings_redis_url(tmp_path / "a").strip(), settings_redis_url(tmp_path / "b").strip()
    assert a != b
    for url, var in ((a, tmp_path / "a"), (b, tmp_path / "b")):
        parsed = urlparse(url)
        assert parsed.hostname == "127.0.0.1" and parsed.password and len(parsed.password) >= 24
        assert 20000 <= parsed.port < 30000
        stored = var / "redis-url"
        assert stored.read_text().strip() == url
        assert oct(stored.stat().st_mode & 0o777) == "0o600"
    assert urlparse(a).port != urlparse(b).port
    # Kept: every process of a checkout (web, workers, start_app.sh) reads the same one.
    assert settings_redis_url(tmp_path / "a").strip() == a
    from heygem_site.local_redis import redacted

    assert redacted(a) == f"redis://:***@127.0.0.1:{urlparse(a).port}/0"


def test_an_explicit_redis_url_still_wins(tmp_path):
    env = checkout_env(tmp_path, REDIS_URL="redis://10.0.0.9:6379/2")
    code = "from django.conf import settings; print(settings.REDIS_URL)"
    out = run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], env)
    assert out.strip() == "redis://10.0.0.9:6379/2"
    assert not (tmp_path / "redis-url").exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_of_one_checkout_never_takes_the_others_jobs(tmp_path, subprocess_env):
    import redis
    from rq import Queue
    from rq.job import Job, JobStatus

    checkouts = {name: tmp_path / name for name in ("a", "b")}
    media = tmp_path / "media"
    media.mkdir()
    (media / ".heygem-media-store").write_text("test\n")
    env = {
        # The test database (workers look at it), this checkout's var folder, no REDIS_URL.
        name: {
            **{k: v for k, v in subprocess_env.items() if k not in _DROP},
            **checkout_env(var, MEDIA_ROOT=str(media)),
        }
        for name, var in checkouts.items()
    }
    try:
        for name in checkouts:
            out = run([sys.executable, "-m", "heygem_site.embedded_redis", "start"], env[name])
            assert "redis started at redis://:***@127.0.0.1:" in out
        urls = {name: (var / "redis-url").read_text().strip() for name, var in checkouts.items()}
        assert urls["a"] != urls["b"]
        # Each server wants its password: knowing the port is not enough.
        bare = urlparse(urls["a"])._replace(netloc=f"127.0.0.1:{urlparse(urls['a']).port}")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(bare.geturl()).ping()

        connection = redis.Redis.from_url(urls["a"])
        job = Queue("gpu", connection=connection).enqueue("os.getcwd")
        worker = [sys.executable, "manage.py", "rqworker", "gpu", "--burst"]
        run(worker, env["b"])
        assert Job.fetch(job.id, connection=connection).get_status() == JobStatus.QUEUED
        run(worker, env["a"])
        deadline = time.monotonic() + 30
        while Job.fetch(job.id, connection=connection).get_status() != JobStatus.FINISHED:
            assert time.monotonic() < deadline, "checkout a's own worker did not run its job"
            time.sleep(0.1)
    finally:
        for name in checkouts:  # each stops only the server of its own pid file
            run([sys.executable, "-m", "heygem_site.embedded_redis", "stop"], env[name])


@pytest.mark.parametrize(
    ("bind", "web"),
    [
        (None, "daphne -b 127.0.0.1 -p 7860 heygem_site.asgi:application"),
        ("0.0.0.0", "daphne -b 0.0.0.0 -p 7860 heygem_site.asgi:application"),
    ],
)
def test_start_app_binds_loopback_unless_told_otherwise(tmp_path, bind, web):
    env = checkout_env(tmp_path, **({"BIND": bind} if bind else {}))
    out = run(["bash", str(REPO / "start_app.sh"), "config"], env).splitlines()
    assert f"web: {web}" in out
    url = next(line for line in out if line.startswith("url: "))
    assert url.startswith("url: http://127.0.0.1:7860")
    assert ("this machine only" in url) == (bind is None)
    redis_line = next(line for line in out if line.startswith("redis: "))
    assert redis_line.startswith("redis: redis://:***@127.0.0.1:")
