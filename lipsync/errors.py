"""Typed errors of the engine.

Every error that comes from bad input names the file and the reason in its message, in the
form ``<file name>: <reason>``, so a CLI line, a task row on a web page and a log line all read
the same. Callers decide on retry by type: :class:`InputError` is permanent (the file is bad),
anything else may be transient.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Every fixed reason (a %-template) the engine gives an :class:`InputError`, in the order the
#: modules defining them were imported; a user interface lists them to translate them.
REASONS: list[str] = []


def reason(template: str) -> str:
    """Register ``template`` as one of the engine's fixed input-error reasons and return it."""
    if template not in REASONS:
        REASONS.append(template)
    return template


class LipsyncError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(LipsyncError):
    """A file given to the engine cannot be used; retrying will not help.

    ``reason`` may be a %-template filled from ``params`` (the engine's fixed reasons are
    module constants made with :func:`reason`, listed in :data:`REASONS`): ``template`` and
    ``params`` stay on the error so a user interface can translate a known reason; ``reason``
    is the English text.
    """

    def __init__(
        self, path: str | os.PathLike[str], reason: str, params: Mapping[str, object] | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.template = reason
        self.params = dict(params or {})
        self.reason = reason % self.params if self.params else reason
        super().__init__(f"{os.path.basename(self.path)}: {self.reason}")


class UnsupportedMediaError(InputError):
    """Not a media file we can read, or a codec/container we do not support."""


class NoAudioStreamError(InputError):
    """The file has no audio stream where one is needed."""


class NoVideoStreamError(InputError):
    """The file has no video stream or image where one is needed."""


class TruncatedMediaError(InputError):
    """The file ends early or is corrupt part way through."""


class NoFaceError(InputError):
    """No usable face was found in the presenter."""


class FramesWithoutFaceError(NoFaceError):
    """Some frames have no usable face and the caller asked to fail rather than pass them
    through untouched. ``frames`` counts them; ``ranges`` are their (start, end) seconds in
    the output."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        reason: str,
        params: Mapping[str, object] | None = None,
        *,
        frames: int = 0,
        ranges: tuple[tuple[float, float], ...] = (),
    ) -> None:
        super().__init__(path, reason, params)
        self.frames = frames
        self.ranges = ranges


class ModelNotFoundError(LipsyncError):
    """A neural engine's weights are not where the configuration says."""


class CancelledError(LipsyncError):
    """The caller asked to stop; no partial output is left behind."""


class InvalidModelError(ModelNotFoundError):
    """A weights file is there but unusable (corrupt, or not the network's keys/shapes).

    A subclass of :class:`ModelNotFoundError` because for a caller both mean the same: this
    engine has no usable weights until someone replaces the file.
    """


class DeviceUnavailableError(LipsyncError):
    """The configured compute device (e.g. ``cuda:0``) is unknown or not on this machine."""
