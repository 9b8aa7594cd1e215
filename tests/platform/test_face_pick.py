"""Choosing the face in the studio: the face check records the faces it saw, the presenter page
shows them, a pick is stored and the presenter prepared again by a real worker, and the render
animates the chosen face only (the other's pixels stay the presenter's). The API too."""

from __future__ import annotations

import shutil

import av
import django_rq
import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from rendering.models import TaskStatus
from rendering.services import batches as batch_service
from studio.actor import Actor
from studio.models import AudioTrack, AuditEvent, MediaStatus, Presenter, Project
from tests.api.client import ApiClient, new_token
from tests.engine import mediagen
from tests.engine.facegen import two_faces

from .helpers import chunked_upload

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker(*queues: str) -> None:
    django_rq.get_worker(*queues).work(burst=True)


@pytest.fixture
def studio(use_redis, media_root, settings, tmp_path, member, member_client, team):
    """The two-face picture uploaded and checked by a real cpu worker; a speech track."""
    settings.LIPSYNC_DEVICE = "cpu"
    image, boxes = two_faces()
    path = tmp_path / "两人 two.png"
    Image.fromarray(image).save(path)
    response = chunked_upload(member_client, path)
    assert response.status_code == 201, response.content
    run_worker("cpu")
    presenter = Presenter.objects.get(pk=response.json()["object"]["id"])
    project = Project.objects.create(team=team, name="Lesson", created_by=member)
    speech = mediagen.make_speech_wav(tmp_path / "speech.wav", seconds=1.6)
    rel = f"audio/{team.pk}/speech.wav"
    (media_root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(speech, media_root / rel)
    audio = AudioTrack.objects.create(
        project=project,
        name="Speech",
        file=rel,
        original_filename="speech.wav",
        duration_s=1.6,
        status=MediaStatus.READY,
        created_by=member,
    )
    return presenter, audio, image, boxes


def _render(member, presenter, audio):
    batch = batch_service.create_batch(
        Actor.of(member),
        batch_service.BatchSpec(project=audio.project, audios=[audio], presenters=[presenter]),
    )
    run_worker("gpu")
    task = batch.tasks.get()
    assert task.status == TaskStatus.SUCCEEDED, task.error_message
    with av.open(task.output.path) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _mouth_moves(frames, box) -> float:
    """Largest mean change of the lower third of ``box`` from the first frame."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    y0 += 2 * (y1 - y0) // 3
    first = frames[0][y0:y1, x0:x1].astype(np.float32)
    return max(float(np.abs(f[y0:y1, x0:x1] - first).mean()) for f in frames)


def test_pick_a_face_on_the_page_and_every_render_animates_it(
    studio, member, member_client, viewer_client
):
    presenter, audio, _image, boxes = studio
    assert presenter.status == MediaStatus.READY, presenter.error_message
    seen = presenter.faces_seen
    assert len(seen["boxes"]) == 2 and seen["people"] == 2 and seen["tracked"] == 2
    assert presenter.several_faces and presenter.faces_image
    page = member_client.get(reverse("presenter_detail", args=[presenter.pk])).content.decode()
    assert page.count('data-testid="face-box"') == 2
    assert "2 people are in this presenter." in page and "Face 2 is animated" in page
    image = member_client.get(reverse("presenter_faces_image", args=[presenter.pk]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    # Without a choice the larger face on the right speaks.
    frames = _render(member, presenter, audio)
    assert _mouth_moves(frames, boxes[1]) > 5 and _mouth_moves(frames, boxes[0]) < 1

    # A viewer may look but not choose.
    url = reverse("presenter_pick_face", args=[presenter.pk])
    assert viewer_client.post(url, {"face": "1"}).status_code in (403, 404)
    # A member chooses face 1; the presenter is prepared again in the background.
    response = member_client.post(url, {"face": "1"})
    assert response.status_code == 302
    presenter.refresh_from_db()
    assert presenter.face_pick_number == 1 and presenter.status == MediaStatus.PROCESSING
    assert AuditEvent.objects.filter(action="updated", data__face=1).exists()
    run_worker("cpu")
    presenter.refresh_from_db()
    assert presenter.status == MediaStatus.READY
    page = member_client.get(reverse("presenter_detail", args=[presenter.pk])).content.decode()
    assert "Face 1 is animated (your choice)." in page
    # Every later render animates the left face; the right one keeps its pixels.
    frames = _render(member, presenter, audio)
    assert _mouth_moves(frames, boxes[0]) > 5 and _mouth_moves(frames, boxes[1]) < 1
    # A face that is not there is refused with the reason; nothing changes.
    response = member_client.post(url, {"face": "7"}, follow=True)
    assert "There is no face 7: the check saw 2." in response.content.decode()
    # Not a number at all ("²" passes str.isdigit, int() refuses it): refused the same way.
    response = member_client.post(url, {"face": "²"}, follow=True)
    assert response.status_code == 200
    assert "Choose one of the numbered faces." in response.content.decode()
    presenter.refresh_from_db()
    assert presenter.face_pick_number == 1 and presenter.status == MediaStatus.READY


def test_the_api_shows_the_faces_and_a_render_token_picks_one(studio, member, team):
    presenter, _audio, _image, _boxes = studio
    api = ApiClient(new_token(member, team)[1])
    data = api.get(f"/api/v1/presenters/{presenter.pk}/").json()
    assert data["faces"]["people"] == 2 and data["faces"]["picked"] is None
    assert [b["animated"] for b in data["faces"]["boxes"]] == [False, True]
    reader = ApiClient(new_token(member, team, scopes=("read",))[1])
    refused = reader.post(f"/api/v1/presenters/{presenter.pk}/face/", {"face": 1})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "scope_required"
    bad = api.post(f"/api/v1/presenters/{presenter.pk}/face/", {"face": 3})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "face"
    done = api.post(f"/api/v1/presenters/{presenter.pk}/face/", {"face": 1})
    assert done.status_code == 202 and done.json()["faces"]["picked"] == 1
    run_worker("cpu")
    data = api.get(f"/api/v1/presenters/{presenter.pk}/").json()
    assert data["status"] == "ready"
    assert [b["animated"] for b in data["faces"]["boxes"]] == [True, False]
    back = api.post(f"/api/v1/presenters/{presenter.pk}/face/", {"face": None})
    assert back.status_code == 202 and back.json()["faces"]["picked"] is None
