"""Models of the rendering side: batches, render tasks and their output media."""

from .assets import (
    MediaAsset,
    QualityState,
    ThumbnailStatus,
    needs_review_q,
    output_path_for,
    team_disk_usage,
)
from .batches import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    QUALITY_CRF,
    UNRETRYABLE_CODES,
    Batch,
    BatchStatus,
    DurationMode,
    NoFacePolicy,
    Quality,
    RenderTask,
    TaskStatus,
    derive_batch_status,
    done_percent,
    untouched_text,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "QUALITY_CRF",
    "UNRETRYABLE_CODES",
    "Batch",
    "BatchStatus",
    "DurationMode",
    "MediaAsset",
    "NoFacePolicy",
    "Quality",
    "QualityState",
    "RenderTask",
    "TaskStatus",
    "ThumbnailStatus",
    "derive_batch_status",
    "done_percent",
    "needs_review_q",
    "output_path_for",
    "team_disk_usage",
    "untouched_text",
]
