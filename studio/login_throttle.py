"""Login throttling: django-axes, per account and per address, with our page and audit row.

Rule (settings ``LOGIN_FAILURE_LIMIT``, ``LOGIN_LOCKOUT_MINUTES``): after that many failed
logins for one user name (from any address), or from one address (for any user names), within
the lock-out period, every login of that account or from that address is refused, the right
password included, until the period has passed without a further attempt (each attempt
meanwhile starts it again). The refusal is the login page with a message saying how long to
wait (HTTP 429); the start of each lock-out is an audit row (``login_locked_out``). Covers
every login that goes through ``django.contrib.auth.authenticate`` with a request: the studio's
login page and the admin's.
"""

from __future__ import annotations

import math
from typing import Any

from axes.backends import AxesBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from .actor import Actor
from .audit import record
from .models import AuditAction


class ThrottledLoginBackend(AxesBackend):
    """Refuses logins of locked-out accounts and addresses (the next backend checks the
    password).

    ``authenticate`` calls without a request (``Client.login`` in tests, management code) are
    not throttled: nobody outside the server can make them. Every HTTP path must pass its
    request (Django's login views do; an API must too).
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        try:
            return super().authenticate(request, username, password, **kwargs)
        except AxesBackendPermissionDenied:
            # Already locked before this attempt: its audit row was written when it began.
            request.heygem_already_locked = True  # type: ignore[attr-defined]
            raise


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.LOGIN_LOCKOUT_MINUTES))


def lockout_message() -> str:
    minutes = lockout_minutes()
    return ngettext(
        "Too many failed logins for this account or from this address. Wait %(minutes)d "
        "minute, then try again; every attempt meanwhile starts the wait again. If you "
        "forgot your password, ask an administrator of your team to set a new one.",
        "Too many failed logins for this account or from this address. Wait %(minutes)d "
        "minutes, then try again; every attempt meanwhile starts the wait again. If you "
        "forgot your password, ask an administrator of your team to set a new one.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, with the lock-out message, status 429 (``AXES_LOCKOUT_CALLABLE``);
    ``{"error", "code": "login_locked_out"}`` to a client that asks for JSON (an API).

    Reads the credentials from the request: axes' async middleware passes its arguments in
    another order than its sync one.
    """
    if "application/json" in request.headers.get("Accept", "") or request.content_type == (
        "application/json"
    ):
        return JsonResponse(
            {"error": lockout_message(), "code": "login_locked_out"},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    creds = getattr(request, "axes_credentials", None) or {}
    username = str(creds.get("username") or request.POST.get("username", ""))[:150]
    form = AuthenticationForm(request, initial={"username": username})
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "lockout_message": lockout_message(),
            "next": request.POST.get("next", request.GET.get("next", "")),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


@receiver(user_locked_out)
def _audit_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """One audit row when a lock-out begins (not for each refused attempt after it: those
    are ``login_failed`` rows already)."""
    if getattr(request, "heygem_already_locked", False):
        return
    who = Actor(user=None, ip=ip_address, label=str(username or "")[:255])
    record(
        who,
        None,
        AuditAction.LOGIN_LOCKED_OUT,
        failures=getattr(request, "axes_failures_since_start", None),
        minutes=lockout_minutes(),
        path=request.path,
    )
