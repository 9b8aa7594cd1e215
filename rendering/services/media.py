"""The media library's actions: deleting videos (one or many), downloading, zipping (all
audited)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.db import transaction
from django.db.models import Model, QuerySet

from studio.actor import Actor
from studio.audit import record
from studio.models import AuditAction, Team
from studio.services.library import bulk_rows

from ..models import MediaAsset, TaskStatus
from ..zipstream import ZipSource, ZipStream, unique_names
from .quality import quality_csv


def delete_asset(actor: Actor, asset: MediaAsset) -> None:
    record(
        actor,
        asset.team,
        AuditAction.DELETED,
        asset,
        file=asset.download_name,
        size=asset.size_bytes,
    )
    asset.delete_files()
    asset.delete()


def team_assets(actor: Actor, team: Team, ids: Sequence[int]) -> list[MediaAsset]:
    """The videos ``ids`` of ``team`` for a bulk action of ``actor`` (all of them, or
    :class:`~studio.services.library.BulkRefused`)."""
    return bulk_rows(actor, team, MediaAsset.objects.filter(team=team), ids)


def delete_assets(actor: Actor, team: Team, ids: Sequence[int]) -> int:
    """Delete the videos ``ids`` of ``team`` and their files (one audit row with the count)."""
    assets = team_assets(actor, team, ids)
    with transaction.atomic():
        record(
            actor,
            team,
            AuditAction.DELETED,
            kind="video",
            bulk=True,
            count=len(assets),
            ids=sorted(a.pk for a in assets),
            files=[a.download_name for a in assets],
            size=sum(a.size_bytes for a in assets),
        )
        MediaAsset.objects.filter(pk__in=[a.pk for a in assets]).delete()
        transaction.on_commit(lambda: _delete_files(assets))
    return len(assets)


def _delete_files(assets: Sequence[MediaAsset]) -> None:
    for asset in assets:
        asset.delete_files()


def downloaded(actor: Actor, asset: MediaAsset) -> None:
    """Record that ``asset`` was downloaded (range requests of a player are not downloads)."""
    record(actor, asset.team, AuditAction.DOWNLOADED, asset, file=asset.download_name)


def batch_outputs(batch: Model, assets: QuerySet[MediaAsset]) -> list[MediaAsset]:
    """The finished videos of ``batch`` among ``assets`` (those the caller may see), in the
    order of its tasks: what the batch's zip holds."""
    outputs = batch.tasks.filter(status=TaskStatus.SUCCEEDED).values("output_id")  # type: ignore[attr-defined]
    return list(assets.filter(pk__in=outputs).order_by("task__position", "pk"))


#: The manifest every zip of videos holds next to them (see :func:`quality.quality_csv`).
QUALITY_MANIFEST = "quality.csv"


def zip_of(
    actor: Actor, assets: Sequence[MediaAsset], zip_name: str, team: Team, target: Model | None
) -> ZipStream | None:
    """A stored zip of those ``assets`` whose files are on disk, under readable unique names,
    with the ``quality.csv`` manifest (one row per video); None when there is nothing to put
    in it. Recorded in the audit log."""
    present = [a for a in assets if Path(a.path).is_file()]
    if not present:
        return None
    names = unique_names(
        [QUALITY_MANIFEST] + [a.download_name or f"video-{a.pk}.mp4" for a in present]
    )[1:]
    manifest = ZipSource("", QUALITY_MANIFEST, data=quality_csv(present, names))
    stream = ZipStream([*(ZipSource(a.path, n) for a, n in zip(present, names)), manifest])
    record(actor, team, AuditAction.ZIPPED, target, files=len(present), name=zip_name)
    return stream
