"""``python -m lipsync``: render, prepare, probe and bench from a terminal.

``render`` makes one MP4 per presenter. A presenter that fails does not stop the others; the
command then lists every failure, one line each, as ``FAILED <file>: <reason> — <what to do>``
and exits with status 1 (130 when interrupted with Ctrl-C: the files not rendered are listed
too). No traceback is ever printed: an unexpected error reads ``internal error in the <stage>
step, reference <id>`` and its traceback goes to ``lipsync-errors.log`` (in the output folder
for ``render``, else in the cache folder) under that reference.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import runpy
import sys
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from .errors import LipsyncError, stage_of
from .progress import Progress, ProgressCallback
from .track import Pick

if TYPE_CHECKING:
    from .engines import Engine
    from .faces.survey import FaceSurvey
    from .track import FaceTrack

CACHE_ENV = "LIPSYNC_CACHE_DIR"
#: Where unexpected errors' tracebacks go, under their reference (see :class:`ErrorLog`).
ERROR_LOG = "lipsync-errors.log"
BENCH_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "heygem-lipsync")


def output_name(video: str | os.PathLike[str], audio: str | os.PathLike[str]) -> str:
    """``<video stem>__<audio stem>.mp4``."""
    return f"{Path(video).stem}__{Path(audio).stem}.mp4"


FACE_HELP = (
    "which face to animate when several are seen: its number N, counted from the left on "
    "the first frame with faces (as `prepare` lists them), or a point X,Y in pixels on it"
)


def face_pick(text: str) -> Pick:
    """``--face``: ``N`` (1 = leftmost face) becomes the tracker's index N-1; ``X,Y`` a point."""
    text = text.strip()
    if "," in text:
        try:
            x, y = (float(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a point X,Y: {text!r}") from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise argparse.ArgumentTypeError(f"not a point X,Y: {text!r}")
        return (x, y)
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a face number or a point X,Y: {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("face numbers start at 1 (the leftmost face)")
    return number - 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lipsync", description="Lip-sync presenters to a speech track."
    )
    from .engines.base import NO_FACE_PASS, NO_FACE_POLICIES
    from .timeline import DURATION_MODES

    sub = parser.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render one MP4 per presenter video or photo")
    r.add_argument("--audio", required=True, help="the speech (any audio or video file)")
    r.add_argument(
        "--video",
        required=True,
        action="append",
        help="a presenter video or photo (repeat for several)",
    )
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--engine", default=None, help="engine name (default: warp)")
    r.add_argument("--device", default="auto", help="auto, cpu or cuda:N")
    r.add_argument(
        "--cache-dir",
        default=None,
        help=f"face track cache (default: ${CACHE_ENV} or ~/.cache/heygem-lipsync)",
    )
    r.add_argument("--max-height", type=int, default=None, help="cap the output height")
    r.add_argument("--crf", type=int, default=20, help="H.264 quality (lower is better)")
    r.add_argument(
        "--preset",
        default=None,
        help="x264 speed preset (default: RenderOptions' superfast with mbtree)",
    )
    r.add_argument(
        "--duration-mode",
        choices=DURATION_MODES,
        default=None,
        help="when the speech outlasts the presenter clip: bounce (default: back and forth), "
        "loop (restart), cut (end the output, speech too, with the clip) or hold (keep the "
        "last frame)",
    )
    r.add_argument("--loop", action="store_true", help="the same as --duration-mode loop")
    r.add_argument(
        "--no-face",
        choices=NO_FACE_POLICIES,
        default=NO_FACE_PASS,
        help="frames without a usable face: pass them through untouched (default) or fail",
    )
    r.add_argument(
        "--match-source",
        action="store_true",
        help="aim the video bitrate at the presenter's own instead of --crf",
    )
    r.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="render only the first seconds of the speech (preview)",
    )
    r.add_argument("--face", type=face_pick, default=None, help=FACE_HELP)
    r.add_argument(
        "--quality",
        action="store_true",
        help="measure each output's quality score (lip sync, face, sharpness) and print it",
    )

    p = sub.add_parser("prepare", help="track the presenter's face and cache it")
    p.add_argument("video")
    p.add_argument("--engine", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--face", type=face_pick, default=None, help=FACE_HELP)

    q = sub.add_parser("probe", help="print what a media file holds, as JSON")
    q.add_argument("file")

    b = sub.add_parser("bench", help="run bench/bench.py")
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed on to the benchmark")

    from .models.cli import add_parser as add_models_parser

    add_models_parser(sub)
    return parser


class ErrorLog:
    """The CLI's log of unexpected errors: each traceback under a short reference, which the
    one-line failure a person reads names instead of the library's text."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def internal(self, name: str, exc: BaseException, stage: str = "render") -> str:
        """Log ``exc``; return ``<name>: internal error in the <stage> step, reference <id>``
        with where the details are (``stage``: when the engine did not tag the error with
        its own)."""
        ref = uuid.uuid4().hex[:10]
        stage = stage_of(exc) or stage
        entry = (
            f"{datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')} "
            f"reference {ref}: internal error in the {stage} step ({name})\n"
            + "".join(traceback.format_exception(exc))
            + "\n"
        )
        where = f"details in {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(entry)
        except OSError as err:  # the log itself cannot be written: the reference still names it
            where = f"the log {self.path} could not be written: {err.strerror or err}"
        return (
            f"{name}: internal error in the {stage} step, reference {ref} ({where}) — "
            "run it again; if it fails again, report the reference"
        )


def _error_log(args: argparse.Namespace) -> ErrorLog:
    folder = getattr(args, "out", None) or getattr(args, "cache_dir", None) or default_cache_dir()
    return ErrorLog(Path(folder) / ERROR_LOG)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {
        "render": _render,
        "prepare": _prepare,
        "probe": _probe,
        "bench": _bench,
        "models": _models,
    }[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        print("FAILED interrupted (Ctrl-C) — run the command again")
        return 130
    except Exception as exc:  # reported with a reference; the traceback is in the log
        print(f"FAILED {_error_log(args).internal(args.command, exc, args.command)}")
        return 1


def _models(args: argparse.Namespace) -> int:
    from .models.cli import run

    return run(args)


# ----------------------------------------------------------------------------- commands


def _engine(args: argparse.Namespace) -> Engine:
    from .engines import get_engine

    try:
        return get_engine(
            args.engine, device=args.device, cache_dir=args.cache_dir or default_cache_dir()
        )
    except ValueError as exc:  # unknown engine name
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _render(args: argparse.Namespace) -> int:
    from .engines import RenderOptions
    from .media.probe import probe
    from .timeline import format_ranges

    if args.seconds is not None and not args.seconds > 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return 2
    try:
        info = probe(args.audio)
        if not info.has_audio:
            from .errors import NoAudioStreamError

            raise NoAudioStreamError(args.audio, "no audio stream")
    except LipsyncError as exc:
        print(f"FAILED {exc}", file=sys.stderr)
        return 1
    engine = _engine(args)
    try:  # the weights are loaded and checked before any presenter is tracked
        engine.check_ready()
    except LipsyncError as exc:
        print(f"FAILED {exc}")
        return 1
    options = RenderOptions(
        max_height=args.max_height,
        crf=args.crf,
        preset=args.preset or RenderOptions.preset,
        timeline=args.duration_mode or ("loop" if args.loop else "bounce"),
        no_face=args.no_face,
        match_source=args.match_source,
        duration_s=args.seconds,
    )
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    errors = ErrorLog(out_dir / ERROR_LOG)
    failures: list[str] = []
    interrupted = False
    for video in args.video:
        name = Path(video).name
        if interrupted:
            failures.append(f"{name}: not rendered (interrupted) — run the command again")
            continue
        out = out_dir / output_name(video, args.audio)
        with _Bar(name) as bar:
            try:
                track = engine.prepare(
                    video,
                    pick=_working_pick(video, args.face),
                    progress=bar.stage("prepare", 0.0, 0.3),
                )
                result = engine.render(
                    args.audio,
                    video,
                    track,
                    out,
                    options=options,
                    progress=bar.stage("render", 0.3, 1.0),
                )
            except LipsyncError as exc:
                bar.fail()
                failures.append(str(exc))
                continue
            except KeyboardInterrupt:
                bar.fail()
                interrupted = True
                failures.append(f"{name}: interrupted (Ctrl-C) — run the command again")
                continue
            except Exception as exc:  # one line with a reference; the traceback is logged
                bar.fail()
                failures.append(errors.internal(name, exc))
                continue
        print(
            f"{result.path}  {result.duration_s:.2f} s, {result.frames} frames, "
            f"{result.width}x{result.height} @ {result.fps:g} fps"
            + (
                f", {result.frames_without_face} frames without a face left untouched"
                f" ({format_ranges(result.untouched_ranges)})"
                if result.frames_without_face
                else ""
            )
        )
        try:  # notes on a finished video: a failure here is reported, the video stays
            if args.face is None:
                note = several_faces_note(video, track)
                if note:
                    print(note)
            if args.quality:
                print(quality_line(result.path, video, _face_point(track, result.width)))
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:  # one line with a reference; the traceback is logged
            failures.append(errors.internal(name, exc))
    for reason in failures:
        print(f"FAILED {reason}")
    if interrupted:
        return 130
    return 1 if failures else 0


def _working_pick(video: str, pick: Pick) -> Pick:
    """A ``--face X,Y`` point (pixels of the file) in the pixels the face is tracked at,
    which differ for pictures larger than 1920x1080 (see :mod:`lipsync.picture`)."""
    if not isinstance(pick, tuple):
        return pick
    from .media.probe import probe
    from .picture import working_size

    info = probe(video)
    w, h = working_size(info.width, info.height)
    return (pick[0] * w / max(info.width, 1), pick[1] * h / max(info.height, 1))


def _prepare(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with _Bar(Path(args.video).name) as bar:
        try:
            track = engine.prepare(
                args.video,
                pick=_working_pick(args.video, args.face),
                progress=bar.stage("prepare", 0.0, 1.0),
            )
        except LipsyncError as exc:
            bar.fail()
            print(f"FAILED {exc}")
            return 1
    for line in track_summary(track):
        print(line)
    for line in faces_summary(args.video, track):
        print(line)
    return 0


def _survey(video: str | os.PathLike[str]) -> FaceSurvey | None:
    from .faces.survey import survey_faces

    try:
        return survey_faces(video)
    except LipsyncError:
        return None


def _tracked_number(survey: FaceSurvey, track: FaceTrack) -> int | None:
    from .faces.survey import tracked_number

    return tracked_number(survey, track.boxes, track.present)


def faces_summary(video: str | os.PathLike[str], track: FaceTrack) -> list[str]:
    """Lines listing the faces seen when there are several, and which one is tracked."""
    survey = _survey(video)
    if survey is None or not survey.several:
        return []
    lines = [f"people seen: {survey.people}; faces on frame {survey.frame_index}, from the left:"]
    for n, (x0, y0, x1, y1) in enumerate(survey.boxes, 1):
        lines.append(f"  face {n}: ({x0:.0f},{y0:.0f})-({x1:.0f},{y1:.0f})")
    tracked = _tracked_number(survey, track)
    if tracked is not None:
        lines.append(f"tracked: face {tracked} (choose another with --face N)")
    return lines


def several_faces_note(video: str | os.PathLike[str], track: FaceTrack) -> str:
    """A one-line note when the presenter shows several people and none was chosen."""
    survey = _survey(video)
    if survey is None or not survey.several:
        return ""
    tracked = _tracked_number(survey, track)
    count = len(survey.boxes)
    which = f"face {tracked} of {count}" if tracked else "the largest, most central face"
    return (
        f"note: {Path(video).name} shows {max(survey.people, len(survey.boxes))} people; "
        f"animated {which} (from the left); choose another with --face N"
    )


def _face_point(track: FaceTrack, out_width: int) -> tuple[float, float] | None:
    """The animated face's centre on its first frame, in output pixels (for the check)."""
    present = np.flatnonzero(track.present)
    if not len(present):
        return None
    x0, y0, x1, y1 = (float(v) for v in track.boxes[present[0]])
    k = out_width / max(track.width, 1)
    return ((x0 + x1) / 2 * k, (y0 + y1) / 2 * k)


def quality_line(
    output: str | os.PathLike[str],
    presenter: str | os.PathLike[str],
    face_at: tuple[float, float] | None = None,
) -> str:
    """``quality <score> [check this one] (lip sync, face share, sharpness)`` of an output."""
    from .quality import measure_quality

    try:
        q = measure_quality(output, source=presenter, face_at=face_at)
    except LipsyncError as exc:
        return f"quality: not measured ({exc})"
    sharp = "-" if q.sharpness is None else f"{q.sharpness:.2f}"
    verdict = "  CHECK THIS ONE" if q.needs_review else ""
    return (
        f"quality {q.score}{verdict} (lip sync {q.sync:.2f}, face in {100 * q.face_share:.0f}% "
        f"of measured frames, mouth sharpness {sharp} of the presenter's)"
    )


def track_summary(track: FaceTrack) -> list[str]:
    """Human-readable lines about a FaceTrack: frames, share with a face, face size."""
    import numpy as np

    n = int(track.n_frames)
    present = np.asarray(track.present, bool)
    share = present.mean() if n else 0.0
    lines = [
        f"frames: {n} at {track.fps:g} fps, {track.width}x{track.height}",
        f"with face: {int(present.sum())} of {n} ({100 * share:.0f}%)",
    ]
    if present.any():
        boxes = np.asarray(track.boxes, np.float64)[present]
        w = np.median(boxes[:, 2] - boxes[:, 0])
        h = np.median(boxes[:, 3] - boxes[:, 1])
        lines.append(
            f"face size: {w:.0f}x{h:.0f} px (median), "
            f"{100 * h / max(track.height, 1):.0f}% of the frame height"
        )
    lines.append(f"detector: {track.detector}")
    return lines


def _probe(args: argparse.Namespace) -> int:
    from .media.probe import probe

    try:
        info = probe(args.file)
    except LipsyncError as exc:
        print(f"FAILED {exc}")
        return 1
    print(json.dumps(info.to_dict(), indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    script = BENCH_SCRIPT
    if not script.exists():
        print(f"error: {script} not found", file=sys.stderr)
        return 2
    module = runpy.run_path(str(script), run_name="lipsync_bench")
    bench_main = module.get("main")
    if bench_main is None:
        print(f"error: {script} has no main()", file=sys.stderr)
        return 2
    rest = [a for a in args.args if a != "--"]
    if inspect.signature(bench_main).parameters:
        result = bench_main(rest)
    else:  # a main() that parses sys.argv itself
        saved, sys.argv = sys.argv, [str(script), *rest]
        try:
            result = bench_main()
        finally:
            sys.argv = saved
    return int(result or 0)


# ----------------------------------------------------------------------------- progress


class _Bar:
    """One tqdm bar per file (on stderr): overall percent, with stage, fps and ETA."""

    def __init__(self, name: str) -> None:
        from tqdm import tqdm

        self.name = name
        self.bar = tqdm(
            total=100,
            desc=name,
            unit="%",
            file=sys.stderr,
            leave=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}|{postfix}",
            dynamic_ncols=True,
        )
        self._pos = 0.0
        self.failed = False

    def stage(self, label: str, lo: float, hi: float) -> ProgressCallback:
        """A progress callback for one engine call covering ``lo..hi`` of this bar."""

        def report(p: Progress) -> None:
            overall = lo + (hi - lo) * min(max(p.overall, 0.0), 1.0)
            self._set(overall * 100)
            eta = "" if p.eta_s is None else f" ETA {_clock(p.eta_s)}"
            frames = f" {p.frames_done}/{p.frames_total}" if p.frames_total else ""
            self.bar.set_postfix_str(
                f"{p.stage or label}{frames} {p.fps:.1f} fps{eta}", refresh=False
            )
            self.bar.refresh()

        return report

    def _set(self, value: float) -> None:
        value = min(max(value, self._pos), 100.0)
        self.bar.update(value - self._pos)
        self._pos = value

    def fail(self) -> None:
        self.failed = True
        self.bar.set_postfix_str("failed", refresh=True)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self.failed:
            self._set(100.0)
        self.bar.close()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
