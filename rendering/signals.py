"""Receivers of the render side: a change of someone's access reaches their open progress
pages at once (connected in :mod:`rendering.apps`).

When a membership ends (removed, left, team deleted) or an account is deactivated, an
``access.changed`` event goes, after the commit, to the Channels group of that user
(:func:`rendering.progress.user_group`); each of their open
:class:`rendering.consumers.BatchProgressConsumer` checks its batch again and closes (4403)
when it may no longer see it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from studio.models import Membership

from .progress import notify_access_changed


def _changed(user_id: int) -> None:
    transaction.on_commit(lambda: notify_access_changed(user_id), robust=True)


def _membership_deleted(sender: Any, instance: Membership, **kwargs: Any) -> None:
    _changed(instance.user_id)


def _user_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        _changed(instance.pk)


def connect() -> None:
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid="rendering-access")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="rendering-access-user")
