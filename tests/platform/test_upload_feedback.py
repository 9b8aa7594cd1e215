"""What a person sees after an upload: failed rows in their language with the reason once,
duplicates flagged, the detail pages' actions, and the engine's reasons kept translatable."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from lipsync.errors import REASONS, TruncatedMediaError, UnsupportedMediaError
from studio.models import AudioTrack, Presenter, Team, Upload

from .helpers import chunked_upload

probe_module = importlib.import_module("lipsync.media.probe")
pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}


def test_input_error_keeps_template_and_params_and_its_english_text():
    exc = UnsupportedMediaError(
        "/tmp/x/odd.avi", probe_module.UNSUPPORTED_VIDEO_CODEC, {"codec": "XVID"}
    )
    assert str(exc) == (
        "odd.avi: unsupported video codec 'XVID' — export it again as MP4 (H.264 video, AAC "
        "audio), or as a JPEG or PNG picture"
    )
    assert exc.reason == "unsupported video codec 'XVID'"
    assert exc.template == "unsupported video codec '%(codec)s'"
    assert exc.params == {"codec": "XVID"}
    plain = TruncatedMediaError("cut.mp4", "file ends early")
    assert (plain.template, plain.params, str(plain)) == (
        "file ends early",
        {},
        "cut.mp4: file ends early — upload the complete file again, or export it again from "
        "the original if it plays badly there too",
    )


def test_every_fixed_reason_of_the_probe_is_registered_for_translation():
    constants = {
        v
        for k, v in vars(probe_module).items()
        if k.isupper() and isinstance(v, str) and k not in {"PathLike"}
    }
    assert probe_module.NOT_MEDIA in constants and probe_module.DAMAGED_INDEX in constants
    assert constants <= set(REASONS), constants - set(REASONS)


@pytest.mark.parametrize(
    "which, english, chinese",
    [
        ("notes", "not a media file", "不是媒体文件"),
        ("truncated", "truncated", "截断"),
    ],
)
def test_failed_upload_reason_is_translated_and_names_the_file_once(
    member_client, media_files, media_root, which, english, chinese
):
    path = getattr(media_files, which)
    member_client.defaults.update(ZH)
    r = chunked_upload(member_client, path, filename="clip.mp4")
    assert r.status_code == 422, r.content
    body = r.json()
    assert chinese in body["reason"] and english not in body["reason"], body
    assert "clip.mp4" not in body["reason"]
    assert body["error"].count("clip.mp4") == 1 and chinese in body["error"]
    upload = Upload.objects.get(filename="clip.mp4")
    assert english in upload.error_message  # stored English, for logs and the API
    state = member_client.get(reverse("upload_detail", args=[upload.pk])).json()
    assert state["state"] == "failed" and state["reason"] == body["reason"]


def test_parametrised_reason_is_translated_with_its_value(
    member_client, media_files, media_root, project
):
    member_client.defaults.update(ZH)
    r = chunked_upload(member_client, media_files.video, kind="audio", project=project)
    assert r.status_code == 422
    assert "没有音频" in r.json()["reason"], r.json()


def test_create_refusal_is_translated(member_client, media_root, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    r = member_client.post(
        reverse("upload_create"),
        {"filename": "big.mp4", "size": 5000, "kind": "presenter"},
        content_type="application/json",
        **ZH,
    )
    assert r.status_code == 413
    assert "上限" in r.json()["reason"] and "big.mp4" not in r.json()["reason"]


def test_same_file_twice_is_kept_and_flagged(member_client, media_files, media_root, team):
    first = chunked_upload(member_client, media_files.photo, filename="bert.jpg")
    assert first.status_code == 201 and "duplicate" not in first.json()
    second = chunked_upload(member_client, media_files.photo, filename="bert again.jpg")
    assert second.status_code == 201
    dup = second.json()["duplicate"]
    original = Presenter.objects.get(pk=first.json()["object"]["id"])
    copy = Presenter.objects.get(pk=second.json()["object"]["id"])
    assert dup["id"] == original.pk and dup["message"] == (
        "This file is already in the library as bert."
    )
    assert copy.content_hash == original.content_hash and len(copy.content_hash) == 64
    page = member_client.get(copy.get_absolute_url()).content.decode()
    assert 'data-testid="duplicate-warning"' in page and "already in the library as bert" in page
    zh = member_client.get(copy.get_absolute_url(), **ZH).content.decode()
    assert "媒体库中已有此文件" in zh
    assert (
        'data-testid="duplicate-warning"'
        not in member_client.get(original.get_absolute_url()).content.decode()
    )
    other = chunked_upload(member_client, media_files.png)
    assert "duplicate" not in other.json()


def test_same_audio_twice_in_a_project_is_flagged(member_client, media_files, media_root, project):
    wav = media_files.audio["wav"]
    chunked_upload(member_client, wav, kind="audio", project=project)
    r = chunked_upload(member_client, wav, kind="audio", project=project, filename="v2.wav")
    assert r.json()["duplicate"]["name"] == "voice"
    track = AudioTrack.objects.get(pk=r.json()["object"]["id"])
    assert (
        'data-testid="duplicate-warning"'
        in member_client.get(track.get_absolute_url()).content.decode()
    )


def test_multipart_upload_warns_about_a_duplicate(member_client, media_files, media_root):
    with open(media_files.photo, "rb") as fh:
        r = member_client.post(reverse("presenter_upload"), {"files": fh}, follow=True)
    assert "already in the library" not in r.content.decode()
    with open(media_files.photo, "rb") as fh:
        r = member_client.post(reverse("presenter_upload"), {"files": fh}, follow=True)
    assert "This file is already in the library as bert." in r.content.decode()


def _actions_after_table(html: str, testid: str) -> bool:
    table_end = html.index("</table>")
    actions = html.index('data-testid="detail-actions"')
    link = html.index(f'data-testid="{testid}"')
    return table_end < actions < link and 'class="form-actions"' in html[table_end:link]


def test_download_buttons_sit_in_an_actions_row_below_the_table(
    member_client, media_files, media_root, project
):
    p = chunked_upload(member_client, media_files.photo).json()["object"]
    html = member_client.get(p["url"]).content.decode()
    assert _actions_after_table(html, "presenter-download")
    t = chunked_upload(
        member_client, media_files.audio["wav"], kind="audio", project=project
    ).json()["object"]
    html = member_client.get(t["url"]).content.decode()
    assert _actions_after_table(html, "audio-download")


def test_project_players_load_nothing_until_played_and_the_file_answers_head_and_range(
    member_client, media_files, media_root, project
):
    """A page lists up to 50 tracks, so the players fetch nothing before play (the row shows
    the duration); playing asks for the file by ranges."""
    t = AudioTrack.objects.get(
        pk=chunked_upload(
            member_client, media_files.audio["wav"], kind="audio", project=project
        ).json()["object"]["id"]
    )
    AudioTrack.objects.filter(pk=t.pk).update(status="ready")
    html = member_client.get(project.get_absolute_url()).content.decode()
    players = re.findall(r'<audio[^>]*data-testid="audio-row-player"[^>]*>', html)
    assert players and all('preload="none"' in a for a in players)
    url = reverse("audio_file", args=[t.pk])
    head = member_client.head(url)
    assert head.status_code == 200 and head["Accept-Ranges"] == "bytes"
    assert int(head["Content-Length"]) == Path(t.file.path).stat().st_size
    part = member_client.get(url, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and part["Content-Range"].startswith("bytes 0-99/")


def test_first_team_name_is_language_neutral_unless_admin_team_is_set(monkeypatch, db):
    from django.contrib.auth import get_user_model

    monkeypatch.setenv("ADMIN_PASSWORD", "pw-123456789")
    monkeypatch.delenv("ADMIN_TEAM", raising=False)
    get_user_model().objects.filter(is_superuser=True).delete()
    call_command("ensure_admin")
    admin = get_user_model().objects.get(is_superuser=True)
    assert list(Team.objects.filter(memberships__user=admin).values_list("name", flat=True)) == [
        "HeyGem Studio"
    ]
    get_user_model().objects.filter(is_superuser=True).delete()
    monkeypatch.setenv("ADMIN_TEAM", "Studio Beijing")
    call_command("ensure_admin")
    admin = get_user_model().objects.get(is_superuser=True)
    assert Team.objects.filter(memberships__user=admin).get().name == "Studio Beijing"
