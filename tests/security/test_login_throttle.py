"""Login throttling: per account and per address, a clear message, an audit row per lock-out.

Real requests through Django's test client (the whole middleware stack, django-axes' database
handler); the clock is moved by ageing the stored attempts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studio.models import AuditAction, AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def attempt(client: Client, username: str, password: str, ip: str = "198.51.100.7", **extra):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def test_twenty_wrong_passwords_lock_the_account_after_the_limit(owner, settings):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == settings.LOGIN_FAILURE_LIMIT == 5
    client = Client()
    codes = [attempt(client, owner.username, f"guess-{i}").status_code for i in range(20)]
    # The limit-th failure is the one that locks: from then on every attempt is refused
    # without checking the password.
    assert codes == [200] * (limit - 1) + [429] * (20 - limit + 1), codes
    refused = attempt(client, owner.username, PASSWORD)
    assert refused.status_code == 429, "the right password does not get in while locked"
    page = refused.content.decode()
    assert 'data-testid="login-locked"' in page
    assert "Too many failed logins" in page and "Wait 15 minutes" in page
    assert "did not match" not in page
    # One audit row for the lock-out (its start), one failed-login row per attempt.
    locks = AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT)
    assert locks.count() == 1
    lock = locks.get()
    assert lock.actor_label == owner.username and lock.ip == "198.51.100.7"
    assert lock.data["failures"] == limit and lock.data["minutes"] == 15
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.LOGIN_FAILED, actor_label=owner.username
        ).count()
        == 21
    )
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=owner).exists()


def test_the_account_is_locked_whatever_the_address(owner, member):
    client = Client()
    for i in range(5):
        attempt(client, owner.username, "wrong", ip=f"203.0.113.{i + 1}")
    assert attempt(client, owner.username, PASSWORD, ip="203.0.113.200").status_code == 429
    # Another account from a fresh address is not affected.
    other = attempt(Client(), member.username, PASSWORD, ip="203.0.113.201")
    assert other.status_code == 302


def test_the_address_is_locked_whatever_the_account(owner, member):
    client = Client()
    for i in range(5):
        attempt(client, f"nobody-{i}", "wrong", ip="192.0.2.50")
    assert attempt(Client(), owner.username, PASSWORD, ip="192.0.2.50").status_code == 429
    # The same account from elsewhere still logs in: only the address is locked.
    assert attempt(Client(), owner.username, PASSWORD, ip="192.0.2.51").status_code == 302
    lock = AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED_OUT)
    assert lock.ip == "192.0.2.50"


def test_logins_work_again_after_the_lockout_period(owner, settings):
    client = Client()
    for _ in range(5):
        attempt(client, owner.username, "wrong")
    assert attempt(client, owner.username, PASSWORD).status_code == 429
    # Every attempt during the lock-out starts the wait again; age them past it.
    aged = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    AccessAttempt.objects.update(attempt_time=aged)
    ok = attempt(client, owner.username, PASSWORD)
    assert ok.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=owner).exists()


def test_the_admin_login_is_throttled_too(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    url = reverse("admin:login")
    codes = [
        client.post(
            url, {"username": admin_user.username, "password": "wrong"}, REMOTE_ADDR="192.0.2.9"
        ).status_code
        for _ in range(6)
    ]
    assert codes == [200] * 4 + [429] * 2
    right = client.post(
        url, {"username": admin_user.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.9"
    )
    assert right.status_code == 429


def test_the_lockout_message_is_translated(owner):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    for _ in range(5):
        response = attempt(client, owner.username, "wrong")
    assert response.status_code == 429
    page = response.content.decode()
    assert "登录失败次数过多" in page and "15 分钟" in page


def test_logins_below_the_limit_are_not_affected(owner):
    client = Client()
    for _ in range(4):
        assert attempt(client, owner.username, "wrong").status_code == 200
    assert attempt(client, owner.username, PASSWORD).status_code == 302
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT).exists()


def test_the_lockout_page_under_asgi(owner):
    """daphne runs the async middleware chain (axes' async path passes its arguments in
    another order): the same page and status there."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()

    async def five_wrong_then_right():
        for _ in range(5):
            await client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
        return await client.post(
            reverse("login"), {"username": owner.username, "password": PASSWORD}
        )

    response = async_to_sync(five_wrong_then_right)()
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and f'value="{owner.username}"' in page
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT).count() == 1


def test_a_json_client_gets_the_lockout_as_json(owner):
    client = Client()
    for _ in range(5):
        response = attempt(client, owner.username, "wrong", HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked_out"
    assert "Wait 15 minutes" in response.json()["error"]
