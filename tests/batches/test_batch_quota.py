"""A team at its storage quota cannot start new renders (they would add outputs)."""

from __future__ import annotations

import pytest

from rendering.models import Batch
from rendering.services import batches as batch_service
from studio.actor import Actor
from studio.services import quotas

pytestmark = pytest.mark.django_db


def test_a_batch_is_refused_while_the_team_is_at_its_quota(library, member, settings):
    spec = batch_service.BatchSpec(
        project=library.project, audios=[library.hello], presenters=[library.anna]
    )
    used = quotas.team_storage(library.project.team).used
    settings.TEAM_STORAGE_QUOTA_BYTES = used
    with pytest.raises(batch_service.BatchRefused, match="storage quota"):
        batch_service.create_batch(Actor.of(member), spec)
    assert not Batch.objects.exists()
    settings.TEAM_STORAGE_QUOTA_BYTES = 0
    assert batch_service.create_batch(Actor.of(member), spec).tasks.count() == 1
