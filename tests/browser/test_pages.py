"""Page-level browser checks: login, dashboard, profile, language choice, keyboard, no CDN,
and the accessibility pass (axe-core) over every page in both languages."""

from __future__ import annotations

import json

import pytest

from .conftest import PASSWORD, check_accessibility, login, shot

#: Rows for the accessibility sweep, made in a team of its own (other tests count theirs):
#: a project with audio, presenters with tags and states, a batch with a finished and a
#: failed render and its video, a finished preview; prints the ids as JSON.
SEED = """
import json
from django.contrib.auth import get_user_model
from rendering.models import Batch, MediaAsset, RenderTask, TaskStatus
from studio.models import AudioTrack, MediaStatus, Presenter, Project, Tag
from studio.notices import input_error
user = get_user_model().objects.get(username=USER)
team = user.memberships.get().team
project = Project.objects.create(team=team, name="Course", created_by=user)
tracks = [AudioTrack.objects.create(project=project, name=f"Lesson {i}", file=f"audio/{i}.wav",
          original_filename=f"l{i}.wav", status=MediaStatus.READY, duration_s=30.0 + i)
          for i in range(3)]
math = Tag.objects.create(team=team, name="math")
people = []
for i in range(60):
    status = {1: MediaStatus.FAILED, 2: MediaStatus.PROCESSING}.get(i, MediaStatus.READY)
    p = Presenter.objects.create(team=team, name=f"Teacher {i:02d}", file=f"presenters/{i}.mp4",
        original_filename=f"t{i}.mp4", status=status, duration_s=5.0 + i % 7,
        error=input_error(f"t{i}.mp4", "no face was found in any frame") if i == 1 else None)
    if i % 3 == 0:
        p.tags.add(math)
    people.append(p)
batch = Batch.objects.create(team=team, project=project, name="Week 1", engine="warp",
                             created_by=user)
done = RenderTask.objects.create(batch=batch, presenter=people[0], audio=tracks[0], position=0,
    presenter_name=people[0].name, audio_name=tracks[0].name, status=TaskStatus.SUCCEEDED,
    percent=100)
RenderTask.objects.create(batch=batch, presenter=people[3], audio=tracks[0], position=1,
    presenter_name=people[3].name, audio_name=tracks[0].name, status=TaskStatus.FAILED,
    error=input_error("t3.mp4", "no face was found in any frame"))
video = MediaAsset.objects.create(team=team, project=project, batch=batch, task=done,
    presenter=people[0], audio=tracks[0], title=str(done), download_name="a.mp4",
    file="outputs/a.mp4", duration_s=30.0, created_by=user)
RenderTask.objects.filter(pk=done.pk).update(output=video)
batch.refresh_status()
preview = Batch.objects.create(team=team, project=project, name="Teacher 00 x Lesson 0",
    engine="warp", is_preview=True, preview_seconds=3.0, created_by=user)
RenderTask.objects.create(batch=preview, presenter=people[0], audio=tracks[0], position=0,
    presenter_name=people[0].name, audio_name=tracks[0].name, status=TaskStatus.SUCCEEDED,
    percent=100)
preview.refresh_status()
print(json.dumps({"project": project.pk, "audio": tracks[0].pk, "presenter": people[0].pk,
    "batch": batch.pk, "preview": preview.pk, "video": video.pk,
    "presenters": [p.pk for p in people[:4]]}))
"""

SWEEP_USERS = {"en-US": ("ada", "Accessible team"), "zh-CN": ("mei", "无障碍团队")}


@pytest.fixture(scope="module")
def sweep_rows(stack) -> dict[str, dict]:
    rows = {}
    for locale, (user, team) in SWEEP_USERS.items():
        stack.create_user(user, PASSWORD, team)
        out = stack.manage("shell", "-c", f"USER = {user!r}\n" + SEED)
        rows[locale] = json.loads(out.strip().splitlines()[-1])
    return rows


def sweep_paths(ids: dict) -> list[str]:
    """Every page a person of a team reaches (and the error page), with real rows."""
    presenters = ",".join(map(str, ids["presenters"]))
    return [
        "/",
        "/presenters/",
        "/presenters/?q=nobody-is-called-this",
        "/presenters/?tag=math&sort=name&page=2",
        f"/presenters/{ids['presenter']}/",
        f"/presenters/{ids['presenter']}/edit/",
        f"/presenters/{ids['presenter']}/delete/",
        "/projects/",
        "/projects/new/",
        f"/projects/{ids['project']}/",
        f"/projects/{ids['project']}/edit/",
        "/audio/",
        "/audio/?q=nobody-is-called-this",
        f"/audio/{ids['audio']}/",
        f"/audio/{ids['audio']}/edit/",
        "/batches/",
        "/batches/new/",
        f"/batches/new/?project={ids['project']}&presenters={presenters}",
        f"/batches/{ids['batch']}/",
        f"/batches/{ids['batch']}/edit/",
        f"/batches/{ids['batch']}/delete/",
        f"/batches/{ids['preview']}/?project={ids['project']}&audio={ids['audio']}"
        f"&presenters={presenters}&engine=warp",
        "/media/",
        f"/media/{ids['video']}/",
        "/team/",
        "/team/new/",
        "/team/webhooks/",
        "/notifications/",
        "/engines/",
        "/accounts/profile/",
        "/accounts/password/",
        "/presenters/999999999/",
    ]


@pytest.mark.parametrize("locale", list(SWEEP_USERS), ids=["en", "zh"])
def test_every_page_passes_the_accessibility_check(locale, new_page, sweep_rows, artifacts):
    """axe-core on every page, signed out and in, in both languages: no serious or critical
    violation (labels, names, contrast, headings, landmarks, ARIA)."""
    page = new_page(locale)
    page.goto("/accounts/login/")
    check_accessibility(page, "login")
    login(page, SWEEP_USERS[locale][0])
    lang = locale[:2]
    for path in sweep_paths(sweep_rows[locale]):
        page.goto(path)
        check_accessibility(page, f"{lang} {path}")
    shot(page, artifacts, f"{lang}-a11y-404")
    assert page.js_errors == []


def test_login_page_and_dashboard_in_english(new_page, stack, artifacts):
    page = new_page("en-US")
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto("/")
    assert "/accounts/login/" in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, artifacts, "en-login")
    login(page)
    assert page.locator("h1").first.inner_text() == "Dashboard"
    assert page.get_by_test_id("queue").is_visible()
    assert page.get_by_test_id("workers").is_visible()
    assert page.get_by_test_id("disk").is_visible()
    shot(page, artifacts, "en-dashboard")
    # Everything the page loaded came from the studio itself: no CDN, no web fonts.
    assert requests and all(url.startswith(stack.base_url) for url in requests), requests
    css = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in css and "Microsoft YaHei" in css
    assert page.js_errors == []
    assert page.csp_violations == []


def test_chinese_browser_gets_chinese_pages(new_page, artifacts):
    page = new_page("zh-CN")
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").first.inner_text() == "登录"
    shot(page, artifacts, "zh-login")
    login(page, "li")
    assert page.locator("h1").first.inner_text() == "仪表盘"
    assert page.get_by_test_id("nav-presenters").inner_text() == "主播"
    shot(page, artifacts, "zh-dashboard")
    page.get_by_test_id("nav-profile").click()
    assert page.locator("h1").first.inner_text() == "个人资料"
    shot(page, artifacts, "zh-profile")


def test_language_switcher_changes_language_and_keeps_page(new_page, stack, artifacts):
    # Its own account: the choice is kept with the account (alice's other tests read the
    # language of their browser).
    stack.create_user("switcher", PASSWORD, "Switchers")
    page = new_page("en-US")
    login(page, "switcher")
    page.get_by_test_id("nav-profile").click()
    assert page.locator("h1").first.inner_text() == "Profile"
    shot(page, artifacts, "en-profile")
    with page.expect_navigation():
        page.get_by_test_id("language-switcher").select_option("zh-hans")
    assert page.url.endswith("/accounts/profile/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").first.inner_text() == "个人资料"
    with page.expect_navigation():
        page.get_by_test_id("language-switcher").select_option("en")
    assert page.locator("h1").first.inner_text() == "Profile"


def test_profile_saves_name(new_page):
    page = new_page("en-US")
    login(page)
    page.goto("/accounts/profile/")
    page.fill("input[name=first_name]", "Alice")
    page.fill("input[name=last_name]", "Zhang")
    page.get_by_test_id("profile-save").click()
    page.wait_for_load_state()
    assert "Your profile was saved." in page.get_by_test_id("messages").inner_text()
    assert page.input_value("input[name=last_name]") == "Zhang"
    assert page.get_by_test_id("nav-profile").inner_text() == "Alice"


def test_keyboard_skip_link_and_narrow_screen_menu(new_page, artifacts):
    page = new_page("en-US", width=800, height=900)
    login(page)
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # On a narrow screen the navigation folds behind a button that the keyboard can open.
    nav_link = page.get_by_test_id("nav-presenters")
    assert not nav_link.is_visible()
    toggle = page.get_by_test_id("nav-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav_link.is_visible()
    shot(page, artifacts, "en-dashboard-narrow-menu")
    page.keyboard.press("Escape")
    assert not nav_link.is_visible()


def test_upload_zone_is_reachable_by_keyboard(new_page, artifacts):
    page = new_page("en-US")
    login(page)
    page.goto("/presenters/")
    target = page.get_by_test_id("upload-input-presenter")
    for _ in range(40):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the file picker is never reached with Tab")
    # The focus shows on the visible button that wraps the hidden input.
    outline = page.locator("label.btn:has([data-testid=upload-input-presenter])").evaluate(
        "el => getComputedStyle(el).outlineStyle"
    )
    assert outline == "solid"
    shot(page, artifacts, "en-presenters-keyboard-focus")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")
    assert chooser.value.is_multiple()


def test_pages_fit_a_laptop_screen_without_sideways_scrolling(new_page, artifacts):
    for width, height in ((1024, 700),):
        page = new_page("zh-CN", width=width, height=height)
        login(page, "li")
        for path in (
            "/",
            "/presenters/",
            "/projects/",
            "/batches/",
            "/batches/new/",
            "/media/",
            "/team/",
            "/accounts/profile/",
        ):
            page.goto(path)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (width, path, overflow)
        page.goto("/")
        shot(page, artifacts, f"zh-dashboard-{width}")


def test_search_shortcut_and_toasts(new_page):
    page = new_page("en-US")
    login(page)
    page.goto("/presenters/")
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.dataset.testid") == "presenter-search"
    page.evaluate("window.HeyGem.toast('Render failed: disk full', 'error', 0)")
    toast = page.get_by_test_id("toast")
    assert toast.inner_text().startswith("Render failed: disk full")
    assert toast.get_attribute("role") == "alert"
    toast.get_by_role("button", name="Close").click()
    assert page.get_by_test_id("toast").count() == 0


def test_the_content_security_policy_is_enforced(new_page, stack):
    """The policy is on (an injected inline script is refused and reported, so the
    no-violation checks of the other tests can fail) and the pages' own code runs under it."""
    page = new_page("en-US")
    response = page.goto("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "camera=()" in response.headers["permissions-policy"]
    assert page.evaluate("document.documentElement.classList.contains('js')"), "early.js ran"
    login(page)
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.__inlineRan = true"; document.body.append(s); }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__inlineRan === undefined")
    assert any("script-src" in v for v in page.csp_violations), page.csp_violations
    page.csp_violations.clear()
    # Texts for scripts arrive as JSON data blocks; the toast's close button is translated.
    assert page.evaluate("window.I18N && window.I18N.close") == "Close"
    # Bar widths come from data-percent through the CSSOM (no style attributes).
    bar = page.locator("[data-testid=disk] .progress-bar[data-percent]")
    percent, width = bar.evaluate("el => [el.dataset.percent, el.style.width]")
    assert width == f"{float(percent):g}%", (percent, width)
    assert page.js_errors == []
