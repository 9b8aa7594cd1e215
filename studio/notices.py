"""Texts for people stored untranslated, so each reader sees them in their language.

A check or a render runs in a worker (one language) but its warnings and errors are read by
people in several: each record keeps ``template`` (the English msgid, marked with
``gettext_noop`` where it is defined) and ``params`` next to ``message`` (the English text, for
logs, the API and rows written before templates were stored). A parameter may itself be a
record (a reason inside a sentence); it is translated the same way when the text is shown.
"""

from __future__ import annotations

import os

from django.utils.translation import gettext, gettext_noop


def _english(value):
    return value["message"] if isinstance(value, dict) else value


def notice(code: str, template: str, **params) -> dict:
    """A record: ``code``, ``message`` (English), ``template`` and ``params``."""
    message = template % {k: _english(v) for k, v in params.items()} if params else template
    return {"code": code, "message": message, "template": template, "params": params}


def notice_text(warning: dict | None) -> str:
    """The record in the active language (falls back to the stored message)."""
    if not warning:
        return ""
    template = warning.get("template")
    if not template:
        return str(warning.get("message", ""))
    params = {
        k: notice_text(v) if isinstance(v, dict) else v
        for k, v in (warning.get("params") or {}).items()
    }
    try:
        return gettext(template) % params if params else gettext(template)
    except (KeyError, TypeError, ValueError):
        return str(warning.get("message", ""))


def reason_notice(reason: str, params: dict | None = None) -> dict:
    """An input error's reason (a template filled from ``params``): translated when it is one
    of ours (a ``gettext_noop`` msgid, see :mod:`studio.engine_reasons`), shown as it came from
    the engine otherwise."""
    return notice("reason", reason, **(params or {}))


def input_error(file_name: str, reason: str, params: dict | None = None) -> dict:
    """``<file name>: <reason>``, the form of :class:`lipsync.errors.InputError` messages."""
    return notice(
        "input",
        gettext_noop("%(file)s: %(reason)s"),
        file=file_name,
        reason=reason_notice(reason, params),
    )


def lipsync_error(exc, shown_name: str | None = None) -> dict:
    """An engine error (``path`` and ``reason``, with ``template`` and ``params`` where the
    reason is one of the engine's fixed texts) under the name the user gave the file."""
    path = getattr(exc, "path", "")
    reason = getattr(exc, "reason", "")
    if not reason:
        return notice("error", str(exc))
    template = getattr(exc, "template", "") or reason
    params = getattr(exc, "params", None) or None
    return input_error(shown_name or os.path.basename(str(path)) or str(path), template, params)


def error_fields(record: dict | None, field: str = "error") -> dict:
    """Model fields for a stored error: ``error`` (English) and ``error_notice`` (the record)."""
    if not record:
        return {field: "", f"{field}_notice": {}}
    return {field: record["message"], f"{field}_notice": record}
