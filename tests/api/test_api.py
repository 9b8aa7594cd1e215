"""The public API with tokens: scopes, expiry, revocation, audit, errors, rate limits,
idempotency, batches (tag, matrix, pairs, manifest, file name templates), uploads, results."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile

import pytest
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse

from api.models import ApiToken
from rendering.models import Batch, MediaAsset, TaskStatus
from studio.models import AuditEvent, Presenter, Project
from tests.api.client import ApiClient

pytestmark = pytest.mark.django_db


def _tag(presenter, *names):
    from studio.models import Tag

    presenter.tags.set([Tag.objects.get_or_create(team=presenter.team, name=n)[0] for n in names])


def _error(r) -> dict:
    return r.json()["error"]


# --- tokens ------------------------------------------------------------------------------------


def test_a_read_token_cannot_render(api_as, member, team, library):
    client = api_as(member, team, ("read",))
    body = {
        "project": library.project.pk,
        "audio": [library.hello.pk],
        "presenters": [library.anna.pk],
    }
    r = client.post("/api/v1/batches/", body)
    assert r.status_code == 403 and _error(r)["code"] == "scope_required"
    assert not Batch.objects.exists()
    assert client.get("/api/v1/batches/").status_code == 200  # reading is what it may do


def test_expired_and_revoked_tokens_are_refused(
    make_token, member, team, member_client, expired_token
):
    r = ApiClient(expired_token).get("/api/v1/me/")
    assert r.status_code == 401 and _error(r)["code"] == "token_expired"
    row, raw = make_token(member, team)
    assert ApiClient(raw).get("/api/v1/me/").status_code == 200
    page = member_client.post(reverse("api_token_revoke", args=[row.pk]))
    assert page.status_code == 302
    r = ApiClient(raw).get("/api/v1/me/")
    assert r.status_code == 401 and _error(r)["code"] == "token_revoked"
    assert AuditEvent.objects.filter(action="api_token_revoked", target_id=str(row.pk)).exists()


def test_a_token_of_a_user_who_left_the_team_stops_working(make_token, member, team):
    _row, raw = make_token(member, team)
    team.memberships.filter(user=member).delete()
    r = ApiClient(raw).get("/api/v1/me/")
    assert r.status_code == 401 and _error(r)["code"] == "token_invalid"


def test_the_profile_page_makes_a_token_shown_once_and_stored_hashed(member_client, member, team):
    page = member_client.get(reverse("profile"))
    assert b"api-token-form" in page.content
    r = member_client.post(
        reverse("api_token_create"), {"name": "nightly", "scopes": ["read", "render"], "days": 30}
    )
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    raw = r.context["raw"]
    assert raw.encode() in r.content
    token = ApiToken.objects.get(user=member)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(list(ApiToken.objects.values()))  # only the digest is kept
    assert raw.startswith(token.prefix + "_") and token.scopes == ["read", "render"]
    assert raw.encode() not in member_client.get(reverse("profile")).content  # never again
    assert ApiClient(raw).get("/api/v1/me/").json()["role"] == "member"


def test_a_viewer_cannot_give_a_token_more_than_their_role(viewer_client, viewer):
    r = viewer_client.post(
        reverse("api_token_create"), {"name": "x", "scopes": ["render"], "days": 30}
    )
    assert r.status_code == 302 and not ApiToken.objects.filter(user=viewer).exists()


def test_reads_are_audited_once_a_minute_and_every_write_on_its_own(member_api, team):
    for _ in range(5):
        assert member_api.get("/api/v1/projects/").status_code == 200
    assert AuditEvent.objects.filter(action="api_token_used").count() == 1
    token = ApiToken.objects.get()
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"
    r = member_api.post("/api/v1/projects/", {"name": "Week 12"})
    assert r.status_code == 201
    event = AuditEvent.objects.get(action="project_created")
    assert event.data["via"] == "api" and event.actor.username == "mia"
    call = AuditEvent.objects.get(action="api_request")
    assert call.data["prefix"] == token.prefix and call.data["status"] == 201


def test_errors_have_one_shape_in_the_request_language(api_as, member, team):
    client = api_as(member, team, ("read",))
    en = client.post("/api/v1/projects/", {"name": "x"})
    zh = client.post("/api/v1/projects/", {"name": "x"}, headers={"Accept-Language": "zh-hans"})
    assert _error(en)["code"] == _error(zh)["code"] == "scope_required"
    assert "scope" in _error(en)["message"] and "范围" in _error(zh)["message"]
    full = api_as(member, team)
    r = full.post("/api/v1/projects/", {"description": "no name"})
    assert r.status_code == 400
    assert _error(r)["field"] == "name" and _error(r)["code"] == "required"
    r = full.get("/api/v1/presenters/99999999999999999999999/")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"


def test_the_rate_limit_answers_429_with_retry_after(member_api, settings):
    settings.API_RATE_LIMIT = "3/min"
    codes = [member_api.get("/api/v1/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = member_api.get("/api/v1/me/")
    assert _error(r)["code"] == "throttled" and int(r["Retry-After"]) >= 1


# --- batches -----------------------------------------------------------------------------------


def test_render_one_audio_for_every_presenter_with_a_tag(member_api, library):
    _tag(library.anna, "math")
    _tag(library.bo, "math", "english")
    _tag(library.long_presenter, "english")
    r = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter_tag": "Math",
            "output_template": "{presenter}/{audio}",
        },
    )
    assert r.status_code == 201, r.json()
    batch = r.json()
    assert batch["output_template"] == "{presenter}/{audio}.mp4"
    assert sorted(t["presenter"]["id"] for t in batch["tasks"]) == sorted(
        [library.anna.pk, library.bo.pk]
    )
    assert {t["status"] for t in batch["tasks"]} == {"queued"} and batch["active"]
    again = member_api.get(f"/api/v1/batches/{batch['id']}/").json()
    assert again["total"] == 2 and again["percent"] == 0.0


def test_a_matrix_and_explicit_pairs(member_api, library):
    matrix = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "audio": [library.hello.pk, library.long_audio.pk],
            "presenters": [library.anna.pk, library.bo.pk],
        },
    )
    assert matrix.status_code == 201 and matrix.json()["total"] == 4
    pairs = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "pairs": [
                {"audio": library.hello.pk, "presenter": library.anna.pk},
                {"audio": library.long_audio.pk, "presenter": library.bo.pk},
            ],
        },
    )
    assert pairs.status_code == 201
    got = [(t["audio"]["id"], t["presenter"]["id"]) for t in pairs.json()["tasks"]]
    assert got == [(library.hello.pk, library.anna.pk), (library.long_audio.pk, library.bo.pk)]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("../{audio}.mp4", "Folders"),
        ("/etc/{audio}", "Folders"),
        ("{presenter}/../../x", "Folders"),
        ("a\\\\{audio}", "character"),
        ("{secret}.mp4", "placeholder"),
        ("{presenter.__class__}", "placeholder"),
        ("{audio}.mp4", "same name"),
    ],
)
def test_file_name_templates_are_checked(member_api, library, template, why):
    r = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenters": [library.anna.pk, library.bo.pk],
            "output_template": template,
        },
    )
    assert r.status_code == 422 and _error(r)["code"] == "batch_refused", r.json()
    assert why in _error(r)["message"]
    assert not Batch.objects.exists()


def test_a_batch_from_a_csv_or_json_manifest(member_api, library):
    def send(name: str, text: str):
        return member_api.post(
            "/api/v1/batches/manifest/",
            {"project": library.project.pk, "manifest": _file(name, text), "name": name},
            content_type=MULTIPART_CONTENT,
        )

    csv_text = (
        f"audio,presenter,note\n{library.hello.pk},安娜 Anna,x\n问候 Hello,{library.bo.pk},y\n"
    )
    r = send("week.csv", csv_text)
    assert r.status_code == 201, r.json()
    assert [t["presenter"]["id"] for t in r.json()["tasks"]] == [library.anna.pk, library.bo.pk]
    r = send("week.json", f'[{{"audio": {library.hello.pk}, "presenter": "Bo"}}]')
    assert r.status_code == 201 and r.json()["total"] == 1
    r = send("bad.csv", "audio,presenter\n问候 Hello,Nobody\n")
    assert r.status_code == 400 and _error(r)["code"] == "invalid_manifest"
    assert _error(r)["field"] == "manifest" and "Row 2" in _error(r)["message"]


def _file(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode())


def test_a_repeated_idempotency_key_creates_one_batch(member_api, library):
    body = {
        "project": library.project.pk,
        "audio": [library.hello.pk],
        "presenters": [library.anna.pk],
    }
    key = {"Idempotency-Key": "nightly-2026-12-01"}
    first = member_api.post("/api/v1/batches/", body, headers=key)
    second = member_api.post("/api/v1/batches/", body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and second["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 1
    other = member_api.post("/api/v1/batches/", {**body, "name": "other"}, headers=key)
    assert other.status_code == 422 and _error(other)["code"] == "idempotency_key_reused"
    assert Batch.objects.count() == 1
    fresh = member_api.post("/api/v1/batches/", body, headers={"Idempotency-Key": "another"})
    assert fresh.status_code == 201 and Batch.objects.count() == 2


def test_a_failed_create_releases_its_key(member_api, library):
    key = {"Idempotency-Key": "k1"}
    bad = member_api.post("/api/v1/batches/", {"project": library.project.pk}, headers=key)
    assert bad.status_code == 400
    good = {
        "project": library.project.pk,
        "audio": [library.hello.pk],
        "presenters": [library.bo.pk],
    }
    assert member_api.post("/api/v1/batches/", good, headers=key).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_create_one_batch(make_token, member, team, library):
    _row, raw = make_token(member, team)
    body = {
        "project": library.project.pk,
        "audio": [library.hello.pk],
        "presenters": [library.anna.pk],
    }
    answers: list = []
    start = threading.Barrier(4)

    def send() -> None:
        from django.db import connection

        client = ApiClient(raw)
        start.wait()
        try:
            answers.append(
                client.post("/api/v1/batches/", body, headers={"Idempotency-Key": "same"})
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert Batch.objects.count() == 1
    codes = sorted(a.status_code for a in answers)
    assert len(codes) == 4 and set(codes) <= {201, 409} and 201 in codes, codes
    ids = {a.json()["id"] for a in answers if a.status_code == 201}
    assert ids == {Batch.objects.get().pk}


# --- uploads and results -----------------------------------------------------------------------


def test_the_chunked_upload_protocol_with_a_token(member_api, clip_files, media_root):
    data = clip_files.anna.read_bytes()
    r = member_api.post(
        "/api/v1/uploads/", {"filename": "anna.mp4", "size": len(data), "kind": "presenter"}
    )
    assert r.status_code == 201, r.json()
    upload = r.json()
    url = f"/api/v1/uploads/{upload['id']}/"
    half = len(data) // 2
    assert member_api.put(url, data[:half], headers={"Upload-Offset": "0"}).json()["offset"] == half
    wrong = member_api.put(url, data[half:], headers={"Upload-Offset": "0"})
    assert wrong.status_code == 409 and wrong["Upload-Offset"] == str(half)
    assert _error(wrong)["code"] == "offset_mismatch"
    assert member_api.get(url).json()["offset"] == half
    member_api.put(url, data[half:], headers={"Upload-Offset": str(half)})
    done = member_api.post(url + "complete/")
    assert done.status_code == 201, done.json()
    presenter = Presenter.objects.get(pk=done.json()["result"]["id"])
    assert presenter.name == "anna" and presenter.team.name == "Training"


def test_multipart_audio_upload_and_a_refused_file(member_api, library, clip_files, media_root):
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = SimpleUploadedFile("talk.wav", clip_files.hello.read_bytes())
    r = member_api.post(
        "/api/v1/audio/",
        {"project": library.project.pk, "file": good},
        content_type=MULTIPART_CONTENT,
    )
    assert r.status_code == 201 and r.json()["name"] == "talk"
    bad = SimpleUploadedFile("notes.wav", b"this is not sound")
    r = member_api.post(
        "/api/v1/audio/",
        {"project": library.project.pk, "file": bad},
        content_type=MULTIPART_CONTENT,
    )
    assert r.status_code == 422 and _error(r)["code"] == "bad_file" and _error(r)["field"] == "file"
    assert _error(r)["message"].startswith("notes.wav: ")
    assert not Project.objects.filter(name="HACKED").exists()


def test_results_their_quality_download_and_the_zip_with_template_names(
    member_api, library, member, media_root
):
    from rendering.services import batches as service
    from studio.actor import Actor

    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[library.hello],
            presenters=[library.anna, library.bo],
            output_template="{presenter}/{audio}.mp4",
        ),
    )
    from rendering import naming

    for task in batch.tasks.all():
        rel = f"outputs/{batch.team_id}/{batch.pk}/{task.pk}.mp4"
        path = media_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"video of " + task.presenter_name.encode())
        asset = MediaAsset.objects.create(
            team=batch.team,
            project=batch.project,
            batch=batch,
            task=task,
            presenter=task.presenter,
            audio=task.audio,
            title=str(task),
            download_name=naming.output_name(task),
            file=rel,
            size_bytes=path.stat().st_size,
        )
        type(task).objects.filter(pk=task.pk).update(status=TaskStatus.SUCCEEDED, output=asset)
    results = member_api.get("/api/v1/results/", {"batch": batch.pk}).json()["results"]
    assert {r["file_name"] for r in results} == {"安娜 Anna/问候 Hello.mp4", "Bo/问候 Hello.mp4"}
    assert all(r["quality"] is None for r in results)
    one = member_api.get(results[0]["download_url"])
    assert one.status_code == 200 and b"".join(one.streaming_content).startswith(b"video of")
    assert "__" in one["Content-Disposition"] and "/" not in one["Content-Disposition"]
    z = member_api.get(f"/api/v1/batches/{batch.pk}/zip/")
    assert z.status_code == 200 and z["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(z.streaming_content))).namelist()
    assert names == ["安娜 Anna/问候 Hello.mp4", "Bo/问候 Hello.mp4", "quality.csv"]


def test_batch_output_options_are_chosen_stored_and_read_back(member_api, library):
    from rendering.models import Batch, RenderTask

    r = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenters": [library.anna.pk],
            "duration_mode": "hold",
            "no_face": "fail",
            "match_source": True,
        },
    )
    assert r.status_code == 201, r.json()
    batch = r.json()
    assert (batch["duration_mode"], batch["no_face"], batch["match_source"]) == (
        "hold",
        "fail",
        True,
    )
    row = Batch.objects.get(pk=batch["id"])
    assert (row.duration_mode, row.no_face, row.match_source) == ("hold", "fail", True)
    task = batch["tasks"][0]
    assert (task["untouched_frames"], task["untouched_ranges"]) == (0, [])
    RenderTask.objects.filter(pk=task["id"]).update(
        untouched_frames=12, untouched_ranges=[[0.0, 0.24], [1.0, 1.24]]
    )
    again = member_api.get(f"/api/v1/batches/{batch['id']}/").json()["tasks"][0]
    assert (again["untouched_frames"], again["untouched_ranges"]) == (
        12,
        [[0.0, 0.24], [1.0, 1.24]],
    )
    default = member_api.post(
        "/api/v1/batches/",
        {"project": library.project.pk, "audio": [library.hello.pk], "presenters": [library.bo.pk]},
    ).json()
    assert (default["duration_mode"], default["no_face"], default["match_source"]) == (
        "bounce",
        "pass",
        False,
    )
    bad = member_api.post(
        "/api/v1/batches/",
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenters": [library.bo.pk],
            "duration_mode": "pingpong",
        },
    )
    assert bad.status_code == 400 and "duration_mode" in str(bad.json())
