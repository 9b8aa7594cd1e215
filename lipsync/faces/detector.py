"""The face detector interface and the registry that finds detectors by name.

The tracker only talks to :class:`FaceDetector`, so another backend (e.g. insightface) plugs in
by subclassing it and calling :func:`register_detector`; nothing else changes. A detector's
``version`` is part of the face-track cache key: bump it whenever its output changes.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One face found by a detector: ``box`` is (x0, y0, x1, y1) in the image's pixels."""

    box: Box
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)


class FaceDetector(ABC):
    """A face detector plus a 68-point (iBUG order) landmark model.

    ``min_face`` is the smallest face side, in pixels of the image given to :meth:`detect`,
    the detector finds reliably; the tracker scales images so that the faces it looks for are
    at least that big.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    min_face: ClassVar[int] = 80

    @abstractmethod
    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """All faces in an HxWx3 uint8 RGB image, best score first."""

    @abstractmethod
    def landmarks(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        """68 (x, y) points, float32, for the face in ``box`` (a box like :meth:`detect` gives)."""

    def descriptor(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
        """An identity embedding of the face with these landmarks, or ``None`` if unsupported.

        Used only to recognise the chosen presenter again after the track was lost.
        """
        return None

    #: Embeddings closer than this (Euclidean) are taken to be the same person.
    same_person_distance: ClassVar[float] = 0.6


_REGISTRY: dict[str, Callable[[], FaceDetector]] = {}
_INSTANCES: dict[str, FaceDetector] = {}
DEFAULT_DETECTOR = "dlib"


def register_detector(name: str, factory: Callable[[], FaceDetector]) -> None:
    """Make a detector findable by ``name``; ``factory`` builds it (once per process)."""
    _REGISTRY[name] = factory


def available_detectors() -> list[str]:
    _load_builtin_detectors()
    return sorted(_REGISTRY)


def get_detector(name: str | None = None) -> FaceDetector:
    """The process-wide detector registered under ``name`` (default ``"dlib"``)."""
    _load_builtin_detectors()
    name = name or DEFAULT_DETECTOR
    if name not in _INSTANCES:
        try:
            factory = _REGISTRY[name]
        except KeyError:
            raise ValueError(
                f"unknown face detector {name!r}; available: {', '.join(sorted(_REGISTRY))}"
            ) from None
        _INSTANCES[name] = factory()
    return _INSTANCES[name]


#: ``auto`` (default): insightface when its buffalo_l models are installed, else dlib; or a
#: detector name to force one.
DETECTOR_ENV = "LIPSYNC_FACE_DETECTOR"


def detector_for(model_dir: str | os.PathLike[str] | None = None) -> FaceDetector:
    """The detector presenters are tracked with on this install.

    insightface (SCRFD + 2d106, better on turned heads and small faces) when
    ``buffalo_l/det_10g.onnx`` and ``buffalo_l/2d106det.onnx`` are in the model directory,
    else dlib; ``LIPSYNC_FACE_DETECTOR`` may name one instead of ``auto``.
    """
    choice = os.environ.get(DETECTOR_ENV, "auto").strip().lower() or "auto"
    if choice != "auto":
        if choice == "insightface":
            from .insightface_backend import insightface_detector

            return insightface_detector(model_dir)
        return get_detector(choice)
    from . import insightface_backend

    if insightface_backend.available(model_dir):
        return insightface_backend.insightface_detector(model_dir)
    return get_detector(DEFAULT_DETECTOR)


def _load_builtin_detectors() -> None:
    # Importing the modules runs their register_detector calls.
    from . import (
        dlib_backend,  # noqa: F401
        insightface_backend,  # noqa: F401
    )
