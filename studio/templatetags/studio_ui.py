"""Template helpers of the user interface."""

from __future__ import annotations

from django import template

from ..notices import notice_text

register = template.Library()


@register.filter
def warning_text(warning: dict) -> str:
    """``{{ w|warning_text }}``: a stored warning in the reader's language."""
    return notice_text(warning)
