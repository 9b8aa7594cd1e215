"""Texts for people, stored untranslated so each reader sees them in their own language.

A check or a render runs in a worker (one language) but its warnings and errors are read by
people in several. A :class:`Notice` keeps ``template`` (the English msgid, marked with
``gettext_noop`` where it is defined, or one of the engine's registered reasons, see
:data:`lipsync.errors.REASONS`) and ``params``; :meth:`Notice.text` translates it for the
active language and :attr:`Notice.message` is the English text (logs, admin search). A
parameter may itself be a notice (a reason inside a sentence); it is translated the same way.

Rows store notices as JSON (``{"code", "message", "template", "params"}``) through
:class:`studio.models.fields.NoticeField`; websocket events and API payloads carry the same
shape (:meth:`Notice.to_json`, :meth:`Notice.from_json`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from django.utils.translation import gettext, gettext_noop

from lipsync.errors import InputError

log = logging.getLogger("studio.notices")

Param = Union[str, int, float, "Notice"]


@dataclass(frozen=True)
class Notice:
    """One sentence for people: a stable ``code``, an English %-``template`` and its params."""

    code: str
    template: str
    params: Mapping[str, Param] = field(default_factory=dict, hash=False)

    def _filled(self, translate: bool) -> str:
        template = gettext(self.template) if translate else self.template
        if not self.params:
            return template
        values = {
            k: (v.text() if translate else v.message) if isinstance(v, Notice) else v
            for k, v in self.params.items()
        }
        try:
            return template % values
        except (KeyError, TypeError, ValueError):
            if translate:  # a translation that lost a placeholder: the English still works
                return self._filled(translate=False)
            raise

    @property
    def message(self) -> str:
        """The English text."""
        return self._filled(translate=False)

    def text(self) -> str:
        """The text in the active language (English where the catalogue has no entry)."""
        return self._filled(translate=True)

    def __str__(self) -> str:
        return self.message

    def param(self, name: str) -> Param | None:
        return self.params.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "template": self.template,
            "params": {
                k: v.to_json() if isinstance(v, Notice) else v for k, v in self.params.items()
            },
        }

    @classmethod
    def from_json(cls, data: object) -> Notice | None:
        """The notice stored as ``data``; None for empty values. A record without a template
        (written by hand or by an older version) keeps its message as the template, and so
        does a plain string."""
        if isinstance(data, Notice):
            return data
        if isinstance(data, str):  # a plain sentence (set by hand): shown as it is
            return cls(code="", template=data) if data else None
        if not isinstance(data, Mapping) or not data:
            return None
        template = data.get("template") or data.get("message") or ""
        raw = (data.get("params") or {}) if data.get("template") else {}
        params: dict[str, Param] = {}
        for key, value in raw.items():
            nested = cls.from_json(value) if isinstance(value, Mapping) else None
            params[str(key)] = nested if nested is not None else value
        return cls(code=str(data.get("code") or ""), template=str(template), params=params)


def notice(code: str, template: str, **params: Param) -> Notice:
    """A notice ``code`` with the English ``template`` (marked with ``gettext_noop``)."""
    return Notice(code, template, params)


def notice_list(items: object) -> list[Notice]:
    """Notices from a stored JSON list (entries that are not notices are dropped)."""
    if not isinstance(items, list | tuple):
        return []
    return [n for n in (Notice.from_json(item) for item in items) if n is not None]


# --- errors of input files ------------------------------------------------------------------

INPUT = "input"
FILE_REASON = gettext_noop("%(file)s: %(reason)s")
FILE_REASON_TODO = gettext_noop("%(file)s: %(reason)s — %(todo)s")


def input_error(
    file_name: str,
    reason: str,
    params: Mapping[str, object] | None = None,
    todo: str | None = None,
) -> Notice:
    """``<file name>: <reason>[ — <what to do>]``, the form of
    :class:`lipsync.errors.InputError` messages.

    ``reason`` and ``todo`` are translated when they are ours: ``gettext_noop`` msgids or the
    engine's registered reasons and advice (all in the catalogue); anything else shows as it
    came. Both are filled from ``params``."""
    values: dict[str, Param] = {
        k: v if isinstance(v, str | int | float | Notice) else str(v)
        for k, v in (params or {}).items()
    }
    why = Notice("reason", reason, values)
    if not todo:
        return notice(INPUT, FILE_REASON, file=file_name, reason=why)
    return notice(
        INPUT, FILE_REASON_TODO, file=file_name, reason=why, todo=Notice("todo", todo, values)
    )


def from_input_error(exc: InputError, shown_name: str | None = None) -> Notice:
    """An engine input error under the name the user gave the file (not the stored one),
    with what to do about it."""
    return input_error(
        shown_name or os.path.basename(exc.path) or exc.path,
        exc.template,
        exc.params,
        exc.advice_template,
    )


def advice_of(error: Notice | None) -> Notice | None:
    """The ``todo`` part of an input-error notice (what to do), None if it has none."""
    todo = error.param("todo") if error is not None else None
    return todo if isinstance(todo, Notice) else None


def reason_of(error: Notice | None) -> Notice | None:
    """The ``reason`` part of an input-error notice (the file name left out), else itself."""
    if error is None:
        return None
    reason = error.param("reason")
    return reason if isinstance(reason, Notice) else error


# --- unexpected errors ----------------------------------------------------------------------

INTERNAL = "internal"
INTERNAL_ERROR = gettext_noop(
    "Internal error in %(stage)s (reference %(ref)s). It was logged; tell an administrator "
    "and give them the reference."
)


#: The engine's stages (:data:`lipsync.errors.STAGES`) as "internal error in <stage>" names them.
ENGINE_STAGES = {
    "model": gettext_noop("the model loading step"),
    "face": gettext_noop("the face tracking step"),
    "audio": gettext_noop("the audio step"),
    "decode": gettext_noop("the presenter decoding step"),
    "mouth": gettext_noop("the mouth drawing step"),
    "encode": gettext_noop("the video encoding step"),
}


def engine_stage(exc: BaseException, fallback: str) -> str:
    """The msgid naming the engine stage ``exc`` escaped from, else ``fallback``."""
    from lipsync.errors import stage_of

    return ENGINE_STAGES.get(stage_of(exc) or "", fallback)


def new_reference() -> str:
    """A short id that ties a message shown to people to the log entry with the traceback."""
    return uuid.uuid4().hex[:10]


def internal_error(
    stage: Param, exc: BaseException, logger: logging.Logger | None = None
) -> Notice:
    """Log ``exc`` with its traceback under a fresh reference and return the notice people see:
    never the exception's own text (library internals, server paths). ``stage`` is a
    ``gettext_noop`` msgid (translated when shown) or a notice."""
    ref = new_reference()
    where = stage if isinstance(stage, Notice) else Notice("stage", str(stage))
    (logger or log).error("internal error in %s, reference %s", where, ref, exc_info=exc)
    return notice(INTERNAL, INTERNAL_ERROR, stage=where, ref=ref)
