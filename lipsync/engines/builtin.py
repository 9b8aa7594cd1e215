"""The engines shipped with the package: their names, and importing them into the registry.

:data:`BUILTIN_ENGINES` lets callers list the engines without importing them (the neural ones
import torch): the studio's "Engines and models" page and batch form stay light.
``tests/engine/test_models_manager.py`` checks that the names and the modules agree.
"""

from __future__ import annotations

import importlib

#: Engine name = module name under ``lipsync/engines/``.
BUILTIN_ENGINES = ("musetalk15", "warp", "wav2lip")


def load(name: str | None = None) -> None:
    """Import the built-in engine ``name``, else every one (their ``@register_engine``
    decorators fill the registry). A name that is not built in imports nothing:
    :func:`~lipsync.engines.base.get_engine_class` imports only the engine it is asked for."""
    for each in BUILTIN_ENGINES if name is None else (name,):
        if each in BUILTIN_ENGINES:
            importlib.import_module(f".{each}", __package__)
