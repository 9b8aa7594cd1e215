"""Presenter and audio libraries as people see them: badges, reasons, warnings, previews."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from studio.models import AudioTrack, MediaStatus, Presenter, Project, Tag
from studio.notices import notice

pytestmark = pytest.mark.django_db

TINY = (
    "The face is small (about %(px)d px tall); lips will look soft. "
    "A closer shot or a larger video works better."
)


def card(html: str, pk: int) -> str:
    start = html.index(f'data-presenter-id="{pk}"')
    return html[start : html.index("</article>", start)]


def test_presenter_cards_show_status_reason_warning_tags_and_preview(member_client, team):
    ready = Presenter.objects.create(
        team=team,
        name="Anna",
        file="presenters/a.mp4",
        original_filename="a.mp4",
        status=MediaStatus.READY,
        thumbnail="thumbs/a.jpg",
        duration_s=12.0,
        width=1280,
        height=720,
        warnings=[notice("tiny_face", TINY, px=52)],
    )
    ready.tags.add(Tag.objects.create(team=team, name="sales"))
    failed = Presenter.objects.create(
        team=team,
        name="Bo",
        file="presenters/b.mp4",
        original_filename="b.mp4",
        status=MediaStatus.FAILED,
        error="b.mp4: no face was found in any frame",
    )
    busy = Presenter.objects.create(
        team=team, name="Cy", file="presenters/c.mp4", original_filename="c.mp4"
    )
    html = member_client.get(
        reverse("presenter_list"), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    anna, bo, cy = card(html, ready.pk), card(html, failed.pk), card(html, busy.pk)
    assert 'data-status="ready"' in anna and "就绪" in anna
    assert "video data-hover-preview" in anna
    assert reverse("presenter_file", args=[ready.pk]) in anna
    assert "人脸较小（约 52 像素高）" in anna
    assert re.search(r'<a class="badge tag" href="\?tag=sales">sales</a>', anna)
    assert 'data-status="failed"' in bo and "b.mp4: no face was found in any frame" in bo
    assert "data-hover-preview" not in bo
    assert 'data-status="processing"' in cy and "data-hover-preview" not in cy
    # The grid refreshes itself while something is still processing.
    assert 'id="presenter-library" data-live-refresh' in html


def test_project_page_plays_each_ready_audio_and_offers_a_batch(member_client, team):
    project = Project.objects.create(team=team, name="Course")
    ready = AudioTrack.objects.create(
        project=project,
        name="intro",
        file="audio/i.wav",
        original_filename="i.wav",
        status=MediaStatus.READY,
        duration_s=61.5,
        waveform="waveforms/i.png",
    )
    AudioTrack.objects.create(
        project=project, name="outro", file="audio/o.wav", original_filename="o.wav"
    )
    html = member_client.get(reverse("project_detail", args=[project.pk])).content.decode()
    players = re.findall(r'<audio controls preload="none" src="([^"]+)"', html)
    assert players == [reverse("audio_file", args=[ready.pk])]
    assert "61.5 s" in html
    assert f"{reverse('batch_create')}?project={project.pk}" in html
    assert 'id="audio-library" data-live-refresh' in html
