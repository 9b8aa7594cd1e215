"""The face check ends with a short real render: a presenter the render would fail on is never
"Ready", and it shows the reason (typed, with what to do) or an internal-error reference."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from django.utils import translation

from lipsync.engines.warp import _WarpPass
from lipsync.errors import TruncatedMediaError
from lipsync.media.probe import TRUNCATED_AT
from lipsync.media.writer import VideoWriter
from studio.models import MediaStatus, Presenter
from studio.services import face_check

from .test_jobs import _upload_and_run

pytestmark = pytest.mark.django_db


def test_a_presenter_whose_encode_fails_is_not_ready_and_shows_a_reference(
    member_client, media_files, media_root, rq_sync, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(self, image):
        raise ValueError("x264 [error]: width not divisible by 2 (simulated)")

    monkeypatch.setattr(VideoWriter, "write", broken)
    pk = _upload_and_run(member_client, media_files.video, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.FAILED, "the face was found, but the render would fail"
    with translation.override("en"):
        english = p.error_text
    with translation.override("zh-hans"):
        chinese = p.error_text
    found = re.search(r"Internal error in the video encoding step \(reference (\w{10})\)", english)
    assert found, english
    assert found.group(1) in chinese and "视频编码步骤" in chinese
    page = member_client.get(
        reverse("presenter_detail", args=[pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert found.group(1) in page and "x264" not in page and 'data-status="ready"' not in page


def test_a_typed_reason_met_by_the_render_is_shown_on_the_presenter(
    member_client, media_files, media_root, rq_sync, monkeypatch, django_capture_on_commit_callbacks
):
    def cut(self, items, writer, tracker):
        raise TruncatedMediaError("/tmp/stored-name.mp4", TRUNCATED_AT, {"t": "0.2"})

    monkeypatch.setattr(_WarpPass, "run", cut)
    pk = _upload_and_run(member_client, media_files.video, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.FAILED
    assert p.error_message == (
        "anna clip.mp4: file is truncated at 0.2 s — upload the complete file again, or export "
        "it again from the original if it plays badly there too"
    ), "the user's file name, the reason and what to do"
    with translation.override("zh-hans"):
        assert p.error_text.startswith("anna clip.mp4：") and "请重新上传完整的文件" in p.error_text


def test_the_trial_render_is_short(media_files, media_root, settings):
    """A half-second render of a small clip: well under a second of the check's time here."""
    from lipsync.engines import get_engine

    engine = get_engine("warp", device="cpu", cache_dir=settings.LIPSYNC_CACHE_DIR)
    track = engine.prepare(str(media_files.video))
    start = time.monotonic()
    face_check.trial_render(engine, str(media_files.video), track)
    assert time.monotonic() - start < 3.0
