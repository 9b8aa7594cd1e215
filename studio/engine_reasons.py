"""The engine's fixed input-error reasons as translatable msgids.

``lipsync`` never imports Django, so its reasons (``InputError.template``, the constants it
registers in :data:`lipsync.errors.REASONS`) are marked here for ``makemessages``;
:func:`studio.notices.notice_text` translates a stored reason when it is one of these and
shows the English text otherwise.
A test checks that every registered reason of the engine is listed.
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
    gettext_noop("file is truncated at %(t)s s"),
    gettext_noop("no audio stream"),
    gettext_noop("file is truncated at 0.0 s (no audio samples)"),
    gettext_noop("no video stream or image"),
    gettext_noop("image is damaged"),
    gettext_noop("image is damaged (nothing could be decoded)"),
    gettext_noop("audio is empty"),
    gettext_noop("the face track was made from a different file"),
    gettext_noop("no face found in any frame"),
    gettext_noop("face %(pick)s was picked but the first frame with faces has %(count)s"),
)
