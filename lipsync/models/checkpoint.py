"""Finding and strictly loading Wav2Lip checkpoints.

Public checkpoints are PyTorch pickles holding a dict with key ``state_dict`` (plus optimizer
state and counters); some tools save the bare state dict. Keys saved from a DataParallel model
carry a ``module.`` prefix. Loading is strict: every key and shape must match the network, and
the first difference is named in the error so a wrong file is found at once.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import InvalidModelError, ModelNotFoundError
from .wav2lip import Wav2Lip

#: Weight files looked for in the model directory, best first.
WEIGHT_FILES = ("wav2lip_gan.pth", "wav2lip.pth")
MODEL_DIR_ENV = "LIPSYNC_MODEL_DIR"
_HOWTO = (
    f"put wav2lip_gan.pth (416 MiB, the public Wav2Lip GAN checkpoint) into {MODEL_DIR_ENV}={{dir}}"
)


def find_weights(model_dir: str | os.PathLike[str] | None) -> Path:
    """Return the first of :data:`WEIGHT_FILES` present in ``model_dir``.

    Raises :class:`ModelNotFoundError` saying where it looked and what to do.
    """
    if not model_dir:
        raise ModelNotFoundError(
            f"{WEIGHT_FILES[0]}: no model directory configured (set {MODEL_DIR_ENV}); "
            + _HOWTO.format(dir="/path/to/models")
        )
    root = Path(model_dir).expanduser()
    candidates = [root / name for name in WEIGHT_FILES]
    for path in candidates:
        if path.is_file():
            return path
    searched = ", ".join(str(p) for p in candidates)
    raise ModelNotFoundError(
        f"{WEIGHT_FILES[0]}: weights not found (searched {searched}); " + _HOWTO.format(dir=root)
    )


def read_state_dict(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Read the tensors of a checkpoint file, ``module.`` prefixes stripped.

    Uses ``weights_only=True``: a file that needs arbitrary code to unpickle is refused.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        RuntimeError,
        ValueError,
        OSError,
    ) as exc:
        raise InvalidModelError(
            f"{path.name}: cannot read checkpoint {path} ({type(exc).__name__}: "
            f"{_first_line(exc)}); replace it with the public Wav2Lip checkpoint"
        ) from exc
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping):
        raise InvalidModelError(
            f"{path.name}: checkpoint {path} holds {type(obj).__name__}, not a state dict"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InvalidModelError(f"{path.name}: checkpoint {path} entry {key!r} is not a tensor")
        out[key.removeprefix("module.")] = value
    return out


def check_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], path: str | os.PathLike[str]
) -> None:
    """Raise :class:`InvalidModelError` naming the first key that differs from ``model``."""
    path = Path(path)
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise InvalidModelError(
                f"{path.name}: not a Wav2Lip checkpoint: key {key!r} missing ({path})"
            )
        got = tuple(state[key].shape)
        if got != tuple(tensor.shape):
            raise InvalidModelError(
                f"{path.name}: not a Wav2Lip checkpoint: key {key!r} has shape {got}, "
                f"expected {tuple(tensor.shape)} ({path})"
            )
    for key in state:
        if key not in expected:
            raise InvalidModelError(
                f"{path.name}: not a Wav2Lip checkpoint: unexpected key {key!r} ({path})"
            )


def load_wav2lip(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Wav2Lip:
    """Build the network, load ``path`` strictly, move it to ``device`` in eval mode."""
    state = read_state_dict(path, map_location="cpu")
    model = Wav2Lip()
    check_state_dict(model, state, path)
    model.load_state_dict(state, strict=True)
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise InvalidModelError(
                f"{Path(path).name}: checkpoint {path} has non-finite values in {name!r}"
            )
    return model.to(device).eval()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else "no detail"
    return line if len(line) <= 160 else line[:157] + "..."
