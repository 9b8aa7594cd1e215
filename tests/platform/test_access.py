"""Team-scoped access: non-members get 404, viewers read only (403 on writes)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from studio.models import AudioTrack, MediaStatus, Presenter, Project, Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(team, owner, media_root):
    """A project, presenter and audio track of ``team`` (rows only, files are tiny stand-ins)."""
    (media_root / "presenters").mkdir()
    (media_root / "presenters" / "p.mp4").write_bytes(b"video")
    (media_root / "audio").mkdir()
    (media_root / "audio" / "a.wav").write_bytes(b"audio")
    project = Project.objects.create(team=team, name="Launch", created_by=owner)
    presenter = Presenter.objects.create(
        team=team,
        name="Anna",
        file="presenters/p.mp4",
        original_filename="anna.mp4",
        status=MediaStatus.READY,
    )
    track = AudioTrack.objects.create(
        project=project,
        name="Intro",
        file="audio/a.wav",
        original_filename="intro.wav",
        status=MediaStatus.READY,
    )
    return project, presenter, track


def test_for_user_scopes_rows_by_membership_and_role(
    team, other_team, owner, viewer, outsider, library
):
    _project, presenter, track = library
    assert list(Presenter.objects.for_user(owner)) == [presenter]
    assert list(Presenter.objects.for_user(outsider)) == []
    assert list(AudioTrack.objects.for_user(viewer)) == [track]
    assert list(AudioTrack.objects.for_user(viewer, min_role=Role.MEMBER)) == []
    assert list(Project.objects.for_user(outsider)) == []
    assert set(Team.objects.for_user(owner)) == {team}
    assert set(Team.objects.for_user(outsider)) == {other_team}


def test_for_user_refuses_anonymous_and_inactive(team, owner, library):
    from django.contrib.auth.models import AnonymousUser

    assert not Presenter.objects.for_user(AnonymousUser()).exists()
    owner.is_active = False
    owner.save()
    assert not Presenter.objects.for_user(owner).exists()


def test_for_user_min_role_applies_to_the_same_membership(team, other_team, viewer, library):
    """Owner of another team + viewer here must not read as 'owner here'."""
    from studio.models import Membership

    Membership.objects.create(team=other_team, user=viewer, role=Role.OWNER)
    assert not Presenter.objects.for_user(viewer, min_role=Role.MEMBER).exists()
    assert Presenter.objects.for_user(viewer).count() == 1


def _urls(project, presenter, track):
    return [
        reverse("project_detail", args=[project.pk]),
        reverse("project_edit", args=[project.pk]),
        reverse("presenter_detail", args=[presenter.pk]),
        reverse("presenter_edit", args=[presenter.pk]),
        reverse("presenter_file", args=[presenter.pk]),
        reverse("presenter_thumbnail", args=[presenter.pk]),
        reverse("presenter_delete", args=[presenter.pk]),
        reverse("audio_detail", args=[track.pk]),
        reverse("audio_edit", args=[track.pk]),
        reverse("audio_file", args=[track.pk]),
        reverse("audio_waveform", args=[track.pk]),
        reverse("audio_delete", args=[track.pk]),
    ]


def test_non_member_gets_404_everywhere(outsider_client, library):
    project, presenter, track = library
    for url in _urls(project, presenter, track):
        assert outsider_client.get(url).status_code == 404, url
    for name, obj in (
        ("presenter_archive", presenter),
        ("presenter_delete", presenter),
        ("presenter_recheck", presenter),
        ("project_archive", project),
        ("audio_delete", track),
        ("audio_upload", project),
    ):
        assert outsider_client.post(reverse(name, args=[obj.pk])).status_code == 404, name
    assert Presenter.objects.filter(pk=presenter.pk, archived=False).exists()
    assert AudioTrack.objects.filter(pk=track.pk).exists()


def test_anonymous_is_sent_to_login(client, library):
    project, presenter, track = library
    for url in [
        *_urls(project, presenter, track),
        reverse("presenter_list"),
        reverse("project_list"),
    ]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), url


def test_viewer_reads_but_cannot_write(viewer_client, library):
    project, presenter, track = library
    assert viewer_client.get(reverse("presenter_detail", args=[presenter.pk])).status_code == 200
    assert viewer_client.get(reverse("presenter_file", args=[presenter.pk])).status_code == 200
    assert viewer_client.get(reverse("audio_detail", args=[track.pk])).status_code == 200
    assert viewer_client.get(reverse("project_detail", args=[project.pk])).status_code == 200
    page = viewer_client.get(reverse("presenter_list")).content.decode()
    assert "data-upload-zone" not in page
    for url in (
        reverse("presenter_edit", args=[presenter.pk]),
        reverse("project_edit", args=[project.pk]),
        reverse("audio_edit", args=[track.pk]),
        reverse("project_create"),
    ):
        assert viewer_client.get(url).status_code == 403, url
    for name, obj in (
        ("presenter_archive", presenter),
        ("presenter_delete", presenter),
        ("project_archive", project),
        ("audio_delete", track),
    ):
        assert viewer_client.post(reverse(name, args=[obj.pk])).status_code == 403, name
    assert Presenter.objects.filter(pk=presenter.pk, archived=False).exists()
    assert AudioTrack.objects.filter(pk=track.pk).exists()
    assert not Project.objects.get(pk=project.pk).archived


def test_member_edits_archives_and_tags(member_client, library):
    _project, presenter, _track = library
    r = member_client.post(
        reverse("presenter_edit", args=[presenter.pk]),
        {"name": "Anna B.", "tags_text": "Studio, outdoor , studio"},
    )
    assert r.status_code == 302
    presenter.refresh_from_db()
    assert presenter.name == "Anna B."
    assert sorted(presenter.tags.values_list("name", flat=True)) == ["outdoor", "studio"]
    listing = member_client.get(reverse("presenter_list"), {"tag": "outdoor"})
    assert list(listing.context["presenters"]) == [presenter]
    assert not list(
        member_client.get(reverse("presenter_list"), {"tag": "nope"}).context["presenters"]
    )
    member_client.post(reverse("presenter_archive", args=[presenter.pk]))
    presenter.refresh_from_db()
    assert presenter.archived
    assert not list(member_client.get(reverse("presenter_list")).context["presenters"])
    assert list(
        member_client.get(reverse("presenter_list"), {"archived": "1"}).context["presenters"]
    ) == [presenter]


def test_filters_search_and_status(member_client, team, library):
    _project, _presenter, _track = library
    Presenter.objects.create(
        team=team,
        name="Bert",
        file="presenters/p.mp4",
        original_filename="bert.mov",
        status=MediaStatus.FAILED,
    )
    names = lambda r: [p.name for p in r.context["presenters"]]  # noqa: E731
    assert names(member_client.get(reverse("presenter_list"), {"q": "bert"})) == ["Bert"]
    assert names(member_client.get(reverse("presenter_list"), {"status": "ready"})) == ["Anna"]
    assert names(member_client.get(reverse("presenter_list"), {"status": "failed"})) == ["Bert"]


def test_project_crud_by_member(member_client, team, library):
    r = member_client.post(reverse("project_create"), {"name": "Spring", "description": "x"})
    project = Project.objects.get(name="Spring")
    assert r.status_code == 302 and project.team == team
    member_client.post(
        reverse("project_edit", args=[project.pk]), {"name": "Spring 2", "description": "y"}
    )
    project.refresh_from_db()
    assert project.name == "Spring 2"
    member_client.post(reverse("project_archive", args=[project.pk]))
    project.refresh_from_db()
    assert project.archived
    visible = member_client.get(reverse("project_list")).context["projects"]
    assert project not in list(visible)
    assert project in list(
        member_client.get(reverse("project_list"), {"archived": "1"}).context["projects"]
    )


def test_pages_render_for_every_role(
    owner_client, admin_client_, member_client, viewer_client, library
):
    project, presenter, track = library
    for client in (owner_client, admin_client_, member_client, viewer_client):
        for url in (
            reverse("presenter_list"),
            reverse("project_list"),
            reverse("team_settings"),
            reverse("project_detail", args=[project.pk]),
            reverse("presenter_detail", args=[presenter.pk]),
            reverse("audio_detail", args=[track.pk]),
        ):
            assert client.get(url).status_code == 200, url


def test_delete_refused_while_a_render_uses_it(member_client, team, owner, library):
    from rendering.models import Batch, RenderTask

    project, presenter, track = library
    batch = Batch.objects.create(team=team, project=project, created_by=owner)
    task = RenderTask.objects.create(
        batch=batch,
        presenter=presenter,
        audio=track,
        presenter_name=presenter.name,
        audio_name=track.name,
        status="running",
    )
    r = member_client.post(reverse("presenter_delete", args=[presenter.pk]))
    assert r.status_code == 302
    assert Presenter.objects.filter(pk=presenter.pk).exists()
    r = member_client.post(reverse("audio_delete", args=[track.pk]))
    assert AudioTrack.objects.filter(pk=track.pk).exists()
    task.status = "succeeded"
    task.save()
    member_client.post(reverse("presenter_delete", args=[presenter.pk]))
    assert not Presenter.objects.filter(pk=presenter.pk).exists()


def test_audio_rename_and_json_details(member_client, library):
    _project, presenter, track = library
    assert member_client.get(reverse("audio_edit", args=[track.pk])).status_code == 200
    r = member_client.post(reverse("audio_edit", args=[track.pk]), {"name": "Intro v2"})
    assert r.status_code == 302
    track.refresh_from_db()
    assert track.name == "Intro v2"
    as_json = {"HTTP_ACCEPT": "application/json"}
    data = member_client.get(reverse("audio_detail", args=[track.pk]), **as_json).json()
    assert data == {
        "id": track.pk,
        "name": "Intro v2",
        "status": "ready",
        "error": "",
        "url": track.get_absolute_url(),
        "kind": "audio",
    }
    data = member_client.get(reverse("presenter_detail", args=[presenter.pk]), **as_json).json()
    assert data["name"] == "Anna" and data["status"] == "ready"


def test_password_change_pages_render(member_client):
    assert member_client.get(reverse("password_change")).status_code == 200
    assert member_client.get(reverse("password_change_done")).status_code == 200


def test_media_is_served_with_the_original_name_on_download(member_client, library):
    _project, presenter, _track = library
    r = member_client.get(reverse("presenter_file", args=[presenter.pk]), {"download": "1"})
    assert r.status_code == 200 and b"".join(r.streaming_content) == b"video"
    assert r["Content-Disposition"] == 'attachment; filename="anna.mp4"'
    assert r["Cache-Control"].startswith("private")
    r = member_client.get(reverse("presenter_thumbnail", args=[presenter.pk]))
    assert r.status_code == 404  # no thumbnail yet
