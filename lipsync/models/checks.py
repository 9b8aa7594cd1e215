"""Structure checks of model files, by the ``check`` kind the manifest gives each file.

A check raises :class:`~lipsync.errors.InvalidModelError` naming the file and the first key,
shape or field that is wrong; it reads names and shapes, not weights, so checking a 3.4 GB
UNet takes well under a second. Checks of weight files whose layout depends on a config
(the UNet, the VAE, Whisper) get a ``find`` function that returns that config: from the same
folder as the file when it is there (a folder being added or imported), else the installed one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InvalidModelError, ModelNotFoundError

#: Resolves a model-directory relative path (e.g. ``sd-vae/config.json``) to a file.
Find = Callable[[str], Path | None]
Check = Callable[[Path, Find], None]


def _needs(find: Find, rel: str, for_file: Path) -> Path:
    path = find(rel)
    if path is None:
        raise ModelNotFoundError(
            f"{for_file.name}: cannot check it without {rel} (put that file first or beside it)"
        )
    return path


def check_file(path: Path, find: Find) -> None:
    if path.stat().st_size == 0:
        raise InvalidModelError(f"{path.name}: file {path} is empty")


def check_wav2lip(path: Path, find: Find) -> None:
    import torch

    from .tensors import check_keys, module_shapes, read_shapes
    from .wav2lip import Wav2Lip

    with torch.device("meta"):
        expected = module_shapes(Wav2Lip())
    check_keys(expected, read_shapes(path), path, "Wav2Lip checkpoint")


def check_unet_config(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_unet_config(musetalk.read_json(path, "MuseTalk UNet config"), path)


def check_unet(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_unet(path, _needs(find, f"{musetalk.UNET_DIR}/musetalk.json", path))


def check_vae_config(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_vae_config(musetalk.read_json(path, "VAE config"), path)


def check_vae(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_vae(path, _needs(find, f"{musetalk.VAE_DIR}/config.json", path))


def check_whisper_config(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.whisper_config(path)


def check_whisper(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_whisper(path, _needs(find, f"{musetalk.WHISPER_DIR}/config.json", path))


def check_whisper_preprocessor(path: Path, find: Find) -> None:
    from . import musetalk

    musetalk.check_preprocessor(path)


def check_bisenet(path: Path, find: Find) -> None:
    from .bisenet import check_bisenet as check

    check(path)


#: Checks by kind; "module:function" entries are imported when first used.
CHECKS: dict[str, Check | str] = {
    "file": check_file,
    "wav2lip": check_wav2lip,
    "musetalk-unet-config": check_unet_config,
    "musetalk-unet": check_unet,
    "vae-config": check_vae_config,
    "vae": check_vae,
    "whisper-config": check_whisper_config,
    "whisper": check_whisper,
    "whisper-preprocessor": check_whisper_preprocessor,
    "bisenet": check_bisenet,
    "scrfd": "lipsync.faces.insightface_backend:check_detector_model",
    "landmark-2d106": "lipsync.faces.insightface_backend:check_landmark_model",
}


def get_check(kind: str) -> Check:
    entry = CHECKS.get(kind)
    if entry is None:
        raise ValueError(f"no structure check named {kind!r}")
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        found: Check = getattr(importlib.import_module(module), name)
        CHECKS[kind] = found
        return found
    return entry


def run_check(kind: str, path: str | os.PathLike[str], find: Find) -> None:
    """Run the structure check ``kind`` on ``path`` (after the file-is-not-empty check)."""
    path = Path(path)
    check_file(path, find)
    get_check(kind)(path, find)
