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
}
