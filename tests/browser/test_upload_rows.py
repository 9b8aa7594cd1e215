"""The upload rows on /presenters/: a refused file reads as failed (red, the name once, the
reason in the page's language); a second copy of a file is flagged as a duplicate."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .conftest import choose_files, login, shot


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _rows(page, count: int):
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=upload-item]:not([data-state=active])')"
        ".length >= n",
        arg=count,
        timeout=60_000,
    )
    return page.get_by_test_id("upload-item")


def test_refused_upload_row_is_red_with_the_name_once_in_chinese(new_page, artifacts):
    page = new_page("zh-CN")
    login(page)
    page.goto("/presenters/")
    broken = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x07" * 4000
    choose_files(
        page,
        "upload-input-presenter",
        [
            {"name": "broken.mp4", "mimeType": "video/mp4", "buffer": broken},
            {"name": "notes.mp4", "mimeType": "video/mp4", "buffer": b"meeting notes\n" * 50},
        ],
    )
    rows = _rows(page, 2)
    shot(page, artifacts, "zh-upload-failed-rows")
    for n, name in enumerate(("broken.mp4", "notes.mp4")):
        row = rows.nth(n)
        assert row.get_attribute("data-state") == "failed"
        assert "upload-failed" in row.get_attribute("class")
        assert row.inner_text().count(name) == 1, row.inner_text()
        state = row.get_by_test_id("upload-state").inner_text()
        assert "文件" in state and "file" not in state, state
        bar = row.get_by_test_id("upload-progress")
        assert "failed" in bar.get_attribute("class")
        colour = bar.evaluate("el => getComputedStyle(el).backgroundColor")
        assert colour == "rgb(196, 43, 43)", colour  # --danger, not the accent blue
    assert page.js_errors == []


def test_second_copy_of_a_file_is_flagged_on_its_row(new_page, artifacts):
    page = new_page("en-US")
    login(page)
    page.goto("/presenters/")
    data = _png(7)
    choose_files(
        page,
        "upload-input-presenter",
        [{"name": "twin one.png", "mimeType": "image/png", "buffer": data}],
    )
    _rows(page, 1)
    choose_files(
        page,
        "upload-input-presenter",
        [{"name": "twin two.png", "mimeType": "image/png", "buffer": data}],
    )
    rows = _rows(page, 2)
    assert rows.nth(0).get_by_test_id("upload-warning").is_hidden()
    warning = rows.nth(1).get_by_test_id("upload-warning")
    assert warning.is_visible()
    assert warning.inner_text() == "This file is already in the library as twin one."
    assert rows.nth(1).get_attribute("data-state") == "done"
    shot(page, artifacts, "en-upload-duplicate")
    # The copy's page repeats the warning; its download button sits below the table.
    rows.nth(1).locator(".upload-name a").click()
    page.wait_for_selector("[data-testid=duplicate-warning]")
    table = page.locator(".card .table").bounding_box()
    button = page.get_by_test_id("presenter-download").bounding_box()
    assert button["y"] >= table["y"] + table["height"] + 4, (table, button)
    shot(page, artifacts, "en-presenter-detail-duplicate")
    assert page.js_errors == []
