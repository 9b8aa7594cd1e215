"""Content-Security-Policy and Permissions-Policy on every page, and pages that live with them.

The browser tests (tests/browser/) run the pages under this policy and fail on any violation;
here: the headers themselves, and every HTML page of the team (owner's view of a world with one
row of every kind) carries no inline script, inline style or event-handler attribute the
policy would block.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.conftest import body_of
from tests.security.urlmap import TEAM_URLS

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_pages_carry_a_strict_policy(client):
    response = client.get(reverse("login"))
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"] and csp["base-uri"] == ["'self'"]
    assert csp["media-src"] == ["'self'"]
    # The live batch page's websocket: this very origin, by name for pre-CSP-3 browsers.
    assert csp["connect-src"] == ["'self'", "ws://testserver"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    policy = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy
    assert "fullscreen=(self)" in policy and "picture-in-picture=(self)" in policy


def test_websocket_source_follows_https(client):
    response = client.get(reverse("login"), secure=True)
    assert directives(response)["connect-src"] == ["'self'", "wss://testserver"]


def test_only_the_rq_dashboard_allows_inline_code(admin_user, use_redis):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 200
    assert "'unsafe-inline'" not in admin["Content-Security-Policy"]
    # Third-party staff pages with inline scripts (django-rq's templates).
    rq = client.get("/admin/rq/")
    csp = directives(rq)
    assert "'unsafe-inline'" in csp["script-src"] and "'unsafe-inline'" in csp["style-src"]


class InlineCode(HTMLParser):
    """Collects what a script-src/style-src 'self' policy without 'unsafe-inline' blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _value in attrs:
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and (
                _value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names:
            kind = (names.get("type") or "").lower()
            self._in_script = kind
            if kind not in ("application/json",):
                self.found.append(f"<script type={kind!r}> without src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def test_the_parser_finds_what_the_policy_blocks():
    """The check below can fail: each kind of inline code is found."""
    html = (
        '<div style="x"></div><a onclick="f()"></a><script>f()</script><style>a{}</style>'
        '<a href="javascript:f()"></a><script type="application/json">{}</script>'
        '<script src="/static/a.js"></script>'
    )
    assert len(inline_code(html)) == 5


def test_every_page_of_the_team_has_no_inline_code(world, owner):
    client = Client()
    client.force_login(owner)
    pages = 0
    for name, spec in TEAM_URLS.items():
        if "GET" not in spec.methods:
            continue
        url = (
            reverse(name)
            if spec.obj is None
            else reverse(name, kwargs={"pk": getattr(world, spec.obj).pk})
        )
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        assert "Content-Security-Policy" in response, name
        found = inline_code(body_of(response).decode())
        assert not found, (name, found)
    anonymous = Client().get(reverse("login"))
    assert not inline_code(anonymous.content.decode())
    assert pages >= 15, pages


def test_templates_and_scripts_keep_no_inline_code():
    """Also the templates' branches no page above happened to render (error pages...)."""
    for path in sorted((REPO / "templates").rglob("*.html")):
        found = inline_code(path.read_text())
        assert not found, (str(path.relative_to(REPO)), found)
    for path in sorted((REPO / "static" / "js").rglob("*.js")):
        text = path.read_text()
        assert "style=" not in text and 'setAttribute("style"' not in text, path.name
        assert "eval(" not in text and "new Function" not in text, path.name
