"""Names for people of technical values the library stores (audio codecs, channel counts):
the pages never show ``pcm_s16le`` raw."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

#: FFmpeg codec name -> what a person calls it. Codecs not listed show in capitals.
CODEC_LABELS = {
    "pcm_s16le": _("PCM, 16-bit (uncompressed)"),
    "pcm_s16be": _("PCM, 16-bit (uncompressed)"),
    "pcm_s24le": _("PCM, 24-bit (uncompressed)"),
    "pcm_s32le": _("PCM, 32-bit (uncompressed)"),
    "pcm_f32le": _("PCM, 32-bit float (uncompressed)"),
    "pcm_u8": _("PCM, 8-bit (uncompressed)"),
    "flac": _("FLAC (lossless)"),
    "alac": _("ALAC (lossless)"),
    "aac": "AAC",
    "mp3": "MP3",
    "mp3float": "MP3",
    "vorbis": "Ogg Vorbis",
    "opus": "Opus",
}


def codec_label(codec: str | None) -> str:
    if not codec:
        return ""
    if codec in CODEC_LABELS:
        return str(CODEC_LABELS[codec])
    if codec.startswith("pcm_"):
        return str(_("PCM (uncompressed)"))
    return codec.upper()


def channels_label(channels: int | None) -> str:
    if not channels:
        return ""
    if channels == 1:
        return str(_("mono"))
    if channels == 2:
        return str(_("stereo"))
    return ngettext("%(n)d channel", "%(n)d channels", channels) % {"n": channels}
