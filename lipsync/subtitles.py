"""Subtitles of a speech track: reading SRT and WebVTT, the soft track of an MP4, burning in.

* :func:`parse_subtitles` reads an SRT or WebVTT file (told apart by content: WebVTT starts
  with ``WEBVTT``) into :class:`Cue`\\ s, or raises :class:`SubtitleError` naming the line and
  what is wrong there. Text is UTF-8 (with or without a byte-order mark), UTF-16 with a mark,
  or GB18030 (what Chinese Windows tools save). Markup (``<i>``, ``{\\an8}``) is dropped.
* :class:`SoftSubtitles` adds a ``mov_text`` stream (the MP4 text track players offer as
  subtitles) to a container being written and muxes the cues at the end (PyAV's own
  subtitle encoder, no ffmpeg program).
* :class:`SubtitleBurner` draws the cue showing at a frame's time into the picture with
  Pillow: white text with a dark outline, bottom-centred, about 5.5 % of the frame height,
  wrapped to 90 % of its width. The font is found with fontconfig (``fc-match``, a CJK-capable
  sans-serif when the text holds Chinese, Japanese or Korean), or given
  (``LIPSYNC_SUBTITLE_FONT``); with neither, Pillow's built-in font is used (it has no CJK
  glyphs). PyAV's FFmpeg build has neither the ``subtitles`` nor the ``drawtext`` filter,
  hence Pillow.
"""

from __future__ import annotations

import bisect
import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InputError, reason, what_to_do

log = logging.getLogger(__name__)

#: Largest subtitle file read (a two-hour film's SRT is about 100 kB).
MAX_SUBTITLE_BYTES = 2 * 1024 * 1024

NOT_TEXT = reason("not a text file in UTF-8, UTF-16 or GB18030 (subtitles are SRT or WebVTT text)")
TOO_LARGE = reason("larger than %(limit)s, too large for a subtitle file")
NO_CUES = reason(
    "no subtitle in it: an SRT file holds numbered cues with a time line such as "
    "“00:00:01,000 --> 00:00:03,500”, a WebVTT file starts with “WEBVTT”"
)
BAD_TIME_LINE = reason(
    "line %(line)d: expected a time line such as “00:00:01,000 --> 00:00:03,500”, found “%(text)s”"
)
BAD_TIME = reason("line %(line)d: “%(text)s” is not a time (hours:minutes:seconds,milliseconds)")
ENDS_BEFORE_START = reason("line %(line)d: the cue ends (%(end)s) before it starts (%(start)s)")
BAD_VTT_HEADER = reason("line 1: a WebVTT file must start with “WEBVTT”")

_TIME = r"(?:\d+:)?\d{1,2}:\d{1,2}[,.]\d{1,3}"
_TIME_LINE = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})(?:\s+.*)?$")
_ARROW = re.compile(r"-->")
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


class SubtitleError(InputError):
    """A subtitle file that cannot be used; the reason names the line."""

    advice = what_to_do("correct that line of the subtitle file and attach it again")


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def _decode(path: str, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SubtitleError(path, NOT_TEXT) from None
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise SubtitleError(path, NOT_TEXT)


def _seconds(path: str, value: str, line: int) -> float:
    parts = re.split(r"[:,.]", value.strip())
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise SubtitleError(path, BAD_TIME, {"line": line, "text": value.strip()}) from None
    *hms, millis = numbers
    if len(hms) == 2:
        hms.insert(0, 0)
    hours, minutes, seconds = hms
    if minutes >= 60 or seconds >= 60:
        raise SubtitleError(path, BAD_TIME, {"line": line, "text": value.strip()})
    fraction = parts[-1]
    return float(hours * 3600 + minutes * 60 + seconds + millis / 10 ** len(fraction))


def _clean(lines: list[str]) -> str:
    text = "\n".join(_MARKUP.sub("", line).strip() for line in lines)
    return "\n".join(line for line in text.splitlines() if line.strip())


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 60 else text[:57] + "..."


def parse_subtitles(path: str | os.PathLike[str], data: bytes | None = None) -> list[Cue]:
    """The cues of an SRT or WebVTT file (``data``: its bytes when already read), sorted by
    start; empty cues are skipped. Raises :class:`SubtitleError` (which line, what is wrong)."""
    path = os.fspath(path)
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SUBTITLE_BYTES + 1)
    if len(data) > MAX_SUBTITLE_BYTES:
        raise SubtitleError(path, TOO_LARGE, {"limit": f"{MAX_SUBTITLE_BYTES // 1024**2} MB"})
    lines = _decode(path, data).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    webvtt = bool(lines) and lines[0].lstrip("\ufeff").startswith("WEBVTT")
    if not webvtt and lines and lines[0].strip().upper().startswith("WEBVTT"):
        raise SubtitleError(path, BAD_VTT_HEADER)
    cues: list[Cue] = []
    i = 0
    if webvtt:
        while i < len(lines) and lines[i].strip():  # the header block
            i += 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        block_start = i
        block: list[str] = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        if webvtt and block[0].strip().split(" ")[0] in ("NOTE", "STYLE", "REGION"):
            continue
        if _ARROW.search(block[0]):
            timing = 0
        elif len(block) > 1 and _ARROW.search(block[1]):
            timing = 1  # a cue number (SRT) or an identifier (WebVTT) first
        else:
            # The time line is missing or unreadable: name the line it should be on.
            numbered = block[0].strip().isdigit()
            at = 1 if numbered else 0
            found = block[at] if at < len(block) else ""
            raise SubtitleError(
                path, BAD_TIME_LINE, {"line": block_start + 1 + at, "text": _short(found)}
            )
        line_no = block_start + timing + 1
        match = _TIME_LINE.match(block[timing])
        if match is None:
            raise SubtitleError(
                path, BAD_TIME_LINE, {"line": line_no, "text": _short(block[timing])}
            )
        start = _seconds(path, match.group(1), line_no)
        end = _seconds(path, match.group(2), line_no)
        if end < start:
            raise SubtitleError(
                path,
                ENDS_BEFORE_START,
                {"line": line_no, "start": match.group(1), "end": match.group(2)},
            )
        text = _clean(block[timing + 1 :])
        if text and end > start:
            cues.append(Cue(start, end, text))
    if not cues:
        raise SubtitleError(path, NO_CUES)
    cues.sort(key=lambda c: (c.start_s, c.end_s))
    return cues


def subtitle_format(data: bytes) -> str:
    """``"vtt"`` or ``"srt"``, by content."""
    head = data.lstrip(b"\xef\xbb\xbf")[:6]
    return "vtt" if head.startswith(b"WEBVTT") else "srt"


def cues_until(cues: Sequence[Cue], duration_s: float) -> list[Cue]:
    """The cues within the first ``duration_s`` seconds (the last one cut at the end)."""
    out = []
    for cue in cues:
        if cue.start_s >= duration_s:
            break
        out.append(Cue(cue.start_s, min(cue.end_s, duration_s), cue.text))
    return out


# --- soft subtitles (mov_text) ----------------------------------------------------------------
_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    b"BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
    b"BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n"
    b"\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
    b"Text\n"
)
_MS = Fraction(1, 1000)


class SoftSubtitles:
    """A ``mov_text`` track in ``container`` (an MP4 being written): call :meth:`mux` with the
    video's duration before the container closes."""

    def __init__(self, container: Any, cues: Sequence[Cue], language: str = "und") -> None:
        self.cues = list(cues)
        self.container = container
        self.stream = container.add_stream("mov_text")
        self.stream.time_base = _MS
        self.stream.codec_context.time_base = _MS
        self.stream.codec_context.subtitle_header = _ASS_HEADER
        self.stream.metadata["language"] = language

    def mux(self, duration_s: float) -> int:
        """Write every cue that starts before ``duration_s`` (overlaps end where the next cue
        starts: a text track shows one cue at a time); returns how many."""
        from av.subtitles.subtitle import SubtitleSet

        cues = cues_until(self.cues, duration_s)
        written = 0
        for n, cue in enumerate(cues):
            start = int(round(cue.start_s * 1000))
            end = int(round(cue.end_s * 1000))
            if n + 1 < len(cues):
                end = min(end, int(round(cues[n + 1].start_s * 1000)))
            if end <= start:
                continue
            dialogue = "0,0,Default,,0,0,0,," + cue.text.replace("\n", "\\N")
            packet = self.stream.codec_context.encode_subtitle(
                SubtitleSet.create(dialogue.encode(), 0, end - start, pts=start)
            )
            packet.stream = self.stream
            packet.pts = packet.dts = start
            packet.duration = end - start
            packet.time_base = _MS
            self.container.mux(packet)
            written += 1
        return written


# --- burning in --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def find_font(cjk: bool) -> str | None:
    """A font file for subtitles from fontconfig (``fc-match``); None without fontconfig."""
    binary = shutil.which("fc-match")
    if binary is None:
        return None
    pattern = "sans-serif:lang=zh-cn" if cjk else "sans-serif"
    try:
        result = subprocess.run(
            [binary, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("fc-match failed: %s", exc)
        return None
    path = result.stdout.strip()
    return path if result.returncode == 0 and path and os.path.exists(path) else None


class SubtitleBurner:
    """Draws the cues into RGB frames of ``width`` x ``height`` (see the module's doc)."""

    def __init__(
        self, cues: Sequence[Cue], width: int, height: int, font_path: str | None = None
    ) -> None:
        from PIL import ImageFont

        self.cues = list(cues)
        self.starts = [c.start_s for c in self.cues]
        self.width, self.height = width, height
        self.size = max(14, int(round(height * 0.055)))
        self.stroke = max(2, self.size // 10)
        self.margin = max(8, int(round(height * 0.06)))
        cjk = any(_CJK.search(c.text) for c in self.cues)
        path = font_path or find_font(cjk)
        self.font_path = path
        if path:
            self.font: Any = ImageFont.truetype(path, self.size)
        else:
            log.warning("no font found for subtitles; Pillow's built-in font has no CJK glyphs")
            self.font = ImageFont.load_default(self.size)
        self._cache: dict[tuple[int, ...], tuple[int, int, np.ndarray, np.ndarray] | None] = {}

    def active(self, t: float) -> tuple[int, ...]:
        """Indices of the cues showing at ``t`` seconds."""
        last = bisect.bisect_right(self.starts, t)
        return tuple(i for i in range(max(0, last - 8), last) if self.cues[i].end_s > t)

    def apply(self, image: np.ndarray, t: float) -> np.ndarray:
        """``image`` with the cues of time ``t`` drawn in (a copy; ``image`` itself is never
        changed: callers' frames are shared)."""
        showing = self.active(t)
        if not showing:
            return image
        if showing not in self._cache:
            self._cache = {showing: self._render("\n".join(self.cues[i].text for i in showing))}
        overlay = self._cache[showing]
        if overlay is None:
            return image
        x, y, rgb, alpha = overlay
        h, w = alpha.shape[:2]
        out = image.copy()
        region = out[y : y + h, x : x + w].astype(np.float32)
        region += (rgb - region) * alpha
        out[y : y + h, x : x + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return out

    def _wrap(self, text: str) -> list[str]:
        limit = self.width * 0.9
        lines: list[str] = []
        for paragraph in text.split("\n"):
            words = paragraph.split(" ") if not _CJK.search(paragraph) else list(paragraph)
            joiner = "" if _CJK.search(paragraph) else " "
            line = ""
            for word in words:
                trial = f"{line}{joiner}{word}" if line else word
                if line and self.font.getlength(trial) > limit:
                    lines.append(line)
                    line = word.lstrip() if joiner == "" else word
                else:
                    line = trial
            if line:
                lines.append(line)
        return lines

    def _render(self, text: str) -> tuple[int, int, np.ndarray, np.ndarray] | None:
        from PIL import Image, ImageDraw

        lines = self._wrap(text)
        if not lines:
            return None
        spacing = int(self.size * 0.25)
        box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox(
            (0, 0),
            "\n".join(lines),
            font=self.font,
            spacing=spacing,
            align="center",
            stroke_width=self.stroke,
        )
        text_w, text_h = box[2] - box[0], box[3] - box[1]
        x = (self.width - text_w) // 2 - box[0]
        y = self.height - self.margin - text_h - box[1]
        layer = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        ImageDraw.Draw(layer).multiline_text(
            (x, y),
            "\n".join(lines),
            font=self.font,
            fill=(255, 255, 255, 255),
            spacing=spacing,
            align="center",
            stroke_width=self.stroke,
            stroke_fill=(0, 0, 0, 255),
        )
        found = layer.getbbox()
        if found is None:
            return None
        x0, y0, _x1, _y1 = found
        crop = np.asarray(layer.crop(found), dtype=np.float32)
        return x0, y0, crop[..., :3], crop[..., 3:] / 255.0
