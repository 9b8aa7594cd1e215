"""End to end with real processes: Redis, ``manage.py rqworker gpu cpu``, daphne, a websocket
client speaking to daphne with a session cookie, and HTTP downloads through daphne.

The subprocesses open the same SQLite test database file as this test (``transactional_db``,
so what the test writes is committed and visible to them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import av
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from rendering.models import RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from tests.conftest import REPO, free_port

SYSTEM = Actor.system("tests")

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FINAL = {"succeeded", "failed", "cancelled"}


class Stack:
    """daphne + workers as subprocesses sharing this test's database, Redis and MEDIA_ROOT."""

    def __init__(self, tmp: Path, redis_url: str, media_root: Path, settings) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ)
        for key in ("PYTEST_CURRENT_TEST", "DJANGO_ENV", "HEYGEM_MODE", "DEBUG"):
            self.env.pop(key, None)
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
                "DATABASE_URL": _database_url(settings.DATABASES["default"]),
                "SECRET_KEY": settings.SECRET_KEY,
                "REDIS_URL": redis_url,
                "MEDIA_ROOT": str(media_root),
                "LIPSYNC_CACHE_DIR": str(media_root / "tracks"),
                "LIPSYNC_DEVICE": "cpu",
                "RENDER_STALE_AFTER_S": "10",
                "RECONCILE_INTERVAL_S": "2",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "INFO",
            }
        )
        self.port = 0

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = self.tmp / f"{name}.log"
        self.procs.append(proc)
        return proc

    def start_web(self) -> None:
        self.port = free_port()
        web = self.spawn(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "heygem_site.asgi:application",
            ],
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert web.poll() is None, web.log_path.read_text()
            try:
                urllib.request.urlopen(self.url("/accounts/login/"), timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("daphne did not start")

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.spawn(
            name, [sys.executable, "manage.py", "rqworker", "gpu", "cpu", "--name", name]
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, client) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url(path), headers={"Cookie": _cookie(client)})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def websocket(self, batch_id: int, client):
        return connect(
            f"ws://127.0.0.1:{self.port}/ws/batches/{batch_id}/",
            additional_headers={
                "Cookie": _cookie(client),
                "Origin": f"http://127.0.0.1:{self.port}",
            },
            open_timeout=20,
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log_path.name} ---\n" + p.log_path.read_text(errors="replace")[-3000:]
            for p in self.procs
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for proc in self.procs:  # the scheduler a worker forked may outlive a killed worker
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def _database_url(db: dict) -> str:
    """A URL of the test database this test runs on (its name is the test name)."""
    if "sqlite" in db["ENGINE"]:
        return "sqlite:///" + str(db["NAME"])
    from urllib.parse import quote

    return (
        f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@"
        f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def _cookie(client) -> str:
    return f"sessionid={client.cookies['sessionid'].value}" if "sessionid" in client.cookies else ""


@pytest.fixture
def stack(tmp_path, use_redis, media_root, settings):
    s = Stack(tmp_path, use_redis.url, media_root, settings)
    yield s
    s.stop()


def _wait_for(predicate, timeout_s: float, what: str, stack: Stack):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")


def test_batch_end_to_end(stack, library, member, member_client, outsider_client, tmp_path):
    stack.start_web()
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[library.hello],
            presenters=[library.anna, library.bo, library.broken],
        ),
    )
    with stack.websocket(batch.pk, member_client) as ws:
        snapshot = json.loads(ws.recv(timeout=20))
        assert snapshot["type"] == "snapshot" and len(snapshot["tasks"]) == 3
        assert {t["status"] for t in snapshot["tasks"]} == {"queued"}, "visible at once, queued"

        # Nobody outside the team gets anything: websocket, status, zip.
        with pytest.raises(InvalidStatus) as refused:
            stack.websocket(batch.pk, outsider_client)
        assert refused.value.response.status_code == 403
        for path in (f"/batches/{batch.pk}/status.json", f"/batches/{batch.pk}/download.zip"):
            assert stack.get(path, outsider_client)[0] == 404
        # An idle page must stay connected longer than redis-py's 5 s default read timeout.
        time.sleep(6)

        stack.start_worker("w1")
        seen: dict[int, list[float]] = {}
        statuses: dict[int, str] = {t["id"]: t["status"] for t in snapshot["tasks"]}
        last_batch = None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not (
            set(statuses.values()) <= FINAL and last_batch == "partial"
        ):
            message = json.loads(ws.recv(timeout=150))
            if message["type"] == "task":
                task = message["task"]
                statuses[task["id"]] = task["status"]
                seen.setdefault(task["id"], []).append(task["percent"])
            elif message["type"] == "snapshot":
                last_batch = message["batch"]["status"]
                statuses.update({t["id"]: t["status"] for t in message["tasks"]})
    assert set(statuses.values()) <= FINAL, stack.logs()

    tasks = {t.presenter_name: t for t in RenderTask.objects.filter(batch=batch)}
    assert [tasks[n].status for n in ("安娜 Anna", "Bo", "Broken")] == [
        "succeeded",
        "succeeded",
        "failed",
    ], stack.logs()
    assert tasks["Broken"].error_message.startswith("broken.mp4: not a media file")
    for name in ("安娜 Anna", "Bo"):
        percents = seen[tasks[name].pk]
        assert len(percents) >= 3 and percents[-1] == 100.0
        assert percents == sorted(percents), "progress only rises"
    assert last_batch == "partial"

    # Second and later renders in the worker did not load the engine again.
    assert {tasks[n].worker_model_loads for n in ("安娜 Anna", "Bo")} == {1}
    log = stack.procs[-1].log_path.read_text()
    assert log.count("engine warp loaded on cpu") == 1 and "engine warp reused on cpu" in log

    status, body = stack.get(f"/batches/{batch.pk}/download.zip", member_client)
    assert status == 200
    archive_path = tmp_path / "batch.zip"
    archive_path.write_bytes(body)
    with zipfile.ZipFile(archive_path) as archive:
        assert sorted(archive.namelist()) == ["Bo__问候 Hello.mp4", "安娜 Anna__问候 Hello.mp4"]
        for name in archive.namelist():
            target = tmp_path / "unzipped" / name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(archive.read(name))
            with av.open(str(target)) as container:
                assert container.streams.audio
                assert sum(1 for _ in container.decode(video=0)) == round(1.5 * 25)
    asset_id = tasks["Bo"].output_id
    assert stack.get(f"/media/{asset_id}/video.mp4", outsider_client)[0] == 404
    assert stack.get(f"/media/{asset_id}/download/", outsider_client)[0] == 404
    assert stack.get(f"/media/{asset_id}/video.mp4", member_client)[0] == 200
    assert outsider_client.get(batch.get_absolute_url()).status_code == 404


def test_cancel_running_then_kill_worker(stack, library, member, clip_files, tmp_path):
    copy = tmp_path / "long2.wav"
    copy.write_bytes(clip_files.long_wav.read_bytes())
    second_audio = library.audio("Long talk 2", copy, 40.0)
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[library.long_audio, second_audio],
            presenters=[library.long_presenter],
        ),
    )
    first, second = RenderTask.objects.filter(batch=batch).order_by("position")
    worker = stack.start_worker("w1")

    def rendering(task):
        row = RenderTask.objects.get(pk=task.pk)
        return (
            row
            if (row.status == "running" and row.stage == "render" and row.percent > 15)
            else None
        )

    # Cancel the running render: it stops at its next frames and leaves no file.
    _wait_for(lambda: rendering(first), 90, "the first render to get going", stack)
    assert service.cancel_task(SYSTEM, RenderTask.objects.get(pk=first.pk))
    _wait_for(
        lambda: RenderTask.objects.get(pk=first.pk).status == "cancelled",
        30,
        "the cancel to land",
        stack,
    )
    folder = Path(stack.env["MEDIA_ROOT"]) / "outputs" / str(batch.team_id) / str(batch.pk)
    assert not any(p.name.startswith(f"{first.pk}-") for p in folder.glob("*")), "no partial file"

    # kill -9 the worker in the middle of the second render.
    _wait_for(lambda: rendering(second), 60, "the second render to get going", stack)
    os.kill(worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    stack.start_worker("w2")
    # Noticed when the task is no longer "running on w1" (w2 may take it again at once).
    row = _wait_for(
        lambda: (lambda r: r if (r.status, r.worker_name) != ("running", "w1") else None)(
            RenderTask.objects.get(pk=second.pk)
        ),
        60,
        "the reconciler to notice",
        stack,
    )
    noticed_s = time.monotonic() - killed_at
    assert noticed_s < 60
    assert row.status in ("queued", "running")
    assert "w1 stopped responding" in row.error_message and "attempt 2 of 3" in row.error_message
    done = _wait_for(
        lambda: (lambda r: r if r.status in FINAL else None)(RenderTask.objects.get(pk=second.pk)),
        90,
        "the re-queued render to finish",
        stack,
    )
    assert done.status == TaskStatus.SUCCEEDED and done.attempts == 2
    assert done.worker_name == "w2"
    print(f"kill -9 noticed after {noticed_s:.1f} s")


def test_removed_member_stops_receiving_progress_at_once(stack, library, member, member_client):
    """Issue 9 item 9: a removed member's open page kept receiving progress for up to 30 s.
    Removal (through the team service, as the team page does) closes it at once."""
    from rendering import progress
    from studio.models import Membership
    from studio.services import teams

    stack.start_web()
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(project=library.project, audios=[library.hello], presenters=[library.bo]),
    )
    task = RenderTask.objects.get(batch=batch)
    with stack.websocket(batch.pk, member_client) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "snapshot"
        progress.publish_task(task)  # still a member: updates arrive
        assert json.loads(ws.recv(timeout=20))["type"] == "task"
        owner = batch.team.memberships.get(role="owner").user
        teams.remove_member(
            Actor.of(owner), batch.team, "owner", Membership.objects.get(user=member)
        )
        removed_at = time.monotonic()
        progress.publish_task(task)  # nothing of this may reach the removed member
        messages = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                messages.append(json.loads(ws.recv(timeout=10)))
        took = time.monotonic() - removed_at
    assert messages == [], "no progress after the removal"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert took < 5, f"closed {took:.1f} s after the removal"
