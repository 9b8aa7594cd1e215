"""Imports every engine shipped with the package so the registry knows them."""
from . import warp  # noqa: F401
from . import wav2lip  # noqa: F401
