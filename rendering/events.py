"""Signals of the rendering side, for whoever wants to react (the API's webhooks).

Each is sent from the one place the thing happens, :mod:`rendering.lifecycle`, after the row
changed (with ``send_robust``: a failing receiver is logged and never breaks a transition):

* ``task_succeeded(task)``: a render finished and has its output;
* ``task_failed(task)``: a render failed for good (``task.error`` says why);
* ``batch_completed(batch)``: no task of the batch is queued or running any more (sent once per
  run of the batch, whichever worker finished last; again after a retry ends).

Receivers get ``sender=RenderTask`` or ``Batch`` and the row as a keyword argument. The
rendering app never imports its receivers' apps.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

log = logging.getLogger(__name__)

task_succeeded = Signal()
task_failed = Signal()
batch_completed = Signal()


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """``signal.send_robust``, with every receiver's exception logged (with its traceback)."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            log.error("receiver %r of a signal failed", receiver, exc_info=result)
