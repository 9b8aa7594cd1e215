"""The profile page and the language choice."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_profile_shows_teams_and_roles(member_client, team, other_team, member):
    response = member_client.get(reverse("profile"))
    assert response.status_code == 200
    memberships = list(response.context["memberships"])
    assert [(m.team.name, m.role) for m in memberships] == [("Training", "member")]
    assert "Elsewhere" not in response.content.decode()


def test_profile_saves_names_and_email(member_client, member):
    response = member_client.post(
        reverse("profile"),
        {"first_name": "Mia", "last_name": "Chen", "email": "mia.chen@example.test"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.email) == (
        "Mia",
        "Chen",
        "mia.chen@example.test",
    )


def test_profile_rejects_a_bad_email(member_client, member):
    response = member_client.post(
        reverse("profile"), {"first_name": "Mia", "last_name": "", "email": "not an address"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    member.refresh_from_db()
    assert member.email == "mia@example.test"


def test_profile_needs_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_browser_language_is_the_default(member_client):
    en = member_client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    zh = member_client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert '<html lang="en">' in en.content.decode()
    assert '<html lang="zh-hans">' in zh.content.decode()
    assert "个人资料" in zh.content.decode()


def test_language_switcher_overrides_the_browser(member_client):
    response = member_client.post(
        reverse("set_language"),
        {"language": "zh-hans", "next": reverse("profile")},
        HTTP_ACCEPT_LANGUAGE="en-US",
    )
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    page = member_client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="en-US")
    html = page.content.decode()
    assert '<html lang="zh-hans">' in html
    # The switcher in the navigation shows the current choice and posts with CSRF.
    assert 'data-testid="language-switcher"' in html
    assert '<option value="zh-hans" lang="zh-hans" selected>' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_every_page_links_its_static_files_locally(member_client):
    html = member_client.get(reverse("profile")).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|svg))"', html)
    assert len(assets) >= 3
    assert [url for url in assets if not url.startswith("/static/")] == []
