"""Batches from a manifest: a CSV or JSON list of (audio, presenter) pairs.

CSV: a header row with the columns ``audio`` and ``presenter`` (other columns are ignored),
one render per row. JSON: a list of ``{"audio": ..., "presenter": ...}``. A value is an id or
the exact name of an audio track of the batch's project / a presenter of the team; a name two
rows of the library share is refused as ambiguous. Errors name the row (the header is row 1
in CSV; JSON rows count from 1).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from studio.ids import parse_id
from studio.models import AudioTrack, Presenter

#: Largest manifest accepted (bytes).
MAX_BYTES = 1024 * 1024


class ManifestError(ValueError):
    """The manifest cannot be used; the message (for people) names the row."""


def read_rows(raw: bytes, filename: str = "") -> list[tuple[int, str, str]]:
    """``(row number, audio, presenter)`` of each render the manifest lists."""
    if len(raw) > MAX_BYTES:
        raise ManifestError(_("The manifest is larger than 1 MiB."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(_("The manifest is not UTF-8 text.")) from exc
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith("["):
        return _json_rows(stripped)
    return _csv_rows(text)


def _json_rows(text: str) -> list[tuple[int, str, str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(_("The manifest is not valid JSON.")) from exc
    if not isinstance(data, list):
        raise ManifestError(_('A JSON manifest is a list of {"audio": ..., "presenter": ...}.'))
    rows = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict) or "audio" not in item or "presenter" not in item:
            raise ManifestError(
                _('Row %(row)d: expected {"audio": ..., "presenter": ...}.') % {"row": n}
            )
        rows.append((n, str(item["audio"]).strip(), str(item["presenter"]).strip()))
    return rows


def _csv_rows(text: str) -> list[tuple[int, str, str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise ManifestError(_("The manifest is not valid CSV.")) from exc
    if "audio" not in header or "presenter" not in header:
        raise ManifestError(_("The CSV manifest needs a header row with audio and presenter."))
    a, p = header.index("audio"), header.index("presenter")
    rows = []
    try:
        for n, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(a, p):
                raise ManifestError(_("Row %(row)d: audio or presenter is missing.") % {"row": n})
            rows.append((n, row[a].strip(), row[p].strip()))
    except csv.Error as exc:
        raise ManifestError(_("The manifest is not valid CSV.")) from exc
    return rows


def _lookup(rows: Iterable[Any], value: str, row: int, what: str) -> Any:
    items = list(rows)
    pk = parse_id(value)
    if pk is not None:
        match = [o for o in items if o.pk == pk]
        if match:
            return match[0]
    match = [o for o in items if o.name == value]
    if len(match) > 1:
        raise ManifestError(
            _("Row %(row)d: %(what)s “%(name)s” is ambiguous (several have this name); use its id.")
            % {"row": row, "what": what, "name": value}
        )
    if not match:
        raise ManifestError(
            _("Row %(row)d: no %(what)s “%(name)s”.") % {"row": row, "what": what, "name": value}
        )
    return match[0]


def resolve(
    rows: list[tuple[int, str, str]], audios: Iterable[AudioTrack], presenters: Iterable[Presenter]
) -> list[tuple[AudioTrack, Presenter]]:
    """The pairs of ``rows`` among ``audios`` and ``presenters`` (those the caller may use)."""
    if not rows:
        raise ManifestError(_("The manifest lists no render."))
    audio_list, presenter_list = list(audios), list(presenters)
    return [
        (
            _lookup(audio_list, a, n, _("audio track")),
            _lookup(presenter_list, p, n, _("presenter")),
        )
        for n, a, p in rows
    ]
