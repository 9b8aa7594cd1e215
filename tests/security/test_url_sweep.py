"""Every URL of the project, requested by people who must not get through.

* an outsider (logged in, member of another team) gets 404 for every row of ``team`` (405 where
  the view takes another method, the same answer as for an id that does not exist), never a
  byte of the team's data, and changes nothing;
* anonymous visitors are sent to a login page (401/404 from the RQ dashboard's JSON, admin's
  catch-all), except for the few public URLs;
* a viewer reads, and every write answers 403/404/405 with the database and files unchanged;
* admin and RQ dashboard URLs answer nobody who is not staff.

The URL list comes from the resolver, so a new URL fails ``test_every_url_is_classified`` until
it is put in :mod:`tests.security.urlmap`, and the sweeps assert they reached every pattern.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import MARK, body_of, fingerprint, missing_pk
from .urlmap import (
    API_URLS,
    PUBLIC,
    STAFF_PAGES,
    TEAM_URLS,
    Pattern,
    is_api,
    is_staff_only,
    iter_patterns,
    sample_path,
)

pytestmark = pytest.mark.django_db


def _patterns() -> list[Pattern]:
    """The patterns of the URLconf in force (read per test: a test may swap the URLconf),
    without the public API's (token-only, swept by test_api_sweep.py)."""
    return [p for p in iter_patterns() if not is_api(p)]


def test_every_url_is_classified():
    unclassified = [
        p.route
        for p in iter_patterns()
        if p.name not in TEAM_URLS
        and p.name not in PUBLIC
        and p.name not in API_URLS
        and p.name not in STAFF_PAGES
        and not is_staff_only(p)
    ]
    assert not unclassified, (
        "URL patterns nobody decided the access rules of (add them to tests/security/urlmap.py "
        f"and make sure their views check the team): {unclassified}"
    )
    names = {p.name for p in iter_patterns()}
    known = set(TEAM_URLS) | set(PUBLIC) | set(API_URLS) | set(STAFF_PAGES)
    assert not known - names, "stale entries in urlmap.py"
    for p in iter_patterns():
        if p.name in API_URLS:
            assert ("<" in p.route) == (API_URLS[p.name].obj is not None), p.route
    for p in _patterns():
        if p.name in TEAM_URLS:
            has_id = "<" in p.route
            assert has_id == (TEAM_URLS[p.name].obj is not None), p.route
            if has_id:
                assert p.route.count("<") == 1 and ":pk>" in p.route, (
                    f"{p.route}: the sweep fills only <pk>; teach it the new argument"
                )


def _client(user=None, team=None) -> Client:
    """A fresh session of ``user``, working in ``team`` (the team switcher's choice)."""
    from studio.session import SESSION_KEY

    client = Client()
    if user is not None:
        client.force_login(user)
    if team is not None:
        session = client.session
        session[SESSION_KEY] = team.pk
        session.save()
    return client


def _form(world) -> dict:
    """One POST body for every form: fields that would do harm if a check were missing."""
    return {
        "name": "HACKED",
        "description": "hacked",
        "tags_text": "hacked",
        "archived": "1",
        "role": "owner",
        "email": "intruder@example.test",
        "username": "intruder",
        "password": "Intruder-pass-8841",
        "team": world.team.pk,
        "project": world.project.pk,
        "audio": world.audio.pk,
        "presenter": world.presenter.pk,
        "id": world.asset.pk,
        "engine": "warp",
        "quality": "standard",
        "next": "/",
    }


def _query(world) -> dict:
    """Query parameters pointing at the team's rows, for pages without an id in the path."""
    return {
        "project": world.project.pk,
        "batch": world.batch.pk,
        "presenter": world.presenter.pk,
        "audio": world.audio.pk,
        "id": world.asset.pk,
    }


def _request(client: Client, method: str, url: str, world, name: str = ""):
    if method == "GET":
        return client.get(url, _query(world) if "<" not in url else None)
    if name == "upload_create":
        return client.post(
            url,
            json.dumps(
                {"filename": "x.wav", "size": 10, "kind": "audio", "project": world.project.pk}
            ),
            content_type="application/json",
        )
    if method == "POST":
        return client.post(url, _form(world))
    if method in ("HEAD", "OPTIONS"):
        return getattr(client, method.lower())(url)
    if method in ("PUT", "PATCH"):
        return getattr(client, method.lower())(
            url,
            b"0123456789",
            content_type="application/octet-stream",
            headers={"Upload-Offset": "0"},
        )
    return client.generic(method, url)


def _team_url(name: str, world, missing: bool = False) -> str:
    spec = TEAM_URLS[name]
    if spec.obj is None:
        return reverse(name)
    pk = missing_pk(spec.obj) if missing else getattr(world, spec.obj).pk
    return reverse(name, kwargs={"pk": pk})


def _assert_no_leak(response, where: str) -> None:
    assert MARK.lower().encode() not in body_of(response).lower(), f"{where} leaks team data"
    location = response.get("Location", "")
    assert MARK.lower() not in location.lower(), f"{where} leaks in its redirect"


def _assert_staff_only(response, where: str) -> None:
    """Admin and RQ dashboard answers to a non-staff user or anonymous visitor."""
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("admin:login")), where
    else:
        assert response.status_code in (401, 404), (where, response.status_code)


def _staff_sweep(client: Client, reached: set) -> None:
    for p in _patterns():
        if not is_staff_only(p):
            continue
        url = sample_path(p)
        for method in ("GET", "POST"):
            r = client.get(url) if method == "GET" else client.post(url, {"x": "1"})
            _assert_staff_only(r, f"{method} {url}")
            reached.add(r.resolver_match.route)


def _staff_page_sweep(client: Client, reached: set, anonymous: bool = False) -> None:
    """Staff pages of the studio: login for anonymous visitors, 403 for any other non-staff
    account (whatever its team role), nothing of the server's set-up in the answer."""
    from django.conf import settings

    login = reverse("login")
    for name in STAFF_PAGES:
        url = reverse(name)
        for method in ("GET", "POST", *EXTRA_METHODS):
            where = f"{method} {name}"
            r = client.generic(method, url)
            reached.add(r.resolver_match.route)
            _assert_no_leak(r, where)
            if anonymous:
                assert r.status_code == 302 and r["Location"].startswith(login), where
            else:
                assert r.status_code == 403, (where, r.status_code)
            assert str(settings.LIPSYNC_MODEL_DIR).encode() not in body_of(r), where


def _route(route: str) -> str:
    """A pattern's route as ``ResolverMatch.route`` spells it (regex anchors dropped)."""
    return route.replace("^", "")


def _all_routes() -> set:
    return {_route(p.route) for p in _patterns() if p.name not in PUBLIC}


#: Sent on top of each URL's own methods: views that branch on ``request.method`` must not treat
#: these as a GET that skips a check, or as a write.
EXTRA_METHODS = ("HEAD", "OPTIONS")


def test_outsider_gets_404_and_nothing_else(world, outsider, media_root):
    before = fingerprint(world.team, media_root)
    reached: set[str] = set()
    for name, spec in TEAM_URLS.items():
        for method in spec.methods + EXTRA_METHODS:
            where = f"{method} {name}"
            r = _request(_client(outsider), method, _team_url(name, world), world, name)
            reached.add(r.resolver_match.route)
            _assert_no_leak(r, where)
            if spec.obj is not None:
                assert r.status_code in (404, 405), (where, r.status_code)
                ghost = _request(
                    _client(outsider), method, _team_url(name, world, True), world, name
                )
                assert ghost.status_code == r.status_code, (
                    f"{where}: answers {r.status_code} for the team's row but "
                    f"{ghost.status_code} for a missing one (existence is revealed)"
                )
            else:
                assert r.status_code < 500, (where, r.status_code)
            if name == "switch_team" and method == "POST":
                assert r.status_code == 404, where
            assert fingerprint(world.team, media_root) == before, f"{where} changed team data"
    _staff_sweep(_client(outsider), reached)
    _staff_page_sweep(_client(outsider), reached)
    assert reached == _all_routes(), f"not exercised: {_all_routes() - reached}"


def test_anonymous_is_sent_to_login(world, media_root):
    before = fingerprint(world.team, media_root)
    login = reverse("login")
    reached: set[str] = set()
    for name, spec in TEAM_URLS.items():
        for method in spec.methods:
            where = f"{method} {name}"
            r = _request(_client(), method, _team_url(name, world), world, name)
            reached.add(r.resolver_match.route)
            _assert_no_leak(r, where)
            assert r.status_code == 302 and r["Location"].startswith(login + "?next="), (
                where,
                r.status_code,
                r.get("Location"),
            )
    _staff_sweep(_client(), reached)
    _staff_page_sweep(_client(), reached, anonymous=True)
    assert fingerprint(world.team, media_root) == before
    assert reached == _all_routes(), f"not exercised: {_all_routes() - reached}"


def test_public_urls_answer_without_login_and_show_no_rows(world):
    paths = {name: reverse(name) for name in PUBLIC if name != "invitation_accept"}
    paths["invitation_accept"] = reverse("invitation_accept", args=[world.invitation.token])
    reached = set()
    for name, url in paths.items():
        r = _client().get(url)
        reached.add(r.resolver_match.route)
        assert r.status_code in (200, 302, 405), (name, r.status_code)
        if name != "invitation_accept":  # the link's holder sees whom it is from
            _assert_no_leak(r, name)
    assert reached == {_route(p.route) for p in _patterns() if p.name in PUBLIC}
    # an unknown or guessed token shows nothing
    r = _client().get(reverse("invitation_accept", args=["not-a-token"]))
    assert r.status_code == 410
    _assert_no_leak(r, "invitation_accept with a wrong token")


def test_viewer_reads_but_every_write_is_refused(world, viewer, media_root):
    before = fingerprint(world.team, media_root, with_audit=False)
    reached: set[str] = set()
    for name, spec in TEAM_URLS.items():
        url = _team_url(name, world)
        for method in spec.methods + EXTRA_METHODS:
            where = f"{method} {name} as viewer"
            r = _request(_client(viewer, world.team), method, url, world, name)
            # an invitation link would let the viewer join again with a higher role
            assert world.invitation.token.encode() not in body_of(r), where
            reached.add(r.resolver_match.route)
            if spec.write:
                assert r.status_code in (403, 404, 405), (where, r.status_code)
            elif method == "GET" and spec.obj is not None:
                assert r.status_code == 200, (where, r.status_code)
            else:
                assert r.status_code < 500, (where, r.status_code)
            now = fingerprint(world.team, media_root, with_audit=False)
            for rows in (before["users"], now["users"]):  # the viewer's own profile is theirs
                rows[:] = [u for u in rows if u["pk"] != viewer.pk]
            assert now == before, f"{where} changed team data"
    _staff_sweep(_client(viewer, world.team), reached)
    _staff_page_sweep(_client(viewer, world.team), reached)
    assert reached == _all_routes(), f"not exercised: {_all_routes() - reached}"


def test_the_team_itself_reaches_every_row(world, member, owner):
    """The sweeps' ids are real: the team's own member (the upload's owner) does not get 404."""
    for name, spec in TEAM_URLS.items():
        if spec.obj is None:
            continue
        r = _client(member).get(_team_url(name, world))
        assert r.status_code != 404, name
    r = _client(owner).post(reverse("member_role", args=[world.membership.pk]), {"role": "viewer"})
    assert r.status_code == 302
    world.membership.refresh_from_db()
    assert world.membership.role == "viewer"


def test_no_url_accepts_a_write_without_the_csrf_token(world, member, owner, media_root):
    """No view is ``csrf_exempt``: a cross-site form riding a member's cookie changes nothing."""
    before = fingerprint(world.team, media_root)
    reached: set[str] = set()
    for user in (member, owner):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        for p in _patterns():
            name = p.name if p.name in TEAM_URLS else None
            if name is not None:
                url = _team_url(name, world)
                methods = [m for m in TEAM_URLS[name].methods if m != "GET"]
            elif p.name == "invitation_accept":
                url, methods = reverse(p.name, args=[world.invitation.token]), ["POST"]
            else:
                url, methods = sample_path(p), ["POST"]
            for method in methods:
                r = _request(client, method, url, world, name or "")
                reached.add(r.resolver_match.route)
                assert r.status_code in (403, 404, 405), (user, method, url, r.status_code)
                if r.status_code == 403:
                    assert b"CSRF" in r.content, (method, url)
    assert fingerprint(world.team, media_root) == before
    assert reached == _all_routes() | {_route(p.route) for p in _patterns() if p.name in PUBLIC}


def test_web_server_hand_off_happens_only_after_the_check(world, outsider, viewer, settings):
    """With SENDFILE_X_ACCEL the web server sends the file: the header is the permission."""
    settings.SENDFILE_X_ACCEL = True
    for name in (
        "presenter_file",
        "presenter_thumbnail",
        "audio_file",
        "audio_waveform",
        "media_file",
        "media_download",
        "media_thumbnail",
    ):
        url = _team_url(name, world)
        r = _client(outsider).get(url)
        assert r.status_code == 404 and "X-Accel-Redirect" not in r, name
        r = _client(viewer, world.team).get(url)
        assert r.status_code == 200 and r["X-Accel-Redirect"].startswith(
            settings.SENDFILE_URL_PREFIX
        ), name


def test_members_do_not_manage_the_team(world, member, viewer, media_root):
    """Inviting, adding accounts, roles, removing others and revoking are for admins/owners."""
    before = fingerprint(world.team, media_root, with_audit=False)
    target = world.team.memberships.get(user=viewer)
    client = _client(member, world.team)
    page = body_of(client.get(reverse("team_settings")))
    assert world.invitation.token.encode() not in page
    for url in (
        reverse("team_invite"),
        reverse("team_add_member"),
        reverse("member_role", args=[target.pk]),
        reverse("member_remove", args=[target.pk]),
        reverse("invitation_revoke", args=[world.invitation.pk]),
    ):
        r = client.post(url, _form(world))
        assert r.status_code == 403, (url, r.status_code)
    assert fingerprint(world.team, media_root, with_audit=False) == before
