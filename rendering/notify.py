"""Telling a batch's owner it has finished (connected to ``batch_completed`` in
:mod:`rendering.apps`).

The owner is the person who submitted the batch (``Batch.created_by``), while still a member
of its team. They get a notification (:mod:`studio.services.notifications`: header count,
notifications page, their open pages and desktop, e-mail when configured) once per run of the
batch, as ``batch_completed`` is sent. Not for previews (someone is watching those on the
page) nor for a batch whose every render was cancelled (someone chose that).
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext_noop

from studio.models import Membership, NotificationLevel
from studio.notices import Notice, notice
from studio.services import notifications

from .models import Batch, BatchStatus

log = logging.getLogger("rendering.notify")

KIND = "batch_finished"


def _texts(batch: Batch, counts: dict[str, int]) -> tuple[Notice, Notice, str]:
    name = batch.display_name
    done, total = counts["succeeded"], counts["total"]
    if batch.status == BatchStatus.SUCCEEDED:
        return (
            notice("batch_ready", gettext_noop("Batch “%(name)s” is ready"), name=name),
            notice(
                "batch_ready",
                gettext_noop("All %(total)d videos are finished and can be downloaded."),
                total=total,
            ),
            NotificationLevel.SUCCESS,
        )
    if batch.status == BatchStatus.PARTIAL:
        return (
            notice(
                "batch_partial",
                gettext_noop("Batch “%(name)s” finished with failures"),
                name=name,
            ),
            notice(
                "batch_partial",
                gettext_noop(
                    "%(done)d of %(total)d videos are finished; %(failed)d failed. The batch "
                    "page says why and can try them again."
                ),
                done=done,
                total=total,
                failed=counts["failed"],
            ),
            NotificationLevel.WARNING,
        )
    if batch.status == BatchStatus.FAILED:
        return (
            notice("batch_failed", gettext_noop("Batch “%(name)s” failed"), name=name),
            notice(
                "batch_failed",
                gettext_noop(
                    "None of its %(total)d videos could be made. The batch page says why."
                ),
                total=total,
            ),
            NotificationLevel.ERROR,
        )
    return (
        notice("batch_finished", gettext_noop("Batch “%(name)s” finished"), name=name),
        notice(
            "batch_finished",
            gettext_noop(
                "%(done)d of %(total)d videos are finished; %(cancelled)d were cancelled."
            ),
            done=done,
            total=total,
            cancelled=counts["cancelled"],
        ),
        NotificationLevel.INFO,
    )


def batch_finished(sender: Any, batch: Batch, **kwargs: Any) -> None:
    """Receiver of ``batch_completed``: notify the batch's owner."""
    if batch.is_preview or batch.created_by_id is None:
        return
    if batch.status in (BatchStatus.CANCELLED, BatchStatus.QUEUED, BatchStatus.RUNNING):
        return
    if not Membership.objects.filter(team_id=batch.team_id, user_id=batch.created_by_id).exists():
        log.info("batch %s: its owner left the team; nobody to notify", batch.pk)
        return
    title, body, level = _texts(batch, batch.counts())
    notifications.notify(
        batch.created_by,
        batch.team,
        KIND,
        title,
        body,
        url=batch.get_absolute_url(),
        level=level,
    )


def connect() -> None:
    from . import events

    events.batch_completed.connect(batch_finished, dispatch_uid="rendering.notify.batch_finished")
