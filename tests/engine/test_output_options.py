"""What the output keeps of its sources: the speech's own sample rate and channels (always),
and with "match source" a video bitrate near the presenter's (probed on real encodes)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from lipsync.media import VideoWriter, probe
from lipsync.media.writer import (
    aac_bitrate,
    matched_bitrate,
    nvenc_available,
    speech_audio_format,
)


def _wav(path: Path, rate: int, layout: str, seconds: float = 0.6, fmt: str = "s16") -> Path:
    """A tone in each channel (a different pitch per channel), PCM in a WAV file."""
    channels = av.AudioLayout(layout).nb_channels
    codec = {"s16": "pcm_s16le", "s32": "pcm_s24le"}[fmt]
    t = np.arange(int(rate * seconds)) / rate
    signal = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)])
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.codec_context.layout = layout
        scale = 32767 if fmt == "s16" else 2**31 - 1
        data = (signal.T * scale).astype(np.int16 if fmt == "s16" else np.int32)
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _render(path: Path, audio: Path, frames: int = 15, fps: float = 25.0) -> Path:
    with VideoWriter(path, 64, 48, fps, audio=audio, codec="libx264") as writer:
        for i in range(frames):
            writer.write(np.full((48, 64, 3), 8 * i, np.uint8))
    return path


@pytest.mark.parametrize(
    "rate, layout, fmt, want_rate, want_layout",
    [
        (16000, "mono", "s16", 16000, "mono"),
        (44100, "stereo", "s16", 44100, "stereo"),
        (48000, "stereo", "s32", 48000, "stereo"),  # 24-bit PCM
        (22050, "mono", "s16", 22050, "mono"),
        (11000, "mono", "s16", 11025, "mono"),  # not an AAC rate: the next one up
        (48000, "5.1", "s16", 48000, "5.1"),
    ],
)
def test_the_output_keeps_the_speechs_rate_and_channels(
    tmp_path, rate, layout, fmt, want_rate, want_layout
):
    speech = _wav(tmp_path / "speech.wav", rate, layout, fmt=fmt)
    assert speech_audio_format(speech) == (want_rate, want_layout)
    out = _render(tmp_path / "out.mp4", speech)
    info = probe(out)
    assert (info.sample_rate, info.channels) == (want_rate, av.AudioLayout(want_layout).nb_channels)
    with av.open(str(out)) as c:
        ctx = c.streams.audio[0].codec_context
        assert (ctx.name, ctx.layout.name) == ("aac", want_layout)
        decoded = sum(f.samples for f in c.decode(audio=0))
    # Still fitted to the video (to whole AAC frames of 1024 samples).
    assert decoded / want_rate == pytest.approx(15 / 25, abs=1024 / want_rate + 0.005)


def test_each_channel_keeps_its_own_sound(tmp_path):
    """Stereo stays two different channels (not one mixed down and copied)."""
    out = _render(tmp_path / "out.mp4", _wav(tmp_path / "s.wav", 44100, "stereo"), frames=15)
    with av.open(str(out)) as c:
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    spectrum = np.abs(np.fft.rfft(pcm[:, 4000:20000], axis=1))
    peaks = np.argmax(spectrum, axis=1) * 44100 / 16000
    assert peaks == pytest.approx([220, 330], abs=6)


def test_unnamed_layouts_and_many_channels(tmp_path):
    speech = _wav(tmp_path / "wide.wav", 48000, "7.1")
    assert speech_audio_format(speech) == (48000, "7.1")
    assert aac_bitrate(16000, av.AudioLayout("mono")) == 48000  # 3 bits a sample at 16 kHz
    assert aac_bitrate(48000, av.AudioLayout("stereo")) == 128000
    assert aac_bitrate(48000, av.AudioLayout("5.1")) == 6 * 64000


def test_matched_bitrate_scales_with_a_size_cap():
    assert matched_bitrate(2_000_000, (1920, 1080), (1920, 1080)) == 2_000_000
    assert matched_bitrate(2_000_000, (1920, 1080), (1280, 720)) == pytest.approx(888_888, abs=2)
    assert matched_bitrate(0, (640, 480), (640, 480)) is None  # a still: keep the quality level


def _noise_video(
    path: Path, bitrate: int, fps: float | Fraction = 25, seconds: float = 2.0
) -> Path:
    """A clip of moving noise (every bit counts: a quality level alone would spend far more or
    far less) encoded at ``bitrate``."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (120, 160, 3), np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.bit_rate = bitrate
        stream.options = {"preset": "ultrafast", "maxrate": str(bitrate), "bufsize": str(bitrate)}
        for i in range(int(fps * seconds)):
            image = np.roll(base, 3 * i, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _video_bitrate(path: Path | str) -> float:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        size = sum(p.size for p in c.demux(stream) if p.size)
        return 8 * size / float(stream.duration * stream.time_base)


def test_a_bitrate_target_lands_near_the_source_and_crf_does_not(tmp_path):
    source = _noise_video(tmp_path / "noise.mp4", 600_000)
    info = probe(source)
    assert info.video_bitrate == pytest.approx(600_000, rel=0.25)
    frames = []
    with av.open(str(source)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    outs = {}
    for name, kw in {"matched": {"bitrate": info.video_bitrate}, "crf": {"crf": 20}}.items():
        outs[name] = tmp_path / f"{name}.mp4"
        with VideoWriter(outs[name], 160, 120, 25.0, codec="libx264", **kw) as writer:
            for image in frames:
                writer.write(image)
    matched, crf = _video_bitrate(outs["matched"]), _video_bitrate(outs["crf"])
    # x264's average bitrate falls short of its target on a clip of a few seconds.
    assert matched == pytest.approx(info.video_bitrate, rel=0.3)
    assert abs(crf - info.video_bitrate) > 0.5 * info.video_bitrate  # the check can fail


def test_match_source_renders_at_the_presenters_rate_and_bitrate(tmp_path, speech_wav):
    """Through an engine: a 22.13 fps presenter stays 22.13 fps, its bitrate is kept with
    "match source" and the usual quality level applies without."""
    from lipsync.engines import RenderOptions
    from lipsync.media import open_video
    from lipsync.track import FaceTrack
    from tests.engine.test_streaming import _PassEngine

    source = _noise_video(tmp_path / "noise.mp4", 500_000, fps=Fraction(2213, 100), seconds=3.0)
    with open_video(source) as video:
        n, fps = video.frame_count, video.fps
    assert fps == pytest.approx(22.13, abs=0.01)
    track = FaceTrack(
        source_hash="x",
        detector="none",
        fps=fps,
        width=160,
        height=120,
        n_frames=n,
        boxes=np.full((n, 4), np.nan, np.float32),
        landmarks=np.full((n, 68, 2), np.nan, np.float32),
        present=np.zeros(n, bool),
        mouth_open=np.full(n, np.nan, np.float32),
    )
    rates = {}
    for match in (True, False):
        r = _PassEngine().render(
            speech_wav,
            source,
            track,
            tmp_path / f"{match}.mp4",
            options=RenderOptions(duration_s=3.0, match_source=match),
        )
        assert probe(r.path).fps == pytest.approx(22.13, abs=0.01) and r.fps == fps
        rates[match] = _video_bitrate(r.path)
    source_rate = probe(source).video_bitrate
    # x264's average bitrate falls short of its target on a clip of a few seconds.
    assert rates[True] == pytest.approx(source_rate, rel=0.3)
    assert abs(rates[False] - source_rate) > 0.3 * source_rate  # the check can fail


@pytest.mark.skipif(not nvenc_available(), reason="h264_nvenc needs a CUDA device")
def test_nvenc_takes_the_bitrate_target_too(tmp_path):
    source = _noise_video(tmp_path / "noise.mp4", 600_000)
    with av.open(str(source)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    out = tmp_path / "nvenc.mp4"
    with VideoWriter(out, 160, 120, 25.0, codec="h264_nvenc", bitrate=600_000) as writer:
        for image in frames:
            writer.write(image)
    assert _video_bitrate(out) == pytest.approx(600_000, rel=0.3)


@pytest.mark.parametrize(
    "name", ["eng.wav", "speech_ja_24bit.wav", "speech_zh.wav", "speech_en_short.wav"]
)
def test_the_shared_speech_files_keep_their_rate_and_channels(tmp_path, shared_media, name):
    path = shared_media / name
    source = probe(path)
    info = probe(_render(tmp_path / "out.mp4", path))
    assert (info.sample_rate, info.channels) == (source.sample_rate, source.channels)
