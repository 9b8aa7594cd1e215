"""Texts the page scripts show, in the reader's language.

Pages hand them to their scripts as JSON data blocks (``json_script``: not executable, so the
Content-Security-Policy needs no inline script), read into ``window.I18N`` by ``app.js``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

#: Every page (base.html): toasts, confirmations, network errors.
BASE = {
    "close": _("Close"),
    "confirm": _("Are you sure?"),
    "confirmYes": _("Yes, go ahead"),
    "confirmNo": _("Go back"),
    "networkError": _("The connection to the server failed. Please try again."),
    "unread": _("Notifications (%(n)s unread)"),
    "noUnread": _("Notifications"),
    "open": _("Open it"),
}

#: The notifications page: turning desktop notifications on.
NOTIFICATIONS = {
    "desktopOn": _("Desktop notifications are on for this browser."),
    "desktopOff": _("Desktop notifications are off for this browser."),
    "desktopBlocked": _(
        "This browser blocks notifications from the studio; allow them in the browser's site "
        "settings."
    ),
    "desktopUnsupported": _("This browser cannot show desktop notifications."),
}
