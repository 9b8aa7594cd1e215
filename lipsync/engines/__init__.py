from .base import (
    DEFAULT_ENGINE,
    Engine,
    RenderOptions,
    RenderResult,
    available_engines,
    get_engine,
    get_engine_class,
    register_engine,
    usable_engines,
)

__all__ = [
    "DEFAULT_ENGINE",
    "Engine",
    "RenderOptions",
    "RenderResult",
    "available_engines",
    "get_engine",
    "get_engine_class",
    "register_engine",
    "usable_engines",
]
