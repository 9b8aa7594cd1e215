"""A test client for the API and a token maker (shared with the security sweep)."""

from __future__ import annotations

from django.test import Client

from studio.actor import Actor


def new_token(user, team, scopes=("read", "render"), days: int = 30):
    """A fresh token of ``user`` in ``team``: (row, the token itself)."""
    from api import tokens

    return tokens.create_token(Actor.of(user), team, "tests", scopes, days)


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
