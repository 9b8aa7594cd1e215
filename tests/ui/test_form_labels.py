"""Form labels end in the reader's colon: ASCII in English, full-width in Chinese."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.forms import PasswordChangeForm
from django.urls import reverse
from django.utils import translation

from studio.forms import TeamForm

pytestmark = pytest.mark.django_db


def labels(html: str) -> list[str]:
    """Texts of the form's labels (Django's ``label_tag``: ``for="id_..."``)."""
    return re.findall(r'<label for="id_[^"]*">([^<]*)</label>', html)


def test_project_form_labels_use_the_full_width_colon_in_chinese(member_client):
    url = reverse("project_create")
    zh = labels(member_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode())
    en = labels(member_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert zh and all(text.endswith("：") for text in zh), zh
    assert en and all(text.endswith(":") for text in en), en


def test_every_form_takes_the_suffix_of_the_active_language(member):
    with translation.override("zh-hans"):
        assert TeamForm()["name"].label_tag().endswith("：</label>")
        assert PasswordChangeForm(member)["old_password"].label_tag().endswith("：</label>")
    with translation.override("en"):
        assert TeamForm()["name"].label_tag().endswith(":</label>")
