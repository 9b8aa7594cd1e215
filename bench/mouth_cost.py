"""Per-frame cost of the warp engine's mouth work, speaking and silent.

    python bench/mouth_cost.py [--frames 150] [--rounds 3] [--baseline DIR] [--write]

For shared presenters (``shared/media``) the mouth of each frame is animated
(:func:`lipsync.mouth.animate.animate_mouth`) and blended back
(:class:`lipsync.composite.Compositor`) exactly as the warp engine does, with no decoding or
encoding in the timing: the frames are decoded first, the face track is read from a cache.
*speaking* drives the opening with a syllable-like sway (0 to the largest opening, shapes
changing), *silent* with the gate closed (opening 0), as a render does in pauses. Time is the
process's CPU time with one OpenCV thread, so other work on a shared machine changes it
less (about +-1 ms a frame between runs on the 2-core machine).
The median over ``--rounds`` of the mean CPU milliseconds per frame is printed, for this
checkout's ``lipsync`` and (with ``--baseline DIR``) another checkout's to compare; each runs
in its own process, the rounds alternating between them. ``--write`` puts the table in the
"## Mouth cost" section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SHARED = ROOT.parent / "shared" / "media"

PRESENTERS = ("sun.mp4", "face_close_b.mp4", "still_photo.png")


def measure(name: str, frames: int, rounds: int, cache: Path) -> dict[str, float]:
    import numpy as np

    from lipsync.composite import Compositor
    from lipsync.engines import get_engine
    from lipsync.media.video import open_video
    from lipsync.mouth.animate import animate_mouth
    from lipsync.mouth.drive import MAX_OPEN

    path = SHARED / name
    track = get_engine("warp", cache_dir=cache).prepare(path)
    with open_video(path, fps=track.fps) as v:
        images = [f.image for f, _ in zip(v.frames(), range(frames))]
    t = np.arange(frames)
    drives = {
        "speaking": (
            MAX_OPEN * (0.5 + 0.5 * np.sin(t * 1.3)) ** 1.5,
            np.sin(t * 0.37),
        ),
        "silent": (np.zeros(frames), np.zeros(frames)),
    }
    out: dict[str, float] = {}
    for label, (opening, shape) in drives.items():
        per_round = []
        for _ in range(rounds):
            comp = Compositor(extend_down=0.04, colour_match=False)
            spent = 0.0
            for i in range(frames):
                k = i % len(images)
                image = images[k].copy()
                lm = track.landmarks[k]
                t0 = time.process_time()
                patch = animate_mouth(image, lm, float(opening[i]), float(shape[i]))
                comp.paste(image, patch.image, patch.box, np.stack([lm, patch.target]))
                spent += time.process_time() - t0
            per_round.append(spent / frames * 1000)
        out[label] = statistics.median(per_round)
    return out


def _measure_in(code: Path, frames: int, rounds: int, cache: Path) -> dict[str, dict[str, float]]:
    """:func:`measure` of every presenter with ``code``'s lipsync, in a fresh process."""
    import json
    import subprocess

    cmd = [sys.executable, __file__, "--json", "--code", os.fspath(code)]
    cmd += ["--frames", str(frames), "--rounds", str(rounds), "--cache", os.fspath(cache)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mouth_cost.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--code", default=None, help="checkout whose lipsync/ to measure")
    ap.add_argument("--baseline", default=None, help="another checkout to compare with")
    ap.add_argument("--cache", default=None, help="face-track cache folder")
    ap.add_argument("--write", action="store_true", help="write the Mouth cost section")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cache = Path(args.cache or Path.home() / ".cache" / "heygem-lipsync")
    if args.json:
        import json

        import cv2

        # One OpenCV thread: its idle workers spin, which would count as CPU time of the
        # mouth work and vary with the machine's load.
        cv2.setNumThreads(1)
        sys.path.insert(0, os.fspath(Path(args.code).resolve()))
        out = {n: measure(n, args.frames, args.rounds, cache) for n in PRESENTERS}
        print(json.dumps(out))
        return 0
    code = Path(args.code).resolve() if args.code else ROOT
    # Rounds alternate between the two checkouts, each in a fresh process, so a change in
    # the machine's load falls on both alike; the median of the rounds is kept.
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"here": [], "base": []}
    for _ in range(args.rounds):
        runs["here"].append(_measure_in(code, args.frames, 1, cache))
        if args.baseline:
            runs["base"].append(_measure_in(Path(args.baseline), args.frames, 1, cache))

    def median(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
        return {
            n: {k: statistics.median(r[n][k] for r in rounds) for k in ("speaking", "silent")}
            for n in PRESENTERS
        }

    here = median(runs["here"])
    base = median(runs["base"]) if args.baseline else {}
    lines = [
        "| presenter | speaking CPU ms/frame | silent CPU ms/frame |"
        + (" before: speaking | before: silent |" if base else ""),
        "|---|---:|---:|" + ("---:|---:|" if base else ""),
    ]
    for name in PRESENTERS:
        row = f"| {name} | {here[name]['speaking']:.2f} | {here[name]['silent']:.2f} |"
        if base:
            row += f" {base[name]['speaking']:.2f} | {base[name]['silent']:.2f} |"
        lines.append(row)
    table = "\n".join(lines)
    print(table)
    if args.write:
        import datetime as _dt

        sys.path.insert(0, os.fspath(BENCH_DIR))
        from results_md import replace_section

        now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = (
            "## Mouth cost (bench/mouth_cost.py)\n\n"
            f"Date: {now}. {len(os.sched_getaffinity(0))} cores, load average (5 min) "
            f"{os.getloadavg()[1]:.1f}. CPU time of the warp engine's mouth work per frame "
            "(animate the mouth, blend it back; no decode or encode), median of "
            f"{args.rounds} rounds of {args.frames} frames; *speaking* sways the opening "
            "over its whole range, *silent* is the closed mouth of a pause; one OpenCV thread, "
            "rounds alternating between the checkouts; runs vary by about +-1 ms a frame."
            + (" *before*: the same measurement of the main branch's code." if base else "")
            + "\n\n"
            + table
            + "\n"
        )
        replace_section(BENCH_DIR / "RESULTS.md", "Mouth cost", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
