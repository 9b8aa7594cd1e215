"""VideoWriter: H.264 + AAC MP4, exact duration, sizes, atomic output, abort."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from lipsync.errors import NoAudioStreamError
from lipsync.media import VideoWriter, open_video, probe
from lipsync.media.writer import choose_codec, nvenc_available, output_size
from tests.engine import mediagen


def write_clip(out, n, size=(160, 120), fps=25.0, **kw):
    w, h = size
    with VideoWriter(out, w, h, fps, codec="libx264", **kw) as writer:
        for i in range(n):
            writer.write(mediagen.presenter_frame(i, w, h, face=False))
    return out


def mp4_layout(path):
    """Top-level box types in file order."""
    boxes, data, pos = [], open(path, "rb").read(), 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return boxes


def test_h264_frames_round_trip(tmp_path):
    out = write_clip(tmp_path / "out.mp4", 30)
    info = probe(out)
    assert (info.video_codec, info.width, info.height, info.fps) == ("h264", 160, 120, 25.0)
    assert not info.has_audio
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
    frames = list(open_video(out))
    assert [mediagen.read_marker(f.image) for f in frames] == list(range(30))
    expected = mediagen.presenter_frame(7, 160, 120, face=False).astype(int)
    assert np.abs(frames[7].image.astype(int) - expected).mean() < 4  # colours kept (BT.709)
    assert mp4_layout(out).index("moov") < mp4_layout(out).index("mdat")  # +faststart


def test_audio_fitted_to_video_duration(tmp_path, speech_wav):
    speech = probe(speech_wav).duration_s
    n = int(round(speech * 25))
    out = write_clip(tmp_path / "talk.mp4", n, audio=speech_wav)
    info = probe(out)
    assert info.audio_codec == "aac" and info.has_video
    audio = next(s for s in info.streams if s.kind == "audio")
    assert audio.duration_s == pytest.approx(n / 25, abs=0.03)
    assert info.duration_s == pytest.approx(speech, abs=1 / 25)
    decoded = mediagen.decode_audio(out, 16000)
    # A 16 kHz speech stays 16 kHz: decoding adds up to one AAC frame (64 ms) the edit list hides.
    assert decoded.size / 16000 == pytest.approx(n / 25 + 0.032, abs=0.03 + 0.032)
    source = mediagen.decode_audio(speech_wav, 16000)
    m = min(source.size, decoded.size)

    def env(x):
        return np.sqrt(np.convolve(x[:m] ** 2, np.ones(800) / 800, "same"))[::400]

    assert np.corrcoef(env(source), env(decoded))[0, 1] > 0.95


def test_audio_is_padded_and_limited(tmp_path, speech_wav):
    # A longer video than the speech: the rest is silence, and the duration is the video's.
    out = write_clip(tmp_path / "pad.mp4", 125, audio=speech_wav, audio_duration_s=1.0)
    decoded = mediagen.decode_audio(out, 16000)
    # The speech is 16 kHz, and so is the output: decoding adds up to one AAC frame (64 ms).
    assert decoded.size / 16000 == pytest.approx(5.0, abs=0.065)
    assert probe(out).duration_s == pytest.approx(5.0, abs=0.03)
    assert np.abs(decoded[int(1.1 * 16000) :]).max() < 0.01
    assert np.sqrt(np.mean(decoded[:16000] ** 2)) > 0.01


def test_audio_from_a_video_file_and_stereo(tmp_path):
    clip = mediagen.make_video(
        tmp_path / "src.mkv",
        seconds=1.0,
        size=(64, 48),
        face=False,
        audio=mediagen.synth_speech(1.0),
    )
    out = write_clip(tmp_path / "o.mp4", 25, audio=clip.path)
    assert probe(out).has_audio
    with pytest.raises(
        NoAudioStreamError, match=r"^silent\.mp4: no audio stream — choose a file with speech"
    ):
        write_clip(tmp_path / "x.mp4", 5, audio=write_clip(tmp_path / "silent.mp4", 5))
    assert not (tmp_path / "x.mp4").exists()


def test_size_rules():
    assert output_size(1920, 1080, 720) == (1280, 720)
    assert output_size(1080, 1920, 1280) == (720, 1280)
    assert output_size(641, 481) == (640, 480)
    assert output_size(640, 480, 1080) == (640, 480)
    w, h = output_size(577, 769, 501)
    assert (w % 2, h % 2) == (0, 0) and h == 500 and abs(w / h - 577 / 769) < 0.01


def test_odd_input_and_max_height(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 161, 121, 25, codec="libx264", max_height=60) as writer:
        for i in range(5):
            writer.write(mediagen.presenter_frame(i, 161, 121, face=False))
    info = probe(out)
    assert (info.width, info.height) == (78, 60)
    with pytest.raises(ValueError, match="expected a 121x161x3 uint8 image"):
        VideoWriter(tmp_path / "bad.mp4", 161, 121, 25, codec="libx264").write(
            np.zeros((120, 160, 3), np.uint8)
        )


def test_fractional_rate(tmp_path):
    out = write_clip(tmp_path / "ntsc.mp4", 30, fps=30000 / 1001)
    assert probe(out).fps == pytest.approx(29.97, abs=0.01)


def test_atomic_output_and_abort(tmp_path):
    out = tmp_path / "final.mp4"
    writer = VideoWriter(out, 64, 48, 25, codec="libx264")
    for i in range(80):
        writer.write(mediagen.presenter_frame(i, 64, 48, face=False))
    assert not out.exists()  # only the temporary file so far
    assert len(os.listdir(tmp_path)) == 1
    writer.abort()
    assert os.listdir(tmp_path) == []
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), VideoWriter(out, 64, 48, 25, codec="libx264") as writer:
        writer.write(mediagen.presenter_frame(0, 64, 48, face=False))
        raise RuntimeError("engine failed")
    assert out.read_bytes() == b"old"  # the previous file is untouched
    assert os.listdir(tmp_path) == ["final.mp4"]
    write_clip(out, 3, size=(64, 48))
    assert probe(out).has_video
    assert oct(out.stat().st_mode & 0o044) == oct(0o044)  # readable like any new file


def test_codec_choice():
    assert choose_codec("libx264") == "libx264"
    assert choose_codec("auto") == ("h264_nvenc" if nvenc_available() else "libx264")
    with pytest.raises(ValueError):
        choose_codec("mpeg2video")


@pytest.mark.skipif(not nvenc_available(), reason="h264_nvenc needs a CUDA device")
def test_nvenc(tmp_path):
    out = tmp_path / "gpu.mp4"
    with VideoWriter(out, 320, 240, 25, codec="h264_nvenc") as writer:
        for i in range(25):
            writer.write(mediagen.presenter_frame(i, 320, 240, face=False))
    assert [mediagen.read_marker(f.image) for f in open_video(out)] == list(range(25))


def test_fast_colour_conversion_matches_swscale():
    from skimage import data

    from lipsync.media.writer import rgb_to_yuv420p

    image = np.ascontiguousarray(data.astronaut()[100:340, 60:380])  # 320x240, a real face
    ours = rgb_to_yuv420p(image).to_ndarray().astype(int)
    ref = (
        av.VideoFrame.from_ndarray(image, format="rgb24")
        .reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        .to_ndarray()
    )
    diff = np.abs(ours - ref.astype(int))
    assert diff[:240].max() <= 1  # luma
    assert diff[240:].mean() < 1.0 and diff[240:].max() <= 8  # chroma: another 2x2 filter
    red = rgb_to_yuv420p(np.full((4, 6, 3), (255, 0, 0), np.uint8)).to_ndarray()
    chroma = red[4:].reshape(-1)
    assert (red[:4] == 63).all()  # BT.709 limited range red: Y 63, Cb 102, Cr 240
    assert (chroma[:6] == 102).all() and (chroma[6:] == 240).all()


def test_x264_params_reach_the_encoder(tmp_path):
    def keyframes(path):
        with av.open(str(path)) as c:
            return sum(p.is_keyframe for p in c.demux(video=0) if p.size)

    plain = write_clip(tmp_path / "plain.mp4", 20)
    short_gop = write_clip(tmp_path / "gop.mp4", 20, x264_params="keyint=5:min-keyint=5")
    assert keyframes(plain) == 1
    assert keyframes(short_gop) == 4
