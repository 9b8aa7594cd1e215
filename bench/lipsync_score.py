"""Lip-sync score: does the mouth in a rendered video move with the speech?

The measurement lives in the engine now (:mod:`lipsync.quality`, which also runs the budgeted
quality check after every render in the studio); this module keeps the benchmark's names.

The mouth opening is measured on the *output* video by a separate landmark pass (a fresh
dlib detection and 68 points on every frame, sharing nothing with the engine's track), as the
inner-lip gap over the face height. It is correlated with the per-frame RMS of the speech after
removing a 1 s moving average from both (so slow drifts and the template's steady pose do not
count), taking the best of lags -3..+3 frames. About 0 means no sync, 1 perfect.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from lipsync.quality import (  # noqa: E402
    MAX_LAG,
    MouthMeter,
    _corr,
    detrend,
    frame_rms,
    measure_mouth,
    moving_average,
    sync_score,
    video_sync_score,
)

__all__ = [
    "MAX_LAG",
    "MouthMeter",
    "_corr",
    "detrend",
    "frame_rms",
    "measure_mouth",
    "moving_average",
    "sync_score",
    "video_sync_score",
]
