"""``makemessages`` that also collects the engine's input-error reasons and their advice.

``lipsync`` has no Django import, so it marks its fixed reasons with
:func:`lipsync.errors.reason` (and what to do about them with :func:`lipsync.errors.what_to_do`)
instead of ``gettext_noop``; xgettext learns that keyword here, and
the reasons table of the engine stays the one source of those texts.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [
        *makemessages.Command.xgettext_options,
        "--keyword=reason",
        "--keyword=what_to_do",
    ]
