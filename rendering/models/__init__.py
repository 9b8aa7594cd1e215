"""Models of the rendering side: batches, render tasks and their output media."""

from .assets import MediaAsset, ThumbnailStatus, output_path_for, team_disk_usage
from .batches import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    QUALITY_CRF,
    UNRETRYABLE_CODES,
    Batch,
    BatchStatus,
    Quality,
    RenderTask,
    TaskStatus,
    derive_batch_status,
    done_percent,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "QUALITY_CRF",
    "UNRETRYABLE_CODES",
    "Batch",
    "BatchStatus",
    "MediaAsset",
    "Quality",
    "RenderTask",
    "TaskStatus",
    "ThumbnailStatus",
    "derive_batch_status",
    "done_percent",
    "output_path_for",
    "team_disk_usage",
]
