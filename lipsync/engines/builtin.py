"""Imports every engine shipped with the package so the registry knows them."""

from . import (
    musetalk15,  # noqa: F401
    warp,  # noqa: F401
    wav2lip,  # noqa: F401
)
