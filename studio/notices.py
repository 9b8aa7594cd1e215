"""Warnings stored with their untranslated text, so each reader sees them in their language.

A check runs in a worker (one language) but its warnings are read by people in several: each
warning keeps ``template`` (the English msgid, marked with ``gettext_noop`` where it is
defined) and ``params`` next to ``message`` (the English text, for logs, the API and rows
written before templates were stored).
"""
from __future__ import annotations

from django.utils.translation import gettext


def notice(code: str, template: str, **params) -> dict:
    """A warning record: ``code``, ``message`` (English), ``template`` and ``params``."""
    return {"code": code, "message": template % params, "template": template, "params": params}


def notice_text(warning: dict) -> str:
    """The warning in the active language (falls back to the stored message)."""
    template = warning.get("template")
    if not template:
        return str(warning.get("message", ""))
    try:
        return gettext(template) % warning.get("params", {})
    except (KeyError, TypeError, ValueError):
        return str(warning.get("message", ""))
