"""GPU benchmark of the neural engines: x-realtime of the model alone and of the whole render.

    python bench/gpu.py [--seconds 60] [--engines wav2lip,musetalk15] [--heights 720,1080]
                        [--device cuda:0] [--quick] [--no-write]

For ``wav2lip`` and ``musetalk15`` with random weights of the full size (built here, in the
public formats, into a temporary model folder), on a presenter at 720p and 1080p driven by
``--seconds`` of speech (``shared/media/eng.wav`` when present, else synthetic speech), it
measures, side by side in one run:

- *model x-rt*: the networks alone on the device (Wav2Lip: the generator on 96x96 crops;
  MuseTalk: the Whisper encoder for the whole audio, then UNet + VAE decoding per frame),
  seconds of video per wall second, batches as the engine sends them;
- *render x-rt*: the whole render with a cached face track (decode, crops, network,
  compositing, H.264/AAC encoding), for fp32 and fp16 and for libx264 and NVENC;
- peak GPU memory (``torch.cuda.max_memory_allocated``) of each run.

Goals on one H100/H200-class GPU: Wav2Lip whole 720p render >= 20x realtime, MuseTalk 1.5
>= 4x. The table is printed and written into the "## GPU" section of ``bench/RESULTS.md``.
Without CUDA it prints why and the empty table, and exits 0 (nothing to measure).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SHARED = ROOT.parent / "shared" / "media"
for _p in (str(ROOT), str(BENCH_DIR)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from results_md import replace_section  # noqa: E402

GOALS = {"wav2lip": 20.0, "musetalk15": 4.0}
FPS = 25
#: Seconds of presenter footage (played back and forth under the speech).
PRESENTER_S = 8.0


@dataclass
class Row:
    engine: str
    height: int
    precision: str
    codec: str
    model_xrt: float | None
    render_xrt: float | None
    render_fps: float | None
    peak_gib: float | None
    note: str = ""


HEADER = (
    "| engine | video | precision | encoder | model x-rt | render x-rt | render fps "
    "| peak GPU GiB | goal |\n|---|---|---|---|---:|---:|---:|---:|---|"
)


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(rows: list[Row]) -> str:
    lines = [HEADER]
    for r in rows:
        goal = GOALS.get(r.engine)
        met = ""
        if goal and r.render_xrt is not None and r.height == 720:
            met = f"{'met' if r.render_xrt >= goal else 'NOT met'} (>= {goal:g}x)"
        lines.append(
            f"| {r.engine} | {r.height}p | {r.precision} | {r.codec} | {_fmt(r.model_xrt)} "
            f"| {_fmt(r.render_xrt)} | {_fmt(r.render_fps, 0)} | {_fmt(r.peak_gib, 2)} "
            f"| {met or r.note} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- inputs


def make_models(root: Path, engines: Sequence[str]) -> None:
    """Full-size random weights in the public formats (MuseTalk's UNet saved in fp16)."""
    import torch

    from tests.engine import modelgen

    if "wav2lip" in engines:
        torch.save({"state_dict": modelgen.wav2lip_state(meta=False)}, root / "wav2lip_gan.pth")
    if "musetalk15" in engines:
        modelgen.write_musetalk(root, meta=False, reduced=False)
        unet = root / "musetalkV15" / "unet.pth"
        state = torch.load(unet, weights_only=True)
        torch.save({k: v.half() for k, v in state.items()}, unet)


def make_media(root: Path, seconds: float, heights: Sequence[int]) -> tuple[Path, dict[int, Path]]:
    from tests.engine import mediagen

    if (SHARED / "eng.wav").is_file():
        from lipsync.audio import load_audio

        wav = load_audio(SHARED / "eng.wav")
        wav = wav[int(3 * 16000) :]  # its first 3 s are silent
        reps = int(seconds * 16000 // max(len(wav), 1)) + 1
        import numpy as np

        wav = np.tile(wav, reps)[: int(seconds * 16000)]
        audio = mediagen.write_wav(root / "speech.wav", wav)
    else:
        audio = mediagen.write_wav(root / "speech.wav", mediagen.synth_speech(seconds))
    videos = {}
    for h in heights:
        w = h * 16 // 9
        videos[h] = mediagen.make_video(
            root / f"presenter_{h}p.mp4", seconds=PRESENTER_S, fps=FPS, size=(w, h)
        ).path
    return audio, videos


# ----------------------------------------------------------------------------- measuring


def _sync() -> None:
    import torch

    torch.cuda.synchronize()


def model_only(engine: object, name: str, seconds: float, audio: Path) -> float:
    """Seconds of video per wall second of the networks alone, at the engine's batch size."""
    import numpy as np
    import torch

    n = int(seconds * FPS)
    rng = np.random.default_rng(0)
    if name == "wav2lip":
        from lipsync.engines.wav2lip import Wav2LipEngine

        assert isinstance(engine, Wav2LipEngine)
        b = engine.frames_per_batch
        faces = rng.integers(0, 256, (b, 96, 96, 3), dtype=np.uint8)
        mels = rng.uniform(-4, 4, (b, 80, 16)).astype(np.float32)
        engine.infer(faces, mels)  # warm-up
        _sync()
        t = time.perf_counter()
        for _ in range(0, n, b):
            engine.infer(faces, mels)
        _sync()
        return seconds / (time.perf_counter() - t)
    from lipsync.audio import load_audio
    from lipsync.engines.musetalk15 import MuseTalk15Engine
    from lipsync.models import musetalk_face as mf
    from lipsync.models.musetalk_audio import audio_conditioning

    assert isinstance(engine, MuseTalk15Engine)
    m = engine.load().models
    b = engine.frames_per_batch
    wav = load_audio(audio)
    lat = torch.randn(b, 8, 32, 32, device=m.device, dtype=m.dtype)
    step = torch.zeros(1, dtype=torch.long, device=m.device)

    def batch(cond: torch.Tensor) -> None:
        with torch.inference_mode():
            pred = m.unet(lat, step, encoder_hidden_states=cond).sample
            mf.decode_faces(m.vae, pred, m.scaling)

    cond = audio_conditioning(wav, m.whisper, m.preprocessor, n, FPS, m.device, m.dtype)
    batch(cond[:b])  # warm-up
    _sync()
    t = time.perf_counter()
    cond = audio_conditioning(wav, m.whisper, m.preprocessor, n, FPS, m.device, m.dtype)
    for i in range(0, n - b + 1, b):
        batch(cond[i : i + b])
    _sync()
    return seconds / (time.perf_counter() - t)


def run(args: argparse.Namespace) -> list[Row]:
    import torch

    from lipsync.engines import RenderOptions, get_engine
    from lipsync.media.writer import nvenc_available

    engines = [e for e in args.engines.split(",") if e]
    heights = [int(h) for h in args.heights.split(",") if h]
    codecs = ["libx264"] + (["h264_nvenc"] if nvenc_available() else [])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        root = Path(tmp)
        models = root / "models"
        models.mkdir()
        print("building full-size random-weight models ...", file=sys.stderr)
        make_models(models, engines)
        audio, videos = make_media(root, args.seconds, heights)
        cache = root / "tracks"
        for name in engines:
            for precision in ("fp32", "fp16"):
                engine = get_engine(
                    name, device=args.device, model_dir=models, cache_dir=cache, precision=precision
                )
                engine.check_ready()
                torch.cuda.reset_peak_memory_stats()
                model_xrt = model_only(engine, name, min(args.seconds, 20.0), audio)
                for h in heights:
                    track = engine.prepare(videos[h])
                    for codec in codecs:
                        torch.cuda.reset_peak_memory_stats()
                        out = root / f"{name}-{h}-{precision}-{codec}.mp4"
                        t = time.perf_counter()
                        result = engine.render(
                            audio, videos[h], track, out, options=RenderOptions(video_codec=codec)
                        )
                        wall = time.perf_counter() - t
                        out.unlink(missing_ok=True)
                        row = Row(
                            name,
                            h,
                            precision,
                            "NVENC" if codec == "h264_nvenc" else codec,
                            model_xrt,
                            result.duration_s / wall,
                            result.frames / wall,
                            torch.cuda.max_memory_allocated() / 2**30,
                        )
                        rows.append(row)
                        print(table([row]).splitlines()[-1], file=sys.stderr)
                del engine
                torch.cuda.empty_cache()
        if not nvenc_available():
            rows.append(Row("-", 0, "-", "NVENC", None, None, None, None, "NVENC not usable here"))
    return rows


def write_results(path: Path, text: str) -> None:
    """Rewrite the "## GPU" section of ``path``; the other sections stay (bench/results_md.py)."""
    replace_section(path, "GPU", text)


def section(rows: list[Row], args: argparse.Namespace, reason: str | None) -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## GPU (bench/gpu.py)",
        "",
        "Full-size random weights; whole renders use a cached face track (decode, network, "
        f"compositing, encode); {args.seconds:g} s of speech over an {PRESENTER_S:g} s presenter "
        "played back and forth. Goals on one H100/H200-class GPU: Wav2Lip whole 720p render "
        ">= 20x realtime, MuseTalk 1.5 >= 4x.",
        "",
    ]
    if reason:
        lines += [
            f"GPU figures pending a GPU machine: {reason} (last tried {now} on "
            f"{platform.node() or 'this machine'}). Run `python bench/gpu.py` on a CUDA host.",
            "",
        ]
    else:
        import torch

        lines += [f"Date: {now}. GPU: {torch.cuda.get_device_name()}.", ""]
    lines.append(table(rows))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of speech")
    parser.add_argument("--engines", default="wav2lip,musetalk15")
    parser.add_argument("--heights", default="720,1080")
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--quick", action="store_true", help="10 s of speech, 720p only")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--results", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.heights = 10.0, "720"
    import torch

    reason = None
    if not torch.cuda.is_available():
        reason = (
            f"no CUDA device (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})"
        )
        print(f"bench/gpu.py: skipped, {reason}; nothing to measure on this machine.")
        rows: list[Row] = []
        for name in args.engines.split(","):
            for h in (int(x) for x in args.heights.split(",")):
                rows.append(Row(name, h, "-", "-", None, None, None, None, "pending a GPU"))
    else:
        rows = run(args)
    text = section(rows, args, reason)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    if not args.no_write:
        write_results(Path(args.results), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
