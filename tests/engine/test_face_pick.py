"""Choosing the face when a presenter shows several people: the survey of the faces, and the
CLI's --face (a number counted from the left, or a point) animating that face only."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from lipsync.cli import main
from lipsync.faces.survey import pick_point, survey_faces, tracked_number
from lipsync.track import prepare_track
from tests.engine import mediagen
from tests.engine.facegen import two_faces


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two-faces")
    image, boxes = two_faces()
    path = tmp / "two.png"
    Image.fromarray(image).save(path)
    speech = mediagen.make_speech_wav(tmp / "speech.wav", seconds=2.0)
    return path, image, boxes, speech, tmp


def mouth_change(frames: list[np.ndarray], image: np.ndarray, box) -> tuple[float, float]:
    """(largest mean difference from the presenter, largest mean difference from the first
    output frame) over the frames, in the lower third of a face's box."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    y0 = y0 + 2 * (y1 - y0) // 3
    ref = image[y0:y1, x0:x1].astype(np.float32)
    first = frames[0][y0:y1, x0:x1].astype(np.float32)
    crops = [f[y0:y1, x0:x1].astype(np.float32) for f in frames]
    return (
        max(float(np.abs(c - ref).mean()) for c in crops),
        max(float(np.abs(c - first).mean()) for c in crops),
    )


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_the_survey_sees_both_people_left_to_right(two):
    path, _image, boxes, _speech, tmp = two
    survey = survey_faces(path)
    assert survey is not None and survey.several and survey.people == 2
    assert len(survey.boxes) == 2
    for found, true in zip(survey.boxes, boxes):
        assert _iou(found, true) > 0.5
    data = survey.to_dict()
    assert data["width"] == 640 and data["height"] == 360 and len(data["boxes"]) == 2
    # The automatic choice follows the larger face (the right one); a pick on the left
    # face's centre follows that one, and the cache keeps both tracks apart.
    auto = prepare_track(path, cache=tmp / "cache")
    assert tracked_number(survey, auto.boxes, auto.present) == 2
    left = prepare_track(path, cache=tmp / "cache", pick=pick_point(survey.boxes[0]))
    assert tracked_number(survey, left.boxes, left.present) == 1


def test_a_second_person_who_comes_in_later_is_seen(tmp_path):
    from tests.engine.facegen import background, face_crop, paste, write_clip

    image, _boxes = two_faces()
    alone = paste(background(640, 360, seed=3), face_crop(1.0), 40.0, 70.0)
    clip = write_clip(tmp_path / "enters.mp4", [alone] * 25 + [image] * 25)
    survey = survey_faces(clip)
    assert survey is not None and survey.people == 2 and len(survey.boxes) == 2
    assert survey.frame_index >= 25  # the frame showing both
    assert survey.frames_sampled > 1


def test_one_person_is_not_several(tmp_path):
    photo = mediagen.make_image(tmp_path / "one.png", size=(320, 360))
    survey = survey_faces(photo)
    assert survey is not None and survey.people == 1 and not survey.several


@pytest.mark.parametrize(("face", "animated"), [("1", 0), ("2", 1), ("150,165", 0)])
def test_cli_animates_the_chosen_face_only(two, face, animated, capsys):
    path, image, boxes, speech, tmp = two
    out = tmp / f"out-{face.replace(',', '_')}"
    args = ["render", "--audio", str(speech), "--video", str(path), "--out", str(out)]
    code = main([*args, "--cache-dir", str(tmp / "cache"), "--seconds", "1.5", "--face", face])
    assert code == 0, capsys.readouterr()
    frames = decode(next(Path(out).glob("*.mp4")))
    still = 1 - animated
    from_source, moving = mouth_change(frames, image, boxes[animated])
    assert from_source > 6.0 and moving > 5.0
    from_source, moving = mouth_change(frames, image, boxes[still])
    assert from_source < 4.0 and moving < 1.0  # encoding noise only, the same in every frame


def test_cli_says_when_several_people_are_seen_and_refuses_a_face_that_is_not_there(two, capsys):
    path, _image, _boxes, speech, tmp = two
    args = ["render", "--audio", str(speech), "--video", str(path), "--seconds", "1"]
    assert main([*args, "--out", str(tmp / "auto"), "--cache-dir", str(tmp / "cache")]) == 0
    out = capsys.readouterr().out
    assert "shows 2 people; animated face 2 of 2" in out and "--face N" in out
    code = main(
        [*args, "--out", str(tmp / "bad"), "--cache-dir", str(tmp / "cache"), "--face", "3"]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "FAILED two.png: face 3 was picked but the first frame with faces has 2" in out
    assert "Traceback" not in out
    with pytest.raises(SystemExit):
        main([*args, "--out", str(tmp / "bad"), "--face", "0"])
    assert "face numbers start at 1" in capsys.readouterr().err


def test_cli_prepare_lists_the_faces(two, capsys):
    path, _image, _boxes, _speech, tmp = two
    assert main(["prepare", str(path), "--cache-dir", str(tmp / "cache"), "--face", "1"]) == 0
    out = capsys.readouterr().out
    assert "people seen: 2" in out and "face 1: (" in out and "face 2: (" in out
    assert "tracked: face 1" in out
