"""The engines shipped with the package: their names, and importing them into the registry.

:data:`BUILTIN_ENGINES` lets callers list the engines without importing them (the neural ones
import torch): the studio's "Engines and models" page and batch form stay light.
``tests/engine/test_models_manager.py`` checks that the names and the modules agree.
"""

from __future__ import annotations

import importlib

#: Engine name = module name under ``lipsync/engines/``.
BUILTIN_ENGINES = ("musetalk15", "warp", "wav2lip")


def load() -> None:
    """Import every built-in engine (their ``@register_engine`` decorators fill the registry)."""
    for name in BUILTIN_ENGINES:
        importlib.import_module(f".{name}", __package__)
