"""Template helpers of the user interface."""

from __future__ import annotations

from django import template

from .. import labels
from ..notices import Notice

register = template.Library()

register.filter("codec_label", labels.codec_label)
register.filter("channels_label", labels.channels_label)


@register.filter
def warning_text(warning: Notice | None) -> str:
    """``{{ w|warning_text }}``: a stored warning in the reader's language."""
    return warning.text() if warning is not None else ""


@register.simple_tag
def client_strings() -> str:
    """``{% client_strings %}``: the texts every page script shares, as a JSON data block."""
    from django.utils.html import json_script

    from ..client_strings import BASE

    return json_script(BASE, "i18n-base")
