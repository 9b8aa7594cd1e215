"""The page frame every view shares: navigation, team switcher, messages, accessibility."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

NAV = ["dashboard", "presenters", "projects", "batches", "media", "team", "profile"]


def test_navigation_links_every_section_and_marks_the_current_one(member_client):
    html = member_client.get(reverse("presenter_list")).content.decode()
    for name in NAV:
        assert f'data-testid="nav-{name}"' in html, name
    current = re.findall(r'<a href="([^"]+)" data-testid="nav-(\w+)" aria-current="page"', html)
    assert current == [(reverse("presenter_list"), "presenters")]
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    assert 'data-testid="logout"' in html


def test_team_switcher_appears_for_people_in_several_teams(member_client, member, other_team):
    from studio.models import Membership

    single = member_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="team-switcher"' not in single
    assert 'data-testid="current-team"' in single
    Membership.objects.create(team=other_team, user=member, role="viewer")
    html = member_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="team-switcher"' in html
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', html)
    assert {name for _, name in options} >= {"Training", "Elsewhere"}
    response = member_client.post(
        reverse("switch_team"), {"team": other_team.pk, "next": reverse("dashboard")}
    )
    assert response.status_code == 302
    page = member_client.get(reverse("dashboard"))
    assert page.context["team"] == other_team
    assert "Switched to Elsewhere." in page.content.decode()


def test_login_page_has_the_language_switcher_but_no_navigation(client):
    html = client.get(reverse("login")).content.decode()
    assert 'data-testid="language-switcher"' in html
    assert 'data-testid="nav-dashboard"' not in html


def test_missing_and_forbidden_pages_use_the_studio_frame(outsider_client, viewer_client, team):
    from studio.models import Project

    project = Project.objects.create(team=team, name="Internal")
    missing = outsider_client.get(
        reverse("project_detail", args=[project.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert missing.status_code == 404
    html = missing.content.decode()
    assert 'data-testid="not-found"' in html and "这个页面不存在" in html
    assert "Internal" not in html
    forbidden = viewer_client.post(reverse("project_edit", args=[project.pk]), {"name": "x"})
    assert forbidden.status_code == 403
    assert 'data-testid="forbidden"' in forbidden.content.decode()
    assert "Your role in this team does not allow this." in forbidden.content.decode()
