"""``python -m lipsync``: render, prepare, probe and bench from a terminal.

``render`` makes one MP4 per presenter. A presenter that fails (any :class:`LipsyncError`)
does not stop the others; the command then lists every failure as ``FAILED <reason>`` and
exits with status 1.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import LipsyncError
from .progress import Progress, ProgressCallback

if TYPE_CHECKING:
    from .engines import Engine
    from .track import FaceTrack

CACHE_ENV = "LIPSYNC_CACHE_DIR"
BENCH_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "heygem-lipsync")


def output_name(video: str | os.PathLike[str], audio: str | os.PathLike[str]) -> str:
    """``<video stem>__<audio stem>.mp4``."""
    return f"{Path(video).stem}__{Path(audio).stem}.mp4"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lipsync", description="Lip-sync presenters to a speech track."
    )
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
        "--loop",
        action="store_true",
        help="restart the presenter clip instead of playing it back and forth",
    )
    r.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="render only the first seconds of the speech (preview)",
    )

    p = sub.add_parser("prepare", help="track the presenter's face and cache it")
    p.add_argument("video")
    p.add_argument("--engine", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--cache-dir", default=None)

    q = sub.add_parser("probe", help="print what a media file holds, as JSON")
    q.add_argument("file")

    b = sub.add_parser("bench", help="run bench/bench.py")
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed on to the benchmark")

    from .models.cli import add_parser as add_models_parser

    add_models_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {
        "render": _render,
        "prepare": _prepare,
        "probe": _probe,
        "bench": _bench,
        "models": _models,
    }[args.command](args)


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
        timeline="loop" if args.loop else "pingpong",
        duration_s=args.seconds,
    )
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for video in args.video:
        out = out_dir / output_name(video, args.audio)
        with _Bar(Path(video).name) as bar:
            try:
                track = engine.prepare(video, progress=bar.stage("prepare", 0.0, 0.3))
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
        print(
            f"{result.path}  {result.duration_s:.2f} s, {result.frames} frames, "
            f"{result.width}x{result.height} @ {result.fps:g} fps"
            + (
                f", {result.frames_without_face} frames without a face"
                if result.frames_without_face
                else ""
            )
        )
    for reason in failures:
        print(f"FAILED {reason}")
    return 1 if failures else 0


def _prepare(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with _Bar(Path(args.video).name) as bar:
        try:
            track = engine.prepare(args.video, progress=bar.stage("prepare", 0.0, 1.0))
        except LipsyncError as exc:
            bar.fail()
            print(f"FAILED {exc}")
            return 1
    for line in track_summary(track):
        print(line)
    return 0


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
