"""Choosing the face on the presenter page in a real browser, in English and in Chinese: the
page says that two people are seen, shows both faces numbered on their frame, and a click on
one (the real worker prepares the presenter again) makes it the animated face."""

from __future__ import annotations

import re
import time

import pytest
from PIL import Image

from tests.engine.facegen import two_faces

from .conftest import PASSWORD, choose_files, login, shot

# Users of their own (a team each), so the other browser tests' teams keep their presenters.
CASES = [
    (
        "en-US",
        "farah",
        "en",
        "2 people are in this presenter.",
        "Face 1 will be animated",
        "Face 1 is animated (your choice).",
    ),
    (
        "zh-CN",
        "fang",
        "zh",
        "此主播画面中有 2 个人。",
        "将让第 1 张脸说话",
        "当前让第 1 张脸说话（您的选择）。",
    ),
]


def _ready(page, timeout_s: float = 240.0) -> None:
    """Reload the presenter page until its face check is done (the page says to reload)."""
    deadline = time.monotonic() + timeout_s
    while page.locator(".card [data-status]").first.get_attribute("data-status") != "ready":
        assert time.monotonic() < deadline, "the face check did not finish"
        page.wait_for_timeout(1000)
        page.reload()


@pytest.mark.parametrize(("locale", "user", "lang", "note", "done", "chosen"), CASES)
def test_click_a_face_to_animate_it(
    new_page, stack, artifacts, tmp_path, locale, user, lang, note, done, chosen
):
    stack.create_user(user, PASSWORD, f"Faces {lang}")
    image, _boxes = two_faces()
    path = tmp_path / f"two-people-{lang}.png"
    Image.fromarray(image).save(path)
    page = new_page(locale)
    login(page, user)
    page.goto("/presenters/")
    choose_files(page, "upload-input-presenter", [str(path)])
    card = page.locator("[data-testid=presenter-card]", has_text=f"two-people-{lang}")
    card.wait_for(timeout=120_000)
    card.locator("a.card-link").click()
    page.wait_for_url(re.compile(r"/presenters/\d+/$"))
    _ready(page)

    faces = page.get_by_test_id("faces-card")
    assert note in faces.get_by_test_id("faces-note").inner_text()
    boxes = page.get_by_test_id("face-box")
    assert boxes.count() == 2
    assert "is-animated" in (boxes.nth(1).get_attribute("class") or "")
    # The picture under the boxes is the presenter's frame, served by the studio.
    assert (
        page.locator("[data-face-picker] image").evaluate(
            "img => fetch(img.getAttribute('href')).then(r => r.status)"
        )
        == 200
    )
    faces.scroll_into_view_if_needed()
    shot(page, artifacts, f"{lang}-face-pick-01-two-people")

    with page.expect_navigation():
        boxes.nth(0).click()
    assert done in page.get_by_test_id("messages").inner_text()
    _ready(page)
    assert chosen in page.get_by_test_id("faces-note").inner_text()
    assert "is-animated" in (page.get_by_test_id("face-box").nth(0).get_attribute("class") or "")
    page.get_by_test_id("faces-card").scroll_into_view_if_needed()
    shot(page, artifacts, f"{lang}-face-pick-02-face-1-chosen")
    assert page.js_errors == []
