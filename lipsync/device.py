"""Choosing the torch device an engine runs on."""

from __future__ import annotations

import re

import torch

from .errors import DeviceUnavailableError

_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a usable device.

    ``"auto"`` (or ``None``) takes ``cuda:0`` when CUDA is usable, else the CPU. Asking for
    CUDA where there is none, or for a GPU index that does not exist, is an error rather than
    a silent fall back to the CPU (a render would be many times slower).
    """
    text = "auto" if spec is None else str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(text)
    if not match:
        raise DeviceUnavailableError(f"unknown device {spec!r}; use 'auto', 'cpu' or 'cuda:N'")
    index = int(match.group(1) or 0)
    if not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"device {text}: CUDA is not available on this machine (torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "use device 'cpu' or 'auto'"
        )
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceUnavailableError(
            f"device {text}: only {count} CUDA device(s) present (cuda:0..cuda:{count - 1})"
        )
    return torch.device(f"cuda:{index}")
