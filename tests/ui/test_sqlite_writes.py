"""On SQLite, a request that reads then writes waits for a worker's write instead of failing.

With SQLite's default deferred transactions the second writer gets "database is locked" at
once (no waiting), which showed up as a failed upload completion while the worker was saving
another presenter's face check.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import connection, transaction


@pytest.mark.django_db(transaction=True)
def test_read_then_write_waits_for_a_concurrent_writer(team):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    from studio.models import Team

    path = connection.settings_dict["NAME"]
    locked, release = threading.Event(), threading.Event()

    def worker_write():
        other = sqlite3.connect(path, timeout=30, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE studio_team SET name = 'Training (worker)'")
        locked.set()
        release.wait(5)
        time.sleep(0.5)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=worker_write)
    thread.start()
    assert locked.wait(5)
    release.set()
    started = time.monotonic()
    with transaction.atomic():
        row = Team.objects.get(pk=team.pk)
        Team.objects.filter(pk=row.pk).update(name="Training (web)")
    waited = time.monotonic() - started
    thread.join()
    assert Team.objects.get(pk=team.pk).name == "Training (web)"
    assert waited >= 0.3, "the web write waited for the worker's commit"
