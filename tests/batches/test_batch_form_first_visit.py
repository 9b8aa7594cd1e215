"""The first visit of "New batch" is fast: the page does not import the engines (PyTorch).

It took 3.9 s because the engine list imported every engine module (``wav2lip`` and
``musetalk15`` import PyTorch) to ask each whether its weights are installed. The list now
comes from the model manifest and the files present (``rendering.services.engines.engine_choices``
over ``lipsync.models.manager.engine_status``).
A fresh interpreter (a new web process) renders the page and reports what it imported; timing
is not asserted here (the machine is shared), the slow thing is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from studio.models import AudioTrack, MediaStatus, Presenter, Project, Tag

REPO = Path(__file__).resolve().parents[2]

#: What a new web process does: set up Django, log in, open the page, create a batch.
FIRST_VISIT = """
import json, re, sys
from django.conf import settings
# The test run has no collected static files: plain storage.
plain = "django.contrib.staticfiles.storage.StaticFilesStorage"
settings.STORAGES["staticfiles"]["BACKEND"] = plain
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(HTTP_HOST="localhost")
client.force_login(get_user_model().objects.get(username=sys.argv[1]))
page = client.get("/batches/new/")
estimate = client.get("/batches/estimate.json", {"audio": sys.argv[2], "presenters": "3"})
heavy = ["torch", "lipsync.engines.warp", "lipsync.engines.wav2lip", "lipsync.engines.musetalk15",
         "lipsync.models.wav2lip", "lipsync.models.musetalk"]
print(json.dumps({"status": page.status_code, "estimate": estimate.status_code,
                  "engines": re.findall(r'<option [^>]*data-testid="engine-([\\w-]+)"',
                                        page.content.decode()),
                  "imported": [m for m in heavy if m in sys.modules]}))
"""


@pytest.mark.django_db(transaction=True)
def test_new_batch_page_imports_no_engine_in_a_fresh_web_process(
    member, team, media_root, subprocess_env
):
    project = Project.objects.create(team=team, name="Course")
    audio = AudioTrack.objects.create(
        project=project,
        name="intro",
        file="audio/i.wav",
        original_filename="i.wav",
        status=MediaStatus.READY,
        duration_s=4.0,
    )
    for i in range(3):
        Presenter.objects.create(
            team=team, name=f"P{i}", file=f"presenters/{i}.mp4", original_filename="p.mp4"
        )
    done = subprocess.run(
        [sys.executable, "-c", FIRST_VISIT, member.username, str(audio.pk)],
        cwd=REPO,
        env={**subprocess_env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 200 and report["estimate"] == 200, report
    # Every engine is listed, the default first.
    assert report["engines"] == ["warp", "musetalk15", "wav2lip"], report
    assert report["imported"] == [], report


def test_engine_usability_comes_from_the_files_not_the_modules(tmp_path, monkeypatch):
    """The batch form's choices give the engines' own answers, judged by the manifest."""
    from lipsync.engines import get_engine_class
    from rendering.services.engines import engine_choices

    def usable() -> dict[str, bool]:
        return {c.name: c.usable for c in engine_choices()}

    monkeypatch.setenv("LIPSYNC_MODEL_DIR", str(tmp_path))
    assert usable() == {"warp": True, "musetalk15": False, "wav2lip": False}
    (tmp_path / "wav2lip_gan.pth").write_bytes(b"x")
    assert usable()["wav2lip"] == get_engine_class("wav2lip").weights_available() is True


def test_new_batch_page_queries_do_not_grow_with_the_library(
    member_client, team, django_assert_max_num_queries
):
    """300 presenters with tags: the picker costs the same queries as 3."""
    project = Project.objects.create(team=team, name="Course")
    AudioTrack.objects.create(
        project=project,
        name="intro",
        file="audio/i.wav",
        original_filename="i.wav",
        status=MediaStatus.READY,
        duration_s=4.0,
    )
    tags = [Tag.objects.create(team=team, name=n) for n in ("math", "sales")]

    def add(n: int, start: int) -> None:
        rows = Presenter.objects.bulk_create(
            Presenter(
                team=team,
                name=f"Presenter {start + i}",
                file=f"presenters/{start + i}.mp4",
                original_filename="p.mp4",
                status=MediaStatus.READY,
                thumbnail=f"thumbs/{start + i}.jpg",
            )
            for i in range(n)
        )
        through = Presenter.tags.through
        through.objects.bulk_create(
            through(presenter_id=p.pk, tag_id=tags[p.pk % 2].pk) for p in rows
        )

    url = reverse("batch_create")
    add(3, 0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert member_client.get(url).status_code == 200
    add(297, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = member_client.get(url).content.decode()
    assert html.count('data-testid="presenter-choice"') == 300
    # Thumbnails only, loaded lazily: no video element per presenter.
    assert "<video" not in html
