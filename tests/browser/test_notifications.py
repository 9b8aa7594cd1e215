"""A batch rendered by the stack's real worker finishes while its owner works on another page:
the header's count goes up without a reload, a desktop notification is shown (permission
granted to the browser; ``window.Notification`` is wrapped to see the call), the
notifications page lists it and marks it read, and it is e-mailed (the stack writes e-mails to
files: EMAIL_BACKEND filebased) in the language kept on the account. Both languages."""

from __future__ import annotations

import email
from email.header import decode_header, make_header

import pytest

from .conftest import login, shot
from .seed import seed

LANGS = {
    "en": {
        "locale": "en-US",
        "title": "Batch “Evening news” is ready",
        "body": "All 1 videos are finished and can be downloaded.",
        "desktop_on": "Desktop notifications are on for this browser.",
    },
    "zh": {
        "locale": "zh-CN",
        "title": "批次“Evening news”已完成",
        "body": "全部 1 个视频已完成，可以下载。",
        "desktop_on": "此浏览器的桌面通知已开启。",
    },
}

#: Records every desktop notification the page makes (the real one is still made).
SPY = """
window.__desktop = [];
if (window.Notification) {
  const Real = window.Notification;
  const Spy = function (title, options) {
    window.__desktop.push({ title, body: (options || {}).body || "" });
    return new Real(title, options);
  };
  Object.defineProperty(Spy, "permission", { get: () => Real.permission });
  Spy.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Spy;
}
"""

SETUP = """
from studio.services import people
from rendering.services.batches import BatchSpec
owner, team = user(P["name"], P["team"])
if P["lang"] == "zh":
    people.set_language(owner, "zh-hans")
project = Project.objects.create(team=team, name="News")
p = presenter(team, "Anna", P["clip"])
a = audio(team, "Tonight", P["voice"], project=project)
OUT.update(project=project.pk, presenter=p.pk, audio=a.pk)
"""

SUBMIT = """
from rendering.services.batches import BatchSpec, create_batch
owner = User.objects.get(username=P["name"])
project = Project.objects.get(pk=P["project"])
batch = create_batch(Actor.of(owner), BatchSpec(
    project=project, audios=[AudioTrack.objects.get(pk=P["audio"])],
    presenters=[Presenter.objects.get(pk=P["presenter"])], name="Evening news"))
OUT["batch"] = batch.pk
"""


def _mails(stack, address: str) -> list[email.message.Message]:
    folder = stack.root / "mail"
    found = []
    for path in sorted(folder.glob("*.log")) if folder.exists() else []:
        for chunk in path.read_bytes().split(b"-" * 79):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.strip())
            if address in (message.get("To") or ""):
                found.append(message)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("lang", list(LANGS))
def test_finished_batch_reaches_its_owner(lang, new_page, stack, test_media, artifacts):
    t = LANGS[lang]
    name = f"news-{lang}"
    made = seed(
        stack,
        SETUP,
        name=name,
        team=f"Newsroom {lang}",
        lang=lang,
        clip=test_media["presenters"][0],
        voice=test_media["audio"],
    )
    page = new_page(t["locale"])
    page.context.grant_permissions(["notifications"], origin=stack.base_url)
    page.context.add_init_script(SPY)
    login(page, name)
    page.goto("/notifications/")
    assert page.get_by_test_id("desktop-state").inner_text() == t["desktop_on"]
    assert page.get_by_test_id("notification-count").is_hidden()
    page.get_by_test_id("nav-presenters").click()
    page.evaluate("window.__sameDocument = true")

    made.update(seed(stack, SUBMIT, name=name, **made))
    # The person stays on the presenters page; the finished batch comes to them.
    page.wait_for_function(
        "() => document.querySelector('[data-testid=notification-count]').textContent === '1'"
        " && !document.querySelector('[data-testid=notification-count]').hidden",
        timeout=240_000,
    )
    assert page.evaluate("window.__sameDocument === true"), "no reload"
    page.wait_for_function("() => window.__desktop.length === 1", timeout=10_000)
    desktop = page.evaluate("window.__desktop[0]")
    assert desktop == {"title": t["title"], "body": t["body"]}, desktop
    assert t["title"] in page.get_by_test_id("toast").first.inner_text()
    shot(page, artifacts, f"{lang}-notification-arrived")

    page.get_by_test_id("nav-notifications").click()
    item = page.get_by_test_id("notification").first
    assert item.get_attribute("data-read") == "0"
    assert t["title"] in item.inner_text() and t["body"] in item.inner_text()
    assert item.get_by_test_id("notification-link").get_attribute("href") == (
        f"/batches/{made['batch']}/"
    )
    shot(page, artifacts, f"{lang}-notifications-page")
    with page.expect_navigation():
        item.get_by_test_id("notification-read").click()
    assert page.get_by_test_id("notification").first.get_attribute("data-read") == "1"
    assert page.get_by_test_id("notification-count").is_hidden()

    # The e-mail, in the account's language, links to the batch.
    mails = _mails(stack, f"{name}@example.org")
    assert len(mails) == 1, [m.get("Subject") for m in mails]
    subject = str(make_header(decode_header(mails[0]["Subject"])))
    assert subject == t["title"]
    body = mails[0].get_payload(decode=True).decode("utf-8")
    assert f"/batches/{made['batch']}/" in body and t["body"] in body
    assert page.js_errors == []
