"""The create-account form keeps what was typed when it is refused (never the password) and
says why in the page's language, Django's password rules included; the language chosen on the
profile is kept with the account, so another browser gets it too. Both languages."""

from __future__ import annotations

import pytest

from .conftest import login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "other": "zh-hans",
        "short": "This password is too short. It must contain at least 8 characters.",
        "common": "This password is too common.",
        "h1_other": "个人资料",
        "lang_other": "zh-hans",
    },
    "zh": {
        "locale": "zh-CN",
        "other": "en",
        "short": "密码长度太短。密码必须包含至少 8 个字符。",
        "common": "这个密码太常见了。",
        "h1_other": "Profile",
        "lang_other": "en",
    },
}


@pytest.mark.parametrize("lang", list(LANGS))
def test_refused_account_form_keeps_the_fields(lang, new_page, stack, artifacts):
    t = LANGS[lang]
    seed(stack, "user(P['name'], P['team'])", name=f"adm-{lang}", team=f"Accounts {lang}")
    page = new_page(t["locale"])
    login(page, f"adm-{lang}")
    page.goto("/team/")
    form = page.get_by_test_id("add-member-form")
    form.locator("input[name=username]").fill(f"newbie-{lang}")
    form.locator("input[name=email]").fill(f"newbie-{lang}@example.org")
    form.locator("input[name=password]").fill("1234")
    form.locator("select[name=role]").select_option("viewer")
    with page.expect_navigation():
        page.get_by_test_id("add-member-submit").click()
    form = page.get_by_test_id("add-member-form")
    assert form.locator("input[name=username]").input_value() == f"newbie-{lang}"
    assert form.locator("input[name=email]").input_value() == f"newbie-{lang}@example.org"
    assert form.locator("select[name=role]").input_value() == "viewer"
    assert form.locator("input[name=password]").input_value() == ""
    errors = page.get_by_test_id("add-member-error-password").inner_text()
    assert t["short"] in errors and t["common"] in errors, errors
    if lang == "zh":
        assert "password" not in errors.lower()
    shot(page, artifacts, f"{lang}-create-account-refused")
    # A good password: the account is made, the form is empty again.
    page.get_by_test_id("add-member-form").locator("input[name=password]").fill(
        "Vivid-Lantern-8841"
    )
    with page.expect_navigation():
        page.get_by_test_id("add-member-submit").click()
    assert page.get_by_test_id(f"member-row-newbie-{lang}").count() == 1
    assert (
        page.get_by_test_id("add-member-form").locator("input[name=username]").input_value() == ""
    )
    assert page.js_errors == []


@pytest.mark.parametrize("lang", list(LANGS))
def test_language_is_kept_with_the_account(lang, new_page, stack, artifacts):
    t = LANGS[lang]
    seed(stack, "user(P['name'], P['team'])", name=f"poly-{lang}", team=f"Polyglots {lang}")
    first = new_page(t["locale"])
    login(first, f"poly-{lang}")
    first.goto("/accounts/profile/")
    with first.expect_navigation():
        first.get_by_test_id("language-switcher").select_option(t["other"])
    assert first.locator("html").get_attribute("lang") == t["lang_other"]
    # Another browser, whose own language is the first one's: the account's choice wins.
    second = new_page(t["locale"])
    login(second, f"poly-{lang}")
    second.goto("/accounts/profile/")
    assert second.locator("html").get_attribute("lang") == t["lang_other"]
    assert second.locator("h1").first.inner_text() == t["h1_other"]
    shot(second, artifacts, f"{lang}-language-from-the-account")
    # Logging out keeps the page in that language (the cookie follows the account).
    second.get_by_test_id("logout").click()
    second.wait_for_url("**/accounts/login/")
    assert second.locator("html").get_attribute("lang") == t["lang_other"]
    assert first.js_errors == [] and second.js_errors == []
