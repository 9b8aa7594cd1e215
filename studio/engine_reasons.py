"""The engine's fixed input-error reasons as translatable msgids.

``lipsync`` never imports Django, so its reasons (``InputError.template``, constants in
:mod:`lipsync.media.probe`) are marked here for ``makemessages``; :func:`studio.notices.notice_text`
translates a stored reason when it is one of these and shows the English text otherwise.
A test checks that every constant of the engine is listed.
"""
from __future__ import annotations

from django.utils.translation import gettext_noop

ENGINE_REASONS = (
    gettext_noop("file does not exist"),
    gettext_noop("is a directory, not a media file"),
    gettext_noop("file is empty"),
    gettext_noop("file is truncated or damaged (its index cannot be read)"),
    gettext_noop("not a media file (could not read a video, audio or image stream)"),
    gettext_noop("unsupported video codec '%(codec)s'"),
    gettext_noop("unsupported audio codec '%(codec)s'"),
    gettext_noop("file is truncated at 0.0 s"),
    gettext_noop("file is truncated at 0.0 s (no video frame could be decoded)"),
)
