"""QA findings on batches: unusable engines, outcome-coloured progress, estimates, preview
names, render card layout, dashboard worker labels."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from lipsync.engines import get_engine_class, usable_engines
from rendering.models import Batch, RenderTask, TaskStatus
from rendering.payloads import snapshot as batch_snapshot
from rendering.services import batches as service
from rendering.services import estimates
from studio.actor import Actor
from studio.notices import notice

SYSTEM = Actor.system("tests")


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """An install whose model directory holds no Wav2Lip weights."""
    monkeypatch.setenv("LIPSYNC_MODEL_DIR", str(tmp_path / "models"))


def test_engine_without_weights_is_not_usable(no_weights, tmp_path, monkeypatch):
    assert get_engine_class("warp").weights_available()
    assert not get_engine_class("wav2lip").weights_available()
    assert usable_engines() == ["warp"]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "wav2lip_gan.pth").write_bytes(b"x")
    assert get_engine_class("wav2lip").weights_available()


def test_form_disables_an_engine_without_weights(no_weights, use_redis, library, member_client):
    html = member_client.get(
        reverse("batch_create"), {"project": library.project.pk}
    ).content.decode()
    option = html.split('data-testid="engine-wav2lip"')[0].rsplit("<option", 1)[1]
    assert "disabled" in option
    assert "needs model weights: ask your administrator" in html
    warp = html.split('data-testid="engine-warp"')[0].rsplit("<option", 1)[1]
    assert "disabled" not in warp


def test_server_refuses_a_batch_with_an_unusable_engine(
    no_weights, use_redis, library, member_client
):
    response = member_client.post(
        reverse("batch_create"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk],
            "engine": "wav2lip",
        },
    )
    assert response.status_code == 400
    assert "needs model weights" in response.content.decode()
    assert not Batch.objects.exists()


def _failed(library, member, code_notice):
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna]
        ),
    )
    task = batch.tasks.get()
    RenderTask.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED, error=code_notice)
    task.refresh_from_db()
    batch.refresh_status()
    return batch, task


def test_unfixable_errors_offer_no_retry(use_redis, library, member, member_client):
    batch, task = _failed(
        library,
        member,
        notice("engine_unusable", "The engine “%(engine)s” needs model weights", engine="wav2lip"),
    )
    assert not task.retryable
    assert batch_snapshot(batch)["tasks"][0]["retryable"] is False
    html = member_client.get(batch.get_absolute_url()).content.decode()
    retry_form = html.split('data-testid="task-retry"')[0].rsplit("<form", 1)[1]
    assert " hidden" in retry_form
    batch_retry = html.split('data-testid="retry-failed"')[0].rsplit("<form", 1)[1]
    assert " hidden" in batch_retry
    with pytest.raises(service.BatchRefused):
        service.retry_task(SYSTEM, task)
    assert service.retry_failed(SYSTEM, batch) == 0


def test_transient_errors_keep_their_retry(use_redis, library, member, member_client):
    batch, task = _failed(
        library, member, notice("failed", "The render failed: %(why)s", why="OSError: disk")
    )
    assert task.retryable
    html = member_client.get(batch.get_absolute_url()).content.decode()
    retry_form = html.split('data-testid="task-retry"')[0].rsplit("<form", 1)[1]
    assert " hidden" not in retry_form


@pytest.mark.django_db(transaction=True)
def test_missing_weights_error_names_no_server_path(
    use_redis, library, member, monkeypatch, tmp_path, settings
):
    """The people-facing error of a render without weights has no paths; the traceback does."""
    import django_rq

    from rendering import worker as worker_module

    models = tmp_path / "secret-models"
    monkeypatch.setenv("LIPSYNC_MODEL_DIR", str(models))
    settings.LIPSYNC_DEVICE = "cpu"
    monkeypatch.setattr(worker_module, "_engines", {})
    monkeypatch.setattr(worker_module, "engine_loads", 0)
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna]
        ),
    )
    # Weights that went missing after submission (the form refuses such an engine up front).
    Batch.objects.filter(pk=batch.pk).update(engine="wav2lip")
    django_rq.get_worker("gpu").work(burst=True)
    task = batch.tasks.get()
    assert task.status == TaskStatus.FAILED and task.attempts == 1
    assert str(tmp_path) not in task.error_message and str(tmp_path) not in task.error_text
    assert "model weights" in task.error_message
    assert str(models) in task.traceback
    assert not task.retryable


def test_failed_batch_reads_zero_percent_in_red(
    use_redis, library, member, member_client, owner_client
):
    batch, _task = _failed(library, member, notice("failed", "The render failed"))
    assert batch.status == "failed"
    assert batch.progress_percent() == 0.0
    assert batch_snapshot(batch)["batch"]["percent"] == 0.0
    detail = member_client.get(batch.get_absolute_url()).content.decode()
    assert 'aria-valuenow="0" data-state="failed" data-batch-progress' in detail
    assert 'data-state="failed" data-testid="task-progress"' in detail
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    assert 'aria-valuenow="0" aria-label="Progress" data-state="failed"' in dashboard
    listing = member_client.get(reverse("batch_list")).content.decode()
    assert 'aria-valuenow="0" data-state="failed"' in listing


def test_estimate_uses_measured_speed(use_redis, library, member, member_client):
    team = library.project.team
    assert estimates.measured_fps(team, "warp") is None
    assert estimates.render_speed(team, "warp") == settings.RENDER_ESTIMATE_FALLBACK_FPS
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna, library.bo]
        ),
    )
    start = timezone.now()
    for task, (frames, seconds) in zip(batch.tasks.all(), [(500, 2.0), (300, 3.0)]):
        RenderTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.SUCCEEDED,
            frames_total=frames,
            started_at=start,
            finished_at=start + dt.timedelta(seconds=seconds),
            fps=999,
        )
    assert estimates.measured_fps(team, "warp") == pytest.approx((250 + 100) / 2)
    assert estimates.measured_fps(team, "wav2lip") is None
    # 20 s of speech at 175 frames/s: about 4 s, not the old 35 s.
    assert estimates.estimate_seconds(1, 20.0, fps=175.0) == pytest.approx(1 + 500 / 175)
    assert estimates.estimate_seconds(4, 20.0, fps=175.0, workers=2) == pytest.approx(
        2 * (1 + 500 / 175)
    )
    html = member_client.get(
        reverse("batch_create"), {"project": library.project.pk}
    ).content.decode()
    assert reverse("batch_estimate") in html and 'data-testid="preview-estimate"' in html
    # The page asks the server for the estimate (1.5 s of speech, 2 presenters, 1 worker).
    answer = member_client.get(
        reverse("batch_estimate"),
        {"audio": [library.hello.pk], "presenters": "2", "engine": "warp"},
    ).json()
    per_render = 1 + 1.5 * 25 / 175
    assert answer["renders"] == 2
    assert answer["seconds"] == pytest.approx(2 * per_render, abs=0.05)
    assert answer["preview_seconds"] == pytest.approx(per_render, abs=0.05)
    empty = member_client.get(reverse("batch_estimate"), {"presenters": "3"}).json()
    assert empty == {"renders": 0, "seconds": None, "preview_seconds": None}


def test_duration_units_are_translated(use_redis, library, member_client):
    with translation.override("zh-hans"):
        html = member_client.get(
            reverse("batch_create"), {"project": library.project.pk}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()
    assert 'data-units="%(n)s 秒|%(n)s 分钟|%(n)s 小时"' in html


def test_preview_name_is_translated_when_shown(use_redis, library, member):
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna], preview=True
        ),
    )
    assert batch.name == "安娜 Anna × 问候 Hello"
    with translation.override("en"):
        assert batch.display_name == "Preview: 安娜 Anna × 问候 Hello"
    with translation.override("zh-hans"):
        assert batch.display_name == "预览：安娜 Anna × 问候 Hello"
    old = Batch(name="Preview: sun × eng20", is_preview=True)
    with translation.override("zh-hans"):
        assert old.display_name == "预览：sun × eng20"


def test_render_card_has_a_fixed_header(use_redis, library, member, member_client):
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project, audios=[library.hello], presenters=[library.anna, library.bo]
        ),
    )
    html = member_client.get(batch.get_absolute_url()).content.decode()
    heads = html.split('data-testid="task-head"')[1:]
    assert len(heads) == 2
    for head in heads:
        block = head.split('class="progress"')[0]
        title, badge = block.index('class="task-title"'), block.index('data-testid="task-status"')
        assert title < badge
