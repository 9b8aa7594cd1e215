"""Signals of the library side (the API's webhooks listen; the library imports no listener).

Sent from :mod:`studio.jobs` once a presenter's face check has ended, with ``send_robust`` (a
failing receiver is logged and never fails the check):

* ``presenter_ready(presenter)``: the presenter can be rendered;
* ``presenter_failed(presenter)``: it cannot (``presenter.error`` says why).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

log = logging.getLogger(__name__)

presenter_ready = Signal()
presenter_failed = Signal()


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """``signal.send_robust``, with every receiver's exception logged (with its traceback)."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            log.error("receiver %r of a signal failed", receiver, exc_info=result)
