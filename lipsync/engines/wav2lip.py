"""The ``wav2lip`` engine: a Wav2Lip-compatible network redraws the lower face per frame.

The weights (public Wav2Lip checkpoints) are found in the model directory
(``LIPSYNC_MODEL_DIR`` or ``model_dir=``) and loaded once per engine instance, on first use,
then kept resident on the device: a GPU worker renders job after job without reloading
(``load_count`` counts real loads).

Inputs are prepared exactly as the weights were trained (see ``shared/specs/wav2lip.md``):
face box smoothed over 5 frames and padded 10 px down at the chin, crop resized to 96x96, BGR
scaled to 0..1, 6 channels [crop with its lower half blanked, crop]; one 80x16 mel window per
output frame. The 96x96 output is resized back to the box and blended in with the shared soft
mask compositor instead of the public code's hard paste.

Memory layout: channels-last, on purpose, for the weights and the input alike. The crops come
from numpy as NHWC, so the network input is a channels-last view of them (no transposing
copy); the weights are converted to channels-last once at load. Mixing the two (channels-last
input into NCHW weights, as happened by accident before) makes PyTorch choose a layout per
convolution and convert between them; a single layout avoids that, and channels-last is the
layout cuDNN's fp16 tensor-core kernels run in. The output comes back channels-last too, so
turning it into NHWC uint8 images is a view, not a copy.

The network runs one batch ahead of the compositing on its own thread
(:mod:`lipsync.engines.overlap`), so on CUDA the GPU works while the CPU blends.

Silence (:mod:`lipsync.silence`): where the speech gate is closed the network does not run;
the frame shows the presenter with the mouth closed by the landmark warp
(:class:`~lipsync.silence.MouthCloser`), and on the gate's ramps the network's face is blended
over that closed mouth with the gate as strength.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch
from torch import nn

from ..composite import Compositor
from ..device import resolve_device
from ..errors import ModelNotFoundError
from ..models import FACE_SIZE, find_weights, load_wav2lip
from ..models.wav2lip import Wav2Lip
from ..pipeline import BackgroundWriter
from ..progress import ProgressTracker
from ..silence import MouthCloser, SpeechGate, speech_gate
from .base import PathLike, Stats, register_engine
from .overlap import ahead
from .streaming import FramePass, RenderJob, StreamingEngine

#: Crop padding (top, bottom, left, right) in pixels, as the weights were trained.
PADS = (0, 10, 0, 0)
#: Frames the face box is averaged over.
BOX_SMOOTH = 5
#: Most bytes of full frames held while batches are in the network: the batch being
#: composited and the one computed ahead share it (caps the batch at 4K).
BATCH_FRAME_BYTES = 512 << 20

#: What the prefetch thread hands the network: (output index, source index, RGB frame,
#: 96x96 BGR crop or None when the frame has no usable face).
_Item = tuple[int, int, np.ndarray, np.ndarray | None]


def smooth_boxes(
    boxes: np.ndarray, window: int = BOX_SMOOTH, cuts: np.ndarray | None = None
) -> np.ndarray:
    """Mean of each box over a centred window of ``window`` frames (shifted inside at the ends).

    Frames without a face (NaN rows) stay NaN and do not count in their neighbours' means;
    windows do not reach across shot ``cuts`` (frame indices where a new shot starts).
    """
    boxes = np.asarray(boxes, np.float64)
    out = np.full_like(boxes, np.nan)
    edges = sorted(
        {
            0,
            len(boxes),
            *(int(c) for c in (cuts if cuts is not None else ()) if 0 < int(c) < len(boxes)),
        }
    )
    for lo, hi in itertools.pairwise(edges):
        out[lo:hi] = _smooth_segment(boxes[lo:hi], window)
    return out.astype(np.float32)


def _smooth_segment(boxes: np.ndarray, window: int) -> np.ndarray:
    n = len(boxes)
    out = np.full_like(boxes, np.nan)
    window = max(1, min(window, n))
    valid = np.isfinite(boxes).all(axis=1)
    filled = np.where(valid[:, None], boxes, 0.0)
    csum = np.concatenate([np.zeros((1, 4)), np.cumsum(filled, axis=0)])
    ccount = np.concatenate([[0], np.cumsum(valid)])
    start = np.clip(np.arange(n) - window // 2, 0, n - window)
    end = start + window
    count = ccount[end] - ccount[start]
    mean = (csum[end] - csum[start]) / np.maximum(count, 1)[:, None]
    out[valid] = mean[valid]
    return out


def crop_boxes(
    boxes: np.ndarray, width: int, height: int, pads: tuple[int, int, int, int] = PADS
) -> np.ndarray:
    """Integer crop rectangles (x0, y0, x1, y1) clipped to the frame; -1 rows where no face.

    Rectangles smaller than 4 px on a side count as no face.
    """
    pad_top, pad_bottom, pad_left, pad_right = pads
    out = np.full((len(boxes), 4), -1, np.int32)
    valid = np.isfinite(boxes).all(axis=1)
    if not valid.any():
        return out
    b = boxes[valid]
    x0 = np.clip(np.floor(b[:, 0]) - pad_left, 0, width)
    y0 = np.clip(np.floor(b[:, 1]) - pad_top, 0, height)
    x1 = np.clip(np.ceil(b[:, 2]) + pad_right, 0, width)
    y1 = np.clip(np.ceil(b[:, 3]) + pad_bottom, 0, height)
    rect = np.stack([x0, y0, x1, y1], axis=1).astype(np.int32)
    big = (rect[:, 2] - rect[:, 0] >= 4) & (rect[:, 3] - rect[:, 1] >= 4)
    rect[~big] = -1
    out[valid] = rect
    return out


def face_input(image_rgb: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """The 96x96 BGR uint8 crop of ``rect`` from an RGB frame."""
    x0, y0, x1, y1 = (int(v) for v in rect)
    crop = image_rgb[y0:y1, x0:x1]
    # Plain bilinear, as the training crops were resized.
    crop = cv2.resize(crop, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(crop[:, :, ::-1])


M = TypeVar("M", bound=nn.Module)


def channels_last(model: M) -> M:
    """``model`` with its 4-D weights in channels-last memory (``Module.to(memory_format=)``,
    which torch's type stubs do not list)."""
    to: Callable[..., M] = model.to
    return to(memory_format=torch.channels_last)


@dataclass
class _Loaded:
    model: Wav2Lip
    device: torch.device
    weights: str


def network_input(faces_bgr: np.ndarray, mels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack crops (B,96,96,3 uint8 BGR) and mel windows (B,80,16) into network tensors.

    Face channels are [crop with rows 48..95 blanked, crop], scaled to 0..1. The face tensor
    is (B, 6, 96, 96) in channels-last memory: a view of the NHWC crops, no copy.
    """
    faces = torch.from_numpy(np.ascontiguousarray(faces_bgr))
    masked = faces.clone()
    masked[:, FACE_SIZE // 2 :] = 0
    x = torch.cat([masked, faces], dim=3).permute(0, 3, 1, 2)
    mel = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)).unsqueeze(1)
    return x, mel


@register_engine
class Wav2LipEngine(StreamingEngine):
    """Neural lip sync with a Wav2Lip-compatible checkpoint."""

    name = "wav2lip"
    needs_weights = True

    def __init__(
        self,
        device: str = "auto",
        model_dir: PathLike | None = None,
        cache_dir: PathLike | None = None,
        batch_size: int | None = None,
        precision: str = "auto",
    ) -> None:
        """``precision``: "auto" (fp16 autocast on CUDA, fp32 on the CPU) or "fp32"."""
        super().__init__(device=device, model_dir=model_dir, cache_dir=cache_dir)
        self.batch_size = batch_size
        self.precision = precision
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @classmethod
    def weights_available(cls, model_dir: PathLike | None = None) -> bool:
        """True if a weight file is where :func:`find_weights` looks (``LIPSYNC_MODEL_DIR``)."""
        from ..models.manager import default_model_dir

        try:
            find_weights(model_dir or default_model_dir())
        except ModelNotFoundError:
            return False
        return True

    def load(self) -> _Loaded:
        """Load the weights on the device if not yet done; later calls return the same model.

        Workers may call this at start to fail early (ModelNotFoundError) and to have the first
        job start at full speed.
        """
        with self._lock:
            if self._loaded is None:
                device = resolve_device(self.device)
                path = find_weights(self.model_dir)
                model = channels_last(load_wav2lip(path, device))
                self._loaded = _Loaded(model, device, str(path))
                self.load_count += 1
            return self._loaded

    @property
    def frames_per_batch(self) -> int:
        if self.batch_size:
            return self.batch_size
        return 128 if self.load().device.type == "cuda" else 32

    def infer(self, faces_bgr: np.ndarray, mels: np.ndarray) -> np.ndarray:
        """Run the network on one batch: 96x96 BGR uint8 crops + mel windows -> BGR uint8."""
        loaded = self.load()
        x, mel = network_input(faces_bgr, mels)
        cuda = loaded.device.type == "cuda"
        if cuda:  # page-locked, so the copies below really are asynchronous
            x, mel = x.pin_memory(), mel.pin_memory()
        with torch.inference_mode():
            x = x.to(loaded.device, non_blocking=cuda).float().div_(255.0)
            x = x.contiguous(memory_format=torch.channels_last)  # a no-op: it already is
            mel = mel.to(loaded.device, non_blocking=cuda)
            fp16 = cuda and self.precision != "fp32"
            with torch.autocast("cuda", dtype=torch.float16, enabled=fp16):
                out = loaded.model(x, mel)
            out = (out.float() * 255.0).round_().clamp_(0, 255).to(torch.uint8)
            faces: np.ndarray = out.permute(0, 2, 3, 1).cpu().numpy()
            return faces

    def _ready(self) -> None:
        self.load()

    def _frame_pass(self, job: RenderJob) -> _Wav2LipPass:
        from ..audio import mel_windows, melspectrogram

        track = job.track
        mels = mel_windows(melspectrogram(job.wav), job.fps, job.n_out)
        rects = crop_boxes(
            smooth_boxes(track.boxes, cuts=getattr(track, "cuts", None)), track.width, track.height
        )
        batch_size = max(
            1,
            min(self.frames_per_batch, BATCH_FRAME_BYTES // (2 * track.width * track.height * 3)),
        )
        gate = speech_gate(job.wav, job.fps, job.n_out)
        return _Wav2LipPass(self, job, mels, rects, batch_size, gate)


class _Wav2LipPass(FramePass[_Item]):
    """One render of the wav2lip engine: crops are cut a batch ahead, on the prefetch thread,
    and the network runs on whole batches."""

    writer_depth = 8

    def __init__(
        self,
        engine: Wav2LipEngine,
        job: RenderJob,
        mels: np.ndarray,
        rects: np.ndarray,
        batch_size: int,
        gate: SpeechGate,
    ) -> None:
        self.engine, self.job, self.mels, self.rects = engine, job, mels, rects
        self.batch_size = self.prefetch_depth = batch_size
        self.usable = job.track.present & (rects[:, 0] >= 0)
        self.gate = gate.gate
        self.closer = MouthCloser()
        self.counts = {"batches": 0, "network_seconds": 0.0, "silent_frames": 0}

    def items(self, frames: Iterable[np.ndarray]) -> Iterable[_Item]:
        return _with_crops(frames, self.job.schedule, self.rects, self.usable)

    def face_frames(self) -> np.ndarray:
        return np.asarray(self.usable, bool)

    def run(
        self, items: Iterator[_Item], writer: BackgroundWriter, tracker: ProgressTracker
    ) -> int:
        comp = Compositor(extend_down=0.03)
        no_face = 0
        for batch, patches in ahead(
            _batches(items, self.batch_size, tracker), self._network, name="wav2lip"
        ):
            no_face += self._write_batch(batch, patches, comp, writer)
            tracker.advance(len(batch))
        return no_face

    def _network(self, batch: list[_Item]) -> dict[int, np.ndarray]:
        """The network's 96x96 BGR faces for the items of ``batch`` that have a face and are
        not silent, by position in the batch (runs on the network thread)."""
        with_face = [
            i for i, item in enumerate(batch) if item[3] is not None and self.gate[item[0]] > 0
        ]
        if not with_face:
            return {}
        t = time.monotonic()
        crops = [batch[i][3] for i in with_face]
        faces = self.engine.infer(
            np.stack([c for c in crops if c is not None]),  # all of them (with_face)
            self.mels[[batch[i][0] for i in with_face]],
        )
        self.counts["network_seconds"] += time.monotonic() - t
        self.counts["batches"] += 1
        return dict(zip(with_face, faces))

    def _write_batch(
        self,
        batch: list[_Item],
        patches: dict[int, np.ndarray],
        comp: Compositor,
        writer: BackgroundWriter,
    ) -> int:
        """Blend the network's faces into the frames of ``batch``, write them; returns how
        many had no face."""
        no_face = 0
        track = self.job.track
        for i, (t, k, image, crop) in enumerate(batch):
            if crop is None:
                no_face += 1
                comp.reset()
                writer.write(image)
                continue
            strength = float(self.gate[t])
            if strength < 1.0:
                self.closer.close(image, track.landmarks[k])
            patch = patches.get(i)
            if patch is None:
                self.counts["silent_frames"] += 1
            else:
                comp.paste(
                    image, patch[:, :, ::-1], self.rects[k], track.landmarks[k], strength=strength
                )
            writer.write(image)
        return no_face

    def stats(self) -> Stats:
        loaded = self.engine.load()
        return {
            **self.counts,
            "device": str(loaded.device),
            "weights": loaded.weights,
            "batch_size": self.batch_size,
            "load_count": self.engine.load_count,
        }


def _batches(items: Iterator[_Item], size: int, tracker: ProgressTracker) -> Iterator[list[_Item]]:
    """``items`` in lists of ``size``, checking for cancellation before each."""
    while True:
        tracker.check_cancel()
        batch = list(itertools.islice(items, size))
        if not batch:
            return
        yield batch


def _with_crops(
    frames: Iterable[np.ndarray], schedule: np.ndarray, rects: np.ndarray, usable: np.ndarray
) -> Iterator[_Item]:
    """(output index, source index, frame, 96x96 BGR crop or None) in output order."""
    try:
        for t, (k, image) in enumerate(zip(schedule.tolist(), frames)):
            yield t, k, image, face_input(image, rects[k]) if usable[k] else None
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
