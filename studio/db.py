"""Surviving a dropped database connection in background jobs.

A worker keeps its database connection for hours. When the server drops it (PostgreSQL
restarted, ``pg_terminate_backend``, a network cut, an idle timeout in a proxy) the next query
raises :class:`django.db.OperationalError` or :class:`django.db.InterfaceError` and Django does
not reconnect by itself inside a request-less process. :func:`reconnecting` runs a database
step again once on a fresh connection: the steps it wraps are single conditional UPDATEs or
reads (see :mod:`rendering.lifecycle`), so running one twice is harmless. Inside a transaction
nothing is retried (the transaction is lost with the connection; its caller must start over).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger("studio.db")

P = ParamSpec("P")
T = TypeVar("T")

#: What a lost connection raises (psycopg: OperationalError "terminating connection due to
#: administrator command", then InterfaceError "connection already closed").
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def drop_connection() -> None:
    """Forget this thread's connection; the next query opens a new one."""
    try:
        connection.close()
    except CONNECTION_ERRORS as exc:  # closing a dead socket may complain too
        log.info("closing the lost database connection: %s", exc)


def reconnecting(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)``; if the connection was lost, once more on a new connection."""
    try:
        return func(*args, **kwargs)
    except CONNECTION_ERRORS as exc:
        if connection.in_atomic_block:
            raise
        log.warning("database connection lost (%s); reconnecting", exc)
        drop_connection()
        return func(*args, **kwargs)
