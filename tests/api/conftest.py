"""Fixtures of the API tests: tokens of the team's users and clients that send them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from studio.actor import Actor
from tests.batches.conftest import clip_files, library  # noqa: F401  (the batch tests' media)


class ApiClient:
    """A Django test client that sends ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, raw: str | None, **defaults: str) -> None:
        self.raw = raw
        self.client = Client()
        self.defaults = defaults

    def _headers(self, headers: dict | None) -> dict:
        out = dict(self.defaults)
        if self.raw:
            out["Authorization"] = f"Bearer {self.raw}"
        out.update(headers or {})
        return out

    def get(self, path: str, data: dict | None = None, headers: dict | None = None):
        return self.client.get(path, data, headers=self._headers(headers))

    def post(self, path: str, data=None, headers=None, content_type="application/json"):
        """JSON by default; ``content_type=MULTIPART_CONTENT`` for forms with files."""
        return self.client.post(
            path,
            {} if data is None else data,
            content_type=content_type,
            headers=self._headers(headers),
        )

    def generic(
        self, method: str, path: str, data=b"", content_type="application/json", headers=None
    ):
        return self.client.generic(
            method, path, data, content_type=content_type, headers=self._headers(headers)
        )

    def put(self, path: str, data=b"", content_type="application/octet-stream", headers=None):
        return self.generic("PUT", path, data, content_type, headers)

    def patch(self, path: str, data=b"", content_type="application/json", headers=None):
        return self.generic("PATCH", path, data, content_type, headers)

    def delete(self, path: str, headers=None):
        return self.generic("DELETE", path, b"", "application/json", headers)


@pytest.fixture
def make_token():
    """``make_token(user, team, scopes=("read", "render"), days=30)`` -> (row, raw token)."""
    from api import tokens

    def make(user, team, scopes=("read", "render"), days: int = 30):
        return tokens.create_token(Actor.of(user), team, "tests", scopes, days)

    return make


@pytest.fixture
def api_as(make_token):
    """``api_as(user, team, scopes)`` -> an :class:`ApiClient` with a fresh token."""

    def make(user, team, scopes=("read", "render")) -> ApiClient:
        _row, raw = make_token(user, team, scopes)
        return ApiClient(raw)

    return make


@pytest.fixture
def member_api(api_as, member, team):
    return api_as(member, team)


@pytest.fixture
def expired_token(make_token, member, team):
    from api.models import ApiToken

    row, raw = make_token(member, team)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return raw
