"""The embedded Redis is durable: queued jobs survive a crash of the server (issue 9 item 2)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
from rq import Queue

from heygem_site import embedded_redis
from tests.conftest import free_port


@pytest.fixture
def private_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_redis, "VAR_DIR", tmp_path / "var")
    monkeypatch.setattr(embedded_redis, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(embedded_redis, "PID_FILE", tmp_path / "var" / "redis.pid")
    yield tmp_path
    embedded_redis.stop()


def _kill_9() -> None:
    pid = int(embedded_redis.PID_FILE.read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("redis-server did not die")


def test_queued_jobs_survive_a_crash_of_the_embedded_redis(private_dirs):
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert embedded_redis.ensure_running(url) == "started"
    client = redis.Redis.from_url(url)
    config = client.config_get("*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
    assert config["save"] == "900 1 300 10 60 10000", "RDB snapshots as well"

    queue = Queue("gpu", connection=client)
    job = queue.enqueue("rendering.jobs.render_task", 42, job_id="render-42")
    time.sleep(1.5)  # fsync every second: what a crash may lose is the last second
    _kill_9()  # a crash: no shutdown save
    assert embedded_redis.ensure_running(url) == "started"
    client = redis.Redis.from_url(url)
    assert Queue("gpu", connection=client).job_ids == [job.id]
    assert (private_dirs / "var" / "redis" / "appendonly.aof").exists()


def test_the_password_is_required_and_never_on_the_command_line(private_dirs, monkeypatch):
    """redis-server retitles itself once up, but its argv is readable in `ps` until then."""
    argvs: list[list[str]] = []
    real_run = embedded_redis.subprocess.run

    def recording_run(cmd, *args, **kwargs):
        argvs.append(list(cmd))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(embedded_redis.subprocess, "run", recording_run)
    password = "s3cret-" + os.urandom(6).hex()
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"
    assert embedded_redis.ensure_running(url) == "started"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url.replace(f":{password}@", "")).ping()
    assert redis.Redis.from_url(url).ping()
    assert argvs and all(password not in " ".join(argv) for argv in argvs)
