"""The websocket of batch progress: only the batch's team gets in.

Driven through the real ASGI application (session cookie -> ``AuthMiddlewareStack`` -> origin
check -> router -> consumer), on an in-memory channel layer (no Redis needed for access rules).
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from .conftest import MARK

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_FORBIDDEN = 4403


@pytest.fixture(autouse=True)
def _memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def _cookie(user) -> str:
    if user is None:
        return ""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _connect(user, path: str, origin: bytes = b"http://localhost"):
    """(accepted, close code or None, first message or None) of one connection attempt."""
    from heygem_site.asgi import application

    async def attempt():
        comm = WebsocketCommunicator(
            application,
            path,
            headers=[(b"cookie", f"sessionid={_cookie_value}".encode()), (b"origin", origin)],
        )
        accepted, code = await comm.connect(timeout=20)
        first = await comm.receive_json_from(timeout=20) if accepted else None
        await comm.disconnect()
        return accepted, code, first

    _cookie_value = _cookie(user)
    return async_to_sync(attempt)()


def test_every_websocket_route_is_swept():
    """A new websocket route must be added to this file's sweep."""
    from rendering.routing import websocket_urlpatterns
    from studio.routing import websocket_urlpatterns as studio_patterns

    assert [str(p.pattern) for p in websocket_urlpatterns] == ["ws/batches/<int:batch_id>/"]
    # A person's notifications: anonymous visitors are refused (the group is the user's own;
    # tests/platform/test_notifications.py checks nobody gets another person's).
    assert [str(p.pattern) for p in studio_patterns] == ["ws/notifications/"]
    assert _connect(None, "/ws/notifications/")[:2] == (False, 4401)


def test_outsider_and_anonymous_are_refused(world, outsider):
    path = f"/ws/batches/{world.batch.pk}/"
    for who in (outsider, None):
        accepted, code, first = _connect(who, path)
        assert not accepted and code == CLOSE_FORBIDDEN, (who, code)
        assert first is None
    # the same answer as for a batch that does not exist: existence is not revealed
    assert _connect(outsider, "/ws/batches/987654321/")[:2] == (False, CLOSE_FORBIDDEN)


def test_viewer_of_the_team_gets_the_snapshot(world, viewer):
    accepted, _, first = _connect(viewer, f"/ws/batches/{world.batch.pk}/")
    assert accepted
    assert first["type"] == "snapshot" and first["batch"]["id"] == world.batch.pk
    assert MARK in first["batch"]["name"]


def test_other_origins_are_refused_even_with_a_members_cookie(world, member):
    """A page of another site cannot ride a member's session cookie (cross-site websocket)."""
    accepted, _, first = _connect(
        member, f"/ws/batches/{world.batch.pk}/", origin=b"https://evil.example"
    )
    assert not accepted and first is None


def test_removed_member_is_refused_on_reconnect(world, member):
    world.team.memberships.filter(user=member).delete()
    assert _connect(member, f"/ws/batches/{world.batch.pk}/")[:2] == (False, CLOSE_FORBIDDEN)


def test_deactivated_account_is_refused(world, member):
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert _connect(member, f"/ws/batches/{world.batch.pk}/")[:2] == (False, CLOSE_FORBIDDEN)
