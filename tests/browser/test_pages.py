"""Page-level browser checks: login, dashboard, profile, language choice, keyboard, no CDN."""

from __future__ import annotations

from .conftest import PASSWORD, login, shot


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
