"""insightface backend: the buffalo_l pack's SCRFD detector and 2d106 landmarks via onnxruntime.

Used for face tracking when ``buffalo_l/det_10g.onnx`` and ``buffalo_l/2d106det.onnx`` are in
the model directory (``LIPSYNC_MODEL_DIR``); dlib stays the default otherwise. It finds what
dlib's HOG detector misses: heads turned past about 35 degrees and small faces.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from ..errors import InvalidModelError, ModelNotFoundError
from .detector import Box, Detection, FaceDetector, register_detector

DETECTOR_FILE = "buffalo_l/det_10g.onnx"
LANDMARK_FILE = "buffalo_l/2d106det.onnx"


def _ort_errors() -> tuple[type[BaseException], ...]:
    """onnxruntime's own exception classes (they derive from Exception directly)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = (
        "Fail",
        "InvalidArgument",
        "NoSuchFile",
        "NoModel",
        "EngineError",
        "RuntimeException",
        "InvalidProtobuf",
        "ModelLoaded",
        "NotImplemented",
        "InvalidGraph",
        "EPFail",
    )
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


def _session(path: str | os.PathLike[str], providers: list[str] | None = None) -> Any:
    import onnxruntime as ort

    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(
            os.fspath(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
        )
    except _ort_errors() as exc:
        raise InvalidModelError(
            f"{Path(path).name}: not a loadable ONNX model ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'no detail'})"
        ) from exc


def _dims(shape: list[Any]) -> list[int | None]:
    return [d if isinstance(d, int) else None for d in shape]


def check_detector_signature(session: Any, path: str | os.PathLike[str]) -> None:
    """SCRFD with keypoints: one (1, 3, H, W) input, 9 outputs (score, box, 5 keypoints for
    strides 8, 16 and 32), their last dimensions 1, 4 and 10."""
    name = Path(path).name
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or _dims(inputs[0].shape)[1] != 3:
        got = [tuple(i.shape) for i in inputs]
        raise InvalidModelError(
            f"{name}: not an SCRFD detector: input {got}, expected one (1, 3, H, W) ({path})"
        )
    outputs = session.get_outputs()
    if len(outputs) != 9:
        raise InvalidModelError(
            f"{name}: not an SCRFD detector with keypoints: {len(outputs)} outputs, "
            f"expected 9 ({path})"
        )
    for i, want in enumerate((1, 1, 1, 4, 4, 4, 10, 10, 10)):
        last = _dims(outputs[i].shape)[-1]
        if last != want:
            raise InvalidModelError(
                f"{name}: not an SCRFD detector: output {outputs[i].name!r} has last "
                f"dimension {last}, expected {want} ({path})"
            )


def check_landmark_signature(session: Any, path: str | os.PathLike[str]) -> None:
    """2d106det: one (1, 3, 192, 192) input, one (1, 212) output (106 x, y pairs)."""
    name = Path(path).name
    inputs = session.get_inputs()
    if len(inputs) != 1 or _dims(inputs[0].shape)[1:] != [3, 192, 192]:
        got = [tuple(i.shape) for i in inputs]
        raise InvalidModelError(
            f"{name}: not a 2d106 landmark model: input {got}, expected (1, 3, 192, 192) ({path})"
        )
    outputs = session.get_outputs()
    if len(outputs) != 1 or _dims(outputs[0].shape)[-1] != 212:
        got = [tuple(o.shape) for o in outputs]
        raise InvalidModelError(
            f"{name}: not a 2d106 landmark model: outputs {got}, expected one (1, 212) ({path})"
        )


def check_detector_model(path: Path, find: object = None) -> None:
    """Structure check of ``det_10g.onnx`` for the model manager."""
    check_detector_signature(_session(path), path)


def check_landmark_model(path: Path, find: object = None) -> None:
    """Structure check of ``2d106det.onnx`` for the model manager."""
    check_landmark_signature(_session(path), path)


# ----------------------------------------------------------------------------- 106 -> 68

#: Groups of insightface's 2d106 mark-up (deepinsight/insightface, alignment/coordinate_reg).
CONTOUR = np.arange(0, 33)
EYE_A = np.arange(33, 43)
BROW_A = np.arange(43, 52)
MOUTH = np.arange(52, 72)
NOSE = np.arange(72, 87)
EYE_B = np.arange(87, 97)
BROW_B = np.arange(97, 106)


def _resample(poly: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at ``fractions`` (0..1) of the arc length of the open polyline ``poly``."""
    seg = np.hypot(*np.diff(poly, axis=0).T)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    if at[-1] <= 0:
        return np.repeat(poly[:1], len(fractions), axis=0)
    want = np.asarray(fractions) * at[-1]
    return np.stack([np.interp(want, at, poly[:, 0]), np.interp(want, at, poly[:, 1])], axis=1)


def _ring(points: np.ndarray, n_upper: int, n_lower: int) -> np.ndarray:
    """A closed contour (eye, lip) as iBUG lists it: left corner, ``n_upper`` points along the
    top from left to right, right corner, ``n_lower`` along the bottom from right to left."""
    centre = points.mean(axis=0)
    left, right = points[np.argmin(points[:, 0])], points[np.argmax(points[:, 0])]
    # Sort by angle from the left corner going over the top (image y points down).
    ang = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    order = np.argsort(
        np.mod(ang - np.arctan2(left[1] - centre[1], left[0] - centre[0]), 2 * np.pi)
    )
    ring = points[order]
    i_right = int(np.flatnonzero((ring == right).all(axis=1))[0])
    top = np.vstack([ring[: i_right + 1]])
    bottom = np.vstack([ring[i_right:], ring[:1]])
    upper = _resample(top, np.arange(1, n_upper + 1) / (n_upper + 1))
    lower = _resample(bottom, np.arange(1, n_lower + 1) / (n_lower + 1))
    return np.vstack([left, upper, right, lower])


def _brow(points: np.ndarray) -> np.ndarray:
    """Five points along the brow's midline from left to right (quadratic fit of its points)."""
    x = points[:, 0]
    coeff = np.polyfit(x - x.mean(), points[:, 1], 2 if len(points) > 3 else 1)
    xs = np.linspace(x.min(), x.max(), 5)
    return np.stack([xs, np.polyval(coeff, xs - x.mean())], axis=1)


def _split_lips(mouth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 20 mouth points (face frame) as iBUG's outer lip (48-59) and inner lip (60-67).

    The outer corners are the leftmost and rightmost points, the inner corners the points
    nearest to them. Of the rest, a point is on the inner lip when, at about its x, there are
    points both above and below it: the outer lip covers the inner one from both sides (this
    holds for smiles, whose corners rise above the inner lip, and for closed mouths).
    """
    x, y = mouth[:, 0], mouth[:, 1]
    left, right = int(np.argmin(x)), int(np.argmax(x))
    rest = [i for i in range(len(mouth)) if i not in (left, right)]

    def nearest(to: int, among: list[int]) -> int:
        return min(among, key=lambda i: float(np.hypot(*(mouth[i] - mouth[to]))))

    inner_l = nearest(left, rest)
    inner_r = nearest(right, [i for i in rest if i != inner_l])
    rest = [i for i in rest if i not in (inner_l, inner_r)]
    window = 0.12 * float(x[right] - x[left])
    column = {i: [j for j in rest if j != i and abs(x[j] - x[i]) < window] for i in rest}
    inner = [
        i
        for i in rest
        if any(y[j] < y[i] for j in column[i]) and any(y[j] > y[i] for j in column[i])
    ]
    outer = [i for i in rest if i not in inner]
    if len(outer) != 10:  # an unusual shape: fall back on the 10 farthest from the middle
        middle = float(np.median(y[rest]))
        outer = sorted(rest, key=lambda i: -abs(y[i] - middle))[:10]
        inner = [i for i in rest if i not in outer]

    def ring(lc: int, rc: int, others: list[int]) -> np.ndarray:
        """iBUG order: left corner, top left to right, right corner, bottom right to left.
        Top and bottom points come in pairs at about the same x; the upper one is on top."""
        ordered = sorted(others, key=lambda i: x[i])
        pairs = [ordered[k : k + 2] for k in range(0, len(ordered), 2)]
        top = [min(p, key=lambda i: y[i]) for p in pairs]
        bottom = [max(p, key=lambda i: y[i]) for p in pairs]
        return mouth[[lc, *top, rc, *reversed(bottom)]]

    return ring(left, right, outer), ring(inner_l, inner_r, inner)


def map_106_to_68(p106: np.ndarray) -> np.ndarray:
    """insightface 2d106 landmarks -> the 68-point iBUG layout the engine uses, (68, 2) float32.

    The 106 points come in groups (contour 0-32, eye 33-42, brow 43-51, mouth 52-71, nose
    72-86, eye 87-96, brow 97-105). Inside each group the iBUG points are found by geometry,
    in the face's own frame (the eye line as x axis, so a tilted head maps the same), not by
    a fixed index table: which side each group is on and the order of its points come from
    where the points are, which is robust to the numbering inside a group (documented only as
    a picture). Jaw (iBUG 0-16): the contour ordered around the eyes' centre from the image's
    left via the chin, 17 points at even arc length. Brows (17-26): 5 points along a quadratic
    fit of each brow, left to right. Nose (27-35): the bridge from the top point to the tip,
    and the 5 lowest points left to right as the base. Eyes (36-47) and lips (48-67): each
    contour split at its left and right corners, top and bottom resampled by arc length; the
    20 mouth points split into outer (12) and inner (8) lip by :func:`_split_lips`.
    """
    p = np.asarray(p106, np.float64).reshape(106, 2)
    ca, cb = p[EYE_A].mean(0), p[EYE_B].mean(0)
    left_eye, right_eye = (EYE_A, EYE_B) if ca[0] <= cb[0] else (EYE_B, EYE_A)
    cl, cr = p[left_eye].mean(0), p[right_eye].mean(0)
    u = (cr - cl) / max(float(np.hypot(*(cr - cl))), 1e-6)
    v = np.array([-u[1], u[0]])
    origin = (cl + cr) / 2
    q = (p - origin) @ np.stack([u, v], axis=1)  # face frame: x along the eyes, y down

    out = np.zeros((68, 2))
    contour = q[CONTOUR]
    order = np.argsort(-np.arctan2(contour[:, 1], contour[:, 0]))
    out[0:17] = _resample(contour[order], np.linspace(0, 1, 17))
    brows = sorted((BROW_A, BROW_B), key=lambda g: q[g, 0].mean())
    out[17:22] = _brow(q[brows[0]])
    out[22:27] = _brow(q[brows[1]])
    nose = q[NOSE]
    base_i = np.argsort(nose[:, 1])[-5:]
    out[31:36] = nose[base_i][np.argsort(nose[base_i, 0])]
    rest = np.delete(nose, base_i, axis=0)
    top, tip = rest[np.argmin(rest[:, 1])], rest[np.argmax(rest[:, 1])]
    out[27] = top
    out[28] = top + (tip - top) / 3
    out[29] = top + 2 * (tip - top) / 3
    out[30] = tip
    out[36:42] = _ring(q[left_eye], 2, 2)
    out[42:48] = _ring(q[right_eye], 2, 2)
    out[48:60], out[60:68] = _split_lips(q[MOUTH])
    back: np.ndarray = (out @ np.stack([u, v], axis=0) + origin).astype(np.float32)
    return back


# ----------------------------------------------------------------------------- the detector

#: SCRFD's strides and anchors per position; its input normalisation, (x - 127.5) / 128, and
#: the 2d106 model's, none (it normalises inside): the values insightface uses for buffalo_l.
STRIDES = (8, 16, 32)
ANCHORS = 2
DET_MEAN, DET_STD = 127.5, 128.0
LMK_SIZE = 192
#: Longest side a dynamic-size detector input is given (faces are scaled by the tracker).
MAX_INPUT = 1280


def providers() -> list[str]:
    """onnxruntime providers: CUDA first when this onnxruntime build has it."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return chosen or ["CPUExecutionProvider"]


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / np.maximum(area[i] + area[order[1:]] - inter, 1e-9)
        order = order[1:][iou <= threshold]
    return keep


def _fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        st = path.stat()
        digest.update(f"{path.name}:{st.st_size}".encode())
    return digest.hexdigest()[:8]


class InsightFaceDetector(FaceDetector):
    """SCRFD-10G face detection and 2d106 landmarks mapped to iBUG-68 (see map_106_to_68)."""

    name = "insightface"
    version = "insightface-scrfd-2d106/1"
    min_face = 24
    threshold: ClassVar[float] = 0.5
    nms_threshold: ClassVar[float] = 0.4

    def __init__(self, model_dir: str | os.PathLike[str] | None = None) -> None:
        from ..models.manager import resolve_model_dir

        root = resolve_model_dir(model_dir)
        det, lmk = root / DETECTOR_FILE, root / LANDMARK_FILE
        missing = [str(p) for p in (det, lmk) if not p.is_file()]
        if missing:
            raise ModelNotFoundError(
                f"{Path(missing[0]).name}: insightface model not found ({', '.join(missing)})"
            )
        chosen = providers()
        self.detector = _session(det, chosen)
        self.landmarker = _session(lmk, chosen)
        check_detector_signature(self.detector, det)
        check_landmark_signature(self.landmarker, lmk)
        self.providers = chosen
        # Instance attribute: names the model files, so the track cache key changes with them.
        self.version = f"{InsightFaceDetector.version}-{_fingerprint(det, lmk)}"  # type: ignore[misc]
        shape = _dims(self.detector.get_inputs()[0].shape)
        self.fixed_input = (shape[3], shape[2]) if shape[2] and shape[3] else None
        self._det_input = self.detector.get_inputs()[0].name
        self._lmk_input = self.landmarker.get_inputs()[0].name
        self._lock = threading.Lock()

    # -- detection ------------------------------------------------------------------------
    def _input_size(self, w: int, h: int) -> tuple[int, int]:
        if self.fixed_input is not None:
            return self.fixed_input
        scale = min(1.0, MAX_INPUT / max(w, h))
        return (
            max(32, int(np.ceil(w * scale / 32)) * 32),
            max(32, int(np.ceil(h * scale / 32)) * 32),
        )

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        h, w = image_rgb.shape[:2]
        in_w, in_h = self._input_size(w, h)
        # Letterbox: keep the aspect, pad right and bottom (as insightface does).
        scale = min(in_w / w, in_h / h)
        new_w, new_h = max(1, int(w * scale)), max(1, int(h * scale))
        canvas = np.zeros((in_h, in_w, 3), np.uint8)
        canvas[:new_h, :new_w] = cv2.resize(image_rgb, (new_w, new_h))
        blob = ((canvas.astype(np.float32) - DET_MEAN) / DET_STD).transpose(2, 0, 1)[None]
        with self._lock:
            outs = self.detector.run(None, {self._det_input: np.ascontiguousarray(blob)})
        boxes, scores = [], []
        for i, stride in enumerate(STRIDES):
            score = np.asarray(outs[i]).reshape(-1)
            dist = np.asarray(outs[i + 3]).reshape(-1, 4) * stride
            gh, gw = in_h // stride, in_w // stride
            ys, xs = np.mgrid[:gh, :gw]
            centres = np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride
            centres = np.repeat(centres, ANCHORS, axis=0).astype(np.float32)
            n = min(len(score), len(centres), len(dist))
            keep = np.flatnonzero(score[:n] >= self.threshold)
            c, d = centres[keep], dist[keep]
            boxes.append(
                np.stack(
                    [c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]],
                    axis=1,
                )
            )
            scores.append(score[keep])
        all_boxes = np.concatenate(boxes) / scale if boxes else np.zeros((0, 4))
        all_scores = np.concatenate(scores) if scores else np.zeros(0)
        found = [
            Detection(tuple(float(v) for v in all_boxes[i]), float(all_scores[i]))  # type: ignore[arg-type]
            for i in _nms(all_boxes, all_scores, self.nms_threshold)
        ]
        return sorted(found, key=lambda d: -d.score)

    # -- landmarks ------------------------------------------------------------------------
    def landmarks106(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 106 points for the face in ``box``: a crop 1.5x the box, 192x192, as insightface."""
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0, 1.0) * 1.5
        s = LMK_SIZE / side
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        M = np.array([[s, 0, LMK_SIZE / 2 - cx * s], [0, s, LMK_SIZE / 2 - cy * s]], np.float64)
        crop = cv2.warpAffine(image_rgb, M, (LMK_SIZE, LMK_SIZE), borderValue=(0, 0, 0))
        blob = crop.astype(np.float32).transpose(2, 0, 1)[None]
        with self._lock:
            (out,) = self.landmarker.run(None, {self._lmk_input: np.ascontiguousarray(blob)})
        pred = np.asarray(out, np.float64).reshape(-1, 2)[-106:]
        pred = (pred + 1.0) * (LMK_SIZE // 2)
        inv = cv2.invertAffineTransform(M)
        pts: np.ndarray = pred @ inv[:, :2].T + inv[:, 2]
        return pts

    def landmarks(self, image_rgb: np.ndarray, box: Box) -> np.ndarray:
        return map_106_to_68(self.landmarks106(image_rgb, box))


_instances: dict[str, InsightFaceDetector] = {}
_instances_lock = threading.Lock()


def available(model_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether the buffalo_l files are in the model directory."""
    from ..models.manager import resolve_model_dir

    root = resolve_model_dir(model_dir)
    return (root / DETECTOR_FILE).is_file() and (root / LANDMARK_FILE).is_file()


def insightface_detector(model_dir: str | os.PathLike[str] | None = None) -> InsightFaceDetector:
    """The process-wide detector for ``model_dir`` (sessions are built once)."""
    from ..models.manager import resolve_model_dir

    key = str(resolve_model_dir(model_dir))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = InsightFaceDetector(key)
        return _instances[key]


register_detector(InsightFaceDetector.name, insightface_detector)
