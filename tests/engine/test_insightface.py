"""insightface tracking: the 106 -> 68 mapping, SCRFD decoding and the 2d106 crop, with tiny
ONNX models the tests build (the onnx package's helper API) with buffalo_l's input/output
signatures. Their outputs are planted (no trained weights exist here), so these tests check
our decoding and geometry, not detection quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from lipsync.errors import InvalidModelError  # noqa: E402
from lipsync.faces import insightface_backend as ib  # noqa: E402
from tests.engine import mediagen  # noqa: E402

SIZE = 640
#: The lower edge of a brow, 2 px below its upper one.
BELOW = np.array([0.0, 2.0])


def _constant_model(path: Path, input_name: str, input_shape, outputs: dict[str, np.ndarray]):
    """An ONNX model whose outputs are the given arrays (they depend on the input only through
    a zero-weighted mean, so onnxruntime runs the input through the graph)."""
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(
        nodes,
        "planted",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        outs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def scrfd_outputs(boxes: list[tuple[float, float, float, float, float]]) -> dict[str, np.ndarray]:
    """det_10g's 9 outputs for a 640x640 input with detections planted at stride 32."""
    out = {}
    for stride in ib.STRIDES:
        n = (SIZE // stride) ** 2 * ib.ANCHORS
        out[f"score_{stride}"] = np.zeros((n, 1))
        out[f"bbox_{stride}"] = np.ones((n, 4))
        out[f"kps_{stride}"] = np.zeros((n, 10))
    stride = 32
    for x0, y0, x1, y1, score in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        gx, gy = int(cx // stride), int(cy // stride)
        anchor = (gy * (SIZE // stride) + gx) * ib.ANCHORS
        ax, ay = gx * stride, gy * stride
        out["score_32"][anchor] = score
        out["bbox_32"][anchor] = np.array([ax - x0, ay - y0, x1 - ax, y1 - ay]) / stride
    order = [f"score_{s}" for s in ib.STRIDES]
    order += [f"bbox_{s}" for s in ib.STRIDES] + [f"kps_{s}" for s in ib.STRIDES]
    return {k: out[k] for k in order}


# ----------------------------------------------------------------------------- 106 <-> 68


def to_106(lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 106-point set in insightface's groups made from iBUG-68 points, each group's points in
    a shuffled order (the mapping must not depend on the numbering inside a group)."""

    def resample(poly, n, closed=False):
        pts = np.vstack([poly, poly[:1]]) if closed else poly
        return ib._resample(pts, np.linspace(0, 1, n, endpoint=not closed))

    groups = {
        "contour": resample(lm[0:17], 33),
        "eye_a": resample(lm[36:42], 10, closed=True),
        "brow_a": np.vstack([resample(lm[17:22], 5), resample(lm[17:22], 4) + BELOW]),
        "mouth": lm[48:68],
        "nose": np.vstack(
            [
                lm[27:36],
                (lm[27] + lm[31]) / 2,
                (lm[27] + lm[35]) / 2,
                (lm[28] + lm[31]) / 2,
                (lm[28] + lm[35]) / 2,
                (lm[29] + lm[31]) / 2,
                (lm[29] + lm[35]) / 2,
            ]
        ),
        "eye_b": resample(lm[42:48], 10, closed=True),
        "brow_b": np.vstack([resample(lm[22:27], 5), resample(lm[22:27], 4) + BELOW]),
    }
    return np.vstack([rng.permutation(g) for g in groups.values()])


@pytest.fixture(scope="module")
def face():
    """A real face (the astronaut), its dlib box and 68 landmarks."""
    from lipsync.faces.detector import get_detector

    image = np.ascontiguousarray(mediagen.face_image(320))
    det = get_detector("dlib")
    box = det.detect(image)[0].box
    return image, box, det.landmarks(image, box)


def _error(a, b, lm):
    from lipsync.composite import face_height

    return np.hypot(*(a - b).T) / face_height(lm)


def test_106_to_68_recovers_the_ibug_layout(face):
    _, _, lm = face
    rng = np.random.default_rng(0)
    for angle in (0.0, 20.0, -35.0):  # rolled heads map the same
        t = np.deg2rad(angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        c = lm.mean(0)
        lm_r = (lm - c) @ rot.T + c
        got = ib.map_106_to_68(to_106(lm_r, rng))
        err = _error(got, lm_r, lm_r)
        assert err[[48, 54, 60, 64, 27, 30, 33]].max() < 0.01  # points kept as they are
        assert err[36:48].max() < 0.04  # eyes: their contour resampled
        assert err[0:17].max() < 0.06  # the jaw, resampled
        assert err.mean() < 0.02
        assert got[0, 0] < got[16, 0] or angle  # image-left first


# ----------------------------------------------------------------------------- the models


@pytest.fixture(scope="module")
def buffalo(face, tmp_path_factory) -> Path:
    """A model folder with tiny det_10g.onnx / 2d106det.onnx planted for the astronaut."""
    image, box, lm = face
    root = tmp_path_factory.mktemp("buffalo")
    h, w = image.shape[:2]
    scale = min(SIZE / w, SIZE / h)
    lb = [v * scale for v in box]
    _constant_model(
        root / ib.DETECTOR_FILE,
        "input.1",
        [1, 3, SIZE, SIZE],
        scrfd_outputs([(*lb, 0.93), (lb[0] + 32, lb[1], lb[2] + 32, lb[3], 0.7)]),
    )
    # The landmark model answers in its 192x192 crop's -1..1 coordinates.
    x0, y0, x1, y1 = box
    s = ib.LMK_SIZE / (max(x1 - x0, y1 - y0) * 1.5)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    p106 = to_106(lm, np.random.default_rng(1))
    crop = (p106 - (cx, cy)) * s + ib.LMK_SIZE / 2
    _constant_model(
        root / ib.LANDMARK_FILE,
        "data",
        [1, 3, 192, 192],
        {"fc1": (crop / 96.0 - 1).reshape(1, 212)},
    )
    return root


def test_models_pass_the_manager_checks_and_a_wrong_one_is_refused(buffalo, tmp_path):
    from lipsync.models import manager

    root = tmp_path / "models"
    installed = manager.add(buffalo / "buffalo_l", root)
    assert sorted(installed) == [ib.LANDMARK_FILE, ib.DETECTOR_FILE]
    status = {s.name: s for s in manager.tracker_status(root)}
    assert status["insightface"].usable and status["insightface"].commercial == "no"
    bad = _constant_model(
        tmp_path / "bad" / "det_10g.onnx", "input.1", [1, 3, SIZE, SIZE], {"x": np.zeros((10, 1))}
    )
    with pytest.raises(InvalidModelError, match=r"det_10g.onnx: not an SCRFD detector with "):
        manager.add(bad, tmp_path / "other")


def test_scrfd_outputs_are_decoded_to_the_face_box(face, buffalo):
    image, box, _ = face
    det = ib.InsightFaceDetector(buffalo)
    assert det.fixed_input == (SIZE, SIZE) and "CPUExecutionProvider" in det.providers
    found = det.detect(image)
    assert len(found) == 1  # the overlapping weaker box is suppressed
    assert found[0].score == pytest.approx(0.93, abs=1e-6)
    assert np.abs(np.array(found[0].box) - np.array(box)).max() < 0.5


def test_landmarks_come_back_in_the_image_as_68_points(face, buffalo):
    image, box, lm = face
    det = ib.InsightFaceDetector(buffalo)
    got = det.landmarks(image, box)
    assert got.shape == (68, 2) and got.dtype == np.float32
    assert _error(got, lm, lm).mean() < 0.02


def test_presenters_are_tracked_with_insightface_when_installed(face, buffalo, tmp_path):
    from lipsync.engines import get_engine
    from lipsync.track import TrackCache

    image, _, lm = face
    photo = tmp_path / "photo.png"
    import cv2

    cv2.imwrite(str(photo), image[:, :, ::-1])
    cache = tmp_path / "tracks"
    engine = get_engine("warp", model_dir=buffalo, cache_dir=cache)
    track = engine.prepare(photo)
    assert track.detector.startswith("insightface-scrfd-2d106/1-")
    assert track.present.all()
    assert _error(track.landmarks[0], lm, lm).mean() < 0.03
    [cached] = list(cache.rglob("*.npz"))
    assert "insightface" in cached.name
    assert cached == TrackCache(cache).path_for(track.source_hash, track.detector)
    plain = get_engine("warp", model_dir=tmp_path / "none", cache_dir=cache).prepare(photo)
    assert plain.detector == "dlib-hog-68/1"
