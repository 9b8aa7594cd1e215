"""The library's background checks always end: short audio, unexpected errors, "Check again"
for audio, and the reconciler for checks whose run was lost (studio/reconcile.py)."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import utcformat

from studio import recovery
from studio.jobs import analyse_audio, enqueue_audio_analysis, enqueue_presenter_check
from studio.models import AudioTrack, MediaStatus, Presenter
from studio.reconcile import reconcile_checks
from studio.services import audio_analysis
from tests.engine import mediagen

from .helpers import chunked_upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_wav(tmp_path):
    """Half a second of speech-like sound: odd for a speech track, but usable."""
    return mediagen.write_wav(tmp_path / "blip.wav", mediagen.synth_speech(0.5), 16000)


def test_half_a_second_of_audio_is_analysed(
    member_client, project, short_wav, media_root, rq_sync, django_capture_on_commit_callbacks
):
    """Issue 9 item 4: 0.05 s to 1 s of audio was accepted and then stayed "processing"
    (a ValueError in the analysis). It is a usable track: it gets its waveform."""
    with django_capture_on_commit_callbacks(execute=True):
        response = chunked_upload(member_client, short_wav, kind="audio", project=project)
    assert response.status_code == 201, response.content
    track = AudioTrack.objects.get(pk=response.json()["object"]["id"])
    assert track.status == MediaStatus.READY, track.error_message
    assert track.duration_s == pytest.approx(0.5, abs=0.02) and track.waveform


def _track(project, path, member) -> AudioTrack:
    from django.core.files import File

    with open(path, "rb") as fh:
        track = AudioTrack(
            project=project,
            name="blip",
            original_filename="blip.wav",
            status=MediaStatus.PROCESSING,
            created_by=member,
        )
        track.file.save("blip.wav", File(fh), save=False)
    track.save()
    return track


def test_an_unexpected_error_ends_the_audio_check_with_a_reference(
    project, member, short_wav, media_root, monkeypatch
):
    """Whatever goes wrong, the row ends: failed, with an internal-error notice (reference
    to the log), never the exception's own text."""

    def broken(*args, **kwargs):
        raise RuntimeError("secret /srv/path detail")

    monkeypatch.setattr(audio_analysis, "analyse", broken)
    track = _track(project, short_wav, member)
    assert analyse_audio(track.pk) == MediaStatus.FAILED
    track.refresh_from_db()
    assert track.status == MediaStatus.FAILED and track.error.code == "internal"
    assert "reference" in track.error_message and "/srv/path" not in track.error_message


def test_check_again_for_audio(
    member_client, viewer_client, project, member, short_wav, media_root, rq_sync,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    track = _track(project, short_wav, member)
    AudioTrack.objects.filter(pk=track.pk).update(status=MediaStatus.FAILED)
    page = member_client.get(reverse("audio_detail", args=[track.pk])).content.decode()
    assert 'data-testid="audio-recheck"' in page
    viewer_page = viewer_client.get(reverse("audio_detail", args=[track.pk])).content.decode()
    assert 'data-testid="audio-recheck"' not in viewer_page
    assert viewer_client.post(reverse("audio_recheck", args=[track.pk])).status_code == 403
    zh = member_client.get(
        reverse("audio_detail", args=[track.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "重新检测" in zh
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse("audio_recheck", args=[track.pk]))
    assert response.status_code == 302
    track.refresh_from_db()
    assert track.status == MediaStatus.READY and track.job_id and track.job_attempts == 1


# --- the reconciler of the checks -----------------------------------------------------------


def _started_on(worker: str, obj, minutes_ago: float = 2.0) -> None:
    """``obj``'s check job as RQ leaves it when its worker is killed mid-run."""
    conn = django_rq.get_connection("cpu")
    queue = django_rq.get_queue("cpu")
    job = queue.fetch_job(obj.job_id)
    queue.remove(job)
    job.set_status(JobStatus.STARTED)
    job.worker_name = worker
    job.save()
    conn.zadd(StartedJobRegistry("cpu", connection=conn).key, {f"{job.id}:x": 9_999_999_999})
    then = timezone.now() - timedelta(minutes=minutes_ago)
    type(obj).objects.filter(pk=obj.pk).update(
        job_queued_at=then, job_started_at=then, job_worker=worker
    )


@pytest.fixture
def checked_presenter(use_redis, team, member, media_root):
    presenter = Presenter.objects.create(
        team=team,
        name="Anna",
        file="presenters/x.mp4",
        original_filename="anna.mp4",
        status=MediaStatus.PROCESSING,
        created_by=member,
    )
    enqueue_presenter_check(presenter)
    presenter.refresh_from_db()
    return presenter


def test_the_reconcilers_are_registered():
    assert {"library", "renders", "webhooks"} <= set(recovery.registered())


def test_a_check_whose_worker_died_is_sent_again_then_failed(checked_presenter, settings):
    """Issue 9 item 5: a presenter whose face check worker died stayed "processing"."""
    settings.CHECK_MAX_ATTEMPTS = 2
    _started_on("ghost", checked_presenter)
    report = reconcile_checks()
    assert report["presenters_requeued"] == [checked_presenter.pk]
    row = Presenter.objects.get(pk=checked_presenter.pk)
    assert row.status == MediaStatus.PROCESSING and row.job_attempts == 2
    assert row.job_id != checked_presenter.job_id
    assert row.job_id in django_rq.get_queue("cpu").job_ids
    assert "interrupted" in row.error_message and "attempt 2 of 2" in row.error_message
    old = django_rq.get_queue("cpu").fetch_job(checked_presenter.job_id)
    assert old.get_status() == JobStatus.FAILED, "RQ will not run the dead job again"

    _started_on("ghost", row)
    assert reconcile_checks()["presenters_failed"] == [row.pk]
    row.refresh_from_db()
    assert row.status == MediaStatus.FAILED and row.error.code == "check_lost"
    assert "Check again" in row.error_message and row.error_message.startswith("anna.mp4: ")


def test_a_live_check_and_a_waiting_one_are_left_alone(checked_presenter, project, member):
    track = AudioTrack.objects.create(
        project=project,
        name="t",
        file="audio/t.wav",
        original_filename="t.wav",
        status=MediaStatus.PROCESSING,
        created_by=member,
    )
    enqueue_audio_analysis(track)
    AudioTrack.objects.filter(pk=track.pk).update(
        job_queued_at=timezone.now() - timedelta(minutes=5)
    )  # waiting in the queue for long: a busy queue, not a lost job
    _started_on("busy", checked_presenter)
    conn = django_rq.get_connection("cpu")
    conn.hset(
        "rq:worker:busy",
        mapping={
            "last_heartbeat": utcformat(timezone.now()),
            "studio_job": checked_presenter.job_id,
        },
    )
    report = reconcile_checks()
    assert not any(report.values()), report
    # The same live worker, gone on to another job: the check's run is lost.
    conn.hset("rq:worker:busy", "studio_job", "another-job")
    assert reconcile_checks()["presenters_requeued"] == [checked_presenter.pk]


def test_a_check_whose_job_vanished_is_sent_again(checked_presenter, use_redis, settings):
    use_redis.client.flushall()  # Redis lost its data
    Presenter.objects.filter(pk=checked_presenter.pk).update(
        job_queued_at=timezone.now() - timedelta(seconds=settings.RECONCILE_LOST_QUEUED_S + 5)
    )
    assert reconcile_checks()["presenters_requeued"] == [checked_presenter.pk]
    row = Presenter.objects.get(pk=checked_presenter.pk)
    assert row.job_id in django_rq.get_queue("cpu").job_ids


def test_a_run_superseded_by_the_reconciler_does_not_write(checked_presenter, monkeypatch):
    """The lost run comes back to life (it was only slow): it must not overwrite the row that
    now expects another job."""
    from types import SimpleNamespace

    from studio import jobs

    Presenter.objects.filter(pk=checked_presenter.pk).update(job_id="newer-job")
    stale = SimpleNamespace(id=checked_presenter.job_id, worker_name="slow")
    monkeypatch.setattr(jobs, "get_current_job", lambda: stale)  # the superseded job's run
    assert jobs.check_presenter(checked_presenter.pk) == "gone"
    row = Presenter.objects.get(pk=checked_presenter.pk)
    assert row.status == MediaStatus.PROCESSING and row.job_started_at is None
