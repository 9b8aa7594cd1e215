"""Typed errors of the engine.

Every error that comes from bad input names the file, the reason and what to do about it in
its message, in the form ``<file name>: <reason> — <what to do>``, so a CLI line, a task row on a
web page and a log line all read the same. Callers decide on retry by type: :class:`InputError`
is permanent (the file is bad), anything else may be transient.

Any other exception escaping a render carries the engine *stage* it happened in
(:func:`stage_of`: ``face``, ``audio``, ``decode``, ``mouth``, ``encode``...), so a caller can
say "internal error in the decoding step" with a log reference instead of the library's text.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

#: Every fixed reason (a %-template) the engine gives an :class:`InputError`, in the order the
#: modules defining them were imported; a user interface lists them to translate them.
REASONS: list[str] = []


#: What to do about a reason (a %-template filled from the error's params), by reason template.
WHAT_TO_DO: dict[str, str] = {}


def what_to_do(text: str) -> str:
    """Mark ``text`` as advice for people (``makemessages`` collects this keyword too)."""
    return text


def reason(template: str, advice: str | None = None) -> str:
    """Register ``template`` as one of the engine's fixed input-error reasons and return it;
    ``advice`` (made with :func:`what_to_do`) says what a person can do about it. A reason
    without its own advice gets its error class's :attr:`InputError.advice`."""
    if template not in REASONS:
        REASONS.append(template)
    if advice:
        WHAT_TO_DO[template] = advice
    return template


class LipsyncError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(LipsyncError):
    """A file given to the engine cannot be used; retrying will not help.

    ``reason`` may be a %-template filled from ``params`` (the engine's fixed reasons are
    module constants made with :func:`reason`, listed in :data:`REASONS`): ``template`` and
    ``params`` stay on the error so a user interface can translate a known reason; ``reason``
    is the English text. ``todo`` is what to do about it (English; ``advice_template`` the
    untranslated template): ``advice`` if given, else the reason's own, else the class's
    :attr:`advice`.
    """

    #: What a person can do about an error of this class whose reason has no advice of its own.
    advice: str = what_to_do("check the file, or export it again from the original and upload it")

    def __init__(
        self,
        path: str | os.PathLike[str],
        reason: str,
        params: Mapping[str, object] | None = None,
        advice: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.template = reason
        self.params = dict(params or {})
        self.reason = reason % self.params if self.params else reason
        self.advice_template = advice or WHAT_TO_DO.get(reason, type(self).advice)
        self.todo = _filled(self.advice_template, self.params)
        super().__init__(f"{os.path.basename(self.path)}: {self.reason} — {self.todo}")


def _filled(template: str, params: Mapping[str, object]) -> str:
    try:
        return template % params if params else template
    except (KeyError, TypeError, ValueError):
        return template


class UnsupportedMediaError(InputError):
    """Not a media file we can read, or a codec/container we do not support."""

    advice = what_to_do(
        "export it again as MP4 (H.264 video, AAC audio), or as a JPEG or PNG picture"
    )


class NoAudioStreamError(InputError):
    """The file has no audio stream where one is needed."""

    advice = what_to_do("choose a file with speech in it (WAV, MP3, M4A or a video with sound)")


class NoVideoStreamError(InputError):
    """The file has no video stream or image where one is needed."""

    advice = what_to_do("choose a video (MP4, MOV, WebM) or a photo (JPEG, PNG) of the presenter")


class TruncatedMediaError(InputError):
    """The file ends early or is corrupt part way through."""

    advice = what_to_do(
        "upload the complete file again, or export it again from the original if it plays "
        "badly there too"
    )


class NoFaceError(InputError):
    """No usable face was found in the presenter."""

    advice = what_to_do(
        "use a video or photo where the presenter's face is clearly visible, facing the camera"
    )


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


# --- stages: where an unexpected error happened ----------------------------------------------

#: The stages of an engine call an unexpected error is attributed to (see :func:`stage_of`).
STAGES = ("model", "face", "audio", "decode", "mouth", "encode")
_STAGE_ATTR = "lipsync_stage"
_current = threading.local()
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def stage_of(exc: BaseException) -> str | None:
    """The engine stage ``exc`` escaped from (one of :data:`STAGES`), None if not known."""
    value = getattr(exc, _STAGE_ATTR, None)
    return value if isinstance(value, str) else None


def tag_stage(exc: BaseException, stage: str | None) -> None:
    """Attribute ``exc`` to ``stage`` unless an inner stage already claimed it."""
    if stage and stage_of(exc) is None:
        try:
            setattr(exc, _STAGE_ATTR, stage)
        except AttributeError:  # an exception type with __slots__: left unattributed
            return


def enter_stage(stage: str) -> None:
    """Mark that the engine call running on this thread (in :func:`staged`) is now in
    ``stage``: an unexpected error from here on is attributed to it."""
    _current.stage = stage


def staged(stage: str) -> Callable[[F], F]:
    """Decorator of an engine entry point: it starts in ``stage`` (:func:`enter_stage` moves
    on), and any exception but the engine's own leaves it tagged with the stage it was in."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(_current, "stage", None)
            _current.stage = stage
            try:
                return fn(*args, **kwargs)
            except LipsyncError:
                raise
            except Exception as exc:
                tag_stage(exc, getattr(_current, "stage", stage))
                raise
            finally:
                _current.stage = outer

        return run  # type: ignore[return-value]

    return decorate


def in_stage(stage: str, items: Iterable[T]) -> Iterator[T]:
    """``items``, with any unexpected error raised while producing one tagged ``stage`` (for
    iterators that run on another thread, such as the decoder behind a prefetch queue)."""
    it = iter(items)
    try:
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except LipsyncError:
                raise
            except Exception as exc:
                tag_stage(exc, stage)
                raise
            yield item
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
