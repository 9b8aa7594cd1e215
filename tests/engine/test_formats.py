"""Every presenter a person may upload renders: sizes, pixel formats, frame rates, stills.

Property-based (hypothesis) over random sizes, pixel formats and rates, rendered end to end
with the default engine on tiny frames and 1-2 s of speech; then the still-picture kinds, a
4K clip (worked on at 1920x1080, delivered at its own size), a one-frame video, and a matrix
over the shared real media (skipped where ``../shared/media`` is absent).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lipsync.engines import RenderOptions, get_engine
from lipsync.media.probe import probe
from lipsync.media.video import open_video
from lipsync.picture import i420_size, i420_to_rgb, working_size
from tests.engine import mediagen

#: Decoding an AAC track may give one frame (1024 samples) past its declared end.
AAC_FRAME = 1024

PIX_FMTS = ["yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv444p10le"]
RATES = [Fraction(25), Fraction(30000, 1001), Fraction(2213, 100), Fraction(12), Fraction(50)]


def encode_clip(
    path: Path,
    size: tuple[int, int],
    rate: Fraction,
    n: int,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    frame_times: list[float] | None = None,
) -> Path:
    """A presenter clip of ``n`` frames in any pixel format (odd sizes allowed)."""
    width, height = size
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        tb = Fraction(1, 90000) if frame_times else rate**-1
        vs.time_base = tb
        if codec == "libx264":
            vs.options = {"preset": "ultrafast", "crf": "20"}
        if pix_fmt.startswith("yuvj"):
            vs.codec_context.color_range = 2
        for i in range(n):
            img = mediagen.presenter_frame(i, width, height)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            t = frame_times[i] if frame_times else i / float(rate)
            frame.pts = int(round(t / float(tb)))
            frame.time_base = tb
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return get_engine("warp", cache_dir=tmp_path_factory.mktemp("tracks"))


def render_and_check(
    engine, presenter: Path, speech: Path, out: Path, expect_size: tuple[int, int]
) -> None:
    """Render, then check the file: its size, its duration against the speech's, its sound."""
    audio_s = probe(speech).duration_s
    result = engine.render(speech, presenter, None, out, options=RenderOptions(crf=30))
    info = probe(out)
    assert (info.width, info.height) == expect_size
    assert (result.width, result.height) == expect_size
    assert abs(info.duration_s - audio_s) <= 1.0 / result.fps + 0.05
    assert info.has_audio
    sound = mediagen.decode_audio(out)
    assert len(sound) == pytest.approx(audio_s * 16000, abs=16000 / result.fps + 400 + AAC_FRAME)
    assert float(np.abs(sound).max()) > 0.01
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(3), c.decode(video=0))]
    assert frames and all(f.shape == (expect_size[1], expect_size[0], 3) for f in frames)
    assert float(frames[0].std()) > 5  # a picture, not a blank or green frame


@pytest.fixture(scope="module")
def short_speech(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("speech")
    return mediagen.write_wav(d / "speech.wav", mediagen.synth_speech(1.2, seed=3))


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    width=st.integers(181, 259),
    height=st.integers(181, 259),
    pix_fmt=st.sampled_from(PIX_FMTS),
    rate=st.sampled_from(RATES),
    frames=st.integers(1, 14),
)
def test_any_size_format_and_rate_renders(
    engine, short_speech, tmp_path_factory, width, height, pix_fmt, rate, frames
):
    d = tmp_path_factory.mktemp("prop")
    if pix_fmt.startswith(("yuv420", "yuvj420")) and (width % 2 or height % 2):
        # x264 cannot store odd 4:2:0; such a file comes from other encoders, e.g. MPEG-4.
        clip = encode_clip(d / "in.mp4", (width, height), rate, frames, "yuv420p", "mpeg4")
    else:
        if pix_fmt.startswith("yuv422"):
            width += width % 2  # 4:2:2 has no odd widths
        clip = encode_clip(d / "in.mp4", (width, height), rate, frames, pix_fmt)
    src = open_video(clip)
    assert (src.width, src.height) == (width // 2 * 2, height // 2 * 2)
    for frame in src.frames(i420=True):
        assert i420_size(frame.image) == (src.width, src.height)
    render_and_check(engine, clip, short_speech, d / "out.mp4", (width // 2 * 2, height // 2 * 2))


@pytest.mark.parametrize(
    "mode,ext",
    [
        ("RGBA", "png"),
        ("RGBA", "webp"),
        ("L", "png"),
        ("P", "png"),
        ("LA", "png"),
        ("RGB", "jpg"),
    ],
)
def test_still_pictures_of_every_kind_render(engine, short_speech, tmp_path, mode, ext):
    """Alpha (over white), grayscale, palette and odd-sized photos all render."""
    base = Image.fromarray(mediagen.presenter_frame(0, 201, 251))
    if mode in ("RGBA", "LA"):
        base = base.convert("RGBA")
        alpha = np.full((251, 201), 255, np.uint8)
        alpha[:, :20] = 0  # a transparent band on the left
        base.putalpha(Image.fromarray(alpha))
    if mode == "P":
        picture = base.convert("P", palette=Image.Palette.ADAPTIVE, dither=Image.Dither.NONE)
    else:
        picture = base.convert(mode) if mode != "RGBA" else base
    path = tmp_path / f"still.{ext}"
    picture.save(path, quality=95) if ext != "png" else picture.save(path)
    src = open_video(path)
    rgb = next(iter(src.frames())).image
    assert rgb.shape == (250, 200, 3)
    if mode in ("RGBA", "LA"):
        assert rgb[:, :16].min() >= 240  # transparent became white
    render_and_check(engine, path, short_speech, tmp_path / "out.mp4", (200, 250))


def test_odd_sized_jpeg_crops_to_even_and_keeps_its_pixels(tmp_path):
    """An odd height loses its last row; the rest is the picture itself (no scaling)."""
    img = mediagen.presenter_frame(0, 151, 175)
    path = tmp_path / "odd.png"
    Image.fromarray(img).save(path)
    src = open_video(path)
    assert (src.width, src.height, src.output_width, src.output_height) == (150, 174, 150, 174)
    rgb = next(iter(src.frames())).image
    assert np.array_equal(rgb, img[:174, :150])
    back = i420_to_rgb(next(iter(src.frames(i420=True))).image, src.matrix)
    assert np.abs(back.astype(int) - img[:174, :150]).mean() < 3


def test_full_range_and_ten_bit_keep_their_levels(tmp_path):
    """Full-range and 10-bit sources arrive at the same picture as plain 8-bit 4:2:0."""
    plain = open_video(encode_clip(tmp_path / "a.mp4", (96, 64), Fraction(25), 2))
    ref = next(iter(plain.frames())).image.astype(int)
    for fmt in ("yuvj420p", "yuv420p10le", "yuv422p", "yuv444p"):
        src = open_video(encode_clip(tmp_path / f"{fmt}.mp4", (96, 64), Fraction(25), 2, fmt))
        img = i420_to_rgb(next(iter(src.frames(i420=True))).image, src.matrix).astype(int)
        assert np.abs(img - ref).mean() < 6, fmt


def test_4k_is_worked_at_1080p_and_delivered_at_its_size(engine, short_speech, tmp_path):
    clip = encode_clip(tmp_path / "uhd.mp4", (3840, 2160), Fraction(25), 3)
    src = open_video(clip)
    assert (src.width, src.height) == (1920, 1080) == working_size(3840, 2160)
    track = engine.prepare(clip)
    assert (track.width, track.height) == (1920, 1080)
    render_and_check(engine, clip, short_speech, tmp_path / "out.mp4", (3840, 2160))


def test_portrait_4k_fits_the_box_in_its_orientation():
    assert working_size(2160, 3840) == (1080, 1920)
    assert working_size(4000, 1000) == (1920, 480)
    assert working_size(1921, 1081) == (1918, 1080)


def test_one_frame_and_vfr_clips_render(engine, short_speech, tmp_path):
    one = encode_clip(tmp_path / "one.mp4", (200, 240), Fraction(25), 1)
    render_and_check(engine, one, short_speech, tmp_path / "one_out.mp4", (200, 240))
    times = [0.0, 0.02, 0.1, 0.13, 0.2, 0.33, 0.36, 0.5, 0.52, 0.6]
    vfr = encode_clip(tmp_path / "vfr.mp4", (200, 240), Fraction(30), len(times), frame_times=times)
    render_and_check(engine, vfr, short_speech, tmp_path / "vfr_out.mp4", (200, 240))


SHARED_PRESENTERS = [
    "sun.mp4",
    "face_close_a.mp4",
    "face_close_b.mp4",
    "face_close_c.mp4",
    "interview_mpeg4.mp4",
    "still_painting.png",
    "still_photo.png",
    "still_odd_size.jpeg",
]


@pytest.mark.parametrize("name", SHARED_PRESENTERS)
def test_every_shared_presenter_renders(shared_media, engine, tmp_path, name):
    """Probe, prepare and render 1.5 s of each real presenter with the shared speech."""
    presenter = shared_media / name
    info = probe(presenter)
    speech = shared_media / "speech_ja_24bit.wav"
    track = engine.prepare(presenter)
    assert track.present.mean() > 0.5  # a face was found and followed
    result = engine.render(
        speech, presenter, track, tmp_path / "out.mp4", options=RenderOptions(duration_s=1.5)
    )
    out = probe(result.path)
    assert (out.width, out.height) == (info.width // 2 * 2, info.height // 2 * 2)
    assert abs(out.duration_s - 1.5) <= 1.0 / result.fps + 0.05
    assert out.has_audio
    assert result.frames_without_face < result.frames


def test_plain_420_passes_through_bit_exact(tmp_path):
    """8-bit limited-range 4:2:0 reaches the engine as decoded: no conversion, no loss."""
    clip = encode_clip(tmp_path / "a.mp4", (96, 64), Fraction(25), 3)
    with av.open(str(clip)) as c:
        decoded = [f.to_ndarray() for f in c.decode(video=0)]
    ours = [f.image for f in open_video(clip).frames(i420=True)]
    assert len(ours) == 3 and all(np.array_equal(a, b) for a, b in zip(ours, decoded))


def test_region_round_trip_touches_only_changed_pixels():
    """The mouth region goes to RGB and back; pixels not drawn on keep their exact YUV."""
    from lipsync.picture import planes, put_region, region_rgb, rgb_to_i420

    img = mediagen.presenter_frame(0, 80, 64)
    buf = rgb_to_i420(img, "bt601")
    orig = buf.copy()
    box = (10, 6, 50, 40)
    rgb = region_rgb(buf, box, "bt601")
    before = rgb.copy()
    put_region(buf, box, rgb, before, "bt601")
    assert np.array_equal(buf, orig)
    rgb[10:12, 10:13] = (255, 0, 0)
    put_region(buf, box, rgb, before, "bt601")
    y, y0 = planes(buf)[0], planes(orig)[0]
    assert set(map(tuple, np.argwhere(y != y0))) <= {(r, c) for r in (16, 17) for c in (20, 21, 22)}
    assert (y != y0).sum() >= 4
    assert np.abs(region_rgb(buf, box, "bt601")[10:12, 10:13].astype(int) - (255, 0, 0)).mean() < 60


def test_a_cached_track_of_another_size_is_made_again(tmp_path):
    """Tracks cached before odd sizes were cropped (or large ones capped) do not reach a
    render that would refuse them: the track is made again at the size frames come in."""
    from dataclasses import replace

    from lipsync.track import TrackCache, content_hash, prepare_track

    path = tmp_path / "odd.png"
    Image.fromarray(mediagen.presenter_frame(0, 201, 251)).save(path)
    cache = TrackCache(tmp_path / "cache")
    track = prepare_track(path, cache=cache)
    assert (track.width, track.height) == (200, 250)
    from lipsync.faces.detector import get_detector

    version = get_detector().version
    stale = replace(track, width=201, height=251)
    cache.put(stale, version)
    assert cache.get(content_hash(path), version).width == 201
    again = prepare_track(path, cache=cache)
    assert (again.width, again.height) == (200, 250)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_phone_clips_come_upright_in_i420_too(tmp_path, rotation):
    clip = mediagen.make_video(
        tmp_path / "r.mp4", seconds=0.2, fps=25, size=(96, 160), rotation=rotation
    )
    src = open_video(clip.path)
    assert (src.width, src.height) == (96, 160)
    for rgb, yuv in zip(src.frames(), src.frames(i420=True)):
        assert i420_size(yuv.image) == (96, 160)
        back = i420_to_rgb(yuv.image, src.matrix).astype(int)
        assert np.abs(back - rgb.image).mean() < 4
        assert mediagen.read_marker(i420_to_rgb(yuv.image, src.matrix)) == rgb.index % 256


def test_a_picture_smaller_than_2x2_is_a_typed_reason(tmp_path):
    from lipsync.errors import InputError
    from lipsync.media.video import TOO_SMALL

    Image.fromarray(np.zeros((1, 5, 3), np.uint8)).save(tmp_path / "line.png")
    with pytest.raises(InputError) as caught:
        open_video(tmp_path / "line.png")
    assert caught.value.template == TOO_SMALL
    assert (
        str(caught.value)
        == "line.png: the picture is too small (5x1); it needs at least 2x2 pixels — "
        "choose a photo or video in which the presenter's face is large and clear"
    )
