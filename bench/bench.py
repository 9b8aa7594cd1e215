"""Benchmark of the default engine: speed, memory and lip-sync score.

    python bench/bench.py [--quick] [--out DIR] [--engine NAME]
    python -m lipsync bench -- [--quick] ...

For a 720p 25 fps presenter of >= 30 s and one of 5 minutes (made from
``shared/media/sun.mp4`` scaled and padded to 1280x720 and played back and forth, or from a
generated clip of skimage's astronaut photo when the shared media are absent) it measures
x-realtime of *prepare* (face tracking, no cache) and of *render with a cached track*
(encoding included), and the peak RSS of each stage. Every stage runs in its own
subprocess so its peak memory is its own. Then the lip-sync score (see
``bench/lipsync_score.py``) of the unsynced template and of a render driven by speech.

The table is printed and written, with machine info and date, to ``bench/RESULTS.md``
(``--results`` to put it elsewhere). ``--quick`` uses short clips (CI smoke test).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
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
from results_md import split_sections  # noqa: E402

GOALS = {"render": 2.0, "prepare": 1.0, "rss_mib": 1536}
WIDTH, HEIGHT, FPS = 1280, 720, 25


# ----------------------------------------------------------------------------- media


def _encode(path: Path, frames, fps: int = FPS, crf: int = 18) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = None
        for image in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            out.mux(stream.encode(_vf(image)))
        out.mux(stream.encode())
    return path


def _vf(image):
    import av

    return av.VideoFrame.from_ndarray(image, format="rgb24")


def _letterbox(image: np.ndarray, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """Scale to fit ``size`` (1280x720) and pad with the edge colour (a studio backdrop)."""
    import cv2

    width, height = size
    h, w = image.shape[:2]
    s = min(width / w, height / h)
    nw, nh = int(round(w * s)) // 2 * 2, int(round(h * s)) // 2 * 2
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    return cv2.copyMakeBorder(
        small, y0, height - nh - y0, x0, width - nw - x0, cv2.BORDER_REPLICATE
    )


class _Packed:
    """Frames held as JPEG bytes: the benchmark's parent process must stay small, because a
    child's peak RSS (the numbers measured) starts from its parent's at fork."""

    def __init__(self, frames) -> None:
        import cv2

        self._data = [
            cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 93])[1].tobytes() for f in frames
        ]

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, i: int) -> np.ndarray:
        import cv2

        return cv2.imdecode(np.frombuffer(self._data[i], np.uint8), cv2.IMREAD_COLOR)


def _source_frames(size: tuple[int, int] = (WIDTH, HEIGHT)) -> _Packed:
    """One pass of presenter footage of ``size`` (sun.mp4 letterboxed, or the astronaut
    clip)."""
    if (SHARED / "sun.mp4").exists():
        import av

        with av.open(str(SHARED / "sun.mp4")) as c:
            return _Packed(
                _letterbox(f.to_ndarray(format="rgb24"), size) for f in c.decode(video=0)
            )
    return _Packed(_letterbox(f, size) for f in _astronaut_frames(10 * FPS))


def _astronaut_frames(n: int):
    """A presenter made of the astronaut photo, swaying slowly in front of a backdrop."""
    import cv2
    from skimage import data

    face = data.astronaut()[0:300, 60:380]
    face = cv2.resize(face, None, fx=1.6, fy=1.6, interpolation=cv2.INTER_CUBIC)
    base = np.full((HEIGHT, WIDTH, 3), (70, 80, 95), np.uint8)
    _fh, fw = face.shape[:2]
    for i in range(n):
        dx = 6 * np.sin(2 * np.pi * i / 90)
        dy = 3 * np.sin(2 * np.pi * i / 130)
        M = np.float32([[1, 0, (WIDTH - fw) / 2 + dx], [0, 1, 60 + dy]])
        frame = base.copy()
        cv2.warpAffine(face, M, (WIDTH, HEIGHT), dst=frame, borderMode=cv2.BORDER_TRANSPARENT)
        yield frame


def make_presenter(path: Path, seconds: float, source) -> Path:
    """A clip of ``seconds`` playing ``source`` forward and backward (no jump cut)."""
    n = int(round(seconds * FPS))
    period = max(2 * len(source) - 2, 1)

    def frames():
        for i in range(n):
            k = i % period
            yield source[k if k < len(source) else period - k]

    return _encode(path, frames())


def make_speech(path: Path, seconds: float) -> Path:
    """Speech of ``seconds``: eng.wav repeated, or synthetic syllables without shared media."""
    import soundfile as sf

    sr = 16000
    n = int(round(seconds * sr))
    if (SHARED / "eng.wav").exists():
        wav, file_sr = sf.read(str(SHARED / "eng.wav"), dtype="float32", always_2d=True)
        wav = wav.mean(1)
        if file_sr != sr:
            from scipy.signal import resample_poly

            wav = resample_poly(wav, sr, file_sr).astype(np.float32)
        wav = np.tile(wav, int(np.ceil(n / len(wav))))[:n]
    else:
        wav = synthetic_speech(seconds, sr)
    sf.write(str(path), wav, sr, subtype="PCM_16")
    return path


def synthetic_speech(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Voiced syllables (harmonics under a syllable-rate envelope) with pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    syl = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 1.5
    pause = (np.sin(2 * np.pi * 0.25 * t) > -0.6).astype(float)
    return (0.2 * voice * syl * pause).astype(np.float32)


# ----------------------------------------------------------------------------- stages


def encoder_limit(video: Path, output: Path, seconds: float | None = None) -> dict:
    """The physical limit of a render: decode ``video`` and encode it again with the render's
    own encoder settings, the decoded pictures straight into the encoder (no conversion, no
    copy), threaded as the render is. Returns frames, seconds and media seconds."""
    import av

    from lipsync.engines import RenderOptions
    from lipsync.media.writer import frame_rate_fraction

    opts = RenderOptions()
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    frames = 0
    with av.open(str(video)) as src, av.open(str(output), "w", format="mp4") as out:
        inp = src.streams.video[0]
        inp.thread_type = "AUTO"
        fps = float(inp.average_rate or FPS)
        limit = None if seconds is None else int(round(seconds * fps))
        rate = frame_rate_fraction(fps)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = inp.codec_context.width, inp.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = rate**-1
        stream.codec_context.thread_type = "FRAME"
        stream.options = {
            "crf": str(opts.crf),
            "preset": opts.preset,
            "threads": "0",
            **({"x264-params": opts.x264_params} if opts.x264_params else {}),
        }
        for frame in src.decode(inp):
            if limit is not None and frames >= limit:
                break
            # Constant-rate times in the frame's own time base (PyAV rescales them).
            frame.pts = int(round(frames / fps / frame.time_base))
            frames += 1
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return {
        "frames": frames,
        "seconds": time.perf_counter() - t0,
        "cpu_s": _cpu_seconds() - cpu0,
        "media_s": frames / fps,
    }


def _cpu_seconds() -> float:
    """CPU time of this process so far, all its threads (user + system)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _stage_main(args: argparse.Namespace) -> int:
    """Run one stage in this (child) process and print a JSON line with its numbers."""
    if args.stage == "limit":
        result = {
            "stage": "limit",
            **encoder_limit(Path(args.video), Path(args.output), args.seconds),
        }
        result["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("BENCH " + json.dumps(result), flush=True)
        return 0
    from lipsync.engines import RenderOptions, get_engine

    engine = get_engine(args.engine, cache_dir=args.cache)
    # What a render imports on its first call, imported beforehand: a worker process has
    # them loaded from its first job on (about 0.6 s of CPU here).
    import lipsync.audio
    import lipsync.media.video
    import lipsync.media.writer
    import lipsync.timeline  # noqa: F401

    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    track = engine.prepare(args.video)
    t1 = time.perf_counter()
    result = {
        "stage": args.stage,
        "frames": int(track.n_frames),
        "fps": float(track.fps),
        "faces": float(np.mean(track.present)) if track.n_frames else 0.0,
    }
    if args.stage == "prepare":
        result["seconds"] = t1 - t0
        result["media_s"] = track.n_frames / track.fps
    else:
        r = engine.render(
            args.audio,
            args.video,
            track,
            args.output,
            options=RenderOptions(duration_s=args.seconds),
        )
        result["seconds"] = time.perf_counter() - t0
        result["cpu_s"] = _cpu_seconds() - cpu0
        result["media_s"] = r.duration_s
        result["stats"] = r.stats
    result["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH " + json.dumps(result), flush=True)
    return 0


def run_stage(
    stage: str,
    video: Path,
    cache: Path,
    engine: str | None = None,
    audio: Path | None = None,
    output: Path | None = None,
    seconds: float | None = None,
) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--stage",
        stage,
        "--video",
        str(video),
        "--cache",
        str(cache),
    ]
    if engine:
        cmd += ["--engine", engine]
    if audio:
        cmd += ["--audio", str(audio)]
    if output:
        cmd += ["--output", str(output)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"stage {stage} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


# ----------------------------------------------------------------------------- report


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        mem = "?"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": cpu,
        "cores": cores,
        "memory": mem,
        "python": platform.python_version(),
        "system": platform.platform(),
        "load": load,
    }


def _fmt_table(rows: list[dict]) -> str:
    head = "| clip | media s | prepare x-rt | prepare RSS MiB | render x-rt | render RSS MiB |"
    sep = "|---|---:|---:|---:|---:|---:|"
    lines = [head, sep]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['media_s']:.0f} | {r['prepare_x']:.2f} | "
            f"{r['prepare_rss']:.0f} | {r['render_x']:.2f} | {r['render_rss']:.0f} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[dict], scores: dict) -> list[str]:
    out = []
    ok = all(r["render_x"] >= GOALS["render"] for r in rows)
    out.append(f"render >= {GOALS['render']}x realtime: {'met' if ok else 'NOT met'}")
    ok = all(r["prepare_x"] >= GOALS["prepare"] for r in rows)
    out.append(f"prepare >= {GOALS['prepare']}x realtime: {'met' if ok else 'NOT met'}")
    peak = max(max(r["prepare_rss"], r["render_rss"]) for r in rows)
    out.append(
        f"peak RSS < {GOALS['rss_mib']} MiB: {'met' if peak < GOALS['rss_mib'] else 'NOT met'}"
        f" ({peak:.0f} MiB)"
    )
    if len(rows) >= 2:
        a, b = rows[0]["render_rss"], rows[-1]["render_rss"]
        growth = (b - a) / max(a, 1)
        out.append(
            f"render RSS growth from shortest to longest clip: {growth * 100:+.0f}%"
            f" ({'flat' if growth < 0.15 else 'GROWING'})"
        )
    if "synced" in scores:
        ok = scores["synced"] >= 0.4
        out.append(f"lip-sync score >= 0.4: {'met' if ok else 'NOT met'}")
    return out


def write_results(path: Path, table: str, scores: dict, notes: list[str], quick: bool) -> None:
    info = machine_info()
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Date: {now}. Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM, "
        f"Python {info['python']} ({info['system']}); load average (5 min) at the end "
        f"{info['load']:.1f}.{' Quick run (short clips).' if quick else ''}",
        "",
        "Produced by `python bench/bench.py` (rewrites this file). x-rt = media seconds per "
        "wall second; RSS is the peak resident memory of the stage's own process. *prepare* "
        "tracks the face without a cache; *render* uses the cached track and includes decoding "
        "and H.264/AAC encoding. Goals: render >= 2x, prepare >= 1x realtime, peak RSS "
        "< 1.5 GiB and not growing with clip length. Numbers on a machine shared with other "
        "work are noisy.",
        "",
        table,
        "",
        "Lip-sync score (correlation of the mouth opening measured on the output by a fresh "
        "dlib pass with the speech RMS envelope, 1 s moving average removed, best lag within "
        "+-3 frames; goal >= 0.4, an unsynced template should be ~0):",
        "",
    ]
    for k, (v, lag) in scores.get("detail", {}).items():
        lines.append(f"- {k}: {v:.3f} (lag {lag:+d} frames)")
    lines += ["", *[f"- {n}" for n in notes], ""]
    # Other scripts keep their own "## " sections below (bench/results_md.py): carry them over.
    old = path.read_text() if path.exists() else ""
    _head, others = split_sections(old)
    path.write_text("\n".join(lines) + ("\n" + "".join(others) if others else ""))


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short clips (CI smoke test)")
    ap.add_argument("--out", default=None, help="work folder for clips and renders")
    ap.add_argument(
        "--results", default=str(BENCH_DIR / "RESULTS.md"), help="markdown file to (re)write"
    )
    ap.add_argument("--engine", default=None, help="engine name (default: warp)")
    ap.add_argument("--no-score", action="store_true", help="skip the lip-sync score")
    # Internal: one stage in a child process.
    ap.add_argument(
        "--limit",
        action="store_true",
        help="only the limit ratio: render speed against decode + re-encode, 720p and 1080p",
    )
    ap.add_argument(
        "--limit-seconds", type=float, default=20.0, help="clip length of --limit (default 20)"
    )
    ap.add_argument("--repeat", type=int, default=2, help="runs of each --limit measurement")
    ap.add_argument("--stage", choices=["prepare", "render", "limit"], help=argparse.SUPPRESS)
    ap.add_argument("--video", help=argparse.SUPPRESS)
    ap.add_argument("--audio", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        return _stage_main(args)

    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="heygem-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.limit:
        return limit_main(work, Path(args.results), args.engine, args.limit_seconds, args.repeat)
    lengths = (
        [("720p 8 s", 8.0), ("720p 20 s", 20.0)]
        if args.quick
        else [("720p 30 s", 30.0), ("720p 5 min", 300.0)]
    )
    print(f"bench: work folder {work}", flush=True)
    source = _source_frames()
    rows = []
    for label, seconds in lengths:
        tag = f"{int(seconds)}s"
        video = make_presenter(work / f"presenter_{tag}.mp4", seconds, source)
        audio = make_speech(work / f"speech_{tag}.wav", seconds)
        cache = work / f"cache_{tag}"
        prep = run_stage("prepare", video, cache, args.engine)
        rend = run_stage("render", video, cache, args.engine, audio, work / f"out_{tag}.mp4")
        row = _row(label, prep, rend)
        rows.append(row)
        print(
            f"  {label}: prepare {row['prepare_x']:.2f}x ({row['prepare_rss']:.0f} MiB), "
            f"render {row['render_x']:.2f}x ({row['render_rss']:.0f} MiB)",
            flush=True,
        )
    del source
    scores: dict = {"detail": {}}
    if not args.no_score:
        scores = lip_sync_scores(work, args.engine, quick=args.quick)
    notes = verdicts(rows, scores)
    table = _fmt_table(rows + ([scores["row"]] if "row" in scores else []))
    print()
    print(table)
    print()
    for k, (v, lag) in scores.get("detail", {}).items():
        print(f"lip-sync score, {k}: {v:.3f} (lag {lag:+d})")
    for n in notes:
        print(n)
    write_results(Path(args.results), table, scores, notes, args.quick)
    return 0


def limit_main(work: Path, results: Path, engine: str | None, seconds: float, repeat: int) -> int:
    """Render speed against the limit (decode + re-encode) at 720p and 1080p, side by side.

    Each measurement runs ``repeat`` times, alternating limit and render so both see the
    same load, and the fastest run of each counts (the machine is shared; the fastest is the
    one least disturbed). Writes the "## Limit ratio" section of ``results``.
    """
    from results_md import replace_section

    rows = []
    for label, size in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        tag = f"{label}_{int(seconds)}s"
        video = make_presenter(work / f"presenter_{tag}.mp4", seconds, _source_frames(size))
        audio = make_speech(work / f"speech_{tag}.wav", seconds)
        cache = work / f"cache_{tag}"
        run_stage("prepare", video, cache, engine)
        limits, renders = [], []
        for _ in range(max(repeat, 1)):
            limits.append(run_stage("limit", video, cache, output=work / f"limit_{tag}.mp4"))
            renders.append(
                run_stage("render", video, cache, engine, audio, work / f"out_{tag}.mp4")
            )
        lim = min(limits, key=lambda r: r["seconds"])
        ren = min(renders, key=lambda r: r["seconds"])
        row = {
            "clip": f"{label} {seconds:.0f} s",
            "limit_x": lim["media_s"] / lim["seconds"],
            "render_x": ren["media_s"] / ren["seconds"],
            "limit_rss": max(r["maxrss_mib"] for r in limits),
            "render_rss": max(r["maxrss_mib"] for r in renders),
            # CPU per frame (all threads): steadier than wall time on a shared machine.
            "limit_cpu": 1000 * min(r["cpu_s"] / (r["media_s"] * FPS) for r in limits),
            "render_cpu": 1000 * min(r["cpu_s"] / (r["media_s"] * FPS) for r in renders),
            "mouth_cpu": 1000
            * min(
                float(r["stats"].get("mouth_cpu_seconds", 0.0)) / (r["media_s"] * FPS)
                for r in renders
            ),
        }
        row["ratio"] = row["render_x"] / row["limit_x"]
        row["cpu_ratio"] = row["limit_cpu"] / row["render_cpu"]
        row["cpu_ratio_no_mouth"] = row["limit_cpu"] / max(
            row["render_cpu"] - row["mouth_cpu"], 1e-6
        )
        rows.append(row)
        print(
            f"  {row['clip']}: limit {row['limit_x']:.2f}x, render {row['render_x']:.2f}x, "
            f"ratio {row['ratio']:.2f}",
            flush=True,
        )
    table = "\n".join(
        [
            "| clip | limit x-rt | render x-rt | ratio | limit CPU ms/f | render CPU ms/f "
            "| of it mouth | CPU ratio | CPU ratio without mouth | limit RSS MiB "
            "| render RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {r['clip']} | {r['limit_x']:.2f} | {r['render_x']:.2f} | {r['ratio']:.2f} "
                f"| {r['limit_cpu']:.1f} | {r['render_cpu']:.1f} | {r['mouth_cpu']:.1f} "
                f"| {r['cpu_ratio']:.2f} | {r['cpu_ratio_no_mouth']:.2f} "
                f"| {r['limit_rss']:.0f} | {r['render_rss']:.0f} |"
                for r in rows
            ),
        ]
    )
    print()
    print(table)
    info = machine_info()
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            "## Limit ratio (bench/bench.py --limit)",
            "",
            f"Date: {now}. Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM, "
            f"no GPU; load average (5 min) at the end {info['load']:.1f}. Best of {repeat} "
            "runs each, limit and render alternating.",
            "",
            "*limit*: decode the presenter and encode it again with the render's encoder "
            "settings (libx264 superfast + mbtree, CRF 20), decoded pictures straight into the "
            "encoder, no audio. *render*: the warp engine with a cached face track, speech "
            "(AAC) included. ratio = render x-rt / limit x-rt (goal >= 0.85). CPU ms/f: CPU "
            "time of the stage's process (all threads) per frame; *of it mouth*: the warp "
            "engine's mouth work (animate + blend, on the main thread); CPU ratio = limit CPU / "
            "render CPU, which is what the wall-clock ratio comes to when both keep every core "
            "busy. RSS: peak of the stage's own process.",
            "",
            table,
            "",
        ]
    )
    replace_section(results, "Limit ratio", body)
    return 0


def _row(label: str, prep: dict, rend: dict) -> dict:
    return {
        "clip": label,
        "media_s": rend["media_s"],
        "prepare_x": prep["media_s"] / prep["seconds"],
        "prepare_rss": prep["maxrss_mib"],
        "render_x": rend["media_s"] / rend["seconds"],
        "render_rss": rend["maxrss_mib"],
    }


def lip_sync_scores(work: Path, engine: str | None, quick: bool = False) -> dict:
    """Score of the unsynced template and of a render driven by the speech."""
    from lipsync_score import video_sync_score

    seconds = 10.0 if quick else 30.0
    if (SHARED / "sun.mp4").exists() and (SHARED / "eng.wav").exists():
        presenter, speech = SHARED / "sun.mp4", SHARED / "eng.wav"
        name = f"sun.mp4 + first {seconds:.0f} s of eng.wav"
    else:
        presenter = make_presenter(
            work / "score_presenter.mp4", seconds, _Packed(_astronaut_frames(5 * FPS))
        )
        speech = make_speech(work / "score_speech.wav", seconds)
        name = f"astronaut clip + synthetic speech ({seconds:.0f} s)"
    cache = work / "cache_score"
    out = work / "score_render.mp4"
    prep = run_stage("prepare", presenter, cache, engine)
    rend = run_stage("render", presenter, cache, engine, speech, out, seconds=seconds)
    row = _row(f"{presenter.name} driven by {seconds:.0f} s of speech", prep, rend)
    synced = video_sync_score(str(out), str(speech), seconds)
    template = video_sync_score(str(presenter), str(speech), seconds)
    return {
        "synced": synced[0],
        "template": template[0],
        "row": row,
        "detail": {
            f"template, unsynced ({presenter.name})": template[:2],
            f"rendered, {name}": synced[:2],
        },
    }


if __name__ == "__main__":
    sys.exit(main())
