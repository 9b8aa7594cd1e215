"""Libraries with hundreds of presenters: pages, sort, filters across pages, no N+1 queries,
"no match" instead of "nothing here yet", and the bulk actions (services and views)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
from studio.actor import Actor
from studio.listing import PRESENTER_PAGE_SIZE
from studio.models import AuditEvent, MediaStatus, Presenter, Tag
from studio.services import library

pytestmark = pytest.mark.django_db


def make_presenters(team, n: int, start: int = 0, tag: Tag | None = None) -> list[Presenter]:
    """``n`` presenter rows (no files: the list needs none), every third one tagged."""
    rows = Presenter.objects.bulk_create(
        Presenter(
            team=team,
            name=f"Presenter {start + i:03d}",
            file=f"presenters/{start + i}.mp4",
            original_filename=f"p{start + i}.mp4",
            status=MediaStatus.READY,
            duration_s=float((start + i) % 97) if (start + i) % 10 else None,
            thumbnail=f"thumbs/{start + i}.jpg",
        )
        for i in range(n)
    )
    if tag is not None:
        through = Presenter.tags.through
        through.objects.bulk_create(
            through(presenter_id=p.pk, tag_id=tag.pk) for i, p in enumerate(rows) if i % 3 == 0
        )
    return rows


def card_ids(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-presenter-id="(\d+)"', html)]


def names(html: str) -> list[str]:
    return re.findall(r'<h2 class="media-title truncate" title="([^"]+)"', html)


@pytest.fixture
def math(team):
    return Tag.objects.create(team=team, name="math")


def test_pages_hold_a_fixed_number_and_keep_filters_and_sort(member_client, team, math):
    make_presenters(team, 300, tag=math)
    url = reverse("presenter_list")
    first = member_client.get(url).content.decode()
    assert len(card_ids(first)) == PRESENTER_PAGE_SIZE == 48
    assert "Showing 1–48 of 300" in first and "Page 1 of 7" in first
    # The tag filter and a sort stay in every page link; page 2 continues page 1.
    html = member_client.get(url, {"tag": "math", "sort": "name"}).content.decode()
    assert "Showing 1–48 of 100" in html
    nxt = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(nxt).query) == {"tag": ["math"], "sort": ["name"], "page": ["2"]}
    page2 = member_client.get(url + nxt).content.decode()
    assert "Showing 49–96 of 100" in page2
    shown = names(html) + names(page2)
    assert shown == sorted(shown) and len(set(shown)) == 96
    assert all(int(n.split()[1]) % 3 == 0 for n in shown)  # only tagged ones
    # The bulk form carries the same filters (for "all matching").
    assert '<input type="hidden" name="tag" value="math">' in html
    assert '<input type="hidden" name="sort" value="name">' in html


@pytest.mark.parametrize(
    ("sort", "key", "reverse_"),
    [
        ("name", "name", False),
        ("-name", "name", True),
        ("date", "created", False),
        ("-date", "created", True),
        ("length", "length", False),
        ("-length", "length", True),
    ],
)
def test_every_sort_in_both_directions(member_client, team, sort, key, reverse_):
    rows = make_presenters(team, 30)
    # Distinct creation times in an order unlike the names'.
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for i, p in enumerate(rows):
        Presenter.objects.filter(pk=p.pk).update(created_at=now - timedelta(minutes=(i * 7) % 30))
    html = member_client.get(reverse("presenter_list"), {"sort": sort}).content.decode()
    got = [Presenter.objects.get(pk=pk) for pk in card_ids(html)]
    assert len(got) == 30
    if key == "length":
        with_length = [p.duration_s for p in got if p.duration_s is not None]
        assert with_length == sorted(with_length, reverse=reverse_)
        # Photos and clips without a length come last whichever the direction.
        assert all(p.duration_s is None for p in got[len(with_length) :])
    else:
        values = [p.name if key == "name" else p.created_at for p in got]
        assert values == sorted(values, reverse=reverse_)
    assert f'<option value="{sort}" selected>' in html


def test_the_list_costs_the_same_queries_for_300_presenters_as_for_3(
    member_client, team, math, django_assert_max_num_queries
):
    url = reverse("presenter_list")
    make_presenters(team, 3, tag=math)
    with CaptureQueriesContext(connection) as few:
        assert member_client.get(url, {"sort": "name"}).status_code == 200
    make_presenters(team, 297, start=3, tag=math)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = member_client.get(url, {"sort": "name"}).content.decode()
    assert len(card_ids(html)) == 48 and "badge tag" in html
    with django_assert_max_num_queries(len(few.captured_queries)):
        member_client.get(url, {"tag": "math", "page": "3", "q": "Presenter"})


def test_a_search_without_match_says_so_and_offers_to_clear_it(member_client, team):
    url = reverse("presenter_list")
    empty = member_client.get(url).content.decode()
    assert 'data-testid="presenters-empty"' in empty  # nothing uploaded yet
    make_presenters(team, 5)
    html = member_client.get(url, {"q": "zebra"}).content.decode()
    assert 'data-testid="presenters-empty"' not in html
    assert "No presenters match “zebra”." in html
    assert re.search(rf'<a class="btn" href="{url}" data-testid="clear-filter">', html)
    zh = member_client.get(url, {"q": "zebra"}, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "没有与“zebra”匹配的主播。" in zh and "清除筛选" in zh
    archived = member_client.get(url, {"archived": "1"}).content.decode()
    assert "No archived presenters." in archived


# --- bulk actions: services ----------------------------------------------------------------
def test_bulk_services_refuse_other_teams_rows_and_viewers(team, member, viewer, other_team):
    mine = make_presenters(team, 3)
    theirs = make_presenters(other_team, 1, start=900)
    ids = [p.pk for p in mine] + [theirs[0].pk]
    with pytest.raises(library.BulkRefused) as refused:
        library.archive_presenters(Actor.of(member), team, ids, archived=True)
    assert refused.value.status == 404
    with pytest.raises(library.BulkRefused) as refused:
        library.archive_presenters(Actor.of(viewer), team, [mine[0].pk], archived=True)
    assert refused.value.status == 403
    with pytest.raises(library.BulkRefused):
        library.delete_presenters(Actor.of(member), team, [theirs[0].pk])
    assert not Presenter.objects.filter(archived=True).exists()
    assert Presenter.objects.count() == 4
    assert not AuditEvent.objects.filter(data__bulk=True).exists()


def test_bulk_tag_archive_and_delete_are_audited_once_with_the_count(
    team, member, media_root, math, django_capture_on_commit_callbacks
):
    rows = make_presenters(team, 5)
    for p in rows:
        (media_root / p.file.name).parent.mkdir(parents=True, exist_ok=True)
        (media_root / p.file.name).write_bytes(b"x")
    who = Actor.of(member)
    ids = [p.pk for p in rows]
    assert library.tag_presenters(who, team, ids, add="Math, Sales") == 5
    assert set(Tag.objects.filter(team=team).values_list("name", flat=True)) == {"math", "sales"}
    assert Presenter.objects.filter(tags__name="sales").count() == 5
    assert library.tag_presenters(who, team, ids[:2], remove="sales") == 2
    assert Presenter.objects.filter(tags__name="sales").count() == 3
    assert library.archive_presenters(who, team, ids[:4], archived=True) == 4
    assert Presenter.objects.filter(archived=True).count() == 4
    events = AuditEvent.objects.filter(data__bulk=True).order_by("id")
    assert [(e.action, e.data["count"]) for e in events] == [
        ("updated", 5),
        ("updated", 2),
        ("archived", 4),
    ]
    assert events[0].data["added"] == ["math", "sales"] and events[0].data["ids"] == sorted(ids)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = library.delete_presenters(who, team, ids[:3])
    assert outcome.done == 3 and outcome.kept == []
    deleted = AuditEvent.objects.get(action="deleted", data__bulk=True)
    assert deleted.data["count"] == 3 and deleted.actor == member
    assert not (media_root / rows[0].file.name).exists()
    assert (media_root / rows[4].file.name).exists()


def test_bulk_delete_keeps_presenters_a_running_render_needs_and_the_finished_videos(
    team, member, library_rows
):
    busy, done, free = library_rows.presenters
    outcome = library.delete_presenters(Actor.of(member), team, [busy.pk, done.pk, free.pk])
    assert outcome.done == 2 and outcome.kept == [busy.name]
    assert list(Presenter.objects.values_list("pk", flat=True)) == [busy.pk]
    video = MediaAsset.objects.get()
    assert video.presenter is None and video.title == "Done × intro"  # the result stays


@pytest.fixture
def library_rows(team, member):
    """Three presenters: one a queued render uses, one with a finished video, one unused."""
    from studio.models import AudioTrack, Project

    project = Project.objects.create(team=team, name="Course")
    audio = AudioTrack.objects.create(
        project=project, name="intro", file="audio/i.wav", original_filename="i.wav"
    )
    busy, done, free = (
        Presenter.objects.create(team=team, name=n, file=f"presenters/{n}.mp4")
        for n in ("Busy", "Done", "Free")
    )
    batch = Batch.objects.create(team=team, project=project, name="B", engine="warp")
    RenderTask.objects.create(
        batch=batch, presenter=busy, audio=audio, status=TaskStatus.QUEUED, position=0
    )
    task = RenderTask.objects.create(
        batch=batch, presenter=done, audio=audio, status=TaskStatus.SUCCEEDED, position=1
    )
    MediaAsset.objects.create(
        team=team,
        project=project,
        batch=batch,
        task=task,
        presenter=done,
        audio=audio,
        title="Done × intro",
        file="outputs/x.mp4",
    )
    return type("Rows", (), {"presenters": (busy, done, free), "project": project})


# --- bulk actions: the page ----------------------------------------------------------------
def test_bulk_form_actions_from_the_page(member_client, team, math):
    rows = make_presenters(team, 60, tag=math)
    url = reverse("presenter_bulk")
    back = reverse("presenter_list") + "?tag=math&page=2"
    ids = [rows[0].pk, rows[3].pk]
    r = member_client.post(url, {"id": ids, "action": "tag", "tags": "vip", "next": back})
    assert r.status_code == 302 and r["Location"] == back
    assert set(Presenter.objects.filter(tags__name="vip").values_list("pk", flat=True)) == set(ids)
    # "All matching": the filters the form carries pick the rows, across pages.
    r = member_client.post(url, {"scope": "matching", "tag": "math", "action": "archive"})
    assert r.status_code == 302
    assert Presenter.objects.filter(archived=True).count() == 20
    audit = AuditEvent.objects.filter(action="archived", data__bulk=True).get()
    assert audit.data["count"] == 20
    # Add to batch opens the batch form with them chosen.
    r = member_client.post(url, {"id": ids, "action": "batch"})
    assert r["Location"] == f"{reverse('batch_create')}?presenters={ids[0]},{ids[1]}"
    # Delete asks first, saying what goes and what stays.
    page = member_client.post(url, {"id": ids, "action": "delete", "next": back})
    html = page.content.decode()
    assert page.status_code == 200 and "Delete 2 presenters?" in html
    assert "Finished videos made with them stay in the media library" in html
    assert Presenter.objects.count() == 60
    ids_field = re.search(r'name="ids" value="([^"]+)"', html).group(1)
    r = member_client.post(url, {"ids": ids_field, "action": "delete", "confirm": "1"})
    assert r.status_code == 302 and Presenter.objects.count() == 58
    # Nothing chosen: back to the list with the reason.
    r = member_client.post(url, {"action": "archive", "next": back}, follow=True)
    assert "Choose at least one item." in r.content.decode()


def test_bulk_page_refuses_viewers_other_teams_and_foreign_next(
    member_client, viewer_client, team, other_team
):
    mine = make_presenters(team, 2)
    theirs = make_presenters(other_team, 1, start=500)
    url = reverse("presenter_bulk")
    assert viewer_client.post(url, {"id": [mine[0].pk], "action": "archive"}).status_code == 403
    r = member_client.post(url, {"id": [mine[0].pk, theirs[0].pk], "action": "archive"})
    assert r.status_code == 404
    assert not Presenter.objects.filter(archived=True).exists()
    r = member_client.post(
        url, {"id": [mine[0].pk], "action": "archive", "next": "https://evil.example/"}
    )
    assert r["Location"] == reverse("presenter_list")
    # The viewer's list has no checkboxes and no bulk form.
    html = viewer_client.get(reverse("presenter_list")).content.decode()
    assert "data-bulk-item" not in html and "data-bulk-form" not in html


# --- a project's audio tracks and the media library ----------------------------------------
def make_tracks(project, n: int, start: int = 0, team=None):
    """``n`` tracks of ``project`` (None: the audio library of ``team``)."""
    from studio.models import AudioTrack

    return AudioTrack.objects.bulk_create(
        AudioTrack(
            team=team or project.team,
            project=project,
            name=f"Track {start + i:03d}",
            file=f"audio/{start + i}.wav",
            original_filename=f"t{start + i}.wav",
            status=MediaStatus.READY,
            duration_s=float(1 + (start + i) * 7 % 50),
        )
        for i in range(n)
    )


def make_videos(team, project, n: int, start: int = 0):
    return MediaAsset.objects.bulk_create(
        MediaAsset(
            team=team,
            project=project,
            title=f"Video {start + i:03d}",
            download_name=f"video{start + i}.mp4",
            file=f"outputs/{team.pk}/v{start + i}.mp4",
            duration_s=float(1 + (start + i) % 13),
        )
        for i in range(n)
    )


def test_audio_tracks_page_sort_search_and_query_count(
    member_client, team, django_assert_max_num_queries
):
    from studio.models import Project

    project = Project.objects.create(team=team, name="Course")
    url = reverse("project_detail", args=[project.pk])
    make_tracks(project, 3)
    with CaptureQueriesContext(connection) as few:
        member_client.get(url, {"sort": "-length"})
    make_tracks(project, 117, start=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = member_client.get(url, {"sort": "-length"}).content.decode()
    assert html.count('data-testid="audio-row"') == 50 and "Showing 1–50 of 120" in html
    durations = [float(d) for d in re.findall(r"<td>([\d.]+) s</td>", html)]
    assert durations == sorted(durations, reverse=True)
    html = member_client.get(url, {"q": "nothing"}).content.decode()
    assert "No audio tracks match “nothing”." in html and 'data-testid="audio-clear-filter"' in html


def test_audio_bulk_delete_asks_and_add_to_batch_preselects(member_client, viewer_client, team):
    from studio.models import AudioTrack, Project

    project = Project.objects.create(team=team, name="Course")
    tracks = make_tracks(project, 4)
    url = reverse("audio_bulk", args=[project.pk])
    ids = [tracks[0].pk, tracks[2].pk]
    r = member_client.post(url, {"id": ids, "action": "batch"})
    assert r["Location"] == (
        f"{reverse('batch_create')}?project={project.pk}&audio={ids[0]}&audio={ids[1]}"
    )
    page = member_client.post(url, {"id": ids, "action": "delete"}).content.decode()
    assert "Delete 2 audio tracks?" in page
    assert "their waveforms and their subtitles are removed" in page
    r = member_client.post(url, {"ids": f"{ids[0]},{ids[1]}", "action": "delete", "confirm": "1"})
    assert r.status_code == 302 and AudioTrack.objects.count() == 2
    event = AuditEvent.objects.get(action="deleted", data__bulk=True)
    assert event.data["count"] == 2 and event.data["kind"] == "audio"
    assert viewer_client.post(url, {"id": [tracks[1].pk], "action": "delete"}).status_code == 403


def test_team_audio_library_pages_filters_and_query_count(
    member_client, team, django_assert_max_num_queries
):
    """The audio library (every track of the team) pages, sorts and filters like a project's
    list, the project filter included, at a constant number of queries."""
    from studio.models import Project

    course = Project.objects.create(team=team, name="Course")
    url = reverse("audio_list")
    make_tracks(course, 2)
    make_tracks(None, 1, start=2, team=team)
    with CaptureQueriesContext(connection) as few:
        member_client.get(url, {"sort": "-length"})
    other = Project.objects.create(team=team, name="Other")
    make_tracks(course, 58, start=3)
    make_tracks(other, 30, start=61)
    make_tracks(None, 29, start=91, team=team)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = member_client.get(url, {"sort": "-length"}).content.decode()
    assert html.count('data-testid="audio-row"') == 50 and "Showing 1–50 of 120" in html
    durations = [float(d) for d in re.findall(r"<td>([\d.]+) s</td>", html)]
    assert durations == sorted(durations, reverse=True)
    html = member_client.get(url, {"project": "none", "sort": "name"}).content.decode()
    assert "Showing 1–30 of 30" in html and html.count('data-testid="audio-no-project"') == 30
    html = member_client.get(url, {"project": course.pk, "page": "2"}).content.decode()
    assert "Showing 51–60 of 60" in html and f"project={course.pk}" in html
    # The bulk form carries the filters, so "all matching" means the same rows.
    assert f'<input type="hidden" name="project" value="{course.pk}">' in html
    html = member_client.get(url, {"q": "nothing"}).content.decode()
    assert "No audio tracks match “nothing”." in html
    assert f'href="{url}" data-testid="audio-clear-filter"' in html


def test_team_audio_library_bulk_actions(member_client, viewer_client, team, other_team):
    from studio.models import AudioTrack, Project

    course = Project.objects.create(team=team, name="Course")
    other = Project.objects.create(team=team, name="Other")
    in_course = make_tracks(course, 2)
    in_other = make_tracks(other, 1, start=2)
    loose = make_tracks(None, 3, start=3, team=team)
    foreign = make_tracks(None, 1, start=6, team=other_team)
    url = reverse("audio_library_bulk")
    # Add to batch: the tracks' project, with the library's own tracks.
    ids = sorted([in_course[0].pk, loose[0].pk])
    r = member_client.post(url, {"id": ids, "action": "batch"})
    assert r["Location"] == (
        f"{reverse('batch_create')}?project={course.pk}&audio={ids[0]}&audio={ids[1]}"
    )
    only_loose = member_client.post(url, {"id": [loose[1].pk], "action": "batch"})
    assert only_loose["Location"] == f"{reverse('batch_create')}?audio={loose[1].pk}"
    # Tracks of two projects cannot go in one batch: back to the list, saying why.
    r = member_client.post(url, {"id": [in_course[0].pk, in_other[0].pk], "action": "batch"})
    assert r.status_code == 302 and r["Location"] == reverse("audio_list")
    page = member_client.get(reverse("audio_list")).content.decode()
    assert "A batch belongs to one project" in page
    # Delete every library track matching the filter (all pages), after asking.
    ask = member_client.post(url, {"scope": "matching", "project": "none", "action": "delete"})
    assert "Delete 3 audio tracks?" in ask.content.decode()
    ids = ",".join(str(t.pk) for t in loose)
    done = member_client.post(url, {"ids": ids, "action": "delete", "confirm": "1"})
    assert done.status_code == 302
    assert set(AudioTrack.objects.filter(team=team).values_list("pk", flat=True)) == {
        in_course[0].pk,
        in_course[1].pk,
        in_other[0].pk,
    }
    event = AuditEvent.objects.get(action="deleted", data__bulk=True)
    assert event.data["count"] == 3 and "project" not in event.data
    # Another team's track refuses the whole action; a viewer may not write.
    mixed = {"id": [in_course[0].pk, foreign[0].pk], "action": "delete", "confirm": "1"}
    assert member_client.post(url, mixed).status_code == 404
    assert AudioTrack.objects.filter(pk=in_course[0].pk).exists()
    assert viewer_client.post(url, {"id": [in_course[0].pk], "action": "delete"}).status_code == 403


def test_media_library_pages_and_bulk_delete(
    member_client,
    team,
    media_root,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    from studio.models import Project

    project = Project.objects.create(team=team, name="Course")
    url = reverse("media_library")
    make_videos(team, project, 3)
    with CaptureQueriesContext(connection) as few:
        member_client.get(url, {"sort": "name"})
    videos = make_videos(team, project, 57, start=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = member_client.get(url, {"sort": "name", "page": "2"}).content.decode()
    assert html.count('data-testid="media-card"') == 24 and "Showing 25–48 of 60" in html
    titles = re.findall(r'aria-label="Select (Video \d+)"', html)
    assert titles == [f"Video {i:03d}" for i in range(24, 48)]
    (media_root / videos[0].file.name).parent.mkdir(parents=True, exist_ok=True)
    (media_root / videos[0].file.name).write_bytes(b"x")
    bulk = reverse("media_bulk")
    ask = member_client.post(bulk, {"id": [videos[0].pk, videos[1].pk], "action": "delete"})
    assert "Delete 2 videos?" in ask.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(
            bulk, {"ids": f"{videos[0].pk},{videos[1].pk}", "action": "delete", "confirm": "1"}
        )
    assert MediaAsset.objects.count() == 58 and not (media_root / videos[0].file.name).exists()
    assert AuditEvent.objects.get(action="deleted", data__bulk=True).data["count"] == 2
    # Nothing ticked: back to the library with the reason, never a bare error page.
    r = member_client.post(bulk, {"action": "zip"}, follow=True)
    assert r.status_code == 200
    assert "Tick at least one video, then download the selection." in r.content.decode()
    r = member_client.post(bulk, {"action": "delete"}, follow=True)
    assert r.status_code == 200 and "Choose at least one video." in r.content.decode()
