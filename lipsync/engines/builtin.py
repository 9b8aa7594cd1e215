"""The engines shipped with the package, by name, and the modules that define them.

The registry lists these names without importing anything: a neural engine's module imports
PyTorch (seconds), and the web process only needs the names and, from the model manifest,
whether each can run (:func:`lipsync.models.manager.engine_usable`). A module is imported when
its engine's class is asked for (:func:`lipsync.engines.base.get_engine_class`).
"""

from __future__ import annotations

import importlib

BUILTIN_ENGINES: dict[str, str] = {
    "musetalk15": "lipsync.engines.musetalk15",
    "warp": "lipsync.engines.warp",
    "wav2lip": "lipsync.engines.wav2lip",
}


def import_engine(name: str) -> bool:
    """Import the module of the built-in engine ``name`` (its ``@register_engine`` runs);
    False when no built-in engine has that name."""
    module = BUILTIN_ENGINES.get(name)
    if module is None:
        return False
    importlib.import_module(module)
    return True


def import_all() -> None:
    for name in BUILTIN_ENGINES:
        import_engine(name)
