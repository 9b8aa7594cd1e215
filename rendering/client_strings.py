"""Texts of the live batch page's script (``static/js/batch.js``), in the reader's language;
the page hands them over as a JSON data block (see :mod:`studio.client_strings`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

BATCH = {
    "status": {
        "queued": _("Queued"),
        "running": _("Running"),
        "succeeded": _("Succeeded"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
        "partial": _("Partly failed"),
        "partly_cancelled": _("Partly cancelled"),
    },
    "stage": {
        "starting": _("starting"),
        "audio": _("reading the audio"),
        "prepare": _("finding the face"),
        "track": _("finding the face"),
        "render": _("rendering"),
        "encode": _("encoding"),
        "mux": _("finishing the file"),
        "done": _("done"),
    },
    "eta": _("about %(t)s left"),
    "retrying": _("Retrying in %(s)s s (attempt %(n)s of %(max)s)"),
    "fps": _("%(n)s frames/s"),
    "counts": _("%(done)s of %(total)s done"),
    "failedCount": _("%(n)s failed"),
    "cancelledCount": _("%(n)s cancelled"),
    "now": _("Now: %(name)s"),
    "live": _("live"),
    "units": [_("%(n)s s"), _("%(n)s min"), _("%(n)s h")],
    "reconnecting": _("connection lost, reconnecting…"),
    "forbidden": _("You no longer have access to this batch."),
    "quality": {
        "ok": _("Quality %(score)s"),
        "review": _("Check this one (%(score)s)"),
        "failed": _("Quality not measured"),
        "pending": _("Checking quality…"),
    },
    # Screen readers: the progress bar of each render, and the batch's polite announcements.
    "taskProgress": _("Progress of %(name)s"),
    "announce": _("%(status)s: %(percent)s done, %(done)s of %(total)s videos finished."),
}
