"""Settings, the production check, the first administrator and the private Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Variables the settings read: the subprocesses here start from the defaults.
_SETTING_VARS = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "DJANGO_ENV",
    "HEYGEM_MODE",
    "ALLOWED_HOSTS",
    "MEDIA_ROOT",
    "MAX_UPLOAD_BYTES",
}


def _manage(*args, env=None, timeout=120):
    full = {k: v for k, v in os.environ.items() if k not in _SETTING_VARS}
    full.update(PYTHONPATH=str(REPO), **(env or {}))
    if args[0] == "shell":
        args = ("shell", "-v", "0", *args[1:])
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_production_mode_passes_check_deploy(tmp_path):
    r = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DJANGO_ENV": "production", "HEYGEM_VAR_DIR": str(tmp_path)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout
    assert len((tmp_path / "secret_key").read_text()) >= 50


def test_default_mode_is_not_debug_and_flags_deploy_issues(tmp_path):
    env = {"HEYGEM_VAR_DIR": str(tmp_path), "DEBUG": ""}
    r = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, sorted(s.RQ_QUEUES), "
        "s.DATABASES['default']['ENGINE'], s.MAX_UPLOAD_BYTES)",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [
        "False",
        "False",
        "['cpu',",
        "'default',",
        "'gpu']",
        "django.db.backends.sqlite3",
        str(2 * 1024**3),
    ]
    # outside production mode the deploy check does complain (HSTS, SSL redirect ...)
    assert _manage("check", "--deploy", "--fail-level", "WARNING", env=env).returncode != 0


def test_secret_key_is_generated_once_and_kept(tmp_path):
    env = {"HEYGEM_VAR_DIR": str(tmp_path)}
    cmd = ("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    first, second = _manage(*cmd, env=env).stdout, _manage(*cmd, env=env).stdout
    assert first == second and len(first.strip()) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert _manage(*cmd, env={**env, "SECRET_KEY": "x" * 60}).stdout.strip() == "x" * 60


def test_environment_settings(tmp_path):
    env = {
        "HEYGEM_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "studio.example,10.0.0.5",
        "MAX_UPLOAD_BYTES": "1000",
        "REDIS_URL": "redis://10.0.0.9:6379/2",
        "DATABASE_URL": "postgres://u:p@db.example:5433/hg",
        "DEBUG": "1",
        "MEDIA_ROOT": str(tmp_path / "m"),
    }
    r = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.ALLOWED_HOSTS, s.MAX_UPLOAD_BYTES, s.RQ_QUEUES['gpu']['URL'], "
        "s.CHANNEL_LAYERS['default']['CONFIG']['hosts'], "
        "s.DATABASES['default']['HOST'], s.DEBUG, s.MEDIA_ROOT)",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "['studio.example', '10.0.0.5'] 1000 redis://10.0.0.9:6379/2" in out
    assert "db.example True" in out and str(tmp_path / "m") in out


def test_sqlite_test_database_is_a_file():
    from django.conf import settings

    name = settings.DATABASES["default"]["TEST"]["NAME"]
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert name and ":memory:" not in name and name.endswith(".sqlite3")


@pytest.mark.django_db
def test_ensure_admin_creates_once(capsys, monkeypatch):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from studio.models import Membership

    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("ADMIN_EMAIL", "boss@example.test")
    call_command("ensure_admin")
    out = capsys.readouterr().out
    assert "generated password" in out
    password = out.strip().rsplit(" ", 1)[-1]
    admin = get_user_model().objects.get(is_superuser=True)
    assert admin.email == "boss@example.test" and admin.check_password(password)
    assert Membership.objects.get(user=admin).role == "owner"
    call_command("ensure_admin")
    assert "already" in capsys.readouterr().out
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_ensure_admin_takes_the_password_from_the_environment(capsys, monkeypatch):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    monkeypatch.setenv("ADMIN_PASSWORD", "Given-Secret-77")
    call_command("ensure_admin")
    assert "generated" not in capsys.readouterr().out
    assert get_user_model().objects.get(is_superuser=True).check_password("Given-Secret-77")


def test_embedded_redis_starts_on_a_free_port_and_stops(tmp_path, monkeypatch):
    from heygem_site import embedded_redis
    from tests.conftest import free_port

    monkeypatch.setattr(embedded_redis, "VAR_DIR", tmp_path / "var")
    monkeypatch.setattr(embedded_redis, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(embedded_redis, "PID_FILE", tmp_path / "var" / "redis.pid")
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not embedded_redis.answers(url)
    try:
        assert embedded_redis.ensure_running(url) == "started"
        assert embedded_redis.answers(url)
        assert embedded_redis.ensure_running(url) == "running"
        assert (tmp_path / "var" / "redis").is_dir()
    finally:
        assert embedded_redis.stop()
    assert not embedded_redis.answers(url)
    with pytest.raises(RuntimeError, match="not on this machine"):
        embedded_redis.ensure_running("redis://192.0.2.1:6380/0", wait_s=0.1)
