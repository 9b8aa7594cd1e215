"""Per-batch output options on the platform, rendered by a real StudioWorker (in this process,
burst mode, real Redis): the duration mode when the speech outlasts the presenter, the no-face
policy with the untouched time ranges on the task (page, API), and the form that sets them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import django_rq
import pytest
from django.urls import reverse

from lipsync.media import probe
from rendering import worker as worker_module
from rendering.models import Batch, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor
from tests.engine import mediagen


@pytest.fixture
def fresh_worker_state(monkeypatch, settings):
    settings.LIPSYNC_DEVICE = "cpu"
    monkeypatch.setattr(worker_module, "_engines", {})
    monkeypatch.setattr(worker_module, "engine_loads", 0)


def _face_then_none(path: Path, with_face: int = 25, without: int = 25) -> Path:
    """A 25 fps presenter whose face is seen for ``with_face`` frames, then leaves."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        stream.time_base = Fraction(1, 25)
        for i in range(with_face + without):
            image = mediagen.presenter_frame(i, 320, 240, face=i < with_face)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _batch(member, library, presenter, **options) -> Batch:
    return service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[presenter], **options
        ),
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_duration_modes_through_a_batch(use_redis, library, member, media_root, fresh_worker_state):
    """Bo's clip lasts 1.2 s, the speech 1.5 s: "cut" ends the result (speech too) with the
    clip, "hold" keeps the last frame until the speech ends."""
    speech = probe(library.hello.file.path).duration_s
    batches = {
        mode: _batch(member, library, library.bo, duration_mode=mode) for mode in ("cut", "hold")
    }
    django_rq.get_worker("gpu").work(burst=True)
    for mode, batch in batches.items():
        task = batch.tasks.get()
        assert task.status == TaskStatus.SUCCEEDED, task.error_message
        info = probe(task.output.file.path)
        seconds = 1.2 if mode == "cut" else speech
        assert info.duration_s == pytest.approx(seconds, abs=0.05)
        assert task.output.duration_s == pytest.approx(seconds, abs=0.05)
        with av.open(task.output.file.path) as c:
            audio = c.streams.audio[0]
            assert float(audio.duration * audio.time_base) == pytest.approx(seconds, abs=0.05)
            markers = [
                mediagen.read_marker(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)
            ]
        if mode == "cut":
            assert markers == list(range(30))
        else:
            assert markers[:30] == list(range(30)) and set(markers[30:]) == {29}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_frames_without_a_face_pass_or_fail_and_are_reported(
    use_redis, library, member, media_root, fresh_worker_state, member_client
):
    gappy_file = _face_then_none(media_root_path(media_root) / "gappy.mp4")
    gappy = library.presenter("Gappy", gappy_file, 2.0)
    passing = _batch(member, library, gappy)
    failing = _batch(member, library, gappy, no_face="fail")
    django_rq.get_worker("gpu").work(burst=True)

    ok = passing.tasks.get()
    assert ok.status == TaskStatus.SUCCEEDED, ok.error_message
    assert ok.untouched_frames > 5
    (start, end), *_more = ok.untouched_ranges
    assert 0.8 <= start <= 1.2 and end == pytest.approx(ok.output.duration_s, abs=0.05)
    page = member_client.get(passing.get_absolute_url()).content.decode()
    assert f"{ok.untouched_frames} frames without a face were left untouched: {start:.2f}–" in page
    zh = member_client.get(passing.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert f"{ok.untouched_frames} 帧没有人脸，保持原样：{start:.2f}–" in zh.content.decode()

    bad = failing.tasks.get()
    assert bad.status == TaskStatus.FAILED and bad.attempts == 1  # bad input: no retry
    assert bad.untouched_frames == ok.untouched_frames
    assert bad.untouched_ranges == ok.untouched_ranges
    english = bad.error_message
    assert english.startswith(f"gappy.mp4: no usable face in {bad.untouched_frames} frames (")
    assert "let frames without a face pass through untouched" in english
    zh = member_client.get(failing.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "gappy.mp4" in zh.content.decode() and "没有可用的人脸" in zh.content.decode()


def media_root_path(media_root) -> Path:
    folder = Path(media_root) / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.django_db
def test_the_batch_form_sets_the_options(member_client, library, media_root, use_redis):
    form = member_client.get(reverse("batch_create") + f"?project={library.project.pk}")
    page = form.content.decode()
    for testid in ("batch-duration-mode", "batch-no-face", "batch-match-source"):
        assert f'data-testid="{testid}"' in page
    assert "Hold the last frame" in page and "Leave them untouched" in page
    response = member_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk],
            "duration_mode": "loop",
            "no_face": "fail",
            "match_source": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get()
    assert (batch.duration_mode, batch.no_face, batch.match_source) == ("loop", "fail", True)
    detail = member_client.get(batch.get_absolute_url()).content.decode()
    assert "Loop from the start" in detail and "fails on frames without a face" in detail
    assert "source quality" in detail
    refused = member_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk],
            "duration_mode": "sideways",
        },
    )
    assert "Unknown duration mode “sideways”." in refused.content.decode()
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_the_live_payload_carries_the_untouched_sentence_in_each_readers_language(library, member):
    from django.utils import translation

    from rendering.payloads import localise_task, task_payload

    batch = _batch_row(library, member)
    task = batch.tasks.create(
        presenter=library.anna,
        audio=library.hello,
        presenter_name="Anna",
        audio_name="Hello",
        untouched_frames=1,
        untouched_ranges=[[0.4, 0.44]],
    )
    with translation.override("en"):
        payload = task_payload(task)
    assert payload["untouched"] == "1 frame without a face was left untouched: 0.40–0.44 s"
    assert (payload["untouched_frames"], payload["untouched_ranges"]) == (1, [[0.4, 0.44]])
    with translation.override("zh-hans"):
        assert localise_task(payload, None)["untouched"] == "1 帧没有人脸，保持原样：0.40–0.44 s"
    task.untouched_frames, task.untouched_ranges = 0, []
    assert task_payload(task)["untouched"] == ""


def _batch_row(library, member) -> Batch:
    return Batch.objects.create(
        team=library.project.team, project=library.project, name="b", engine="warp"
    )
