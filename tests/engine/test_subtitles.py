"""Subtitles: SRT and WebVTT read (a bad file named by line), a soft mov_text track in the MP4
(read back with PyAV), and burned-in text (CJK included) at the bottom of the picture."""

from __future__ import annotations

import av
import numpy as np
import pytest

from lipsync.media import VideoWriter, open_video
from lipsync.subtitles import (
    Cue,
    SubtitleBurner,
    SubtitleError,
    find_font,
    parse_subtitles,
    subtitle_format,
)

SRT = (
    "1\n00:00:00,200 --> 00:00:00,900\nHello <i>and</i> welcome\n\n"
    "2\n00:00:01,000 --> 00:00:01,800\n欢迎来到\n工作室\n"
).encode()


def test_srt_and_webvtt_are_read():
    assert parse_subtitles("talk.srt", SRT) == [
        Cue(0.2, 0.9, "Hello and welcome"),
        Cue(1.0, 1.8, "欢迎来到\n工作室"),
    ]
    vtt = (
        b"WEBVTT - lecture\nKind: captions\n\nNOTE a remark\nover two lines\n\n"
        b"intro\n00:00.500 --> 00:01.250 align:center line:90%\nFirst\n\n"
        b"01:02:03.004 --> 01:02:04.000\n<v Anna>Second</v>\n"
    )
    assert parse_subtitles("talk.vtt", vtt) == [
        Cue(0.5, 1.25, "First"),
        Cue(3723.004, 3724.0, "Second"),
    ]
    assert subtitle_format(vtt) == "vtt" and subtitle_format(SRT) == "srt"
    # Chinese tools often save GB18030; a byte-order mark is fine too.
    gbk = "1\n00:00:01,000 --> 00:00:02,000\n你好\n".encode("gb18030")
    assert parse_subtitles("zh.srt", gbk) == [Cue(1.0, 2.0, "你好")]
    assert parse_subtitles("bom.srt", b"\xef\xbb\xbf" + SRT)[0].text == "Hello and welcome"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nx\n",
            "broken.srt: line 6: expected a time line such as “00:00:01,000 --> 00:00:03,500”, "
            "found “00:00:03,000 -> 00:00:04,000”",
        ),
        (
            b"1\n00:00:05,000 --> 00:00:04,000\nbackwards\n",
            "broken.srt: line 2: the cue ends (00:00:04,000) before it starts (00:00:05,000)",
        ),
        (
            b"1\n00:00:01,000 --> 00:00:71,000\nx\n",
            "broken.srt: line 2: “00:00:71,000” is not a time",
        ),
        (b"just some notes\n", "broken.srt: line 1: expected a time line"),
        (b"", "broken.srt: no subtitle in it"),
        (b"\x00\x01\x02\xff\xfe\xfa" * 10, "broken.srt: not a text file"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(data, message):
    with pytest.raises(SubtitleError) as refused:
        parse_subtitles("/somewhere/broken.srt", data)
    assert str(refused.value).startswith(message)


def _frames(n, w, h):
    # A mid-grey picture: burned-in white text with a dark outline shows against it.
    return [np.full((h, w, 3), 128, np.uint8) for _ in range(n)]


def _write(path, cues, burn=False, n=50, size=(320, 240), **kw):
    w, h = size
    with VideoWriter(
        path, w, h, 25.0, codec="libx264", subtitles=cues, burn_subtitles=burn, **kw
    ) as writer:
        for frame in _frames(n, w, h):
            writer.write(frame)
    return path


def read_subtitle_track(path):
    """(codec, language, [(start s, end s, text)]) of the file's subtitle stream."""
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        cues = []
        for packet in container.demux(stream):
            if packet.size <= 2 or packet.pts is None:  # the muxer's empty gap samples
                continue
            start = float(packet.pts * packet.time_base)
            end = float((packet.pts + packet.duration) * packet.time_base)
            texts = [s.dialogue.decode() for s in stream.decode(packet)]
            cues.append((round(start, 3), round(end, 3), "".join(texts)))
        return stream.codec_context.name, stream.metadata.get("language"), cues


def test_soft_subtitle_track_holds_the_cues(tmp_path, speech_wav):
    cues = parse_subtitles("talk.srt", SRT)
    out = _write(tmp_path / "soft.mp4", cues, audio=speech_wav)
    codec, language, found = read_subtitle_track(out)
    assert codec == "mov_text" and language == "und"
    assert found == [(0.2, 0.9, "Hello and welcome"), (1.0, 1.8, "欢迎来到\n工作室")]
    with av.open(str(out)) as container:
        kinds = sorted(s.type for s in container.streams)
    assert kinds == ["audio", "subtitle", "video"]
    # The picture is untouched without burning in.
    first = next(iter(open_video(out))).image
    assert np.abs(first.astype(int) - 128).max() < 6


def test_a_shorter_video_keeps_the_cues_it_covers(tmp_path):
    cues = parse_subtitles("talk.srt", SRT)
    out = _write(tmp_path / "preview.mp4", cues, n=30)  # 1.2 s
    assert read_subtitle_track(out)[2] == [
        (0.2, 0.9, "Hello and welcome"),
        (1.0, 1.2, "欢迎来到\n工作室"),
    ]


def test_burned_in_text_changes_the_bottom_only_while_a_cue_shows(tmp_path):
    cues = [Cue(0.2, 0.9, "Hello and welcome"), Cue(1.0, 1.8, "欢迎来到工作室")]
    out = _write(tmp_path / "burned.mp4", cues, burn=True)
    frames = [f.image.astype(int) for f in open_video(out)]
    h = frames[0].shape[0]
    bottom, top = slice(int(h * 0.7), h), slice(0, int(h * 0.5))
    for index, showing in ((2, False), (10, True), (24, False), (30, True), (48, False)):
        diff = np.abs(frames[index] - 128)
        assert diff[top].max() < 8, index  # nothing drawn above the text area
        if showing:
            # White fill and dark outline: both far from the grey background.
            assert (diff[bottom] > 80).mean() > 0.01, index
            assert frames[index][bottom].max() > 230 and frames[index][bottom].min() < 40
        else:
            assert diff[bottom].max() < 8, index
    # Bottom-centred: the text's columns are balanced around the middle.
    ink = np.nonzero((np.abs(frames[10] - 128) > 80).any(axis=2))[1]
    assert abs((ink.min() + ink.max()) / 2 - frames[10].shape[1] / 2) < 12
    # The soft track is there too.
    assert len(read_subtitle_track(out)[2]) == 2


def test_cjk_text_is_drawn_with_a_cjk_font():
    font = find_font(True)
    if font is None:
        pytest.skip("fontconfig (fc-match) is not installed")
    burner = SubtitleBurner([Cue(0.0, 1.0, "欢迎来到工作室")], 640, 360)
    assert burner.font_path == font
    # Every character gets its own glyph: no two identical "missing glyph" boxes.
    masks = {bytes(burner.font.getmask(ch)) for ch in "欢迎来到工作室"}
    assert len(masks) == 7
    drawn = burner.apply(np.full((360, 640, 3), 128, np.uint8), 0.5)
    assert (np.abs(drawn.astype(int) - 128) > 80).sum() > 500
    frame = np.full((360, 640, 3), 128, np.uint8)
    burner.apply(frame, 0.5)
    assert (frame == 128).all(), "the caller's frame is never changed"


def test_long_lines_wrap_inside_the_picture():
    text = "This sentence is far too long to fit on one line of a small video frame"
    burner = SubtitleBurner([Cue(0.0, 1.0, text)], 320, 240)
    drawn = burner.apply(np.full((240, 320, 3), 128, np.uint8), 0.5)
    ink = np.nonzero((np.abs(drawn.astype(int) - 128) > 80).any(axis=2))
    rows, cols = ink
    assert cols.min() >= 320 * 0.04 and cols.max() <= 320 * 0.96, "wrapped, not cut"
    assert rows.max() - rows.min() > burner.size * 1.8, "more than one line"
