"""Fixtures of the browser tests: the running stack, Debian's Chromium, test media."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .stack import REPO, Stack, make_stack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
PASSWORD = "correct horse battery staple 42"

#: Reports each ``securitypolicyviolation`` event of a document to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__reportCsp(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} ` +
    `at ${e.sourceFile || location.href}:${e.lineNumber} (${e.sample || ""})`);
});
"""


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def stack(tmp_path_factory, redis_server) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    running = make_stack(root, redis_server.url)
    try:
        running.start()
        running.create_user("alice", PASSWORD, "Training team")
        running.create_user("li", PASSWORD, "培训部")
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, stack, request) -> Callable:
    """Open a page in a fresh browser context with the given browser language."""
    contexts = []
    pages: list = []

    def make(locale: str = "en-US", width: int = 1366, height: int = 860):
        context = chromium.new_context(
            base_url=stack.base_url,
            locale=locale,
            accept_downloads=True,
            viewport={"width": width, "height": height},
            extra_http_headers={"Accept-Language": f"{locale},{locale.split('-')[0]};q=0.9"},
        )
        # Generous: the machine running the suite may be busy with other work.
        context.set_default_timeout(30_000)
        context.set_default_navigation_timeout(60_000)
        contexts.append(context)
        # Every Content-Security-Policy violation of every document the context opens: the
        # DOM event (reported through a binding, so it survives navigations) and Chromium's
        # console message.
        violations: list[str] = []
        context.expose_binding("__reportCsp", lambda source, text: violations.append(text))
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.js_errors = errors
        page.csp_violations = violations
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.log_tail())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for n, context in enumerate(contexts):
            for m, page in enumerate(context.pages):
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{name}-{n}-{m}.png"), full_page=True)
    for context in contexts:
        context.close()
    if report is not None and report.passed:
        seen = [v for page in pages for v in page.csp_violations]
        assert not seen, f"Content-Security-Policy violations: {seen}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(scope="session")
def test_media(tmp_path_factory) -> dict[str, Path]:
    """Two tiny presenter clips (the astronaut face) and a short spoken audio track."""
    from tests.engine.mediagen import make_speech_wav, make_video

    root = tmp_path_factory.mktemp("browser_media")
    first = make_video(root / "anna.mp4", seconds=1.2, fps=25, size=(320, 240), seed=1).path
    second = make_video(root / "ben.mp4", seconds=1.0, fps=25, size=(320, 240), seed=2).path
    voice = make_speech_wav(root / "welcome.wav", text="Hello and welcome.", seconds=1.6)
    return {"presenters": [first, second], "audio": voice}


#: axe-core (npm, MPL-2.0), served from static/ like any script of the studio, so the pages'
#: Content-Security-Policy lets it run (see README, "Accessibility").
AXE_URL = "/static/vendor/axe-core/axe.min.js"
#: Impacts that fail a page (axe's scale: minor, moderate, serious, critical).
AXE_FAILING = ("serious", "critical")
AXE_RUN = """async () => {
  const result = await window.axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => n.target.join(" ") + " :: " +
      (n.failureSummary || "").replace(/\\s+/g, " ")),
  }));
}"""


def check_accessibility(page, where: str = "") -> list[dict]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation.

    Returns every violation (minor and moderate ones too) for the caller to look at."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(url=AXE_URL)
    violations = page.evaluate(AXE_RUN)
    failing = [v for v in violations if v["impact"] in AXE_FAILING]
    assert not failing, f"accessibility of {where or page.url}:\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']}\n" + "\n".join(f"      {n}" for n in v["nodes"])
        for v in failing
    )
    return violations


def login(page, username: str = "alice", password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.locator("form[data-testid=login-form] [type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def choose_files(page, test_id: str, files) -> None:
    """Choose ``files`` in an upload zone's file input once the page's upload script has bound
    it (``data-upload-ready``): a choice made before would be lost on a slow machine."""
    page.wait_for_selector("[data-upload-zone][data-upload-ready]", state="attached")
    page.get_by_test_id(test_id).set_input_files(files)


def shot(page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
