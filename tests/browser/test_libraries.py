"""Libraries with hundreds of presenters in a real browser, in English and in Chinese.

Pages, sort and filters that stay across pages; bulk selection with the keyboard (Tab to each
card's box, Space, Shift+Space ranges, Shift+click, the page box, "all N matching"); bulk tag,
archive, delete (its confirmation says what goes and what stays) and "add to batch"; a search
without match; the batch form's picker (search, tag, selected only, select all matching) and a
preview of the presenter picked, whose page then offers "Render all N" with the same settings.
Rows are made in the database (no upload needed for lists); the preview renders real clips.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass

import pytest

from .conftest import PASSWORD, check_accessibility, login, shot

#: A team of ``N`` presenters (no files), every third tagged "math", "Teacher 005" still being
#: checked; prints their ids.
SEED = """
import json
from django.contrib.auth import get_user_model
from studio.models import MediaStatus, Presenter, Tag
team = get_user_model().objects.get(username=USER).memberships.get().team
math = Tag.objects.create(team=team, name="math")
rows = Presenter.objects.bulk_create(
    Presenter(team=team, name=f"Teacher {i:03d}", file=f"presenters/none/{i}.mp4",
              original_filename=f"t{i}.mp4",
              status=MediaStatus.PROCESSING if i == 5 else MediaStatus.READY,
              duration_s=float(3 + i % 40))
    for i in range(N))
through = Presenter.tags.through
through.objects.bulk_create(
    through(presenter_id=p.pk, tag_id=math.pk) for i, p in enumerate(rows) if i % 3 == 0)
print(json.dumps([p.pk for p in rows]))
"""

#: Two presenters with real clips and a project with a real speech track (files copied into the
#: stack's media folder first).
REAL = """
import json
from django.contrib.auth import get_user_model
from studio.models import AudioTrack, MediaStatus, Presenter, Project
user = get_user_model().objects.get(username=USER)
team = user.memberships.get().team
people = [Presenter.objects.create(team=team, name=name, file=f"presenters/real/{name}.mp4",
          original_filename=f"{name}.mp4", status=MediaStatus.READY, duration_s=1.0,
          width=320, height=240, fps=25.0) for name in ("anna", "ben")]
project = Project.objects.create(team=team, name="Course", created_by=user)
audio = AudioTrack.objects.create(project=project, name="welcome", file="audio/real/welcome.wav",
    original_filename="welcome.wav", status=MediaStatus.READY, duration_s=1.6)
print(json.dumps({"anna": people[0].pk, "ben": people[1].pk, "project": project.pk,
                  "audio": audio.pk}))
"""


@dataclass(frozen=True)
class Lang:
    name: str
    locale: str
    user: str
    team: str
    selected: str  # "%s selected"
    all_matching: str
    none: str
    tagged: str
    deleted: str
    stays: str
    no_match: str
    render_all: str
    succeeded: str


LANGS = [
    Lang(
        "en",
        "en-US",
        "biglib-en",
        "Library team",
        "{} selected",
        "All {} matching selected",
        "None selected",
        "2 presenters tagged.",
        "2 presenters deleted.",
        "Finished videos made with them stay in the media library",
        "No presenters match “zebra”.",
        "Render all 2",
        "Succeeded",
    ),
    Lang(
        "zh",
        "zh-CN",
        "biglib-zh",
        "素材团队",
        "已选 {} 个",
        "已选中全部 {} 个匹配项",
        "未选择",
        "已更新 2 个主播的标签。",
        "已删除 2 个主播。",
        "用它们制作的成品视频仍保留在媒体库中",
        "没有与“zebra”匹配的主播。",
        "全部渲染 2 个",
        "已完成",
    ),
]


def seed_team(stack, user: str, team: str, n: int) -> dict:
    """A user owning ``team``: ``n`` presenters (no files), anna and ben with real clips, a
    project with a real speech track."""
    stack.create_user(user, PASSWORD, team)
    made = stack.manage("shell", "-c", f"USER = {user!r}\nN = {n}\n" + SEED)
    ids = json.loads(made.strip().splitlines()[-1])
    real = stack.manage("shell", "-c", f"USER = {user!r}\n" + REAL)
    return {"ids": ids, **json.loads(real.strip().splitlines()[-1])}


@pytest.fixture(scope="module")
def media_files(stack, test_media) -> None:
    media = stack.root / "media"
    (media / "presenters" / "real").mkdir(parents=True, exist_ok=True)
    (media / "audio" / "real").mkdir(parents=True, exist_ok=True)
    for src, name in zip(test_media["presenters"], ("anna", "ben"), strict=True):
        shutil.copy(src, media / "presenters" / "real" / f"{name}.mp4")
    shutil.copy(test_media["audio"], media / "audio" / "real" / "welcome.wav")


@pytest.fixture(scope="module")
def library_teams(stack, media_files) -> dict[str, dict]:
    """Per language, a team of 160 presenters (+ anna and ben) for the library test: 54 of them
    tagged "math", two pages of it."""
    return {lang.name: seed_team(stack, lang.user, lang.team, 160) for lang in LANGS}


@pytest.fixture(scope="module")
def picker_teams(stack, media_files) -> dict[str, dict]:
    """Per language, a team of 300 presenters (+ anna and ben) for the picker test."""
    return {
        lang.name: seed_team(stack, f"pick-{lang.name}", f"{lang.team} 2", 300) for lang in LANGS
    }


#: Counts the changes of the batch page's polite announcer and of its overall bar.
COUNT_ANNOUNCEMENTS = """
window.__heard = { announcements: 0, bar: 0 };
document.addEventListener("DOMContentLoaded", () => {
  const announcer = document.querySelector("[data-batch-announce]");
  const bar = document.querySelector("[data-batch-progress]");
  if (!announcer || !bar) return;
  new MutationObserver(() => { window.__heard.announcements += 1; })
    .observe(announcer, { childList: true, characterData: true, subtree: true });
  new MutationObserver(() => { window.__heard.bar += 1; })
    .observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
});
"""


def count_text(page) -> str:
    return page.get_by_test_id("bulk-count").inner_text().strip()


def focused_testid(page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.dataset.testid")


def tab_until(page, predicate_js: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(predicate_js):
            return
    raise AssertionError(f"Tab never reached: {predicate_js}")


@pytest.mark.parametrize("lang", LANGS, ids=[lang.name for lang in LANGS])
def test_presenter_library_pages_sort_and_bulk_select_with_the_keyboard(
    lang: Lang, new_page, stack, library_teams, artifacts
):
    page = new_page(lang.locale)
    login(page, lang.user)
    page.goto("/presenters/")
    cards = page.get_by_test_id("presenter-card")
    assert cards.count() == 48
    assert re.search(r"1.48\D+162", page.get_by_test_id("list-range").inner_text())

    # Sort by name, Z to A, and keep only "math": the choice stays on page 2.
    page.get_by_test_id("presenter-tag-filter").select_option("math")
    page.get_by_test_id("sort").select_option("-name")
    page.get_by_test_id("presenter-filter-apply").click()
    page.wait_for_url(re.compile(r"tag=math"))
    first_names = cards.locator("h2").all_inner_texts()
    assert first_names[0] == "Teacher 159" and first_names == sorted(first_names, reverse=True)
    page.get_by_test_id("pager-next").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert "tag=math" in page.url and "sort=-name" in page.url
    assert cards.first.locator("h2").inner_text() < first_names[-1]
    assert page.get_by_test_id("presenter-tag-filter").input_value() == "math"
    shot(page, artifacts, f"{lang.name}-library-page2-math-by-name")

    # Keyboard: Tab reaches a card's box, Space ticks it, Shift+Space ticks the range.
    page.goto("/presenters/?sort=name")
    boxes = page.get_by_test_id("presenter-select")
    page.get_by_test_id("bulk-select-page").focus()
    tab_until(page, "document.activeElement.dataset.testid === 'presenter-select'")
    assert page.evaluate("document.activeElement.value") == boxes.nth(0).get_attribute("value")
    page.keyboard.press("Space")
    assert boxes.nth(0).is_checked() and count_text(page) == lang.selected.format(1)
    outline = boxes.nth(0).evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # the focus ring shows
    for _ in range(3):  # to the fourth card's box (past links of each card)
        tab_until(page, "document.activeElement.dataset.testid === 'presenter-select'")
    page.keyboard.press("Shift+Space")
    assert [boxes.nth(i).is_checked() for i in range(5)] == [True, True, True, True, False]
    assert count_text(page) == lang.selected.format(4)
    # Shift+click ticks a range with the pointer too.
    boxes.nth(10).click()
    boxes.nth(14).click(modifiers=["Shift"])
    assert all(boxes.nth(i).is_checked() for i in range(10, 15))
    assert count_text(page) == lang.selected.format(9)
    shot(page, artifacts, f"{lang.name}-library-keyboard-selection")
    # The list refreshes itself when a face check ends: the ticks and the focus stay.
    boxes.nth(3).focus()
    stack.manage(
        "shell",
        "-c",
        "from studio.models import Presenter\n"
        f"Presenter.objects.filter(pk={library_teams[lang.name]['ids'][5]}).update(status='ready')",
    )
    page.wait_for_function(
        "pk => document.querySelector(`[data-presenter-id='${pk}'] [data-status]`)"
        ".dataset.status === 'ready'",
        arg=library_teams[lang.name]["ids"][5],
        timeout=30_000,
    )
    assert [i for i in range(20) if boxes.nth(i).is_checked()] == [0, 1, 2, 3, 10, 11, 12, 13, 14]
    assert count_text(page) == lang.selected.format(9)
    assert page.evaluate("document.activeElement.value") == boxes.nth(3).get_attribute("value")

    # The whole page, then every matching presenter.
    page.get_by_test_id("bulk-select-page").focus()
    page.keyboard.press("Space")
    assert count_text(page) == lang.selected.format(48)
    matching = page.get_by_test_id("bulk-select-matching")
    assert matching.is_visible()
    matching.focus()
    page.keyboard.press("Enter")
    assert count_text(page) == lang.all_matching.format(162)
    assert focused_testid(page) == "bulk-clear"  # focus is not lost when the button goes
    check_accessibility(page, f"{lang.name} library with a selection")
    page.keyboard.press("Enter")  # clear
    assert count_text(page) == lang.none
    assert page.get_by_test_id("bulk-delete").is_disabled()

    # Tag two presenters (Enter in the tag field adds it).
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_test_id("bulk-tags").fill("vip")
    with page.expect_navigation():
        page.get_by_test_id("bulk-tags").press("Enter")
    assert lang.tagged in page.get_by_test_id("messages").inner_text()
    assert "sort=name" in page.url  # back where the person was
    assert cards.nth(0).locator(".badge.tag", has_text="vip").count() == 1

    # Archive every match of a search, across pages.
    page.goto("/presenters/?q=Teacher+0")
    total = int(re.findall(r"\d+", page.get_by_test_id("list-range").inner_text())[-1])
    assert total == 100  # Teacher 000 to 099: three pages
    page.get_by_test_id("bulk-select-page").check()
    page.get_by_test_id("bulk-select-matching").click()
    with page.expect_navigation():
        page.get_by_test_id("bulk-archive").click()
    assert page.get_by_test_id("presenters-no-match").is_visible()  # all archived
    page.goto("/presenters/?archived=1")
    assert re.search(r"\b100\b", page.get_by_test_id("list-range").inner_text())

    # Delete two: the confirmation says what goes and what stays.
    page.goto("/presenters/?sort=name")
    doomed = [boxes.nth(i).get_attribute("value") for i in (2, 3)]
    boxes.nth(2).check()
    boxes.nth(3).check()
    page.get_by_test_id("bulk-delete").click()
    confirm = page.get_by_test_id("bulk-delete-confirm")
    assert lang.stays in confirm.inner_text()
    assert confirm.get_by_test_id("bulk-delete-names").locator("li").count() == 2
    check_accessibility(page, f"{lang.name} bulk delete confirmation")
    shot(page, artifacts, f"{lang.name}-library-bulk-delete-confirm")
    page.get_by_test_id("confirm-delete").click()
    page.wait_for_url(re.compile(r"/presenters/"))
    assert lang.deleted in page.get_by_test_id("messages").inner_text()
    assert all(page.locator(f"[data-presenter-id='{pk}']").count() == 0 for pk in doomed)

    # A search without match says so and clears.
    page.get_by_test_id("presenter-search").fill("zebra")
    page.get_by_test_id("presenter-search").press("Enter")
    page.wait_for_url(re.compile(r"q=zebra"))
    assert page.get_by_test_id("presenters-no-match").inner_text().startswith(lang.no_match)
    shot(page, artifacts, f"{lang.name}-library-no-match")
    page.get_by_test_id("clear-filter").click()
    page.wait_for_url(re.compile(r"/presenters/$"))
    assert cards.count() == 48  # of 162 - 100 archived - 2 deleted

    # Add three to a batch: the form opens with them ticked.
    chosen = [boxes.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    page.get_by_test_id("bulk-batch").click()
    page.wait_for_url(re.compile(r"/batches/new/\?presenters="))
    ticked = page.locator("[data-testid=presenter-choice] input:checked")
    assert sorted(ticked.evaluate_all("els => els.map(e => e.value)")) == sorted(chosen)
    assert page.js_errors == []


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS, ids=[lang.name for lang in LANGS])
def test_picker_preview_of_the_picked_presenter_then_render_all(
    lang: Lang, new_page, picker_teams, artifacts
):
    rows = picker_teams[lang.name]
    page = new_page(lang.locale)
    login(page, f"pick-{lang.name}")
    page.goto(f"/batches/new/?project={rows['project']}")
    choices = page.get_by_test_id("presenter-choice")
    assert choices.count() == 302  # every presenter of the team, in one filterable list
    assert page.locator("[data-testid=presenter-choices] video").count() == 0

    # Search, then tick with the keyboard.
    search = page.get_by_test_id("presenter-search")
    search.fill("anna")
    assert page.locator("[data-testid=presenter-choice]:visible").count() == 1
    search.press("Enter")  # filters; does not submit the batch
    assert "/batches/new/" in page.url
    tab_until(page, "document.activeElement.name === 'presenter'")
    page.keyboard.press("Space")
    search.fill("ben")
    page.locator(f"#pick-{rows['ben']}").check()
    # Tag filter and "select all matching" (then undone), and "selected only".
    search.fill("")
    page.get_by_test_id("presenter-tag").select_option("math")
    shown = page.locator("[data-testid=presenter-choice]:visible").count()
    select_all = page.get_by_test_id("select-all")
    assert re.search(rf"\b{shown}\b", select_all.inner_text())
    select_all.click()
    assert page.locator("[data-testid=presenter-choice] input:checked").count() == shown + 2
    page.get_by_test_id("select-none").click()
    page.get_by_test_id("presenter-tag").select_option("")
    page.get_by_test_id("picker-only-selected").check()
    assert page.locator("[data-testid=presenter-choice]:visible").count() == 2
    status = page.get_by_test_id("picker-status")
    page.wait_for_function(
        "([el, n]) => el.textContent.includes(n)", arg=[status.element_handle(), "2"]
    )
    # The preview takes the presenter picked last (ben), and says so; each ticked row has
    # its own Preview: the person picks anna's.
    assert page.get_by_test_id("preview-name").inner_text().endswith("ben")
    check_accessibility(page, f"{lang.name} batch form with a selection")
    shot(page, artifacts, f"{lang.name}-batch-picker")
    # Count what screen readers would hear on the batch page, and the bar's updates.
    page.add_init_script(COUNT_ANNOUNCEMENTS)
    anna_row = choices.filter(has=page.locator(f"#pick-{rows['anna']}"))
    anna_row.get_by_test_id("pick-preview").click()
    page.wait_for_url(re.compile(r"/batches/\d+/\?"))
    assert page.get_by_test_id("task-row").count() == 1
    assert "anna" in page.get_by_test_id("task-head").inner_text()

    # When the preview has rendered, the page offers the whole batch with the same settings.
    offer = page.get_by_test_id("render-all")
    offer.wait_for(state="visible", timeout=240_000)
    assert page.get_by_test_id("batch-status").inner_text() == lang.succeeded
    # The progress was announced politely: the final state, not every tick.
    announced = page.get_by_test_id("batch-announce").inner_text()
    assert "100%" in announced and lang.succeeded in announced
    heard = page.evaluate("window.__heard")
    assert 1 <= heard["announcements"] <= 3, heard  # queued/running/succeeded at most
    button = page.get_by_test_id("render-all-button")
    assert button.inner_text() == lang.render_all
    check_accessibility(page, f"{lang.name} finished preview with Render all")
    shot(page, artifacts, f"{lang.name}-preview-render-all")
    button.click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    assert page.get_by_test_id("task-row").count() == 2
    heads = " ".join(page.get_by_test_id("task-head").all_inner_texts())
    assert "anna" in heads and "ben" in heads
    assert page.js_errors == []
