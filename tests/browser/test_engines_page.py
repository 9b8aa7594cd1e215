"""The "Engines and models" page in a real browser, in English and Chinese, for a staff
account: reached from the navigation, with this server's view (a Wav2Lip checkpoint installed
with ``models add``; MuseTalk missing) and the stack's live worker's report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from .conftest import PASSWORD, login, shot

STAFF = "root"


@pytest.fixture(scope="module")
def staff_account(stack) -> str:
    stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from studio.actor import Actor\n"
        "from studio.services.teams import create_team\n"
        f"u = get_user_model().objects.create_user({STAFF!r}, 'root@example.org', {PASSWORD!r},"
        " is_staff=True)\n"
        "create_team(Actor.of(u), u, 'Operations')\n",
    )
    return STAFF


@pytest.fixture
def installed(stack):
    """wav2lip.pth in the stack's model folder (the web process reads it per request)."""
    from tests.ui.test_engines_page import populate

    root = Path(stack.env["LIPSYNC_MODEL_DIR"])
    populate(root)
    yield root
    shutil.rmtree(root)
    shutil.rmtree(root.parent / "incoming", ignore_errors=True)


def _open(page, staff_account: str) -> None:
    login(page, staff_account)
    page.get_by_test_id("nav-engines").click()
    page.wait_for_url("**/engines/")
    # The worker started with the stack reports at start and on idle heartbeats.
    deadline = time.monotonic() + 60
    while not page.get_by_test_id("engine-worker").count():
        assert time.monotonic() < deadline, "the stack's worker never reported"
        time.sleep(1)
        page.reload()


@pytest.mark.parametrize(
    ("locale", "lang", "heading", "usable", "not_usable", "non_commercial"),
    [
        (
            "en-US",
            "en",
            "Engines and models",
            "Usable on this server",
            "Not usable",
            "Not for commercial use",
        ),
        ("zh-CN", "zh", "引擎与模型", "本服务器可用", "不可用", "不可商用"),
    ],
)
def test_staff_reads_the_engines_page(
    new_page,
    staff_account,
    installed,
    artifacts,
    locale,
    lang,
    heading,
    usable,
    not_usable,
    non_commercial,
):
    page = new_page(locale)
    _open(page, staff_account)
    assert page.locator("h1").first.inner_text() == heading
    assert page.get_by_test_id("nav-engines").get_attribute("aria-current") == "page"
    assert page.get_by_test_id("model-dir").inner_text() == str(installed)
    assert page.get_by_test_id("state-wav2lip").inner_text() == usable
    assert page.get_by_test_id("state-musetalk15").inner_text().startswith(not_usable)
    assert page.get_by_test_id("commercial-wav2lip").inner_text() == non_commercial
    assert page.get_by_test_id("missing-musetalk15").is_visible()
    assert "musetalkV15/unet.pth" in page.get_by_test_id("missing-musetalk15").inner_text()
    assert page.get_by_test_id("licence-text-wav2lip").is_visible()
    assert page.get_by_test_id("file-wav2lip.pth").get_attribute("data-state") == "verified"
    assert page.get_by_test_id("cli-commands").is_visible()
    assert page.get_by_test_id("engine-worker").first.is_visible()
    shot(page, artifacts, f"{lang}-engines")
    assert page.js_errors == []


def test_the_batch_form_shows_the_licence_beside_the_engine(
    new_page, staff_account, installed, artifacts
):
    page = new_page("zh-CN")
    login(page, staff_account)
    page.goto("/projects/new/")
    page.fill("input[name=name]", "许可说明")
    with page.expect_navigation():
        page.get_by_test_id("project-save").click()
    page.goto("/batches/new/")
    note = page.get_by_test_id("licence-wav2lip")
    assert note.is_visible() and "仅限非商业用途" in note.inner_text()
    assert "仅限非商业用途" in page.get_by_test_id("engine-wav2lip").inner_text()
    page.get_by_test_id("batch-engine").scroll_into_view_if_needed()
    shot(page, artifacts, "zh-batch-form-licences")
