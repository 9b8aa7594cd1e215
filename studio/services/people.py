"""A person's own choices (their language), kept on the account so every browser and every
e-mail gets them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation

from ..models import Profile

SUPPORTED = {code for code, _name in settings.LANGUAGES}


def language_of(user: Any) -> str:
    """The language ``user`` chose ("" when they never chose one: the browser's applies)."""
    if user is None or not getattr(user, "pk", None):
        return ""
    code = Profile.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return code if code in SUPPORTED else ""


def set_language(user: Any, code: str) -> str:
    """Keep ``code`` as ``user``'s language; returns the code stored ("" for an unknown one,
    which clears the choice)."""
    try:
        code = translation.get_supported_language_variant(code) if code else ""
    except LookupError:
        code = ""
    Profile.objects.update_or_create(user=user, defaults={"language": code})
    return code


def reading_language(user: Any) -> str:
    """The language to write to ``user`` in when no request says (e-mails, notifications):
    their choice, else the site's default."""
    return language_of(user) or settings.LANGUAGE_CODE
