"""Stored media has no public URL: ``/media/<stored name>`` is 404 for everyone, staff included,
with or without DEBUG; files leave only through the views that check the team."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import Resolver404, clear_url_caches, resolve

from .conftest import MARK, body_of

pytestmark = pytest.mark.django_db


def _paths(world) -> list[str]:
    prefixes = [django_settings.MEDIA_URL, django_settings.SENDFILE_URL_PREFIX, "/static/../media/"]
    return [prefix + name for name in world.files for prefix in prefixes]


def test_stored_files_have_no_url_for_anyone(world, owner, viewer, outsider, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.test", "Root-pw-991")
    clients = [Client()]
    for user in (owner, viewer, outsider, root):
        client = Client()
        client.force_login(user)
        clients.append(client)
    for name in world.files:  # the files are there: a 404 below is not a missing file
        assert (Path(django_settings.MEDIA_ROOT) / name).read_bytes().startswith(MARK.encode())
    for url in _paths(world):
        for client in clients:
            r = client.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert MARK.encode() not in body_of(r), url


def _media_paths_resolve(world) -> list[str]:
    found = []
    for name in world.files:
        try:
            resolve(django_settings.MEDIA_URL + name)
        except Resolver404:
            continue
        found.append(name)
    return found


def test_no_url_pattern_serves_media_even_with_debug(world, settings):
    """``static(MEDIA_URL, ...)`` added under ``if settings.DEBUG`` would be caught here."""
    import heygem_site.urls

    assert _media_paths_resolve(world) == []
    settings.DEBUG = True
    try:
        importlib.reload(heygem_site.urls)
        clear_url_caches()
        assert _media_paths_resolve(world) == []
    finally:
        settings.DEBUG = False
        importlib.reload(heygem_site.urls)
        clear_url_caches()


def test_media_root_is_outside_every_static_folder():
    """WhiteNoise serves STATIC_ROOT (and the static dirs) publicly: media must not be in them."""
    media = Path(django_settings.MEDIA_ROOT).resolve()
    static_roots = [
        django_settings.STATIC_ROOT,
        *django_settings.STATICFILES_DIRS,
        getattr(django_settings, "WHITENOISE_ROOT", None),
    ]
    for root in filter(None, static_roots):
        root = Path(root).resolve()
        assert not media.is_relative_to(root) and not root.is_relative_to(media), root
