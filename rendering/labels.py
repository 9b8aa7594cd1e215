"""Names for people of the render side's technical values: engines, queues, devices. The
pages show these, never ``warp``, ``gpu`` or ``cuda:0`` raw (the values stay in forms, URLs
and the API)."""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

#: Engine name (``lipsync.engines``) -> its name for people; neural engines keep their
#: published names.
ENGINE_LABELS = {
    "warp": _("Built-in mouth animation"),
    "wav2lip": "Wav2Lip",
    "musetalk15": "MuseTalk 1.5",
}

#: RQ queue (``studio.queues.QueueName``) -> what its workers do.
QUEUE_LABELS = {
    "gpu": _("Renders"),
    "cpu": _("Preparation"),
}


def engine_label(name: str | None) -> str:
    if not name:
        return ""
    return str(ENGINE_LABELS.get(name, name))


def queue_label(name: str | None) -> str:
    if not name:
        return ""
    return str(QUEUE_LABELS.get(name, name))


def device_label(device: str | None) -> str:
    """``cpu`` -> "processor (CPU)"; ``cuda:1`` -> "graphics card 1 (GPU)"; what workers
    report, ``cuda:0 (NVIDIA H100)``, -> "graphics card 0 (NVIDIA H100)"."""
    if not device:
        return ""
    if device == "cpu":
        return gettext("processor (CPU)")
    match = re.fullmatch(r"cuda(?::(\d+))?(?:\s*\((.+)\))?", device.strip())
    if match is None:
        return device
    index = match.group(1) or "0"
    if match.group(2):
        return gettext("graphics card %(n)s (%(name)s)") % {"n": index, "name": match.group(2)}
    return gettext("graphics card %(n)s (GPU)") % {"n": index}
