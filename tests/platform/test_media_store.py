"""The media-store mark: a worker whose MEDIA_ROOT is not the web host's media directory (a
missing mount on a second host) refuses to start instead of failing every render."""

from __future__ import annotations

import django_rq
import pytest

from studio.models import Presenter
from studio.services.storage import MEDIA_STORE_MARKER, mark_media_store, media_store_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def unmounted(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "not-mounted"
    return settings.MEDIA_ROOT


def test_a_fresh_install_has_nothing_to_miss(unmounted):
    assert media_store_problem() is None


def test_a_folder_without_the_mark_is_not_the_store_once_there_is_media(unmounted, team, member):
    Presenter.objects.create(team=team, name="p", file="presenters/p.mp4", created_by=member)
    problem = media_store_problem()
    assert problem and "is not the studio's media store" in problem and str(unmounted) in problem
    mark_media_store()
    assert (unmounted / MEDIA_STORE_MARKER).is_file()
    assert media_store_problem() is None


def test_the_library_marks_the_store_when_it_stores_a_file(
    unmounted, team, member, media_files, use_redis
):
    from studio.actor import Actor
    from studio.services import library

    library.create_presenter(Actor.of(member), team, str(media_files.png), "face.png", move=False)
    assert (unmounted / MEDIA_STORE_MARKER).is_file()


def test_a_worker_refuses_to_start_without_the_store(unmounted, team, member, use_redis, settings):
    settings.LIPSYNC_DEVICE = "cpu"
    Presenter.objects.create(team=team, name="p", file="presenters/p.mp4", created_by=member)
    worker = django_rq.get_worker("gpu")
    with pytest.raises(SystemExit, match="not the studio's media store"):
        worker.work(burst=True)
