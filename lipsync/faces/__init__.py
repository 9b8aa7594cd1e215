"""Face detection, tracking and smoothing for presenter preparation."""

from .detector import (
    DEFAULT_DETECTOR,
    Detection,
    FaceDetector,
    available_detectors,
    get_detector,
    register_detector,
)
from .tracker import TRACKER_VERSION, TrackerSettings, track_faces

__all__ = [
    "DEFAULT_DETECTOR",
    "TRACKER_VERSION",
    "Detection",
    "FaceDetector",
    "TrackerSettings",
    "available_detectors",
    "get_detector",
    "register_detector",
    "track_faces",
]
