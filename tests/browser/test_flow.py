"""The whole studio flow in a real browser, once in English and once in Chinese.

Log in, upload two presenters (one by drag and drop, one through the file picker, both over
the chunked upload protocol), upload one audio track, start a batch, watch it reach 100% live
over the websocket, play a result and download the zip; screenshots of every page go to
tests/artifacts/.
"""

from __future__ import annotations

import base64
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from .conftest import choose_files, login, shot

pytestmark = pytest.mark.slow

DROP_FILES_JS = """
files => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bin = atob(f.b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    dt.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return dt;
}
"""

PLAY_JS = """
async video => {
  video.muted = true;
  await video.play();
  const start = performance.now();
  while (video.currentTime < 0.2 && performance.now() - start < 10000) {
    await new Promise(r => setTimeout(r, 50));
  }
  video.pause();
  return { time: video.currentTime, width: video.videoWidth, height: video.videoHeight,
           duration: video.duration };
}
"""


@dataclass(frozen=True)
class Flow:
    name: str
    locale: str
    user: str
    html_lang: str
    dashboard: str
    presenters: str
    new_batch: str
    project: str
    two_videos: str


FLOWS = [
    Flow(
        "en",
        "en-US",
        "alice",
        "en",
        "Dashboard",
        "Presenters",
        "New batch",
        "Welcome course",
        "2 videos",
    ),
    Flow("zh", "zh-CN", "li", "zh-hans", "仪表盘", "主播", "新建批次", "入职培训", "2 个视频"),
]


def drop_files(page, selector: str, paths: list[Path], mime: str) -> None:
    """Drop files on an element as a user dragging them from the desktop would."""
    payload = [
        {"name": p.name, "type": mime, "b64": base64.b64encode(p.read_bytes()).decode()}
        for p in paths
    ]
    transfer = page.evaluate_handle(DROP_FILES_JS, payload)
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def wait_uploaded(page, kind: str, count: int) -> None:
    """Every file of the drop zone shows a full bar and the 'uploaded' state."""
    zone = page.get_by_test_id(f"dropzone-{kind}")
    done_text = zone.get_attribute("data-i18n-done")
    items = zone.get_by_test_id("upload-item")
    page.wait_for_function(
        """([zone, n, done]) => {
             const items = document.querySelectorAll(zone + ' [data-testid=upload-item]');
             return items.length === n && [...items].every(li =>
               li.querySelector('.progress-bar').style.width === '100%' &&
               li.querySelector('.upload-state').textContent.trim() === done);
           }""",
        arg=[f"[data-testid=dropzone-{kind}]", count, done_text],
        timeout=150_000,
    )
    assert items.count() == count


def wait_all_ready(page, selector: str, count: int, timeout_ms: int = 240_000) -> None:
    """The page itself (no reload by the test) comes to show ``count`` ready items."""
    page.wait_for_function(
        """([sel, n]) => {
             const badges = document.querySelectorAll(sel + ' [data-status]');
             return badges.length === n && [...badges].every(b => b.dataset.status === 'ready');
           }""",
        arg=[selector, count],
        timeout=timeout_ms,
    )


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_full_flow(flow: Flow, new_page, test_media, artifacts, tmp_path):
    page = new_page(flow.locale)
    prefix = flow.name

    page.goto("/")
    shot(page, artifacts, f"{prefix}-01-login")
    login(page, flow.user)
    assert page.locator("html").get_attribute("lang") == flow.html_lang
    assert page.locator("h1").first.inner_text() == flow.dashboard
    shot(page, artifacts, f"{prefix}-02-dashboard-empty")

    # Presenters: one dropped on the zone, one through the file picker.
    page.get_by_test_id("nav-presenters").click()
    assert page.locator("h1").first.inner_text() == flow.presenters
    first, second = test_media["presenters"]
    drop_files(page, "[data-testid=dropzone-presenter]", [first], "video/mp4")
    choose_files(page, "upload-input-presenter", [str(second)])
    wait_uploaded(page, "presenter", 2)
    page.wait_for_selector("[data-testid=presenter-card] >> nth=1", timeout=60_000)
    wait_all_ready(page, "[data-testid=presenter-grid]", 2)
    names = page.get_by_test_id("presenter-card").all_inner_texts()
    assert any("anna" in n for n in names) and any("ben" in n for n in names), names
    # Pointing at a card plays the clip, muted, in place.
    card = page.get_by_test_id("presenter-card").first
    card.locator(".thumb").hover()
    card.locator("video[data-hover-preview]").evaluate(
        """v => new Promise((resolve, reject) => {
             const t0 = performance.now();
             (function check() {
               if (!v.paused && v.currentTime > 0.05) return resolve(true);
               if (performance.now() - t0 > 10000) return reject(new Error('no preview'));
               setTimeout(check, 50);
             })();
           })"""
    )
    shot(page, artifacts, f"{prefix}-03-presenters")
    page.mouse.move(0, 0)
    assert card.locator("video[data-hover-preview]").evaluate("v => v.paused")
    card.locator("a.card-link").click()
    page.wait_for_url(re.compile(r"/presenters/\d+/$"))
    shot(page, artifacts, f"{prefix}-03b-presenter-detail")

    # A project with one audio track.
    page.get_by_test_id("nav-projects").click()
    shot(page, artifacts, f"{prefix}-04-projects-empty")
    page.get_by_test_id("project-new").click()
    page.fill("input[name=name]", flow.project)
    page.get_by_test_id("project-save").click()
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    project_url = page.url
    choose_files(page, "upload-input-audio", [str(test_media["audio"])])
    wait_uploaded(page, "audio", 1)
    page.wait_for_selector("[data-testid=audio-row]", timeout=60_000)
    wait_all_ready(page, "[data-testid=audio-table]", 1)
    shot(page, artifacts, f"{prefix}-05-project-audio")
    page.get_by_test_id("audio-row").locator("a").first.click()
    assert page.get_by_test_id("audio-waveform").is_visible()
    duration = page.get_by_test_id("audio-player").evaluate(
        "a => new Promise(r => a.readyState >= 1 ? r(a.duration)"
        " : a.addEventListener('loadedmetadata', () => r(a.duration)))"
    )
    assert 1.4 < duration < 1.8, duration
    shot(page, artifacts, f"{prefix}-05b-audio-detail")

    # New batch: the audio, both presenters, engine and size; the count is shown before submit.
    page.get_by_test_id("nav-dashboard").click()
    page.get_by_test_id("dashboard-new-batch").click()
    assert page.locator("h1").first.inner_text() == flow.new_batch
    assert page.get_by_test_id("audio-choice").first.is_checked()
    page.get_by_test_id("select-all").click()
    assert page.locator("[data-testid=presenter-choice] input:checked").count() == 2
    summary = page.get_by_test_id("batch-summary")
    page.wait_for_function(
        "([el, text]) => el.innerText.includes(text)",
        arg=[summary.element_handle(), flow.two_videos],
    )
    # The estimate and the preview's own estimate come in the page's language.
    unit = {"en": " s", "zh": " 秒"}[flow.name]
    assert unit in page.get_by_test_id("batch-summary").inner_text()
    assert unit in page.get_by_test_id("preview-estimate").inner_text()
    page.get_by_test_id("batch-size").select_option(index=0)
    shot(page, artifacts, f"{prefix}-06-new-batch")
    page.get_by_test_id("submit-batch").click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    batch_url = page.url

    # Progress arrives live: the same document goes from its first state to 100%.
    page.evaluate("window.__sameDocument = true")
    shot(page, artifacts, f"{prefix}-07a-batch-started")
    progress = page.get_by_test_id("batch-progress")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=batch-progress]')"
        ".getAttribute('aria-valuenow') === '100'"
        " && document.querySelectorAll('[data-testid=task-video]').length === 2"
        " && document.querySelector('[data-testid=batch-status]')"
        ".classList.contains('badge-succeeded')",
        timeout=300_000,
    )
    assert page.evaluate("window.__sameDocument === true")
    assert progress.get_attribute("aria-valuenow") == "100"
    assert (
        page.get_by_test_id("batch-status").get_attribute("class").split()[-1] == "badge-succeeded"
    )
    assert progress.get_attribute("data-state") == "succeeded"
    assert page.get_by_test_id("connection-state").text_content() == ""
    shot(page, artifacts, f"{prefix}-07-batch-done")

    # The quality check runs after each render; its badge arrives live on the same page.
    page.wait_for_function(
        "() => { const b = document.querySelectorAll('[data-testid=quality-badge]');"
        " return b.length === 2 && [...b].every(x => x.dataset.state !== 'pending'); }",
        timeout=180_000,
    )
    assert page.evaluate("window.__sameDocument === true")
    shot(page, artifacts, f"{prefix}-07b-batch-quality")

    # A result plays in the page.
    played = page.get_by_test_id("task-video").first.evaluate(PLAY_JS)
    assert played["time"] > 0.1 and played["width"] > 0 and played["duration"] > 1.0, played

    # Download all (zip): both videos are inside.
    with page.expect_download() as info:
        page.get_by_test_id("download-zip").click()
    target = tmp_path / "batch.zip"
    info.value.save_as(target)
    with zipfile.ZipFile(target) as archive:
        mp4s = [n for n in archive.namelist() if n.endswith(".mp4")]
        assert len(mp4s) == 2, archive.namelist()
        rows = archive.read("quality.csv").decode("utf-8-sig").splitlines()
        assert len(rows) == 3 and rows[0].startswith("file,")
        for name in mp4s:
            data = archive.read(name)
            assert len(data) > 2000 and data[4:8] == b"ftyp", name
    assert any("anna" in n for n in mp4s) and any("ben" in n for n in mp4s), mp4s

    # The other pages, each screenshotted.
    page.get_by_test_id("nav-batches").click()
    assert page.locator(f"a[href='{urlparse(batch_url).path}']").count() >= 1
    shot(page, artifacts, f"{prefix}-08-batches")
    page.get_by_test_id("nav-media").click()
    assert page.get_by_test_id("media-card").count() == 2
    assert page.get_by_test_id("quality-badge").count() == 2
    shot(page, artifacts, f"{prefix}-09-media")
    # "Needs review" lists exactly the videos whose badge says to check them.
    flagged = page.locator("[data-testid=quality-badge][data-state=review]").count()
    flagged += page.locator("[data-testid=quality-badge][data-state=failed]").count()
    page.get_by_test_id("filter-review").check()
    with page.expect_navigation():
        page.get_by_test_id("media-filter").locator("button[type=submit]").click()
    assert page.get_by_test_id("media-card").count() == flagged
    shot(page, artifacts, f"{prefix}-09b-media-needs-review")
    page.get_by_test_id("nav-team").click()
    shot(page, artifacts, f"{prefix}-10-team")
    page.get_by_test_id("nav-profile").click()
    shot(page, artifacts, f"{prefix}-11-profile")
    page.get_by_test_id("nav-dashboard").click()
    row = page.locator("[data-testid^=batch-row-]").first
    assert "100%" in row.inner_text()
    shot(page, artifacts, f"{prefix}-12-dashboard")
    page.goto(project_url)
    assert page.js_errors == [], page.js_errors
    # The whole flow (uploads, live websocket progress, playback, zip) ran under the policy.
    assert page.csp_violations == [], page.csp_violations
