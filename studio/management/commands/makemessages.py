"""``makemessages`` that also collects the engine's input-error reasons.

``lipsync`` has no Django import, so it marks its fixed reasons with
:func:`lipsync.errors.reason` instead of ``gettext_noop``; xgettext learns that keyword here, and
the reasons table of the engine stays the one source of those texts.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=reason"]
