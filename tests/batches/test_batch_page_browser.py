"""The live batch page in Chromium: bars move, the connection drops and comes back, the page
resynchronises and ends at 100% with players for the results.

Runs the real stack (daphne, a worker, Redis) from tests/browser/stack.py on its own database.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

from tests.engine.mediagen import make_speech_wav, make_text_file, make_video

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "pw-batch-page-4471!"

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SETUP = """
from django.contrib.auth import get_user_model
from studio.models import AudioTrack, Presenter, Project
from rendering.services.batches import BatchSpec, create_batch
from studio.actor import Actor
u = get_user_model().objects.get(username='alice')
team = u.memberships.get().team
p = Project.objects.create(team=team, name='Launch')
a = AudioTrack.objects.create(project=p, name='Welcome talk', file='lib/talk.wav',
                              original_filename='talk.wav', status='ready', duration_s=60)
ps = [Presenter.objects.create(team=team, name=n, file='lib/' + f, original_filename=f,
                               status='ready', duration_s=2)
      for n, f in [('安娜 Anna', 'anna.mp4'), ('Bo', 'bo.mp4'), ('Broken', 'broken.mp4')]]
print('BATCH', create_batch(Actor.of(u), BatchSpec(project=p, audios=[a], presenters=ps)).pk)
"""


@pytest.fixture
def browser_stack(tmp_path, redis_server):
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed")
    from tests.browser.stack import make_stack

    stack = make_stack(tmp_path, redis_server.url)
    stack.env["LIPSYNC_DEVICE"] = "cpu"
    lib = tmp_path / "media" / "lib"
    lib.mkdir(parents=True)
    make_video(lib / "anna.mp4", seconds=2.0, size=(320, 240), seed=1)
    make_video(lib / "bo.mp4", seconds=2.0, size=(320, 240), seed=2)
    make_text_file(lib / "broken.mp4")
    make_speech_wav(lib / "talk.wav", seconds=60.0)
    redis_server.client.flushall()
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(tmp_path / "static", ignore_errors=True)


def test_live_page_survives_a_dropped_connection(browser_stack):
    stack = browser_stack
    stack.create_user("alice", PASSWORD, "Training")
    batch_id = int(stack.manage("shell", "-c", SETUP).split("BATCH")[1].split()[0])
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(base_url=stack.base_url, locale="en-US")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form[data-testid=login-form] [type=submit]").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.goto(f"/batches/{batch_id}/")
        page.evaluate("window.__sameDocument = true")
        # Predicates are functions: an expression string would be eval'ed in the page, which
        # the Content-Security-Policy (no 'unsafe-eval') refuses.
        connection = "() => document.querySelector('[data-connection]').textContent"
        page.wait_for_function(f"() => ({connection})().includes('live')")
        # One bar per presenter, moving, with stage and ETA while rendering.
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=task-progress]')]"
            ".map(p => +p.getAttribute('aria-valuenow'))"
            ".some(v => v > 0 && v < 100)",
            timeout=90_000,
        )
        assert page.get_by_test_id("task-row").count() == 3

        # The web server goes away and comes back on the same port.
        web = stack.procs[0]
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=15)
        page.wait_for_function(f"() => !({connection})().includes('live')", timeout=15_000)
        port = stack.base_url.rsplit(":", 1)[1]
        stack.spawn(
            "daphne-again",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                port,
                "heygem_site.asgi:application",
            ],
        )
        page.wait_for_function(f"() => ({connection})().includes('live')", timeout=60_000)

        # Finished partly failed: the bar shows the work done (2 of 3) in the outcome's colour,
        # and "live" goes once there is nothing left to follow.
        page.wait_for_function(
            "() => document.querySelector('[data-testid=batch-status]')"
            ".classList.contains('badge-partial')",
            timeout=240_000,
        )
        bar = page.get_by_test_id("batch-progress")
        assert bar.get_attribute("aria-valuenow") == "67"
        assert bar.get_attribute("data-state") == "partial"
        assert "live" not in page.evaluate(f"({connection})()")
        assert page.evaluate("window.__sameDocument === true"), "no reload: live updates only"
        assert page.get_by_test_id("task-video").count() == 2
        statuses = page.locator("[data-testid=task-status]").all_inner_texts()
        assert statuses == ["Succeeded", "Succeeded", "Failed"]
        assert (
            "broken.mp4: not a media file" in page.get_by_test_id("task-error").nth(2).inner_text()
        )
        page.wait_for_function(
            "() => document.querySelector('[data-testid=batch-status]')"
            ".classList.contains('badge-partial')",
            timeout=10_000,
        )
        assert page.get_by_test_id("download-zip").is_visible()
        assert errors == []
        browser.close()
