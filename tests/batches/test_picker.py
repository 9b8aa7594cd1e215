"""The new-batch form's presenter picker and its preview: the preview renders the presenter the
person picked (not the first of the grid) and its page then offers "Render all N" with the
same settings."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from rendering.models import Batch
from studio.models import Presenter

pytestmark = pytest.mark.django_db


def hidden_fields(html: str, form_marker: str) -> list[tuple[str, str]]:
    form = html[html.index(form_marker) :]
    form = form[: form.index("</form>")]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)


def test_preview_renders_the_presenter_picked_for_it(use_redis, library, member_client):
    # The grid shows the newest first (Broken, Long, Bo, Anna); three are ticked, and the
    # person picked Bo for the preview (the old form rendered Long, the grid's first).
    response = member_client.post(
        reverse("batch_preview"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk, library.bo.pk, library.long_presenter.pk],
            "preview_presenter": str(library.bo.pk),
        },
    )
    batch = Batch.objects.get(is_preview=True)
    task = batch.tasks.get()
    assert task.presenter == library.bo and task.audio == library.hello
    assert response.status_code == 302


def test_without_a_pick_the_preview_takes_the_first_ticked_in_the_order_posted(
    use_redis, library, member_client
):
    """Not the first of the grid's order (which put the newest presenter first)."""
    member_client.post(
        reverse("batch_preview"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk, library.long_presenter.pk],
            "preview_presenter": "",
        },
    )
    assert Batch.objects.get(is_preview=True).tasks.get().presenter == library.anna


def test_after_the_preview_its_page_offers_render_all_with_the_same_settings(
    use_redis, library, member_client, django_capture_on_commit_callbacks
):
    chosen = [library.anna.pk, library.bo.pk, library.long_presenter.pk]
    response = member_client.post(
        reverse("batch_preview"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk, library.long_audio.pk],
            "presenter": chosen,
            "preview_presenter": str(library.bo.pk),
            "engine": "warp",
            "quality": "high",
            "max_height": "480",
            "name": "Week 49",
        },
    )
    preview = Batch.objects.get(is_preview=True)
    location = urlparse(response["Location"])
    assert location.path == preview.get_absolute_url()
    query = parse_qs(location.query)
    assert query["presenters"] == [",".join(map(str, chosen))]
    assert query["engine"] == ["warp"] and query["quality"] == ["high"]
    assert "csrfmiddlewaretoken" not in query and "preview_presenter" not in query

    page = member_client.get(response["Location"]).content.decode()
    offer = page[page.index('data-testid="render-all"') - 200 :]
    # Hidden while the preview still runs (the page's script shows it when it ends).
    assert re.search(r'data-testid="render-all"\s+hidden', page)
    assert "Render all 6" in offer  # 2 audio tracks x 3 presenters
    fields = hidden_fields(page, 'data-testid="render-all"')
    assert ("presenters", ",".join(map(str, chosen))) in fields
    with django_capture_on_commit_callbacks(execute=True):
        created = member_client.post(reverse("batch_create"), dict(_multi(fields)))
    batch = Batch.objects.get(is_preview=False)
    assert created["Location"] == batch.get_absolute_url()
    assert batch.tasks.count() == 6 and batch.name == "Week 49"
    assert (batch.engine, batch.quality, batch.max_height) == ("warp", "high", 480)
    assert {t.presenter_id for t in batch.tasks.all()} == set(chosen)
    # "Change the settings" goes back to the form with everything chosen.
    change = re.search(r'href="([^"]+)" data-testid="render-all-change"', page).group(1)
    form = member_client.get(change.replace("&amp;", "&")).content.decode()
    for pk in chosen:
        assert re.search(rf'value="{pk}" data-name="[^"]*" checked', form), pk
    assert re.search(r'<option value="high" selected>', form)


def _multi(fields):
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped.items()


def test_a_finished_preview_shows_the_offer_and_viewers_never_see_it(
    use_redis, library, member_client, viewer_client
):
    url = (
        reverse("batch_preview"),
        {
            "project": library.project.pk,
            "audio": [library.hello.pk],
            "presenter": [library.anna.pk, library.bo.pk],
        },
    )
    location = member_client.post(*url)["Location"]
    preview = Batch.objects.get(is_preview=True)
    from rendering.models import TaskStatus

    preview.tasks.update(status=TaskStatus.SUCCEEDED, percent=100)
    preview.refresh_status()
    page = member_client.get(location).content.decode()
    assert re.search(r'data-testid="render-all"\s*>', page) and "Render all 2" in page
    assert 'data-testid="render-all"' not in viewer_client.get(location).content.decode()
    # A plain batch's page (no settings in the address) offers nothing.
    assert (
        'data-testid="render-all"'
        not in member_client.get(preview.get_absolute_url()).content.decode()
    )


def test_library_selection_arrives_ticked_and_says_what_it_cannot_offer(library, member_client):
    Presenter.objects.filter(pk=library.long_presenter.pk).update(archived=True)
    chosen = [library.anna.pk, library.bo.pk, library.long_presenter.pk]
    html = member_client.get(
        reverse("batch_create"),
        {"presenters": ",".join(map(str, chosen)), "project": library.project.pk},
    ).content.decode()
    ticked = re.findall(r'name="presenter" value="(\d+)" data-name="[^"]*" checked', html)
    assert sorted(map(int, ticked)) == sorted([library.anna.pk, library.bo.pk])
    assert "1 of the chosen presenters is archived or failed its check" in html
    # Audio tracks chosen on the project page arrive ticked too.
    html = member_client.get(
        reverse("batch_create"),
        {"project": library.project.pk, "audio": [library.long_audio.pk]},
    ).content.decode()
    assert re.search(rf'value="{library.long_audio.pk}"[^>]*checked', html)
    assert not re.search(rf'value="{library.hello.pk}"[^>]*checked', html)


def test_a_batch_of_the_largest_size_can_be_posted_from_the_form(
    use_redis, library, member_client, team, settings, django_capture_on_commit_callbacks
):
    """One checkbox per presenter: MAX_BATCH_TASKS of them are more form fields than Django
    accepts by default (1000), which refused the form with a bare 400."""
    rows = Presenter.objects.bulk_create(
        Presenter(
            team=team,
            name=f"P{i}",
            file=library.anna.file.name,
            original_filename="p.mp4",
            status="ready",
        )
        for i in range(settings.MAX_BATCH_TASKS)
    )
    with django_capture_on_commit_callbacks(execute=False):
        response = member_client.post(
            reverse("batch_create"),
            {
                "project": library.project.pk,
                "audio": [library.hello.pk],
                "presenter": [p.pk for p in rows],
                "engine": "warp",
                "quality": "draft",
                "max_height": "",
                "name": "Everyone",
            },
        )
    assert response.status_code == 302, response.content[:300]
    assert Batch.objects.get(name="Everyone").tasks.count() == settings.MAX_BATCH_TASKS
