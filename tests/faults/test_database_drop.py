"""PostgreSQL connections terminated (``pg_terminate_backend``) in the middle of a render.

Every server connection of the test database but this test's own is ended, three times while
a render runs: the render worker's (its progress writes), its heartbeat thread's and the
reconciler loop's. The render reconnects and finishes on its first run; the worker serves the
next render; nothing is left running.

SQLite has no server connection to terminate: each process opens the database file itself,
and a "connection" cannot be dropped from outside. The suite therefore runs this module only
on PostgreSQL (CI runs the suite on both); the in-process test
``tests/batches/test_reconcile.py::test_live_worker_that_lost_the_run_does_not_keep_the_task``
covers what the reconciler does when a run's end could not be written, on both databases.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from rendering.models import RenderTask, TaskStatus
from rendering.services import batches as service
from studio.actor import Actor

from .conftest import FaultStack, part_files, wait_for

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="SQLite has no server connection to terminate (each process opens the file "
        "itself); this fault runs on PostgreSQL (DATABASE_URL=postgres://...)",
    ),
]

FINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


@pytest.fixture(scope="module")
def stack(fault_stack: FaultStack) -> FaultStack:
    fault_stack.start_reconciler()
    fault_stack.start_worker("gpu1", "gpu")
    return fault_stack


def _terminate_others() -> int:
    """End every other backend of this database; how many were ended."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_connections_terminated_mid_render(stack, library, member, speech_16s):
    audio = library.audio("Sixteen", speech_16s, 16.0)
    batch = service.create_batch(
        Actor.of(member),
        service.BatchSpec(
            project=library.project,
            audios=[audio, library.hello],
            presenters=[library.long_presenter],
        ),
    )
    first, second = batch.tasks.order_by("position")
    wait_for(
        lambda: RenderTask.objects.filter(
            pk=first.pk, status=TaskStatus.RUNNING, stage="render", percent__gt=10
        ).exists(),
        120,
        "the render to get going",
        stack,
    )
    ended = 0
    for _ in range(3):
        ended += _terminate_others()
        time.sleep(1.0)
    assert ended >= 3, "the worker's and the reconciler's connections were ended"

    def final(pk: int) -> RenderTask | None:
        row = RenderTask.objects.get(pk=pk)
        return row if row.status in FINAL else None

    done = wait_for(lambda: final(first.pk), 180, "the render to finish", stack)
    assert done.status == TaskStatus.SUCCEEDED, stack.logs()
    assert done.attempts == 1 and done.error is None, stack.logs()  # reconnected: no retry
    after = wait_for(lambda: final(second.pk), 120, "the next render", stack)
    assert after.status == TaskStatus.SUCCEEDED and after.worker_name == "gpu1"
    assert stack.alive("gpu1") and stack.alive("reconciler")
    assert part_files(Path(stack.media)) == []
    assert "database connection lost" in (stack.root / "gpu1.log").read_text()
