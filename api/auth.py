"""Bearer tokens and per-token rate limits (DRF imports these from settings, so this module
must not import ``rest_framework.views``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import authentication, throttling
from rest_framework.request import Request

from studio.actor import client_ip

from . import tokens
from .exceptions import ApiError
from .models import ApiToken


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        kind, _sep, raw = header.partition(" ")
        if kind.lower() != self.keyword.lower() or not raw.strip():
            raise ApiError(
                401,
                "token_invalid",
                _("Send the token as “Authorization: Bearer <token>”."),
                headers={"WWW-Authenticate": self.keyword},
            )
        try:
            token = tokens.check(raw.strip())
        except tokens.TokenProblem as exc:
            raise ApiError(
                401, exc.code, str(exc), headers={"WWW-Authenticate": self.keyword}
            ) from exc
        tokens.note_use(token, client_ip(request), request.method or "", request.path)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TokenRateThrottle(throttling.SimpleRateThrottle):
    scope = "token"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request: Request, view: Any) -> str:
        token = request.auth
        who = token.prefix if isinstance(token, ApiToken) else f"ip-{self.get_ident(request)}"
        return f"api-throttle-{who}"

    def wait(self) -> float | None:
        wait = super().wait()
        return max(1.0, wait) if wait is not None else None
