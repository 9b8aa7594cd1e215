"""Neural networks used by the engines, the loading of their weights, and the model manager.

The networks' names are loaded on first use (PEP 562): ``lipsync.models.manager`` and
``lipsync.models.manifest`` are read by the studio's web process, which must not import
PyTorch for that (seconds of start-up and hundreds of MB it never uses).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoint import WEIGHT_FILES, find_weights, load_wav2lip, read_state_dict
    from .wav2lip import FACE_SIZE, MEL_STEP, PARAMETER_COUNT, Wav2Lip

_LAZY = {
    "WEIGHT_FILES": "checkpoint",
    "find_weights": "checkpoint",
    "load_wav2lip": "checkpoint",
    "read_state_dict": "checkpoint",
    "FACE_SIZE": "wav2lip",
    "MEL_STEP": "wav2lip",
    "PARAMETER_COUNT": "wav2lip",
    "Wav2Lip": "wav2lip",
}

__all__ = [
    "FACE_SIZE",
    "MEL_STEP",
    "PARAMETER_COUNT",
    "WEIGHT_FILES",
    "Wav2Lip",
    "find_weights",
    "load_wav2lip",
    "read_state_dict",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
