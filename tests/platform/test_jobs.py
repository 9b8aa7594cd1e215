"""Background jobs of the libraries: face check (engine prepare) and audio analysis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from lipsync.errors import REASONS
from lipsync.faces.tracker import NO_FACE
from lipsync.track import FaceTrack
from studio.models import AudioTrack, MediaStatus, Presenter
from studio.services import audio_analysis, face_check

from .helpers import chunked_upload


def _upload_and_run(client, path, django_capture_on_commit_callbacks, **kw):
    with django_capture_on_commit_callbacks(execute=True):
        r = chunked_upload(client, path, **kw)
    assert r.status_code == 201, r.content
    return r.json()["object"]["id"]


@pytest.mark.django_db
def test_face_check_of_a_video(
    member_client, media_files, media_root, rq_sync, settings, django_capture_on_commit_callbacks
):
    pk = _upload_and_run(member_client, media_files.video, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.READY, p.error_message
    assert p.face_share >= 0.9 and p.frames_total == 15
    assert 20 < p.face_height_px < 240
    assert p.face_height_ratio == pytest.approx(p.face_height_px / 240)
    assert p.detector and p.prepared_at and p.job_id
    thumb = Image.open(p.thumbnail.path)
    assert thumb.format == "JPEG" and abs(thumb.width / thumb.height - 16 / 9) < 0.05
    # the face track is cached for the renders
    assert list(Path(settings.LIPSYNC_CACHE_DIR).rglob("*.npz"))
    page = member_client.get(reverse("presenter_detail", args=[pk])).content.decode()
    assert 'data-status="ready"' in page
    assert member_client.get(reverse("presenter_thumbnail", args=[pk])).status_code == 200


@pytest.mark.django_db
def test_face_check_of_a_photo_and_a_clip_with_sound(
    member_client, media_files, media_root, rq_sync, django_capture_on_commit_callbacks
):
    pk = _upload_and_run(member_client, media_files.photo, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.READY and p.kind == "image" and p.face_share == 1.0
    pk = _upload_and_run(member_client, media_files.video_sound, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.READY and p.has_audio


@pytest.mark.django_db
def test_face_check_without_a_face_fails_with_the_reason(
    member_client, media_files, media_root, rq_sync, django_capture_on_commit_callbacks
):
    pk = _upload_and_run(member_client, media_files.noface, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.FAILED
    assert p.error_message.startswith("empty room.mp4: ") and "face" in p.error_message
    page = member_client.get(reverse("presenter_detail", args=[pk])).content.decode()
    assert "empty room.mp4: " in page
    zh = member_client.get(
        reverse("presenter_detail", args=[pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "empty room.mp4：" in zh and "empty room.mp4: " not in zh, "stored, then translated"
    # check again: same answer, and it went through the queue again
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("presenter_recheck", args=[pk]))
    assert Presenter.objects.get(pk=pk).status == MediaStatus.FAILED


@pytest.mark.django_db
def test_no_face_reason_of_the_engine_shows_in_chinese(
    member_client, media_files, media_root, rq_sync, django_capture_on_commit_callbacks
):
    pk = _upload_and_run(member_client, media_files.noface, django_capture_on_commit_callbacks)
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.FAILED
    assert p.error_message == (
        "empty room.mp4: no face found in any frame — use a video or photo where the "
        "presenter's face is clearly visible, facing the camera"
    ), "the engine's NoFaceError, with what to do"
    reason = p.error.params["reason"]
    assert reason.template == NO_FACE and reason.template in REASONS
    zh = member_client.get(
        reverse("presenter_detail", args=[pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "empty room.mp4：所有画面帧中都没有找到人脸——请使用主播面部清晰可见" in zh
    assert "no face found" not in zh
    en = member_client.get(reverse("presenter_detail", args=[pk])).content.decode()
    assert "empty room.mp4: no face found in any frame" in en


def _track(n=10, width=640, height=480, face_h=200.0, present=None, yaw=0.0) -> FaceTrack:
    present = np.ones(n, bool) if present is None else np.asarray(present)
    n = len(present)
    boxes = np.tile(np.array([200, 100, 200 + face_h, 100 + face_h], np.float32), (n, 1))
    lm = np.zeros((n, 68, 2), np.float32)
    lm[:, 0, 0], lm[:, 16, 0] = 200, 200 + face_h
    lm[:, 30, 0] = 200 + face_h * (0.5 + yaw / 2)
    boxes[~present] = np.nan
    lm[~present] = np.nan
    return FaceTrack(
        source_hash="x",
        detector="t/1",
        fps=25.0,
        width=width,
        height=height,
        n_frames=n,
        boxes=boxes,
        landmarks=lm,
        present=present,
        mouth_open=np.zeros(n, np.float32),
    )


def _codes(track, w=640, h=480):
    return {w_.code for w_ in face_check.warnings_for(track, w, h)[0]}


def test_face_warnings():
    assert _codes(_track()) == set()
    assert _codes(_track(face_h=60)) == {"tiny_face"}
    assert _codes(_track(yaw=0.7)) == {"side_face"}
    assert _codes(_track(yaw=0.3)) == set()
    assert _codes(_track(present=[True] * 5 + [False] * 5)) == {"missing_face"}
    assert _codes(_track(width=3840, height=2160), 3840, 2160) == {"4k_input"}
    assert _codes(_track(width=2160, height=3840), 2160, 3840) == {"4k_input"}
    assert _codes(_track(width=1920, height=1080), 1920, 1080) == set()
    _, stats = face_check.warnings_for(_track(present=[True] * 3 + [False]), 640, 480)
    assert stats["face_share"] == 0.75 and stats["face_height_px"] == 200


@pytest.mark.django_db
def test_audio_analysis_of_speech(
    member_client, project, media_files, media_root, rq_sync, django_capture_on_commit_callbacks
):
    pk = _upload_and_run(
        member_client,
        media_files.speech,
        django_capture_on_commit_callbacks,
        kind="audio",
        project=project,
    )
    t = AudioTrack.objects.get(pk=pk)
    assert t.status == MediaStatus.READY and t.warnings == []
    assert t.duration_s == pytest.approx(6.0, abs=0.05)
    png = Image.open(t.waveform.path)
    assert png.format == "PNG" and png.size == (audio_analysis.WAVE_W, audio_analysis.WAVE_H)
    assert member_client.get(reverse("audio_waveform", args=[pk])).status_code == 200
    page = member_client.get(reverse("audio_detail", args=[pk])).content.decode()
    assert 'data-testid="audio-player"' in page and 'data-status="ready"' in page


@pytest.mark.parametrize(
    "name,codes",
    [
        ("speech", set()),
        ("clipped", {"clipping"}),
        ("gappy", {"long_silence"}),
        ("music", {"music_like"}),
    ],
)
def test_audio_warnings(media_files, name, codes):
    result = audio_analysis.analyse(str(getattr(media_files, name)), name)
    assert {w.code for w in result.warnings} == codes, result.stats


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "flac", "ogg"])
def test_audio_analysis_reads_every_format(media_files, fmt):
    result = audio_analysis.analyse(str(media_files.audio[fmt]), f"voice.{fmt}")
    assert result.duration_s == pytest.approx(1.0, abs=0.1)
    assert 0.3 < result.stats["peak"] <= 1.0


def test_audio_analysis_refuses_non_audio(media_files):
    from lipsync.errors import InputError

    with pytest.raises(InputError, match="^notes.txt: "):
        audio_analysis.analyse(str(media_files.notes), "notes.txt")
    with pytest.raises(InputError, match="has no audio stream"):
        audio_analysis.analyse(str(media_files.video), "anna clip.mp4")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_runs_the_check(
    member_client, media_files, media_root, use_redis, subprocess_env
):
    """Upload through the web API, then a separate `rqworker cpu --burst` does the job."""
    r = chunked_upload(member_client, media_files.png)
    pk = r.json()["object"]["id"]
    p = Presenter.objects.get(pk=pk)
    assert p.status == MediaStatus.PROCESSING and p.job_id
    done = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "cpu", "--burst"],
        cwd=Path(__file__).resolve().parents[2],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    p.refresh_from_db()
    assert p.status == MediaStatus.READY, (
        p.error_message,
        done.stdout[-2000:],
        done.stderr[-2000:],
    )
    assert p.thumbnail and Path(p.thumbnail.path).is_file()


def test_real_speech_has_no_warnings(shared_media):
    result = audio_analysis.analyse(str(shared_media / "eng.wav"), "eng.wav")
    assert result.warnings == [] and result.duration_s == pytest.approx(60, abs=0.5)
