"""The engine interface and the registry that finds engines by name.

An engine turns (speech audio, presenter video or photo, cached face track) into an MP4. Callers
(the CLI, the RQ workers) only ever use :func:`get_engine` and the two methods of
:class:`Engine`, so a neural engine plugs in by registering itself under a new name.

Engines are meant to be long-lived: a GPU worker builds one per process and calls ``render``
for job after job, so model weights and the CUDA context are loaded once (``load_count``
counts real loads, which the workers log).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..progress import CancelCheck, ProgressCallback
from ..subtitles import Cue

if TYPE_CHECKING:
    from ..track import FaceTrack, Pick

PathLike = str | os.PathLike[str]
#: :attr:`RenderResult.stats`: measurements by name (counts, seconds, device and file names).
Stats = dict[str, float | str]


@dataclass(frozen=True)
class RenderOptions:
    """What the caller may choose for one render.

    ``max_height`` caps the output size (e.g. 1080); ``None`` keeps the presenter's size after
    rotation. ``duration_s`` renders only the first seconds of the audio (previews).
    ``timeline`` is the duration mode when the speech outlasts the presenter clip
    (:mod:`lipsync.timeline`): ``"bounce"`` (default: forward then backward, no jump cut),
    ``"loop"``, ``"cut"`` (the output, speech included, ends with the clip) or ``"hold"`` (the
    last frame stays). ``no_face`` is what happens to frames without a usable face:
    ``"pass"`` (default) writes them untouched, ``"fail"`` raises
    :class:`~lipsync.errors.FramesWithoutFaceError` before anything is rendered; either way
    :attr:`RenderResult.untouched_ranges` says which stretches were left as they were.
    ``match_source`` aims the video bitrate at the presenter's own (see
    :func:`lipsync.media.writer.matched_bitrate`) instead of ``crf``; the frame rate is the
    presenter's either way (a variable-rate clip gets the standard rate nearest its average).

    Encoding: libx264 ``preset`` "superfast" with ``x264_params`` turning its macroblock-tree
    rate control back on (10-frame lookahead). Encoding was the largest cost of a render
    (veryfast: ~7.5 ms of CPU per 720p frame, superfast+mbtree ~3.8 on this 2-core machine).
    Plain superfast drops mbtree, which changes what a CRF means: at the same CRF it spends
    2.5x the bytes on a talking head's static background (it needs CRF 25 to match veryfast's
    CRF 20, still 25% larger). With mbtree on, a CRF keeps the meaning it had with
    veryfast (measured on a 720p presenter: same PSNR within 0.2 dB, overall and on the face,
    files +6%), so callers' quality levels (CRF 18/22/28) still hold. The NVENC encoder ignores
    ``x264_params``.
    """

    max_height: int | None = None
    crf: int = 20
    preset: str = "superfast"
    x264_params: str | None = "mbtree=1:rc-lookahead=10"
    timeline: str = "bounce"
    no_face: str = "pass"
    match_source: bool = False
    duration_s: float | None = None
    video_codec: str = "auto"
    #: Cues of the speech (:func:`lipsync.subtitles.parse_subtitles`): a subtitle track of the
    #: output, drawn into the picture too with ``burn_subtitles`` (``subtitle_font``: a font
    #: file, else fontconfig's sans-serif).
    subtitles: tuple[Cue, ...] = ()
    burn_subtitles: bool = False
    subtitle_font: str | None = None


#: :attr:`RenderOptions.no_face` values.
NO_FACE_PASS, NO_FACE_FAIL = "pass", "fail"
NO_FACE_POLICIES = (NO_FACE_PASS, NO_FACE_FAIL)


@dataclass(frozen=True)
class RenderResult:
    """What a render wrote. ``untouched_ranges`` are the (start, end) seconds of the output
    where frames without a usable face were written as they were (``frames_without_face``
    frames in all)."""

    path: str
    duration_s: float
    frames: int
    width: int
    height: int
    fps: float
    frames_without_face: int = 0
    untouched_ranges: tuple[tuple[float, float], ...] = ()
    stats: Stats = field(default_factory=dict)


class Engine(ABC):
    """Base class of lip-sync engines. Subclasses set ``name`` and register themselves."""

    name: ClassVar[str] = ""
    #: True for engines that need model weights (they raise ModelNotFoundError without them).
    needs_weights: ClassVar[bool] = False

    def __init__(
        self,
        device: str = "auto",
        model_dir: PathLike | None = None,
        cache_dir: PathLike | None = None,
    ) -> None:
        from ..models.manager import default_model_dir

        self.device = device
        self.model_dir = os.fspath(model_dir) if model_dir else os.fspath(default_model_dir())
        self.cache_dir = os.fspath(cache_dir) if cache_dir else None
        self.load_count = 0

    @classmethod
    def weights_available(cls, model_dir: PathLike | None = None) -> bool:
        """Whether this install can run the engine (its weights are found where it looks).

        Engines without weights are always usable; neural ones override this.
        """
        return not cls.needs_weights

    def check_ready(self) -> None:
        """Load and check what the engine needs (its weights, strictly) on its device.

        Callers run it before :meth:`prepare`, so a missing or wrong model file fails at once,
        before any face tracking, with :class:`~lipsync.errors.ModelNotFoundError` (or its
        subclass :class:`~lipsync.errors.InvalidModelError`) naming the file and what is
        wrong. Later calls return at once. Nothing to do for engines without weights.
        """
        return None

    @abstractmethod
    def prepare(
        self,
        presenter: PathLike,
        *,
        pick: Pick = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> FaceTrack:
        """Track the presenter's face (cached by content hash) and return the FaceTrack."""

    @abstractmethod
    def render(
        self,
        audio: PathLike,
        presenter: PathLike,
        track: FaceTrack,
        out: PathLike,
        *,
        options: RenderOptions = RenderOptions(),
        progress: ProgressCallback | None = None,
        cancel: CancelCheck | None = None,
    ) -> RenderResult:
        """Write ``out`` (MP4, H.264 + AAC) of the presenter speaking ``audio``.

        Honours ``cancel`` between batches of frames by raising CancelledError, and never
        leaves a partial file at ``out``.
        """


_REGISTRY: dict[str, type[Engine]] = {}
DEFAULT_ENGINE = "warp"


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine findable by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def available_engines() -> list[str]:
    """Names of the registered engines, after importing every built-in one (a neural engine's
    module imports PyTorch); :func:`engine_names` lists them without importing anything."""
    _load_builtin_engines()
    return sorted(_REGISTRY)


def engine_names() -> list[str]:
    """The built-in engines and any registered since, without importing an engine (so
    without torch): what the model manager's status lists."""
    from .builtin import BUILTIN_ENGINES

    return sorted(set(BUILTIN_ENGINES) | set(_REGISTRY))


def usable_engines(model_dir: PathLike | None = None) -> list[str]:
    """Names of the engines this install can run (see :meth:`Engine.weights_available`).

    Imports every engine module; the studio's web process asks the model manifest instead
    (:func:`lipsync.models.manager.engine_status`)."""
    _load_builtin_engines()
    return sorted(n for n, cls in _REGISTRY.items() if cls.weights_available(model_dir))


def get_engine_class(name: str | None = None) -> type[Engine]:
    """The class of engine ``name``; imports the module of that engine only."""
    from . import builtin

    name = name or DEFAULT_ENGINE
    if name not in _REGISTRY:
        builtin.load(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown engine {name!r}; available: {', '.join(engine_names())}"
        ) from None


def get_engine(name: str | None = None, **kwargs: Any) -> Engine:
    """Build the engine registered under ``name`` (default: the weight-free engine)."""
    return get_engine_class(name)(**kwargs)


def _load_builtin_engines() -> None:
    # Importing the modules runs their @register_engine decorators.
    from . import builtin

    builtin.load()
