"""Every route of the public API, requested with tokens that must not get through.

* another team's token (its owner, every scope) gets 404 for every row of ``team`` through
  every route and method (the same answer as for an id that does not exist), never a byte of
  its data, and changes nothing;
* no token, a session cookie instead of a token: 401 everywhere;
* a viewer's read-only token reads, and every write answers 403/404/405 with nothing changed.

The route list comes from the resolver (:data:`tests.security.urlmap.API_URLS`): a new API
route fails ``test_every_url_is_classified`` until it is classified, and each sweep asserts it
reached every API route.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse

from tests.api.client import ApiClient, new_token

from .conftest import MARK, body_of, fingerprint, missing_pk
from .urlmap import API_URLS, iter_patterns

pytestmark = pytest.mark.django_db

EXTRA_METHODS = ("HEAD", "OPTIONS")


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    """The sweeps send hundreds of requests with one token (the limit has its own test)."""
    settings.API_RATE_LIMIT = "100000/min"


def _url(name: str, world, missing: bool = False) -> str:
    spec = API_URLS[name]
    if spec.obj is None:
        return reverse(name)
    pk = missing_pk(spec.obj) if missing else getattr(world, spec.obj).pk
    return reverse(name, kwargs={"pk": pk})


def _body(name: str, world) -> tuple[object, str]:
    """A request body pointing at ``team``'s rows (harmful if a check were missing)."""
    ids = {
        "project": world.project.pk,
        "audio": [world.audio.pk],
        "presenters": [world.presenter.pk],
        "pairs": [{"audio": world.audio.pk, "presenter": world.presenter.pk}],
        "name": "HACKED",
        "tags": ["hacked"],
        "archived": True,
        "filename": "x.wav",
        "size": 10,
        "kind": "audio",
        "url": "https://example.test/hook",
        "events": ["batch.completed"],
    }
    if name in ("api:presenters", "api:audio_list", "api:batch_manifest"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return {
            "project": world.project.pk,
            "file": SimpleUploadedFile("x.wav", b"RIFF not really"),
            "manifest": SimpleUploadedFile(
                "m.csv", f"audio,presenter\n{world.audio.pk},{world.presenter.pk}\n".encode()
            ),
        }, MULTIPART_CONTENT
    return json.dumps(ids), "application/json"


def _request(client, method: str, url: str, name: str, world):
    if method == "GET":
        return client.get(url)
    if method == "PUT":
        return client.generic(
            "PUT", url, b"0123456789", "application/octet-stream", {"Upload-Offset": "0"}
        )
    body, content_type = _body(name, world)
    if method == "POST":
        return client.post(url, body, content_type=content_type)
    return client.generic(method, url, body if isinstance(body, str) else b"", "application/json")


def _routes() -> set[str]:
    return {p.route for p in iter_patterns() if p.name in API_URLS}


def _reached(r, reached: set) -> None:
    reached.add(r.resolver_match.route)


def _no_leak(r, where: str) -> None:
    assert MARK.lower().encode() not in body_of(r).lower(), f"{where} leaks team data"


def test_another_teams_token_sees_nothing(world, outsider, other_team, media_root):
    _row, raw = new_token(outsider, other_team, ("read", "render", "admin"))
    client = ApiClient(raw)
    before = fingerprint(world.team, media_root)
    reached: set[str] = set()
    for name, spec in API_URLS.items():
        for method in spec.methods + EXTRA_METHODS:
            where = f"{method} {name}"
            r = _request(client, method, _url(name, world), name, world)
            _reached(r, reached)
            _no_leak(r, where)
            assert r.status_code < 500, (where, r.status_code)
            if spec.obj is not None:
                assert r.status_code in (404, 405), (where, r.status_code)
                ghost = _request(client, method, _url(name, world, True), name, world)
                assert ghost.status_code == r.status_code, (where, r.status_code, ghost.status_code)
                if r.status_code == 404 and method != "HEAD":
                    assert r.json()["error"]["code"] == "not_found", where
            assert fingerprint(world.team, media_root) == before, f"{where} changed team data"
    assert reached == _routes(), f"not exercised: {_routes() - reached}"


@pytest.mark.parametrize("how", ["no token", "session cookie", "garbage"])
def test_without_a_token_every_route_answers_401(world, member, how, media_root):
    before = fingerprint(world.team, media_root)
    if how == "session cookie":
        client = ApiClient(None)
        client.client = Client()
        client.client.force_login(member)
    else:
        client = ApiClient("hgs_nottoken_x" if how == "garbage" else None)
    reached: set[str] = set()
    for name, spec in API_URLS.items():
        for method in spec.methods:
            r = _request(client, method, _url(name, world), name, world)
            _reached(r, reached)
            _no_leak(r, f"{method} {name}")
            assert r.status_code == 401, (how, method, name, r.status_code)
            assert r["WWW-Authenticate"] == "Bearer"
            code = r.json()["error"]["code"]
            assert code == ("token_invalid" if how == "garbage" else "not_authenticated")
    assert fingerprint(world.team, media_root) == before
    assert reached == _routes()


def test_a_viewers_read_token_reads_but_writes_nothing(world, viewer, media_root):
    _row, raw = new_token(viewer, world.team, ("read",))
    client = ApiClient(raw)
    before = fingerprint(world.team, media_root, with_audit=False)
    reached: set[str] = set()
    for name, spec in API_URLS.items():
        for method in spec.methods:
            where = f"{method} {name} as viewer"
            r = _request(client, method, _url(name, world), name, world)
            _reached(r, reached)
            if method != "GET":
                assert r.status_code in (403, 404, 405), (where, r.status_code)
            elif spec.admin:
                assert r.status_code == 403, (where, r.status_code)
            elif spec.own:
                assert r.status_code == 404, (where, r.status_code)  # the member's upload
            else:
                assert r.status_code == 200, (where, r.status_code)
            assert fingerprint(world.team, media_root, with_audit=False) == before, where
    assert reached == _routes()


def test_the_teams_member_reaches_every_row(world, member):
    """The sweeps' ids are real: the team's member (the upload's owner) gets no 404."""
    _row, raw = new_token(member, world.team, ("read",))
    client = ApiClient(raw)
    for name, spec in API_URLS.items():
        if spec.obj is not None and "GET" in spec.methods:
            r = client.get(_url(name, world))
            assert r.status_code == (403 if spec.admin else 200), (name, r.status_code)
