"""Audit hooks on Django's authentication signals."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from .actor import Actor
from .audit import record
from .models import AuditAction


def _actor(request: HttpRequest | None, user: Any) -> Actor:
    if request is None:
        return Actor.of(user)
    actor = Actor.from_request(request)
    return actor if actor.user is not None else Actor(user=user, ip=actor.ip)


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(_actor(request, user), None, AuditAction.LOGIN)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(_actor(request, user), None, AuditAction.LOGOUT)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    who = Actor(
        user=None,
        ip=Actor.from_request(request).ip if request is not None else None,
        label=str(credentials.get("username", ""))[:255],
    )
    record(who, None, AuditAction.LOGIN_FAILED)
