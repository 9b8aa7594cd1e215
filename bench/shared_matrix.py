"""Every shared presenter with every shared speech: lip sync and closed mouths in silence.

    python bench/shared_matrix.py [--seconds 10] [--engine warp] [--out DIR] [--no-write]

Each file of ``shared/media`` that shows a face (videos and stills) is rendered as a presenter
with ``eng.wav`` and with each shared speech file, the first ``--seconds`` of the speech
(default 10 s, so the whole matrix runs in minutes on two cores; the speech files are 5-9 s,
``eng.wav`` is cut, and its first 3 s are silence). Every render runs in its own process, so
its peak RSS (including face tracking the first time a presenter is seen; later renders read
the cached track) is its own. The output is then measured by a separate landmark pass
(:class:`lipsync.quality.MouthMeter`: a fresh dlib detection and 68 points on every frame):

* **sync**: the benchmark's lip-sync score (:func:`lipsync.quality.sync_score`, mouth opening
  vs the speech's RMS per frame, 1 s moving average removed, best lag within +-3 frames);
  goal >= 0.5 on every pair;
* **silent/speaking**: the mean mouth opening (inner-lip gap over face height) over the
  frames where the speech is silent, divided by that over the frames where it is speech.
  Silence and speech come from :func:`lipsync.silence.speech_activity`; the frames of the
  gate's ramps (the mouth opening and closing around speech) count as neither. Goal <= 0.2
  (the mean over the pairs with at least 10 silent frames; ``speech_ja_24bit.wav`` has only
  a few silent frames at its ends and ``speech_en_short.wav`` none, so theirs is "-").

``still_odd_size.jpeg`` (450x675) goes in as it is: the engine crops its odd side itself.

The table goes to stdout and, unless ``--no-write``, to the "## Shared media" section of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SHARED = ROOT.parent / "shared" / "media"
for p in (str(ROOT), str(BENCH_DIR)):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np  # noqa: E402

PRESENTERS = (
    "sun.mp4",
    "face_close_a.mp4",
    "face_close_b.mp4",
    "face_close_c.mp4",
    "interview_mpeg4.mp4",
    "still_painting.png",
    "still_photo.png",
    "still_odd_size.jpeg",
)
SPEECHES = ("eng.wav", "speech_zh.wav", "speech_ja_24bit.wav", "speech_en_short.wav")
SYNC_GOAL = 0.5
RATIO_GOAL = 0.2
FLOOR_NOTE = (
    "the landmark pass reads 0.005-0.03 face heights on mouths that are visibly closed (about "
    "0.02 on talking or smiling templates closed by the warp, 0.005 on stills whose own mouth "
    "is closed): that floor, not a moving mouth, sets the silent/speaking ratio; drawing the "
    "closed lips without the seam or without the lip-line repaint does not lower it (measured "
    "on frames of sun.mp4, face_close_a.mp4 and face_close_b.mp4)"
)
#: Fewest silent frames (0.4 s at 25 fps) whose mean opening is worth a ratio: the landmark
#: pass reads 0.01-0.03 face heights on a closed mouth, frame to frame.
MIN_SILENT_FRAMES = 10


# ----------------------------------------------------------------------------- one render


def _child(args: argparse.Namespace) -> int:
    """Render one pair in this process and print its numbers as a JSON line."""
    from lipsync.engines import RenderOptions, get_engine

    engine = get_engine(args.engine, cache_dir=args.cache)
    t0 = time.perf_counter()
    track = engine.prepare(args.video)
    t1 = time.perf_counter()
    r = engine.render(
        args.audio, args.video, track, args.output, options=RenderOptions(duration_s=args.seconds)
    )
    t2 = time.perf_counter()
    out = {
        "media_s": r.duration_s,
        "fps": r.fps,
        "prepare_s": t1 - t0,
        "render_s": t2 - t1,
        "x_realtime": r.duration_s / max(t2 - t1, 1e-9),
        "no_face": r.frames_without_face,
        "frames": r.frames,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("PAIR " + json.dumps(out), flush=True)
    return 0


def render_pair(
    engine: str, video: Path, audio: Path, output: Path, cache: Path, seconds: float
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--engine",
        engine,
        "--video",
        str(video),
        "--audio",
        str(audio),
        "--output",
        str(output),
        "--cache",
        str(cache),
        "--seconds",
        str(seconds),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("PAIR "):
            result: dict = json.loads(line[5:])
            return result
    raise RuntimeError(f"render failed ({proc.returncode}): {proc.stderr[-1500:]}")


# ----------------------------------------------------------------------------- measuring


def measure(video: Path, audio: Path, seconds: float) -> dict:
    """Sync score and silent/speaking opening of a rendered video (fresh landmark pass)."""
    from lipsync.audio import SAMPLE_RATE, load_audio
    from lipsync.quality import video_sync_score
    from lipsync.silence import silence_gate, speech_activity

    score, lag, mouth, _env = video_sync_score(video, audio, seconds)
    import av

    with av.open(os.fspath(video)) as c:
        fps = float(c.streams.video[0].average_rate or 25)
    wav = load_audio(audio)[: int(round(seconds * SAMPLE_RATE))]
    act = speech_activity(wav, fps, len(mouth))
    gate = silence_gate(act, fps)
    ok = np.isfinite(mouth)
    silent = ok & (gate <= 0)
    speaking = ok & act
    s_mean = float(mouth[silent].mean()) if silent.sum() >= MIN_SILENT_FRAMES else float("nan")
    p_mean = float(mouth[speaking].mean()) if speaking.any() else float("nan")
    return {
        "sync": float(score),
        "lag": int(lag),
        "silent_frames": int(silent.sum()),
        "silent_open": s_mean,
        "speaking_open": p_mean,
        "ratio": s_mean / p_mean if p_mean > 0 else float("nan"),
        "faces": float(ok.mean()) if len(ok) else 0.0,
    }


# ----------------------------------------------------------------------------- report


def table(rows: list[dict]) -> str:
    lines = [
        "| presenter | speech | sync | silent frames | silent/speaking | x-realtime "
        "| peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['presenter']} | {r['speech']} | failed: {r['error']} | | | | |")
            continue
        ratio = "-" if not np.isfinite(r["ratio"]) else f"{r['ratio']:.3f}"
        lines.append(
            f"| {r['presenter']} | {r['speech']} | {r['sync']:.2f} | {r['silent_frames']} | "
            f"{ratio} | {r['x_realtime']:.2f} | {r['maxrss_mib']:.0f} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict]) -> list[str]:
    done = [r for r in rows if "error" not in r]
    out = [f"pairs rendered: {len(done)} of {len(rows)}"]
    if not done:
        return out
    syncs = np.array([r["sync"] for r in done])
    low = [f"{r['presenter']} + {r['speech']} {r['sync']:.2f}" for r in done if r["sync"] < 0.5]
    out.append(
        f"sync >= {SYNC_GOAL}: {int((syncs >= SYNC_GOAL).sum())} of {len(done)} pairs "
        f"(mean {syncs.mean():.2f}, min {syncs.min():.2f})"
        + (f"; below: {', '.join(low)}" if low else "")
        + (" - met" if not low and len(done) == len(rows) else " - NOT met")
    )
    ratios = np.array([r["ratio"] for r in done if np.isfinite(r["ratio"])])
    if ratios.size:
        mean = float(ratios.mean())
        out.append(
            f"mean silent/speaking mouth opening over the {ratios.size} pairs with silence: "
            f"{mean:.3f} (max {ratios.max():.3f}) - goal <= {RATIO_GOAL}: "
            f"{'met' if mean <= RATIO_GOAL else 'NOT met'}"
        )
    xs = np.array([r["x_realtime"] for r in done])
    out.append(
        f"x-realtime (render with a cached track, encode included): median {np.median(xs):.2f}, "
        f"min {xs.min():.2f}; peak RSS {max(r['maxrss_mib'] for r in done):.0f} MiB"
    )
    return out


def write_results(path: Path, engine: str, seconds: float, body: str, notes: list[str]) -> None:
    from results_md import replace_section

    load = os.getloadavg()[1]
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0))
    text = "\n".join(
        [
            "## Shared media (bench/shared_matrix.py)",
            "",
            f"Date: {now}. {cores} cores, load average (5 min) {load:.1f}. Engine `{engine}`; "
            f"every shared presenter with the first {seconds:.0f} s of every shared speech "
            "(eng.wav starts with 3 s of silence). sync: the lip-sync score measured on the "
            "output by a fresh dlib pass on every frame (goal >= 0.5 on every pair); "
            "silent/speaking: mean mouth opening (inner-lip gap / face height) in the silent "
            "frames over that in the speech frames, by `lipsync.silence.speech_activity`, "
            "ramps excluded (goal <= 0.2 on the mean; '-' with under 10 silent frames). "
            "x-realtime: the render with a cached track, encoding included; peak RSS of the "
            "render's own process (the first render of a presenter also tracks its face).",
            "",
            body,
            "",
            *[f"- {n}" for n in notes],
            "",
        ]
    )
    replace_section(path, "Shared media", text)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="shared_matrix.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="speech seconds per pair")
    ap.add_argument("--engine", default="warp")
    ap.add_argument("--out", default=None, help="work folder for renders")
    ap.add_argument("--presenters", nargs="*", default=list(PRESENTERS))
    ap.add_argument("--speeches", nargs="*", default=list(SPEECHES))
    ap.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--video", help=argparse.SUPPRESS)
    ap.add_argument("--audio", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args)
    if not SHARED.is_dir():
        print(f"no shared media at {SHARED}", file=sys.stderr)
        return 2
    work = Path(args.out or tempfile.mkdtemp(prefix="shared-matrix-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    rows: list[dict] = []
    for name in args.presenters:
        video = SHARED / name
        for speech in args.speeches:
            audio = SHARED / speech
            out = work / f"{Path(name).stem}__{Path(speech).stem}.mp4"
            row: dict = {"presenter": name, "speech": speech}
            try:
                row.update(render_pair(args.engine, video, audio, out, cache, args.seconds))
                row.update(measure(out, audio, args.seconds))
            except RuntimeError as exc:
                row["error"] = str(exc).strip().splitlines()[-1][:120]
            rows.append(row)
            print(json.dumps(row), flush=True)
    body = table(rows)
    notes = [*summary(rows), FLOOR_NOTE]
    print(body)
    print("\n".join(notes))
    if not args.no_write:
        write_results(Path(args.results), args.engine, args.seconds, body, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
