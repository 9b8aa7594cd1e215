"""insightface backend: the buffalo_l pack's SCRFD detector and 2d106 landmarks via onnxruntime.

Used for face tracking when ``buffalo_l/det_10g.onnx`` and ``buffalo_l/2d106det.onnx`` are in
the model directory (``LIPSYNC_MODEL_DIR``); dlib stays the default otherwise. It finds what
dlib's HOG detector misses: heads turned past about 35 degrees and small faces.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidModelError

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
