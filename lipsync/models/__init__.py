"""Neural networks used by the engines and the loading of their weights.

The network and checkpoint names below are loaded on first use (PEP 562), so importing the
torch-free parts of the package, :mod:`lipsync.models.manager` and
:mod:`lipsync.models.manifest` (what the studio's "Engines and models" page and batch form
read), does not import torch.
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
