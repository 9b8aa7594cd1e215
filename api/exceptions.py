"""The API's own error (kept apart from :mod:`api.errors`, which imports DRF's views: the
authentication class raises it and must not)."""

from __future__ import annotations

from rest_framework import exceptions


class ApiError(exceptions.APIException):
    """An error with its own code, status, message and (optionally) field."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.field = field
        self.headers = headers or {}
