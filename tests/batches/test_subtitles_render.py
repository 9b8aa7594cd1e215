"""Subtitles on the platform: attached to an audio track (a bad file refused with its line, in
the reader's language), carried into every render of the track as a mov_text track, burned in
when the batch asks, by a real StudioWorker (in this process, burst mode, real Redis)."""

from __future__ import annotations

import os

import av
import django_rq
import numpy as np
import pytest
from django.urls import reverse

from lipsync.media import open_video
from rendering import worker as worker_module
from rendering.models import TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from studio.models import AuditAction, AuditEvent
from studio.services import library as library_service
from tests.engine.test_subtitles import read_subtitle_track

SRT = (
    "1\n00:00:00,100 --> 00:00:00,700\nHello and welcome\n\n"
    "2\n00:00:00,800 --> 00:00:01,400\n欢迎\n"
).encode()
BROKEN = b"1\n00:00:00,100 --> 00:00:00,700\nHello\n\n2\n00:00:00,800 -> 00:00:01,400\nx\n"


def _attach(client, track, name, data, **headers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("audio_subtitles", args=[track.pk]),
        {"subtitles": SimpleUploadedFile(name, data, content_type="application/x-subrip")},
        **headers,
    )


@pytest.mark.django_db
def test_attach_replace_and_refuse(
    member_client, viewer_client, library, media_root, django_capture_on_commit_callbacks
):
    track = library.hello
    assert viewer_client.post(reverse("audio_subtitles", args=[track.pk])).status_code == 403
    response = _attach(member_client, track, "welcome.srt", SRT, HTTP_ACCEPT="application/json")
    assert response.status_code == 201 and response.json()["cues"] == 2
    track.refresh_from_db()
    first = track.subtitles.path
    assert (track.subtitles_filename, track.subtitles_format, track.subtitles_cues) == (
        "welcome.srt",
        "srt",
        2,
    )
    assert "welcome" not in track.subtitles.name, "stored under a random name"
    page = member_client.get(track.get_absolute_url()).content.decode()
    assert "welcome.srt (SRT, 2 cues)" in page and "Hello and welcome" in page
    # A broken file is refused naming the file and line; the good one stays.
    refused = _attach(member_client, track, "typo.srt", BROKEN, HTTP_ACCEPT="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("typo.srt: line 6: expected a time line")
    zh = _attach(member_client, track, "typo.srt", BROKEN, HTTP_ACCEPT_LANGUAGE="zh-CN")
    page = member_client.get(zh["Location"], HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "typo.srt：第 6 行" in page
    track.refresh_from_db()
    assert track.subtitles_filename == "welcome.srt"
    # Replacing removes the old file.
    with open(first, "rb") as fh:
        assert fh.read() == SRT
    vtt = b"WEBVTT\n\n00:00.100 --> 00:00.700\nHi\n"
    with django_capture_on_commit_callbacks(execute=True):
        _attach(member_client, track, "hi.vtt", vtt)
    track.refresh_from_db()
    assert track.subtitles_format == "vtt" and track.subtitles_cues == 1
    assert not os.path.exists(first)
    events = AuditEvent.objects.filter(action=AuditAction.UPDATED, target_type="audiotrack")
    assert [e.data["subtitles"] for e in events.order_by("pk")] == ["welcome.srt", "hi.vtt"]


@pytest.fixture
def fresh_worker_state(monkeypatch, settings):
    settings.LIPSYNC_DEVICE = "cpu"
    monkeypatch.setattr(worker_module, "_engines", {})
    monkeypatch.setattr(worker_module, "engine_loads", 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_renders_carry_the_subtitles_and_burn_them_in(
    use_redis, library, member, media_root, fresh_worker_state
):
    track = library.hello
    library_service.attach_subtitles(Actor.of(member), track, "welcome.srt", SRT)
    soft = service.create_batch(
        Actor.of(member),
        service.BatchSpec(project=library.project, audios=[track], presenters=[library.anna]),
    )
    burned = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[track],
            presenters=[library.anna],
            burn_subtitles=True,
        ),
    )
    django_rq.get_worker("gpu").work(burst=True)
    outputs = {}
    for batch in (soft, burned):
        task = batch.tasks.get()
        assert task.status == TaskStatus.SUCCEEDED, task.error_message
        outputs[batch.pk] = task.output.path
        codec, _lang, cues = read_subtitle_track(task.output.path)
        assert codec == "mov_text"
        assert cues == [(0.1, 0.7, "Hello and welcome"), (0.8, 1.4, "欢迎")]
        with av.open(task.output.path) as container:
            assert sorted(s.type for s in container.streams) == ["audio", "subtitle", "video"]
    # Same presenter, audio and settings: the burned-in video differs at the bottom, while a
    # cue shows, and only there.
    plain = [f.image.astype(int) for f in open_video(outputs[soft.pk])]
    drawn = [f.image.astype(int) for f in open_video(outputs[burned.pk])]
    h = plain[0].shape[0]
    at_cue = 10  # 0.4 s: the first cue
    bottom = np.abs(drawn[at_cue][int(h * 0.75) :] - plain[at_cue][int(h * 0.75) :])
    top = np.abs(drawn[at_cue][: int(h * 0.5)] - plain[at_cue][: int(h * 0.5)])
    assert (bottom > 60).mean() > 0.01 and top.mean() < 3
    after = 37  # 1.48 s: no cue any more
    assert np.abs(drawn[after] - plain[after]).mean() < 3
