"""Reading weight files of any of the formats the public models ship in, and strict key checks.

Formats: PyTorch pickles (the zip format of ``torch.save`` and the legacy one, read with
``weights_only=True`` so a file that needs code to unpickle is refused) and safetensors. A
checkpoint may be a bare state dict or hold one under ``state_dict``; ``module.`` prefixes
(DataParallel) are stripped.

Structure checks only need names and shapes: :func:`read_shapes` reads a zip-format pickle onto
the meta device (no tensor data is read, so a 3.4 GB file costs milliseconds) and a safetensors
file through its header.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import InvalidModelError

Shape = tuple[int, ...]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else "no detail"
    return line if len(line) <= 160 else line[:157] + "..."


def read_tensors(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    *,
    what: str = "checkpoint",
    mmap: bool = True,
) -> dict[str, torch.Tensor]:
    """All tensors of a weight file by name, prefixes stripped.

    ``map_location="meta"`` gives shapes without data. ``mmap`` maps zip-format pickles instead
    of reading them (tensors are paged in when used; the loaders copy them to the device).
    Raises :class:`InvalidModelError` naming the file when it cannot be read.
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            return _read_safetensors(path, map_location)
        use_mmap = mmap and str(map_location) != "meta" and zipfile.is_zipfile(path)
        obj = torch.load(path, map_location=map_location, weights_only=True, mmap=use_mmap)
    except InvalidModelError:
        raise
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        RuntimeError,
        ValueError,
        OSError,
        KeyError,
    ) as exc:
        raise InvalidModelError(
            f"{path.name}: cannot read {what} {path} ({type(exc).__name__}: "
            f"{_first_line(exc)}); replace the file"
        ) from exc
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping):
        raise InvalidModelError(
            f"{path.name}: {what} {path} holds {type(obj).__name__}, not a state dict"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InvalidModelError(f"{path.name}: {what} {path} entry {key!r} is not a tensor")
        out[key.removeprefix("module.")] = value
    return out


def _read_safetensors(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            if str(map_location) == "meta":
                out = {}
                for key in fh.keys():  # noqa: SIM118 (safe_open is no dict)
                    piece = fh.get_slice(key)
                    dtype = _SAFETENSORS_DTYPES.get(piece.get_dtype(), torch.float32)
                    out[key] = torch.empty(piece.get_shape(), dtype=dtype, device="meta")
                return out
            return {key: fh.get_tensor(key).to(map_location) for key in fh.keys()}  # noqa: SIM118
    except SafetensorError as exc:
        raise InvalidModelError(
            f"{path.name}: cannot read safetensors file {path} ({_first_line(exc)}); "
            "replace the file"
        ) from exc


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_shapes(path: str | os.PathLike[str], *, what: str = "checkpoint") -> dict[str, Shape]:
    """Names and shapes of the tensors in a weight file, read without their data."""
    return {k: tuple(v.shape) for k, v in read_tensors(path, "meta", what=what).items()}


def check_keys(
    expected: Mapping[str, Shape],
    got: Mapping[str, Shape],
    path: str | os.PathLike[str],
    what: str,
    *,
    optional: frozenset[str] = frozenset(),
    allowed_extra: Mapping[str, Shape] | None = None,
) -> None:
    """Strict match of names and shapes; raise :class:`InvalidModelError` naming the first
    difference (``<file>: not a <what>: key 'x' missing``).

    ``optional`` keys may be absent; ``allowed_extra`` keys may be present (with exactly these
    shapes) without being expected, e.g. the decoder half of a file whose encoder is used.
    """
    path = Path(path)
    for key, shape in expected.items():
        if key not in got:
            if key in optional:
                continue
            raise InvalidModelError(f"{path.name}: not a {what}: key {key!r} missing ({path})")
        if tuple(got[key]) != tuple(shape):
            raise InvalidModelError(
                f"{path.name}: not a {what}: key {key!r} has shape {tuple(got[key])}, "
                f"expected {tuple(shape)} ({path})"
            )
    extra = allowed_extra or {}
    for key, shape in got.items():
        if key in expected:
            continue
        if key not in extra:
            raise InvalidModelError(f"{path.name}: not a {what}: unexpected key {key!r} ({path})")
        if tuple(shape) != tuple(extra[key]):
            raise InvalidModelError(
                f"{path.name}: not a {what}: key {key!r} has shape {tuple(shape)}, "
                f"expected {tuple(extra[key])} ({path})"
            )


def module_shapes(module: torch.nn.Module) -> dict[str, Shape]:
    """Names and shapes of a module's state dict (build it on the meta device to keep it free)."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def check_finite(module: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Refuse weights holding NaN or infinity (a broken conversion or training run)."""
    for name, tensor in module.state_dict().items():
        real = tensor.is_floating_point() and tensor.device.type != "meta"
        if real and not torch.isfinite(tensor).all():
            raise InvalidModelError(
                f"{Path(path).name}: checkpoint {path} has non-finite values in {name!r}"
            )
