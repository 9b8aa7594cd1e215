"""The face track of a presenter clip, its file format and its cache.

Preparing a presenter (finding and following the face in every frame) is the slow part of the
work that does not depend on the speech, so its result is stored once per presenter file,
keyed by the sha256 of the file's bytes: a renamed or copied file is recognised and not
tracked again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .progress import CancelCheck, ProgressCallback

if TYPE_CHECKING:
    from .faces.detector import FaceDetector

PathLike = str | os.PathLike[str]
Pick = int | tuple[float, float] | None

#: Version of the .npz layout written by :func:`save_track`.
FORMAT_VERSION = 1
_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One row per source frame (at the constant fps of ``open_video``) of the presenter.

    ``boxes`` are (x0, y0, x1, y1) around the landmarks with the forehead included, in source
    pixels after rotation; ``boxes`` and ``landmarks`` are NaN where ``present`` is False.
    ``mouth_open`` is the inner-lip gap divided by the face height (0 with closed lips, NaN
    without a face). ``cuts`` are the frame indices where a new shot starts.
    """

    source_hash: str
    detector: str
    fps: float
    width: int
    height: int
    n_frames: int
    boxes: np.ndarray
    landmarks: np.ndarray
    present: np.ndarray
    mouth_open: np.ndarray
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def frames_without_face(self) -> int:
        return int((~self.present).sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FaceTrack):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.shape != b.shape or not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = object.__hash__


def save_track(track: FaceTrack, path: PathLike) -> None:
    """Write ``track`` as a compressed .npz, atomically (temporary file, then rename).

    Landmarks are stored as float16 offsets from their box's corner: relative to the face
    size, that keeps better than 1/1000 of the face even for 4K close-ups.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Any: savez's stub would check these values against its allow_pickle: bool as well.
    payload: dict[str, Any] = dict(
        format_version=np.int32(FORMAT_VERSION),
        source_hash=np.str_(track.source_hash),
        detector=np.str_(track.detector),
        fps=np.float64(track.fps),
        size=np.array([track.width, track.height, track.n_frames], dtype=np.int64),
        boxes=track.boxes.astype(np.float32),
        landmark_offsets=_landmark_offsets(track.boxes, track.landmarks),
        present=track.present.astype(bool),
        mouth_open=track.mouth_open.astype(np.float16),
        cuts=np.asarray(track.cuts, dtype=np.int32),
    )
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _landmark_offsets(boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    corner = np.nan_to_num(boxes[:, None, :2].astype(np.float64))
    return (landmarks.astype(np.float64) - corner).astype(np.float16)


def _from_offsets(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    corner = np.nan_to_num(boxes[:, None, :2].astype(np.float64))
    return (offsets.astype(np.float64) + corner).astype(np.float32)


def stored_precision(track: FaceTrack) -> FaceTrack:
    """``track`` rounded exactly as :func:`save_track` stores it.

    :func:`prepare_track` returns tracks in this form, so a fresh track and one read back from
    the cache are equal and renders do not depend on whether the cache was warm.
    """
    boxes = track.boxes.astype(np.float32)
    return replace(
        track,
        boxes=boxes,
        landmarks=_from_offsets(boxes, _landmark_offsets(boxes, track.landmarks)),
        mouth_open=track.mouth_open.astype(np.float16).astype(np.float32),
        present=track.present.astype(bool),
        cuts=np.asarray(track.cuts, dtype=np.int32),
    )


class TrackFormatError(ValueError):
    """A track file is corrupt, truncated or of an unknown format version."""


def load_track(path: PathLike) -> FaceTrack:
    """Read a file written by :func:`save_track`; raise :class:`TrackFormatError` if unusable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise TrackFormatError(
                    f"{os.path.basename(path)}: track format {version}, expected {FORMAT_VERSION}"
                )
            width, height, n = (int(v) for v in data["size"])
            boxes = data["boxes"].astype(np.float32)
            landmarks = _from_offsets(boxes, data["landmark_offsets"])
            track = FaceTrack(
                source_hash=str(data["source_hash"]),
                detector=str(data["detector"]),
                fps=float(data["fps"]),
                width=width,
                height=height,
                n_frames=n,
                boxes=boxes,
                landmarks=landmarks,
                present=data["present"].astype(bool),
                mouth_open=data["mouth_open"].astype(np.float32),
                cuts=data["cuts"].astype(np.int32),
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, TrackFormatError):
            raise
        raise TrackFormatError(f"{os.path.basename(path)}: unreadable track file ({exc})") from exc
    shapes = [
        track.boxes.shape == (n, 4),
        track.landmarks.shape == (n, 68, 2),
        track.present.shape == (n,),
        track.mouth_open.shape == (n,),
    ]
    if not all(shapes):
        raise TrackFormatError(f"{os.path.basename(path)}: arrays do not match {n} frames")
    return track


def content_hash(path: PathLike) -> str:
    """sha256 (hex) of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pick_key(pick: Pick) -> str:
    """A file-name-safe text for ``pick``, part of the cache key."""
    if pick is None:
        return "auto"
    if isinstance(pick, (int, np.integer)) and not isinstance(pick, bool):
        return f"i{int(pick)}"
    x, y = pick  # type: ignore[misc]
    return f"p{float(x):.1f}_{float(y):.1f}"


class TrackCache:
    """Face tracks on disk under ``root``, keyed by (content hash, detector version, pick)."""

    def __init__(self, root: PathLike) -> None:
        self.root = Path(root)

    def path_for(self, source_hash: str, detector_version: str, pick: Pick = None) -> Path:
        from .faces.tracker import TRACKER_VERSION

        det = "".join(c if c.isalnum() or c in "-." else "_" for c in detector_version)
        name = f"{source_hash}-{det}-t{TRACKER_VERSION}-{pick_key(pick)}.npz"
        return self.root / source_hash[:2] / name

    def get(self, source_hash: str, detector_version: str, pick: Pick = None) -> FaceTrack | None:
        """The cached track, or ``None`` when missing or unreadable (it will be rebuilt)."""
        path = self.path_for(source_hash, detector_version, pick)
        if not path.is_file():
            return None
        try:
            track = load_track(path)
        except TrackFormatError:
            return None
        if track.source_hash != source_hash:
            return None
        return track

    def put(self, track: FaceTrack, detector_version: str, pick: Pick = None) -> Path:
        path = self.path_for(track.source_hash, detector_version, pick)
        save_track(track, path)
        return path


def _working_size(path: PathLike) -> tuple[int, int]:
    from .media.probe import probe
    from .picture import working_size

    info = probe(path)
    return working_size(info.width, info.height)


def prepare_track(
    path: PathLike,
    detector: FaceDetector | None = None,
    cache: TrackCache | PathLike | None = None,
    pick: Pick = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> FaceTrack:
    """The face track of the presenter at ``path``: from ``cache`` when there, else tracked.

    ``cache`` is a :class:`TrackCache`, a cache directory, or ``None`` for no caching.
    """
    from .faces.detector import get_detector
    from .faces.tracker import check_pick, track_faces

    check_pick(pick)
    detector = detector or get_detector()
    if cache is not None and not isinstance(cache, TrackCache):
        cache = TrackCache(cache)
    source_hash = content_hash(path)
    if cache is not None:
        cached = cache.get(source_hash, detector.version, pick)
        if cached is not None and (cached.width, cached.height) != _working_size(path):
            cached = None  # made before pictures were cropped to even or capped: redo it
        if cached is not None:
            if progress is not None:
                from .progress import ProgressTracker

                ProgressTracker("prepare", cached.n_frames, progress).finish()
            return cached
    track = track_faces(
        path, detector, pick=pick, progress=progress, cancel=cancel, source_hash=source_hash
    )
    if cache is not None:
        cache.put(track, detector.version, pick)
    return stored_precision(track)
