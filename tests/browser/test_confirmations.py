"""Removing a member, leaving a team and cancelling a batch ask first, in a dialog that names
who or what (no inline script: the texts come in data attributes, app.js asks); "go back"
changes nothing. A batch whose renders were partly cancelled reads so, in grey. Both
languages."""

from __future__ import annotations

import pytest

from .conftest import login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "remove": "Remove Bo Brand (bo-en) from “Crew en”?",
        "leave": "Leave the team “Crew en”?",
        "cancel": "Cancel the batch “Week 7”?",
        "removed": "bo-en was removed from the team.",
        "left": "You left the team.",
        "partly": "Partly cancelled",
    },
    "zh": {
        "locale": "zh-CN",
        "remove": "将 Bo Brand（bo-zh）从“Crew zh”中移除？",
        "leave": "退出团队“Crew zh”？",
        "cancel": "取消批次“Week 7”？",
        "removed": "bo-zh",
        "left": "你已退出该团队。",
        "partly": "部分已取消",
    },
}

SETUP = """
owner, team = user(f"cap-{P['lang']}", f"Crew {P['lang']}")
for name, first, last in ((f"bo-{P['lang']}", "Bo", "Brand"), (f"kim-{P['lang']}", "Kim", "")):
    u, _ = user(name)
    u.first_name, u.last_name = first, last
    u.save()
    Membership.objects.create(team=team, user=u, role=Role.MEMBER)
project = Project.objects.create(team=team, name="P")
batch = Batch.objects.create(team=team, project=project, name="Week 7", engine="warp",
                             created_by=owner)
now = timezone.now()
RenderTask.objects.create(batch=batch, position=0, presenter_name="Anna", audio_name="Hi",
                          status=TaskStatus.SUCCEEDED, percent=100)
# Queued and handed to a job that does not exist: nothing renders it for the next minute
# (the reconciler would queue it again after RECONCILE_LOST_QUEUED_S).
RenderTask.objects.create(batch=batch, position=1, presenter_name="Ben", audio_name="Hi",
                          status=TaskStatus.QUEUED, queued_at=now, dispatched_at=now,
                          rq_job_id="held-by-the-test")
batch.refresh_status()
OUT["batch"] = batch.pk
"""


def _dialog(page):
    dialog = page.get_by_test_id("confirm-dialog")
    dialog.wait_for(state="visible")
    return dialog


@pytest.mark.parametrize("lang", list(LANGS))
def test_remove_leave_and_cancel_ask_first(lang, new_page, stack, artifacts):
    t = LANGS[lang]
    made = seed(stack, SETUP, lang=lang)
    page = new_page(t["locale"])
    login(page, f"cap-{lang}")

    # Cancelling the batch: the dialog names it; going back leaves it running.
    page.goto(f"/batches/{made['batch']}/")
    page.get_by_test_id("cancel-batch").click()
    dialog = _dialog(page)
    assert t["cancel"] in dialog.get_by_test_id("confirm-text").inner_text()
    assert page.evaluate("document.activeElement.dataset.testid") == "confirm-no"
    shot(page, artifacts, f"{lang}-confirm-cancel-batch")
    dialog.get_by_test_id("confirm-no").click()
    page.wait_for_timeout(1500)
    assert page.get_by_test_id("batch-status").get_attribute("class").endswith("badge-running")
    page.get_by_test_id("cancel-batch").click()
    _dialog(page).get_by_test_id("confirm-yes").click()
    # One render finished, the other cancelled: "partly cancelled", grey, not "partly failed".
    page.wait_for_function(
        "() => document.querySelector('[data-testid=batch-status]')"
        ".classList.contains('badge-partly_cancelled')",
        timeout=30_000,
    )
    badge = page.get_by_test_id("batch-status")
    assert badge.inner_text() == t["partly"]
    colour = badge.evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(93, 102, 117)", colour  # the neutral grey of cancelled
    page.reload()
    assert page.get_by_test_id("batch-status").inner_text() == t["partly"]
    shot(page, artifacts, f"{lang}-batch-partly-cancelled")

    # Removing a member: named in the dialog; "keep" keeps them.
    page.goto("/team/")
    page.get_by_test_id(f"member-remove-bo-{lang}").click()
    dialog = _dialog(page)
    assert t["remove"] in dialog.get_by_test_id("confirm-text").inner_text()
    shot(page, artifacts, f"{lang}-confirm-remove-member")
    dialog.get_by_test_id("confirm-no").click()
    assert page.get_by_test_id(f"member-row-bo-{lang}").count() == 1
    assert page.get_by_test_id("confirm-dialog").count() == 0
    page.get_by_test_id(f"member-remove-bo-{lang}").click()
    with page.expect_navigation():
        _dialog(page).get_by_test_id("confirm-yes").click()
    assert t["removed"] in page.get_by_test_id("messages").inner_text()
    assert page.get_by_test_id(f"member-row-bo-{lang}").count() == 0

    # Leaving: Kim sees the team named; Escape is "no".
    other = new_page(t["locale"])
    login(other, f"kim-{lang}")
    other.goto("/team/")
    other.get_by_test_id(f"member-remove-kim-{lang}").click()
    assert t["leave"] in _dialog(other).get_by_test_id("confirm-text").inner_text()
    shot(other, artifacts, f"{lang}-confirm-leave-team")
    other.keyboard.press("Escape")
    other.get_by_test_id("confirm-dialog").wait_for(state="detached")
    assert other.get_by_test_id(f"member-row-kim-{lang}").count() == 1
    other.get_by_test_id(f"member-remove-kim-{lang}").click()
    with other.expect_navigation():
        _dialog(other).get_by_test_id("confirm-yes").click()
    assert t["left"] in other.get_by_test_id("messages").inner_text()
    assert page.js_errors == [] and other.js_errors == []
