"""A project's page lists its batches; a batch is renamed and deleted from its page (the
delete page says what goes and what stays, and keeps the videos unless asked). Both
languages."""

from __future__ import annotations

import re

import pytest

from .conftest import login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "keeps": "Its finished video stays in the media library unless you tick the box below.",
        "deleted": "Batch Week 2 deleted; its finished video stays in the media library.",
    },
    "zh": {
        "locale": "zh-CN",
        "keeps": "除非勾选下面的选项，其 1 个已完成的视频会保留在媒体库中。",
        "deleted": "已删除批次 Week 2；其 1 个已完成的视频保留在媒体库中。",
    },
}

SETUP = """
owner, team = user(P["name"], P["team"])
project = Project.objects.create(team=team, name="Course")
for name in ("Week 1", "Week 2"):
    batch = Batch.objects.create(team=team, project=project, name=name, engine="warp",
                                 created_by=owner)
    task = RenderTask.objects.create(batch=batch, presenter_name="Anna", audio_name="Hi",
                                     status=TaskStatus.SUCCEEDED, percent=100)
    asset = MediaAsset.objects.create(
        team=team, project=project, batch=batch, task=task, title=f"Anna × Hi ({name})",
        download_name="Anna__Hi.mp4", file=put(P["clip"], f"outputs/{team.pk}/{batch.pk}/1.mp4"),
        size_bytes=1000, duration_s=1.2, engine="warp", created_by=owner)
    RenderTask.objects.filter(pk=task.pk).update(output=asset)
    batch.refresh_status()
OUT["project"] = project.pk
"""


@pytest.mark.parametrize("lang", list(LANGS))
def test_project_lists_batches_rename_and_delete(lang, new_page, stack, test_media, artifacts):
    t = LANGS[lang]
    made = seed(
        stack, SETUP, name=f"pb-{lang}", team=f"Batches {lang}", clip=test_media["presenters"][0]
    )
    page = new_page(t["locale"])
    login(page, f"pb-{lang}")
    page.goto(f"/projects/{made['project']}/")
    rows = page.get_by_test_id("project-batch-row")
    assert rows.count() == 2
    assert rows.first.inner_text().startswith("Week 2"), "newest first"
    shot(page, artifacts, f"{lang}-project-batches")

    rows.filter(has_text="Week 1").locator("a").click()
    page.get_by_test_id("batch-rename").click()
    page.get_by_test_id("batch-rename-name").fill("Week one")
    with page.expect_navigation():
        page.get_by_test_id("batch-rename-save").click()
    assert page.get_by_test_id("batch-name").inner_text() == "Week one"

    page.goto(f"/projects/{made['project']}/")
    page.get_by_test_id("project-batch-row").filter(has_text="Week 2").locator("a").click()
    page.get_by_test_id("batch-delete-link").click()
    assert t["keeps"] in page.get_by_test_id("batch-delete-videos").inner_text()
    shot(page, artifacts, f"{lang}-batch-delete")
    with page.expect_navigation():
        page.get_by_test_id("confirm-delete").click()
    assert re.search(rf"/projects/{made['project']}/$", page.url)
    assert t["deleted"] in page.get_by_test_id("messages").inner_text()
    assert page.get_by_test_id("project-batch-row").count() == 1
    assert "Week one" in page.get_by_test_id("project-batch-table").inner_text()
    page.goto("/media/")
    assert page.get_by_test_id("media-card").count() == 2, "the video stayed"
    assert page.js_errors == []
