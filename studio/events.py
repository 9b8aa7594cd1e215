"""Signals of the library side (the API's webhooks listen; the library imports no listener).

Sent from :mod:`studio.jobs` once a presenter's face check has ended, with ``send_robust`` (a
failing receiver is logged and never fails the check):

* ``presenter_ready(presenter)``: the presenter can be rendered;
* ``presenter_failed(presenter)``: it cannot (``presenter.error`` says why).
"""

from __future__ import annotations

from django.dispatch import Signal

presenter_ready = Signal()
presenter_failed = Signal()
