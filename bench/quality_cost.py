"""The quality check (``lipsync/quality.py``): its cost against the render, and its verdicts.

    python bench/quality_cost.py [--quick] [--reference] [--results bench/RESULTS.md]

For a 720p and a 1080p presenter (``shared/media/sun.mp4`` letterboxed, or the astronaut clip
without the shared media) driven by 20 s of speech, it renders with the warp engine (cached
face track, as a worker does) and then runs the check on the output in the same process, one
after the other, three rounds; the table gives the median wall and CPU seconds of each and
the check's share of the render (goal: under 10 %). The dlib models are loaded before the
first round, as in a worker that has checked a video before.

Then the verdicts on four videos of the 720p presenter: the render (synced), the template
with unrelated speech, the render with its speech shifted by 1 s, and the render with the
lower half of the face blurred to about 48 px across (a low-resolution neural patch).
``--reference`` adds the benchmark's full measurement (a detection on every frame) of the
same videos, to compare the budgeted check's lip-sync figure with.

Writes the "## Quality check" section of ``bench/RESULTS.md`` (other sections are kept).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for p in (str(ROOT), str(BENCH_DIR)):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np  # noqa: E402
from results_md import replace_section  # noqa: E402

import bench  # noqa: E402

#: This script's section of RESULTS.md (bench/results_md.py) and its heading line.
SECTION = "Quality check"
HEADING = f"## {SECTION} (bench/quality_cost.py)"
GOAL_SHARE = 0.10


def _times(fn: Callable[[], object]) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _presenter(work: Path, height: int, seconds: float) -> Path:
    import cv2

    frames = bench._source_frames()
    if height != bench.HEIGHT:
        width = height * 16 // 9

        class Scaled:
            def __len__(self) -> int:
                return len(frames)

            def __getitem__(self, i: int) -> np.ndarray:
                return cv2.resize(frames[i], (width, height), interpolation=cv2.INTER_CUBIC)

        source: object = Scaled()
    else:
        source = frames
    return bench.make_presenter(work / f"presenter_{height}p.mp4", seconds, source)


def _remux(video: Path, audio: Path, out: Path, frames: int, edit=None) -> Path:
    """``video``'s first ``frames`` frames (optionally changed by ``edit(i, image)``) with the
    sound of ``audio``."""
    import av

    from lipsync.media.writer import VideoWriter

    writer = None
    with av.open(str(video)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            image = f.to_ndarray(format="rgb24")
            if writer is None:
                writer = VideoWriter(out, image.shape[1], image.shape[0], 25, audio=audio)
            writer.write(edit(i, image) if edit else image)
    assert writer is not None
    writer.close()
    return out


def _blur_lower_face(track) -> Callable[[int, np.ndarray], np.ndarray]:
    import cv2

    def edit(i: int, image: np.ndarray) -> np.ndarray:
        lm = track.landmarks[min(i % (2 * track.n_frames - 2 or 1), track.n_frames - 1)]
        if not np.isfinite(lm).all():
            return image
        x0, x1 = int(lm[:, 0].min()), int(lm[:, 0].max())
        y0, y1 = int(lm[29, 1]), int(lm[8, 1]) + 4
        crop = image[y0:y1, x0:x1]
        k = 48 / max(x1 - x0, 1)
        small = cv2.resize(
            crop, (max(4, int(crop.shape[1] * k)), max(4, int(crop.shape[0] * k))), cv2.INTER_AREA
        )
        image = image.copy()
        image[y0:y1, x0:x1] = cv2.resize(small, (crop.shape[1], crop.shape[0]))
        return image

    return edit


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="quality_cost.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="6 s of speech, 720p only")
    ap.add_argument("--reference", action="store_true", help="add the full-frame measurement")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None, help="work folder")
    ap.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"))
    args = ap.parse_args(argv)

    from lipsync.engines import get_engine
    from lipsync.quality import _dlib_models, measure_quality, video_sync_score

    work = Path(args.out or tempfile.mkdtemp(prefix="quality-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = 6.0 if args.quick else 20.0
    heights = [720] if args.quick else [720, 1080]
    speech = bench.make_speech(work / "speech.wav", seconds)
    engine = get_engine("warp", device="cpu", cache_dir=work / "cache")
    _dlib_models()
    rows, renders = [], {}
    for height in heights:
        presenter = _presenter(work, height, 8.0)
        track = engine.prepare(presenter)
        out = work / f"render_{height}p.mp4"
        render_t, check_t = [], []
        report = None
        for _ in range(args.rounds):
            render_t.append(
                _times(lambda p=presenter, t=track, o=out: engine.render(speech, p, t, o))[:2]
            )
            wall, cpu, report = _times(lambda o=out, p=presenter: measure_quality(o, source=p))
            check_t.append((wall, cpu))
        rw = statistics.median(t[0] for t in render_t)
        rc = statistics.median(t[1] for t in render_t)
        cw = statistics.median(t[0] for t in check_t)
        cc = statistics.median(t[1] for t in check_t)
        rows.append((height, rw, rc, cw, cc, report))
        renders[height] = (presenter, track, out)
        print(f"{height}p: render {rw:.2f} s, check {cw:.2f} s ({100 * cw / rw:.1f} %)")

    presenter, track, out = renders[720]
    n = int(round(seconds * 25))
    variants = {"render (synced)": out}
    variants["template + unrelated speech"] = _remux(presenter, speech, work / "unsynced.mp4", n)
    wav = work / "shifted.wav"
    import soundfile as sf

    data, sr = sf.read(str(speech), dtype="float32")
    sf.write(str(wav), np.r_[np.zeros(sr, np.float32), data][: len(data)], sr)
    variants["render, speech shifted by 1 s"] = _remux(out, wav, work / "shifted.mp4", n)
    variants["render, lower face blurred"] = _remux(
        out, speech, work / "blurred.mp4", n, _blur_lower_face(track)
    )
    verdicts = []
    for name, video in variants.items():
        q = measure_quality(video, source=presenter)
        # The reference measures against the video's own sound, as the check does.
        ref = video_sync_score(video, video)[0] if args.reference else None
        verdicts.append((name, q, ref))
        print(f"{name}: {q.score} sync {q.sync:.3f} sharp {q.sharpness}")

    lines = [
        HEADING,
        "",
        f"Date: {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M UTC}. Machine: "
        f"{bench.machine_info()['cpu']}, {bench.machine_info()['cores']} cores, load average "
        f"(5 min) {bench.machine_info()['load']:.1f}. {seconds:.0f} s of speech over an 8 s "
        "presenter played back and forth; the warp engine renders with a cached face track, "
        "then the check runs on the output in the same process (dlib models already loaded, "
        f"as in a worker); medians of {args.rounds} rounds. Goal: the check under "
        f"{100 * GOAL_SHARE:.0f} % of the render.",
        "",
        "| video | render s (wall) | check s (wall) | check / render (wall) | render CPU s "
        "| check CPU s | check / render (CPU) | frames measured / total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ok = True
    for height, rw, rc, cw, cc, report in rows:
        ok = ok and cw / rw < GOAL_SHARE
        lines.append(
            f"| {height}p {seconds:.0f} s | {rw:.2f} | {cw:.2f} | {100 * cw / rw:.1f} % | "
            f"{rc:.2f} | {cc:.2f} | {100 * cc / rc:.1f} % | "
            f"{report.frames_measured} / {report.frames_total} |"
        )
    lines += [
        "",
        f"- check under {100 * GOAL_SHARE:.0f} % of the render: {'met' if ok else 'NOT met'}",
        "",
        "Verdicts (score 0-100, below 50: *check this one*; lip sync = correlation of the "
        "measured mouth opening with the speech envelope; sharpness = mouth region against "
        "the eyes, output over presenter):",
        "",
        "| video | score | verdict | lip sync | face share | sharpness |"
        + (" full-frame lip sync |" if args.reference else ""),
        "|---|---:|---|---:|---:|---:|" + ("---:|" if args.reference else ""),
    ]
    for name, q, ref in verdicts:
        sharp = "-" if q.sharpness is None else f"{q.sharpness:.2f}"
        lines.append(
            f"| {name} | {q.score} | {'check this one' if q.needs_review else 'ok'} | "
            f"{q.sync:.2f} | {q.face_share:.2f} | {sharp} |"
            + (f" {ref:.2f} |" if ref is not None else "")
        )
    replace_section(Path(args.results), SECTION, "\n".join(lines))
    print(f"written to {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
