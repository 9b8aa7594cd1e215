"""Follow one presenter's face through a clip: detect seldom, fit landmarks every frame.

Full detection is the expensive step, so it runs on downscaled frames, and once a face is known
only on a crop around it, every ``confirm_every`` frames. In between, only the 68-point
landmark model runs, inside the box predicted from the previous frame's landmarks. A frame
falls back to detection when the fit degrades (jump, size change, appearance no longer matching
the last confirmed face) or a scene cut starts a new shot. Landmarks are smoothed offline
afterwards with a zero-phase filter, per shot and per run of frames with a face.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import cv2
import numpy as np

from ..errors import InputError, NoFaceError, reason, what_to_do
from ..media.video import FrameLike, open_video
from ..progress import CancelCheck, ProgressCallback, ProgressTracker
from ..track import FaceTrack, PathLike, Pick, content_hash
from .detector import Box, Detection, FaceDetector
from .smoothing import smooth_landmarks

NO_FACE = reason("no face found in any frame")
PICK_OUT_OF_RANGE = reason(
    "face %(pick)s was picked but the first frame with faces has %(count)s",
    what_to_do("pick one of the faces shown on that frame, or leave the choice empty"),
)

#: Bump when the tracker's output changes for the same input (part of the cache key).
TRACKER_VERSION = 1


@dataclass(frozen=True)
class TrackerSettings:
    #: long side of the frame for the first, cheap full-frame detection
    detect_long_side: int = 480
    #: long side for the deeper passes that look for small faces (then also 2x upsampled)
    deep_long_side: int = 1280
    #: most pixels a deep pass may scan (the upsampled pass is skipped above this)
    deep_max_pixels: int = 4_000_000
    #: most pixels a crop search around the last known face may scan
    crop_max_pixels: int = 1_000_000
    #: frames between detector confirmations of a tracked face
    confirm_every: int = 8
    #: crop side around the face for confirmations, in face sizes
    crop_scale: float = 2.4
    #: failed confirmations in a row after which the face counts as lost
    max_misses: int = 3
    #: least normalised correlation of the face patch with the last confirmed one
    min_patch_corr: float = 0.35
    #: mean absolute difference (0..255) of 64x36 grey thumbnails that marks a scene cut
    cut_threshold: float = 35.0
    #: frames between cancel checks
    batch: int = 25


_PATCH = 24

T = TypeVar("T")


class FrameSource(Protocol):
    """What :func:`track_faces` reads from an ``open_video`` source (or a stand-in for one).

    ``path`` (for messages) and ``frame_count`` (for progress) are used when present.
    """

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    def __iter__(self) -> Iterator[FrameLike]: ...


def track_faces(
    source: PathLike | FrameSource,
    detector: FaceDetector,
    pick: Pick = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    *,
    source_hash: str | None = None,
    settings: TrackerSettings = TrackerSettings(),
) -> FaceTrack:
    """Track the presenter's face in ``source`` (a path or an ``open_video`` source).

    ``pick`` chooses the face on the first frame with faces: ``None`` for the largest and
    most central, an index into those faces ordered left to right, or an ``(x, y)`` point.
    That face is then followed and never swapped for another. Raises :class:`NoFaceError`
    when no frame has a face.
    """
    check_pick(pick)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if source_hash is None:
            source_hash = content_hash(path)
        with open_video(path) as video:
            return track_faces(
                video, detector, pick, progress, cancel, source_hash=source_hash, settings=settings
            )
    name = os.fspath(getattr(source, "path", "presenter"))
    tracker = _Tracker(
        detector, settings, int(source.width), int(source.height), float(source.fps), pick, name
    )
    steps = ProgressTracker(
        "prepare", int(getattr(source, "frame_count", 0) or 0), progress, cancel
    )
    for frame in _prefetch(source, depth=4):
        if tracker.n % settings.batch == 0:
            steps.check_cancel()
        tracker.step(frame.image)
        steps.advance()
    steps.finish()
    return tracker.result(source_hash or "", name)


def check_pick(pick: Pick) -> None:
    """Raise ValueError unless ``pick`` is None, a face index >= 0 or an (x, y) point."""
    if pick is None:
        return
    if isinstance(pick, (int, np.integer)) and not isinstance(pick, bool):
        if pick < 0:
            raise ValueError(f"face index must be >= 0, got {pick}")
        return
    try:
        point = np.asarray(pick, dtype=np.float64)
    except (TypeError, ValueError):
        point = np.zeros(0)
    if point.shape != (2,) or not np.isfinite(point).all():
        raise ValueError(f"pick must be None, a face index or an (x, y) point, got {pick!r}")


def detect_all_faces(
    image: np.ndarray, detector: FaceDetector, settings: TrackerSettings = TrackerSettings()
) -> list[Detection]:
    """Every face in ``image`` as the tracker looks for them when a pick is to be applied
    (cheap and deep passes, duplicates removed), ordered left to right like a face index."""
    height, width = image.shape[:2]
    tracker = _Tracker(detector, settings, width, height, 25.0, 0, "")
    found = tracker._detect_full(image, deep=True, want_all=True)
    return sorted(found, key=lambda d: _center(d.box)[0])


class _Done:
    """The type of the marker :func:`_prefetch` queues after the last frame."""


def _prefetch(frames: Iterable[T], depth: int) -> Iterator[T]:
    """Decode ahead in a thread (the decoder releases the GIL) while this thread tracks."""
    q: queue.Queue[T | BaseException | _Done] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = _Done()

    def put(item: T | BaseException | _Done) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in frames:
                if not put(item):
                    return
        except BaseException as exc:  # handed over to the consuming thread
            put(exc)
            return
        put(done)

    worker = threading.Thread(target=run, name="face-track-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, _Done):  # item is done
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


# --- geometry -----------------------------------------------------------------------------


def _lm_bounds(lm: np.ndarray) -> np.ndarray:
    return np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()])


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _side(box: Box | np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _center(box: Box | np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)


def _dedupe(found: list[Detection]) -> list[Detection]:
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: -d.score):
        if all(_iou(d.box, k.box) < 0.4 for k in kept):
            kept.append(d)
    return kept


def face_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(n, 4) boxes around (n, 68, 2) landmarks, raised by 20 % to take in the forehead."""
    x0 = landmarks[..., 0].min(axis=-1)
    x1 = landmarks[..., 0].max(axis=-1)
    y0 = landmarks[..., 1].min(axis=-1)
    y1 = landmarks[..., 1].max(axis=-1)
    return np.stack([x0, y0 - 0.2 * (y1 - y0), x1, y1], axis=-1).astype(np.float32)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over face height (nose bridge to chin) for (n, 68, 2) landmarks."""
    gap = np.linalg.norm(
        landmarks[..., [61, 62, 63], :] - landmarks[..., [67, 66, 65], :], axis=-1
    ).mean(axis=-1)
    height = np.linalg.norm(landmarks[..., 8, :] - landmarks[..., 27, :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        opening: np.ndarray = (gap / height).astype(np.float32)
        return opening


# --- the tracker --------------------------------------------------------------------------


class _Tracker:
    def __init__(
        self,
        detector: FaceDetector,
        settings: TrackerSettings,
        width: int,
        height: int,
        fps: float,
        pick: Pick,
        name: str,
    ) -> None:
        self.det = detector
        self.s = settings
        self.width, self.height, self.fps = width, height, fps
        self.pick = pick
        self.name = name
        self.n = 0
        self.raw: list[np.ndarray] = []
        self.cuts: list[int] = []
        self.breaks: list[int] = []
        self.prev_thumb: np.ndarray | None = None
        # state of the followed face
        self.current: np.ndarray | None = None  # landmarks on the previous frame
        self.box_rel = np.array([0.0, 0.0, 0.0, 0.0])  # detector box vs landmark bounds
        self.ref_patch: np.ndarray | None = None
        self.last_box: Box | None = None  # last detector-style box of the face
        self.since_confirm = 0
        self.misses = 0
        self.picked = False
        self.identity: np.ndarray | None = None
        self.identity_source: tuple[np.ndarray, np.ndarray] | None = None
        self.cut_since_seen = False
        # search while no face is followed
        self.search_every = max(1, round(fps / 5)) if fps > 0 else 1
        self.deep_every = max(1, round(2 * fps)) if fps > 0 else 1
        self.lost_for = 0
        self.pending: deque[tuple[int, np.ndarray]] = deque(maxlen=self.search_every)

    # one frame ----------------------------------------------------------------------------
    def step(self, image: np.ndarray) -> None:
        i = self.n
        self.n += 1
        self.raw.append(np.full((68, 2), np.nan, dtype=np.float32))
        cut = self._is_cut(image)
        if cut:
            self.cuts.append(i)
            self.current = None
            self.cut_since_seen = True
            self.pending.clear()
        if self.current is not None:
            lm = self._follow(image, self.current)
            if lm is not None:
                self.raw[i] = lm
                return
            # The fit broke: whatever is found now is not smoothed together with before.
            self.breaks.append(i)
            self._search(i, image, deep=False, now=True)
            return
        self._search(i, image, deep=cut or i == 0)

    def _follow(self, image: np.ndarray, prev: np.ndarray) -> np.ndarray | None:
        """Fit the face followed from ``prev`` (the landmarks of the previous frame)."""
        box = self._box_from(prev)
        lm = self.det.landmarks(image, box)
        ok = self._plausible(image, lm, prev)
        self.since_confirm += 1
        if ok and self.since_confirm < self.s.confirm_every:
            self.current = lm
            return lm
        found = self._match(self._detect_crop(image, box), box, strict=ok)
        if found is not None:
            lm = self._anchor(image, found)
            self.misses = 0
            return lm
        if ok:
            self.misses += 1
            self.since_confirm = 0
            if self.misses <= self.s.max_misses:
                self.current = lm
                return lm
        self.current = None
        return None

    def _search(self, i: int, image: np.ndarray, deep: bool, now: bool = False) -> None:
        self.lost_for += 1
        deep = deep or self.lost_for % self.deep_every == 0
        if not (deep or now) and self.lost_for % self.search_every != 0:
            self.pending.append((i, image))
            return
        want_all = self.pick is not None and not self.picked
        candidates: list[Detection] = []
        if self.last_box is not None and not self.cut_since_seen:
            # Lost within a shot: look first where the face could be now, at the scale it had
            # (cheap, and finds small faces the full-frame pass misses).
            candidates = self._detect_crop(image, self.last_box, 2.0 * self._reach() + 1.4)
        if not candidates:
            candidates = self._detect_full(image, deep=deep or want_all, want_all=want_all)
        chosen = self._choose(image, candidates)
        if chosen is None:
            self.pending.clear()
            self.pending.append((i, image))
            return
        self.raw[i] = self._anchor(image, chosen)
        self.lost_for = 0
        self.misses = 0
        self._backfill(image)

    def _backfill(self, image: np.ndarray) -> None:
        """Follow the newly found face backwards over the frames skipped while searching."""
        lm = self.current
        while self.pending and lm is not None:
            j, img = self.pending.pop()
            if not np.isnan(self.raw[j][0, 0]):
                break
            new = self.det.landmarks(img, self._box_from(lm))
            if not self._plausible(img, new, lm):
                break
            self.raw[j] = new
            lm = new
        self.pending.clear()

    # checks --------------------------------------------------------------------------------
    def _is_cut(self, image: np.ndarray) -> bool:
        step = max(1, min(image.shape[0], image.shape[1]) // 144)
        small = image[::step, ::step]
        grey = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self.prev_thumb = self.prev_thumb, thumb
        return prev is not None and float(np.abs(thumb - prev).mean()) > self.s.cut_threshold

    def _plausible(self, image: np.ndarray, lm: np.ndarray, prev: np.ndarray) -> bool:
        """Does ``lm`` continue ``prev`` (size, position) and still look like the face?"""
        a, b = _lm_bounds(lm), _lm_bounds(prev)
        size_a, size_b = _side(a), _side(b)
        if size_a < 4 or not 0.75 < size_a / max(size_b, 1e-6) < 1.33:
            return False
        if np.linalg.norm(_center(a) - _center(b)) > 0.35 * size_b:
            return False
        c = _center(a)
        if not (0 <= c[0] < self.width and 0 <= c[1] < self.height):
            return False
        if self.ref_patch is not None:
            corr = float((self._patch(image, self._box_from(lm)) * self.ref_patch).mean())
            if corr < self.s.min_patch_corr:
                return False
        return True

    def _patch(self, image: np.ndarray, box: Box) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return np.zeros((_PATCH, _PATCH), np.float32)
        crop = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        p = cv2.resize(crop, (_PATCH, _PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)
        p -= p.mean()
        std = p.std()
        return p / std if std > 1e-3 else np.zeros_like(p)

    # detection ------------------------------------------------------------------------------
    def _detect_at(
        self, image: np.ndarray, scale: float, offset: tuple[float, float] = (0.0, 0.0)
    ) -> list[Detection]:
        ox, oy = offset
        return [
            Detection(
                (
                    d.box[0] / scale + ox,
                    d.box[1] / scale + oy,
                    d.box[2] / scale + ox,
                    d.box[3] / scale + oy,
                ),
                d.score,
            )
            for d in self.det.detect(_scaled(image, scale))
        ]

    def _detect_full(self, image: np.ndarray, deep: bool, want_all: bool) -> list[Detection]:
        """Faces in the whole frame: cheap pass first, larger (and upsampled) passes for small
        faces when ``deep`` and nothing was found yet (or when all faces are wanted)."""
        long_side = max(image.shape[:2])
        pixels = image.shape[0] * image.shape[1]
        cheap = min(1.0, self.s.detect_long_side / long_side)
        found = self._detect_at(image, cheap)
        if not deep or (found and not want_all):
            return found
        done = cheap
        for scale in (
            min(1.0, self.s.deep_long_side / long_side),
            2.0 * min(1.0, self.s.deep_long_side / long_side),
        ):
            if scale < 1.2 * done or pixels * scale * scale > self.s.deep_max_pixels:
                continue
            found = _dedupe(found + self._detect_at(image, scale))
            done = scale
            if found and not want_all:
                break
        return found

    def _detect_crop(
        self, image: np.ndarray, box: Box, crop_scale: float | None = None
    ) -> list[Detection]:
        """Faces in a square of ``crop_scale`` face sizes around ``box``, scaled so a face of
        that size is comfortably above the detector's minimum."""
        side = _side(box)
        cx, cy = _center(box)
        half = (crop_scale or self.s.crop_scale) * side / 2.0
        x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
        x1, y1 = int(min(cx + half, image.shape[1])), int(min(cy + half, image.shape[0]))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        scale = min(4.0, 1.6 * self.det.min_face / max(side, 1.0))
        if (x1 - x0) * (y1 - y0) * scale * scale > self.s.crop_max_pixels:
            return []  # the region grew too big while lost: the full-frame passes take over
        return self._detect_at(image[y0:y1, x0:x1], scale, (float(x0), float(y0)))

    # identity -------------------------------------------------------------------------------
    def _match(self, candidates: list[Detection], box: Box, strict: bool) -> Detection | None:
        """The candidate that continues the followed face (overlapping its predicted box)."""
        best = max(candidates, key=lambda d: _iou(d.box, box), default=None)
        if best is None:
            return None
        if _iou(best.box, box) >= (0.3 if strict else 0.15):
            return best
        return None

    def _choose(self, image: np.ndarray, candidates: list[Detection]) -> Detection | None:
        if not candidates:
            return None
        if not self.picked:
            chosen = self._apply_pick(candidates)
            self.picked = True
            return chosen
        if self.cut_since_seen or self.last_box is None:
            return self._recognise(image, candidates)
        # Within one shot people do not jump: only faces the presenter could have reached
        # since last seen (one face size, plus two per second away) are considered.
        last = _center(self.last_box)
        reach = self._reach() * _side(self.last_box)
        pool = [d for d in candidates if np.linalg.norm(_center(d.box) - last) <= reach]
        if not pool:
            return None
        near = self._match(pool, self.last_box, strict=False)
        return near if near is not None else self._recognise(image, pool)

    def _reach(self) -> float:
        """How far, in face sizes, the face may have moved since it was last seen."""
        return 1.0 + 2.0 * self.lost_for / max(self.fps, 1e-6)

    def _apply_pick(self, candidates: list[Detection]) -> Detection:
        pick = self.pick
        if pick is None:
            biggest = max(_side(d.box) for d in candidates)
            half_diag = np.hypot(self.width, self.height) / 2.0
            middle = np.array([self.width / 2.0, self.height / 2.0])
            return max(
                candidates,
                key=lambda d: (
                    _side(d.box) / biggest
                    - 0.5 * np.linalg.norm(_center(d.box) - middle) / half_diag
                ),
            )
        if isinstance(pick, (int, np.integer)) and not isinstance(pick, bool):
            ordered = sorted(candidates, key=lambda d: _center(d.box)[0])
            if not 0 <= pick < len(ordered):
                raise InputError(
                    # Shown to people as a number counted from 1 (the CLI's --face N).
                    self.name,
                    PICK_OUT_OF_RANGE,
                    {"pick": int(pick) + 1, "count": len(ordered)},
                )
            return ordered[int(pick)]
        point = np.asarray(pick, dtype=np.float64).reshape(2)
        inside = [
            d
            for d in candidates
            if d.box[0] <= point[0] <= d.box[2] and d.box[1] <= point[1] <= d.box[3]
        ]
        if inside:
            return min(inside, key=lambda d: _side(d.box))
        return min(candidates, key=lambda d: np.linalg.norm(_center(d.box) - point))

    def _recognise(self, image: np.ndarray, candidates: list[Detection]) -> Detection | None:
        """After a cut or a long loss: the candidate that looks like the chosen person."""
        if self.identity is None and self.identity_source is not None:
            self.identity = self.det.descriptor(*self.identity_source)
            self.identity_source = None
        if self.identity is None:
            if len(candidates) == 1 or self.last_box is None:
                return candidates[0]
            last = _center(self.last_box)
            return min(candidates, key=lambda d: np.linalg.norm(_center(d.box) - last))
        best, best_dist = None, np.inf
        for d in candidates:
            vec = self.det.descriptor(image, self.det.landmarks(image, d.box))
            dist = float(np.linalg.norm(vec - self.identity)) if vec is not None else np.inf
            if dist < best_dist:
                best, best_dist = d, dist
        return best if best_dist < self.det.same_person_distance else None

    # state ----------------------------------------------------------------------------------
    def _anchor(self, image: np.ndarray, found: Detection) -> np.ndarray:
        """Start or re-anchor the followed face on a detection."""
        lm = self.det.landmarks(image, found.box)
        bounds = _lm_bounds(lm)
        w = max(bounds[2] - bounds[0], 1.0)
        h = max(bounds[3] - bounds[1], 1.0)
        self.box_rel = (np.asarray(found.box) - bounds) / np.array([w, h, w, h])
        self.ref_patch = self._patch(image, found.box)
        self.last_box = found.box
        if self.identity is None and self.identity_source is None:
            self.identity_source = (image.copy(), lm)
        self.current = lm
        self.since_confirm = 0
        self.lost_for = 0
        self.cut_since_seen = False
        return lm

    def _box_from(self, lm: np.ndarray) -> Box:
        b = _lm_bounds(lm)
        w, h = b[2] - b[0], b[3] - b[1]
        x0, y0, x1, y1 = b + self.box_rel * np.array([w, h, w, h])
        return (float(x0), float(y0), float(x1), float(y1))

    # result ---------------------------------------------------------------------------------
    def result(self, source_hash: str, name: str) -> FaceTrack:
        raw = np.stack(self.raw) if self.raw else np.zeros((0, 68, 2), np.float32)
        present = ~np.isnan(raw[:, 0, 0])
        if not present.any():
            raise NoFaceError(name, NO_FACE)
        lm = smooth_landmarks(raw, present, self.fps, self.cuts + self.breaks)
        boxes = face_boxes(lm)
        boxes[~present] = np.nan
        return FaceTrack(
            source_hash=source_hash,
            detector=self.det.version,
            fps=self.fps,
            width=self.width,
            height=self.height,
            n_frames=len(raw),
            boxes=boxes,
            landmarks=lm,
            present=present,
            mouth_open=mouth_opening(lm),
            cuts=np.asarray(self.cuts, dtype=np.int32),
        )
