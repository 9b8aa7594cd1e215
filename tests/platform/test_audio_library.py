"""The team's audio library: every track of the team on one page (the navigation leads there),
uploads without a project, moving a track into a project, batches of any project using
library audio, and what a delete keeps."""

from __future__ import annotations

import pytest
from django.urls import reverse

from studio.models import AudioTrack, AuditAction, AuditEvent, MediaStatus, Project

from .helpers import chunked_upload

pytestmark = pytest.mark.django_db


def _track(team, name, project=None, **kw):
    return AudioTrack.objects.create(
        team=team,
        project=project,
        name=name,
        file=f"audio/{team.pk}/{name}.wav",
        original_filename=f"{name}.wav",
        status=MediaStatus.READY,
        duration_s=1.0,
        **kw,
    )


def test_the_library_lists_every_track_of_the_team(member_client, team, other_team, project):
    _track(team, "loose")
    _track(team, "in project", project)
    _track(other_team, "foreign")
    page = member_client.get(reverse("audio_list"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="nav-audio" aria-current="page"' in html
    assert "loose" in html and "in project" in html and "foreign" not in html
    assert html.count('data-testid="audio-row"') == 2
    assert html.count('data-testid="audio-no-project"') == 1
    only_library = member_client.get(reverse("audio_list"), {"project": "none"}).content.decode()
    assert "loose" in only_library and "in project" not in only_library
    by_project = member_client.get(reverse("audio_list"), {"project": project.pk}).content
    assert "in project" in by_project.decode() and "loose" not in by_project.decode()
    found = member_client.get(reverse("audio_list"), {"q": "zzz"}).content.decode()
    assert "No audio tracks match “zzz”." in found


def test_upload_into_the_library_without_javascript(member_client, viewer_client, media_files):
    with open(media_files.audio["wav"], "rb") as fh:
        response = member_client.post(reverse("audio_library_upload"), {"files": [fh]})
    assert response.status_code == 302 and response["Location"] == reverse("audio_list")
    track = AudioTrack.objects.get()
    assert track.project is None and track.name == "voice"
    with open(media_files.audio["wav"], "rb") as fh:
        assert (
            viewer_client.post(reverse("audio_library_upload"), {"files": [fh]}).status_code == 403
        )
    # Through the resumable protocol too (no project in the request).
    r = chunked_upload(member_client, media_files.audio["flac"], kind="audio")
    assert AudioTrack.objects.get(pk=r.json()["object"]["id"]).project is None


def test_move_a_track_into_a_project_and_back(member_client, team, other_team, project):
    track = _track(team, "talk")
    foreign = Project.objects.create(team=other_team, name="Theirs")
    url = reverse("audio_edit", args=[track.pk])
    assert foreign.name not in member_client.get(url).content.decode()
    member_client.post(url, {"name": "talk", "project": foreign.pk})
    track.refresh_from_db()
    assert track.project is None, "another team's project is not a choice"
    assert member_client.post(url, {"name": "Talk", "project": project.pk}).status_code == 302
    track.refresh_from_db()
    assert (track.name, track.project) == ("Talk", project)
    assert member_client.post(url, {"name": "Talk", "project": ""}).status_code == 302
    track.refresh_from_db()
    assert track.project is None
    moves = AuditEvent.objects.filter(action=AuditAction.UPDATED, target_type="audiotrack")
    assert [e.data.get("project", "-") for e in moves.order_by("pk")] == [project.pk, None]


def test_a_batch_of_any_project_may_use_library_audio(team, other_team, project):
    from rendering.services.batches import BatchRefused, BatchSpec, validate_spec
    from studio.models import Presenter

    presenter = Presenter.objects.create(
        team=team, name="Anna", file="p.mp4", original_filename="p.mp4", status="ready"
    )
    loose = _track(team, "loose")
    elsewhere = _track(team, "elsewhere", Project.objects.create(team=team, name="Other"))
    foreign = _track(other_team, "foreign")
    validate_spec(BatchSpec(project=project, audios=[loose], presenters=[presenter]))
    for track in (elsewhere, foreign):
        with pytest.raises(BatchRefused, match="neither in this project nor in the audio"):
            validate_spec(BatchSpec(project=project, audios=[track], presenters=[presenter]))


def test_new_batch_form_offers_library_audio(member_client, team, project):
    _track(team, "loose")
    _track(team, "own", project)
    html = member_client.get(reverse("batch_create"), {"project": project.pk}).content.decode()
    assert html.count('data-testid="audio-choice"') == 2
    assert html.index("own") < html.index("loose"), "the project's own audio first"
    assert "audio library" in html


def test_delete_page_says_what_stays(member_client, team, project):
    track = _track(team, "talk", project)
    page = member_client.get(reverse("audio_delete", args=[track.pk])).content.decode()
    assert "The audio file, its waveform and its subtitles are deleted." in page
    assert "No finished video was made with it." in page
    response = member_client.post(reverse("audio_delete", args=[track.pk]))
    assert response["Location"] == reverse("project_detail", args=[project.pk])
