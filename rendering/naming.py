"""File names of render outputs: a template per batch, e.g. ``{presenter}/{audio}.mp4``.

The template is stored on :class:`rendering.models.Batch` (``output_template``) and used for
each result's download name and its path inside the batch's zip. The default,
:data:`DEFAULT_TEMPLATE`, gives the names every batch had before templates existed
(``Presenter__Audio.mp4``).

Rules (checked by :func:`check_template` when a batch is submitted):

* only the placeholders in :data:`FIELDS`, without format specs or conversions;
* ``/`` separates folders (inside zips); no empty, ``.`` or ``..`` part, no leading ``/``,
  no backslash or control character: a name can never leave the batch's folder;
* every value is made file-name safe (:func:`rendering.zipstream.safe_name`), so a presenter
  named ``../x`` is ``.._x``;
* ``.mp4`` is added when the template does not end with it;
* the names of one batch must all differ (:func:`names_for`), else the batch is refused.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from .zipstream import safe_name

if TYPE_CHECKING:
    from .models import RenderTask

DEFAULT_TEMPLATE = "{presenter}__{audio}.mp4"
#: Placeholders a template may use.
FIELDS = ("presenter", "audio", "batch", "position", "presenter_id", "audio_id")
MAX_LENGTH = 255
_FORBIDDEN = set('\\:*?"<>|') | {chr(c) for c in range(32)} | {"\x7f"}


class TemplateError(ValueError):
    """The template breaks a rule; the message is for people (active language)."""


@dataclass(frozen=True)
class NameParts:
    """What a template is filled with, for one render."""

    presenter: str
    audio: str
    batch: str = ""
    position: int = 0
    presenter_id: int | None = None
    audio_id: int | None = None


def check_template(template: str) -> str:
    """The template as it will be used (``.mp4`` added), or :class:`TemplateError`."""
    template = (template or "").strip()
    if not template:
        return DEFAULT_TEMPLATE
    if not template.lower().endswith(".mp4"):
        template += ".mp4"
    if len(template) > MAX_LENGTH:
        raise TemplateError(
            _("The file name template is longer than %(n)d characters.") % {"n": MAX_LENGTH}
        )
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(
            _("The file name template has an unmatched brace: write {presenter}, {audio} ...")
        ) from exc
    literal = ""
    for text, field, spec, conversion in parsed:
        literal += text
        if field is None:
            continue
        if field not in FIELDS or spec or conversion:
            raise TemplateError(
                _("“%(field)s” is not a placeholder of file names; use %(fields)s.")
                % {"field": field, "fields": ", ".join(f"{{{f}}}" for f in FIELDS)}
            )
        literal += "x"
    if set(literal) & _FORBIDDEN:
        raise TemplateError(
            _(
                "The file name template contains a character file names may not have "
                '(\\ : * ? " < > |).'
            )
        )
    parts = literal.split("/")
    if literal.startswith("/") or any(p.strip() in ("", ".", "..") for p in parts):
        raise TemplateError(
            _("Folders in the file name template must have names (no leading /, no . or ..).")
        )
    return template


def render_name(template: str, parts: NameParts) -> str:
    """The file name of one render (``template`` already checked)."""
    values = {
        "presenter": safe_name(parts.presenter, "presenter"),
        "audio": safe_name(parts.audio, "audio"),
        "batch": safe_name(parts.batch, "batch"),
        "position": str(parts.position + 1),
        "presenter_id": str(parts.presenter_id or 0),
        "audio_id": str(parts.audio_id or 0),
    }
    name = template.format(**values)
    return "/".join(p.strip() for p in name.split("/"))[:MAX_LENGTH]


def names_for(template: str, parts: Sequence[NameParts]) -> list[str]:
    """The names of a batch's renders; :class:`TemplateError` when two are the same."""
    names = [render_name(template, p) for p in parts]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.lower()
        if key in seen:
            raise TemplateError(
                _(
                    "The file name template gives two renders the same name (%(name)s); add "
                    "{presenter} and {audio}, or {position}."
                )
                % {"name": name}
            )
        seen[key] = i
    return names


def flat_name(name: str) -> str:
    """A download name without folders (for a single file: ``a/b.mp4`` -> ``a__b.mp4``)."""
    return "__".join(p for p in name.split("/") if p) or "video.mp4"


def parts_of(task: RenderTask) -> NameParts:
    """What the batch's template is filled with for ``task``."""
    return NameParts(
        presenter=task.presenter_name,
        audio=task.audio_name,
        batch=task.batch.name,
        position=task.position,
        presenter_id=task.presenter_id,
        audio_id=task.audio_id,
    )


def output_name(task: RenderTask) -> str:
    """The download name (and path inside the zip) of ``task``'s result."""
    return render_name(task.batch.output_template or DEFAULT_TEMPLATE, parts_of(task))
