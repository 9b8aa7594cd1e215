"""Ids that are not ids (issue 9, item 10): every parameter of a page or API route that takes a
row's id, from the query string, a form, a JSON body or a header, gets values that are not
one (``abc``, a superscript digit that ``str.isdigit`` accepts but ``int`` refuses, a number
beyond any column, a negative, a fraction ...). None may answer a server error; the batch form
and the preview answer 400 with a translated message that says what to do."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.client import ApiClient, new_token
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

#: Strings a person, a stale link or a fuzzer sends where an id belongs.
BAD = ["abc", "²", "99999999999999999999999", "9223372036854775808", "-1", "1.5", " 7", "0x1f"]
#: The same for JSON bodies, with the types JSON adds.
BAD_JSON = ["abc", "²", 10**23, -1, 1.5, True, None, [1], {"id": 1}]


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def no_server_error(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"


@pytest.fixture
def sweep(world, member, use_redis):
    return world, client_for(member)


def page_cases(w):
    """(method, url name, parameters with one marked ``{bad}``), the form's other fields valid."""
    ok = {"project": w.project.pk, "audio": w.audio.pk, "presenter": w.presenter.pk}
    return [
        ("get", "batch_create", {"project": "{bad}"}),
        ("get", "batch_create", {"presenter": "{bad}"}),
        ("post", "batch_create", {**ok, "project": "{bad}"}),
        ("post", "batch_create", {**ok, "audio": "{bad}"}),
        ("post", "batch_create", {**ok, "presenter": "{bad}"}),
        ("post", "batch_create", {**ok, "max_height": "{bad}"}),
        ("post", "batch_preview", {**ok, "project": "{bad}"}),
        ("post", "batch_preview", {**ok, "audio": "{bad}"}),
        ("post", "batch_preview", {**ok, "presenter": "{bad}"}),
        ("get", "batch_estimate", {"audio": "{bad}", "presenters": "2"}),
        ("get", "batch_estimate", {"audio": w.audio.pk, "presenters": "{bad}"}),
        ("get", "batch_list", {"page": "{bad}"}),
        ("get", "media_library", {"project": "{bad}"}),
        ("get", "media_library", {"batch": "{bad}"}),
        ("get", "media_library", {"presenter": "{bad}"}),
        ("get", "media_library", {"page": "{bad}"}),
        ("get", "media_zip", {"id": "{bad}"}),
        ("post", "media_zip", {"id": "{bad}"}),
        ("get", "presenter_list", {"page": "{bad}"}),
        # The libraries' filters, pages and bulk actions, the picker's links, the preview's pick.
        ("get", "batch_list", {"project": "{bad}"}),
        ("get", "batch_create", {"presenters": "{bad}"}),
        ("get", "batch_create", {"audio": "{bad}"}),
        ("post", "batch_preview", {**ok, "preview_presenter": "{bad}"}),
        ("get", "audio_list", {"project": "{bad}"}),
        ("get", "audio_list", {"page": "{bad}"}),
        ("get", "media_library", {"sort": "{bad}"}),
        ("post", "presenter_bulk", {"id": "{bad}", "action": "archive"}),
        ("post", "presenter_bulk", {"ids": "{bad}", "action": "delete", "confirm": "1"}),
        ("post", "audio_library_bulk", {"id": "{bad}", "action": "delete"}),
        ("post", "media_bulk", {"id": "{bad}", "action": "zip"}),
        ("post", "media_bulk", {"ids": "{bad}", "action": "delete", "confirm": "1"}),
        ("post", "switch_team", {"team": "{bad}"}),
    ]


def fill(params: dict, bad: str) -> dict:
    return {k: (bad if v == "{bad}" else v) for k, v in params.items()}


def test_pages_answer_no_server_error_to_bad_ids(sweep):
    w, client = sweep
    failures = []
    for method, name, params in page_cases(w):
        for bad in BAD:
            response = getattr(client, method)(reverse(name), fill(params, bad))
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {name} {fill(params, bad)}")
    assert not failures, "\n".join(failures)


def test_ids_too_large_for_any_column_in_paths_find_no_row(sweep):
    """``<int:pk>`` takes any digits; a number beyond a 64-bit column is simply no row (404,
    or the role or method check that comes first: 403, 405)."""
    from tests.security.urlmap import TEAM_URLS

    _w, client = sweep
    huge = 10**25
    failures = []
    for name, spec in TEAM_URLS.items():
        if spec.obj is None or spec.obj == "upload":
            continue
        for method in spec.methods:
            response = getattr(client, method.lower())(reverse(name, args=[huge]))
            if response.status_code not in (403, 404, 405):
                failures.append(f"{method} {name}: {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("bad", ["abc", "²", "99999999999999999999999"])
@pytest.mark.parametrize("view", ["batch_create", "batch_preview"])
def test_batch_form_with_a_bad_project_is_a_translated_400(sweep, view, bad):
    """The issue's report: ``project=abc`` on batch create or preview answered 500."""
    w, client = sweep
    data = {"project": bad, "audio": w.audio.pk, "presenter": w.presenter.pk}
    response = client.post(reverse(view), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This project does not exist or is not yours to use" in html
    response = client.post(reverse(view), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "This project does not exist" in response.json()["error"]
    response = client.post(
        reverse(view), data, HTTP_ACCEPT="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    assert "项目不存在" in response.json()["error"]


def test_batch_form_with_a_bad_presenter_id_says_which_field(sweep):
    w, client = sweep
    data = {"project": w.project.pk, "audio": w.audio.pk, "presenter": ["abc"]}
    response = client.post(reverse("batch_create"), data, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "not available any more" in response.json()["error"]


def test_chunked_upload_api_answers_json_errors_to_bad_ids(sweep, member):
    w, client = sweep
    url = reverse("upload_create")
    failures = []
    for bad in BAD_JSON:
        # No project (None) is the team's audio library, not a bad id.
        audio_bodies = (
            []
            if bad is None
            else [{"filename": "a.wav", "size": 100, "kind": "audio", "project": bad}]
        )
        for body in (
            *audio_bodies,
            {"filename": "a.wav", "size": bad, "kind": "audio", "project": w.project.pk},
        ):
            response = client.post(url, json.dumps(body), content_type="application/json")
            ok = response.status_code in (400, 404) and response["Content-Type"].startswith(
                "application/json"
            )
            if not ok:
                failures.append(f"{body}: {response.status_code} {response['Content-Type']}")
    upload = reverse("upload_detail", args=[w.upload.pk])
    for bad in BAD:
        response = client.generic("PUT", upload, b"x", HTTP_UPLOAD_OFFSET=bad)
        if response.status_code not in (400, 409) or not response["Content-Type"].startswith(
            "application/json"
        ):
            failures.append(f"Upload-Offset {bad!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_chunked_upload_errors_are_translated(sweep):
    _w, client = sweep
    response = client.post(
        reverse("upload_create"),
        json.dumps({"filename": "a.wav", "size": 100, "kind": "audio", "project": "abc"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    assert "项目" in response.json()["error"]


def test_api_answers_no_server_error_to_bad_ids(world, member, team, use_redis):
    _row, raw = new_token(member, team, ("read", "render"))
    api = ApiClient(raw)
    api.client.raise_request_exception = False
    w = world
    failures = []
    for bad in BAD:
        for path, params in (
            ("/api/v1/audio/", {"project": bad}),
            ("/api/v1/batches/", {"project": bad}),
            ("/api/v1/results/", {"batch": bad}),
            ("/api/v1/results/", {"project": bad}),
            ("/api/v1/results/", {"presenter": bad}),
            ("/api/v1/presenters/", {"page": bad}),
            ("/api/v1/presenters/", {"page_size": bad}),
        ):
            response = api.get(path, params)
            if response.status_code >= 500:
                failures.append(f"GET {path} {params}: {response.status_code}")
        response = api.put(f"/api/v1/uploads/{w.upload.pk}/", b"x", headers={"Upload-Offset": bad})
        if response.status_code >= 500:
            failures.append(f"PUT upload Upload-Offset {bad!r}: {response.status_code}")
    ok = {"project": w.project.pk, "audio": [w.audio.pk], "presenters": [w.presenter.pk]}
    for bad in BAD_JSON:
        for body in (
            {**ok, "project": bad},
            {**ok, "audio": [bad]},
            {**ok, "presenters": [bad]},
            {"project": w.project.pk, "pairs": [{"audio": bad, "presenter": w.presenter.pk}]},
            *([{**ok, "max_height": bad}] if bad is not None else []),  # null: original size
        ):
            response = api.post("/api/v1/batches/", body)
            if response.status_code != 400:
                failures.append(f"POST batches {body}: {response.status_code}")
        response = api.post(
            "/api/v1/uploads/", {"filename": "a.wav", "size": 10, "kind": "audio", "project": bad}
        )
        if response.status_code >= 500:
            failures.append(f"POST uploads project={bad!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_login_form_with_odd_values_is_no_server_error(world, client):
    client.raise_request_exception = False
    for bad in BAD:
        response = client.post(reverse("login"), {"username": bad, "password": PASSWORD})
        no_server_error(response, f"login {bad!r}")
