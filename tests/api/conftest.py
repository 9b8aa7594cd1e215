"""Fixtures of the API tests: tokens of the team's users and clients that send them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.client import ApiClient, new_token
from tests.batches.conftest import clip_files, library  # noqa: F401  (the batch tests' media)


@pytest.fixture
def make_token(db):
    """``make_token(user, team, scopes=("read", "render"), days=30)`` -> (row, raw token)."""
    return new_token


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
