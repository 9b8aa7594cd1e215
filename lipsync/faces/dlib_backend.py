"""dlib backend: HOG frontal face detector + the 68-point shape predictor.

The model files ship in the ``face_recognition_models`` wheel. Importing that package fails
(its ``__init__`` needs ``pkg_resources``), so the files are located through the import
machinery without importing it. Models load once per process, on first use.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Any

import dlib
import numpy as np

from ..errors import ModelNotFoundError
from .detector import Box, Detection, FaceDetector, register_detector

_MODELS_PACKAGE = "face_recognition_models"
_LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
_RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"

_lock = threading.Lock()
_models: dict[str, object] = {}


def model_path(filename: str) -> str:
    """Path of one model file shipped in the ``face_recognition_models`` wheel."""
    spec = importlib.util.find_spec(_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"{filename}: package {_MODELS_PACKAGE} is not installed")
    path = os.path.join(spec.submodule_search_locations[0], "models", filename)
    if not os.path.isfile(path):
        raise ModelNotFoundError(f"{filename}: not found in {os.path.dirname(path)}")
    return path


def _model(key: str) -> Any:  # a dlib model: dlib has no type stubs
    with _lock:
        if key not in _models:
            if key == "hog":
                _models[key] = dlib.get_frontal_face_detector()
            elif key == "landmarks":
                _models[key] = dlib.shape_predictor(model_path(_LANDMARKS_FILE))
            elif key == "recognition":
                _models[key] = dlib.face_recognition_model_v1(model_path(_RECOGNITION_FILE))
            else:
                raise KeyError(key)
        return _models[key]


def shared_model(key: str) -> Any:
    """The process-wide dlib model ``"hog"`` (detector) or ``"landmarks"`` (68 points), loaded
    once and shared with the tracker (the quality check uses them too)."""
    return _model(key)


def _rect(box: Box) -> dlib.rectangle:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))


def _contiguous(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


class DlibDetector(FaceDetector):
    """HOG sliding-window detector (faces from about 80 px) and iBUG-68 landmarks."""

    name = "dlib"
    version = "dlib-hog-68/1"
    min_face = 80
    same_person_distance = 0.6

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        rects, scores, _ = _model("hog").run(_contiguous(image_rgb), 0, self.threshold)
        found = [
            Detection(
                (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)),
                float(s),
            )
            for r, s in zip(rects, scores)
        ]
        return sorted(found, key=lambda d: -d.score)

    def landmarks(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        shape = _model("landmarks")(_contiguous(image_rgb), _rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def descriptor(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        pts = np.asarray(landmarks, dtype=np.float64)
        box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
        shape = dlib.full_object_detection(
            _rect(box), [dlib.point(int(round(x)), int(round(y))) for x, y in pts]
        )
        vec = _model("recognition").compute_face_descriptor(_contiguous(image_rgb), shape)
        return np.asarray(vec, dtype=np.float32)


register_detector(DlibDetector.name, DlibDetector)
