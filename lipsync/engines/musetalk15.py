"""The ``musetalk15`` engine: MuseTalk 1.5, single-step latent inpainting of the lower face.

Per output frame: the Whisper-tiny encoder's states around that moment (50 tokens, see
:mod:`lipsync.models.musetalk_audio`) condition one UNet pass on the presenter's latents
(the v1.5 crop with its lower half blanked, and whole; see :mod:`lipsync.models.musetalk_face`);
the VAE decodes the result, which is resized to the crop box and blended in by the shared
:class:`~lipsync.composite.Compositor` (lower-face landmark mask, narrowed by the optional
face-parsing model's jaw mask when ``face-parse-bisent/79999_iter.pth`` is installed).

Reference latents depend only on the presenter's frames and track, so they are computed once
per source frame (when a render first needs it) and cached beside the face track
(``<cache>/<hash[:2]>/<hash>-...-musetalk15-<key>.npz``, with the parsing masks): a second
render of the same presenter encodes no reference frame.

Output is deterministic: the VAE posterior's mean is used, not a sample (upstream samples).

Devices: on CUDA the three networks run in fp16, 32 frames a batch; the network (reference
encoding, UNet, decoding) runs one batch ahead of the compositing on its own thread, while a
prefetch thread decodes and crops frames and a writer thread encodes, so decode, inference,
compositing and encode overlap. The CPU works too, in fp32 and slowly (about a second per
frame at full size on two cores), with progress per batch.

Silence (:mod:`lipsync.silence`): where the shared speech gate is closed no network runs and the
frame shows the presenter with the mouth closed by the landmark warp
(:class:`~lipsync.silence.MouthCloser`), not the template's own mouth (which may be talking or
smiling open); on the gate's ramps the network's face is blended over that closed mouth with
the gate as strength.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..composite import Compositor
from ..device import resolve_device
from ..models import musetalk_face as mf
from ..models.musetalk import MuseTalkModels
from ..pipeline import BackgroundWriter
from ..progress import ProgressTracker
from ..silence import MouthCloser, speech_gate
from .base import PathLike, Stats, register_engine
from .overlap import ahead
from .streaming import FramePass, RenderJob, StreamingEngine

#: Most bytes of full frames held while batches are in the network (two batches in flight).
BATCH_FRAME_BYTES = 512 << 20
#: Version of the reference cache layout and crop rules (part of its key).
REFERENCE_VERSION = 1
FACE_PARSER = "face-parse-bisent/79999_iter.pth"
#: Presenters whose reference latents stay in memory when there is no cache directory.
MEMORY_CACHE = 8

#: (output index, source index, RGB frame, 256x256 crop or None, strength 0..1).
_Item = tuple[int, int, np.ndarray, np.ndarray | None, float]


@dataclass
class _Loaded:
    models: MuseTalkModels
    parser: torch.nn.Module | None
    device: torch.device


class ReferenceLatents:
    """Per source frame of one presenter: latents (n, 8, 32, 32) fp16 and, when a face parser
    is used, 128x128 jaw masks in crop-box coordinates; ``done`` marks what is computed."""

    def __init__(self, n: int, channels: int, side: int, with_masks: bool) -> None:
        self.latents = np.zeros((n, channels, side, side), np.float16)
        self.done = np.zeros(n, bool)
        self.masks = np.zeros((n, 128, 128), np.uint8) if with_masks else None
        self.dirty = False

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                payload: dict[str, Any] = {"latents": self.latents, "done": self.done}
                if self.masks is not None:
                    payload["masks"] = self.masks
                np.savez(fh, **payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.dirty = False

    @classmethod
    def load(cls, path: Path, n: int, channels: int, side: int, with_masks: bool) -> Any:
        """The cached references, or None when missing, unreadable or of another shape."""
        try:
            with np.load(path, allow_pickle=False) as data:
                latents, done = data["latents"], data["done"]
                masks = data["masks"] if "masks" in data.files else None
        except (OSError, KeyError, ValueError, EOFError):
            return None
        if latents.shape != (n, channels, side, side) or done.shape != (n,):
            return None
        if with_masks and masks is None:
            return None
        ref = cls(n, channels, side, with_masks)
        ref.latents, ref.done = latents.astype(np.float16), done.astype(bool)
        if with_masks and masks is not None:
            ref.masks = masks.astype(np.uint8)
        return ref


def _file_identity(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


@register_engine
class MuseTalk15Engine(StreamingEngine):
    """MuseTalk 1.5 (MIT code; weights usable commercially per its README)."""

    name = "musetalk15"
    needs_weights = True

    def __init__(
        self,
        device: str = "auto",
        model_dir: PathLike | None = None,
        cache_dir: PathLike | None = None,
        batch_size: int | None = None,
        use_face_parsing: bool = True,
        precision: str = "auto",
    ) -> None:
        """``precision``: "auto" (fp16 on CUDA, fp32 on the CPU), "fp16" or "fp32"."""
        super().__init__(device=device, model_dir=model_dir, cache_dir=cache_dir)
        self.precision = precision
        self.batch_size = batch_size
        self.use_face_parsing = use_face_parsing
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, ReferenceLatents] = OrderedDict()

    @classmethod
    def weights_available(cls, model_dir: PathLike | None = None) -> bool:
        from ..models.manager import component_ready

        return component_ready(cls.name, model_dir)

    def load(self) -> _Loaded:
        """Load UNet, VAE, Whisper encoder (and the face parser when installed) once; strict."""
        with self._lock:
            if self._loaded is None:
                from ..models.bisenet import load_bisenet
                from ..models.musetalk import load_musetalk

                device = resolve_device(self.device)
                dtype = {"fp16": torch.float16, "fp32": torch.float32}.get(self.precision)
                models = load_musetalk(self.model_dir or "", device, dtype)
                parser = None
                parser_path = Path(self.model_dir or "") / FACE_PARSER
                if self.use_face_parsing and parser_path.is_file():
                    parser = load_bisenet(parser_path, device)
                self._loaded = _Loaded(models, parser, device)
                self.load_count += 1
            return self._loaded

    def _ready(self) -> None:
        self.load()

    @property
    def frames_per_batch(self) -> int:
        if self.batch_size:
            return self.batch_size
        return 32 if self.load().device.type == "cuda" else 8

    # -- references -----------------------------------------------------------------------
    def _reference_key(self, job: RenderJob, loaded: _Loaded) -> str:
        track = job.track
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(track.landmarks).tobytes())
        digest.update(_file_identity(loaded.models.paths.vae).encode())
        digest.update(f"v{REFERENCE_VERSION}:{loaded.parser is not None}".encode())
        return f"{track.source_hash}-{digest.hexdigest()[:16]}"

    def _reference_path(self, key: str) -> Path | None:
        if not self.cache_dir:
            return None
        return Path(self.cache_dir) / key[:2] / f"{key}.musetalk15.npz"

    def references(self, job: RenderJob) -> tuple[str, ReferenceLatents]:
        """The presenter's reference latents (partly computed, or empty), from the cache."""
        loaded = self.load()
        key = self._reference_key(job, loaded)
        ref = self._memory.get(key)
        if ref is None:
            shape = (job.track.n_frames, 8, mf.SIZE // 8, loaded.parser is not None)
            path = self._reference_path(key)
            if path is not None and path.is_file():
                ref = ReferenceLatents.load(path, shape[0], shape[1], shape[2], shape[3])
            if ref is None:
                ref = ReferenceLatents(*shape)
        self._memory[key] = ref
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_CACHE:
            self._memory.popitem(last=False)
        return key, ref

    def store_references(self, key: str, ref: ReferenceLatents) -> None:
        path = self._reference_path(key)
        if path is not None and ref.dirty:
            ref.save(path)

    # -- the render -----------------------------------------------------------------------
    def _frame_pass(self, job: RenderJob) -> _MuseTalkPass:
        from ..models.musetalk_audio import audio_conditioning

        loaded = self.load()
        m = loaded.models
        track = job.track
        audio = audio_conditioning(
            job.wav, m.whisper, m.preprocessor, job.n_out, job.fps, loaded.device, m.dtype
        )
        boxes = mf.crop_boxes(track.landmarks, track.width, track.height)
        usable = track.present & (boxes[:, 0] >= 0)
        strength = speech_gate(job.wav, job.fps, job.n_out).gate
        key, ref = self.references(job)
        batch = max(
            1,
            min(self.frames_per_batch, BATCH_FRAME_BYTES // (2 * track.width * track.height * 3)),
        )
        return _MuseTalkPass(self, loaded, job, audio, boxes, usable, strength, key, ref, batch)


class _MuseTalkPass(FramePass[_Item]):
    """One render: crops cut on the prefetch thread, the networks a batch ahead, compositing
    here."""

    writer_depth = 8

    def __init__(
        self,
        engine: MuseTalk15Engine,
        loaded: _Loaded,
        job: RenderJob,
        audio: torch.Tensor,
        boxes: np.ndarray,
        usable: np.ndarray,
        strength: np.ndarray,
        key: str,
        ref: ReferenceLatents,
        batch_size: int,
    ) -> None:
        self.engine, self.loaded, self.job = engine, loaded, job
        self.audio, self.boxes, self.usable, self.strength = audio, boxes, usable, strength
        self.key, self.ref = key, ref
        self.closer = MouthCloser()
        self.batch_size = self.prefetch_depth = batch_size
        self.counts: dict[str, float] = {
            "batches": 0,
            "network_seconds": 0.0,
            "reference_encodes": 0,
            "silent_frames": 0,
            "parsed_frames": 0,
        }

    def items(self, frames: Iterable[np.ndarray]) -> Iterable[_Item]:
        return _with_crops(frames, self.job.schedule, self.boxes, self.usable, self.strength)

    def face_frames(self) -> np.ndarray:
        return np.asarray(self.usable, bool)

    def run(
        self, items: Iterator[_Item], writer: BackgroundWriter, tracker: ProgressTracker
    ) -> int:
        comp = Compositor(extend_down=0.03)
        no_face = 0
        for batch, faces in ahead(
            _batches(items, self.batch_size, tracker), self._network, name="musetalk"
        ):
            no_face += self._write_batch(batch, faces, comp, writer)
            tracker.advance(len(batch))
        self.engine.store_references(self.key, self.ref)
        return no_face

    # -- network thread -------------------------------------------------------------------
    def _ensure_references(self, batch: list[_Item]) -> None:
        """Encode (and parse) the source frames of ``batch`` not yet in the cache."""
        m, ref = self.loaded.models, self.ref
        todo: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for _, k, image, crop, _s in batch:
            if crop is not None and not ref.done[k] and k not in todo:
                todo[k] = (crop, image)
        if not todo:
            return
        ks = list(todo)
        crops = np.stack([todo[k][0] for k in ks])
        lat = mf.reference_latents(m.vae, crops, m.scaling, self.loaded.device, m.dtype)
        ref.latents[ks] = lat.float().cpu().numpy().astype(np.float16)
        if ref.masks is not None and self.loaded.parser is not None:
            for k in ks:
                ref.masks[k] = mf.box_mask(
                    self.loaded.parser, todo[k][1], self.boxes[k], self.loaded.device
                )
            self.counts["parsed_frames"] += len(ks)
        ref.done[ks] = True
        ref.dirty = True
        self.counts["reference_encodes"] += len(ks)

    def _network(self, batch: list[_Item]) -> dict[int, np.ndarray]:
        """256x256 RGB faces for the items of ``batch`` with a face and some strength."""
        todo = [i for i, item in enumerate(batch) if item[3] is not None and item[4] > 0]
        if not todo:
            return {}
        t0 = time.monotonic()
        self._ensure_references([batch[i] for i in todo])
        m = self.loaded.models
        device, dtype = self.loaded.device, m.dtype
        latents = torch.from_numpy(self.ref.latents[[batch[i][1] for i in todo]])
        latents = latents.to(device=device, dtype=dtype)
        audio = self.audio[[batch[i][0] for i in todo]]
        with torch.inference_mode():
            step = torch.zeros(1, dtype=torch.long, device=device)
            pred = m.unet(latents, step, encoder_hidden_states=audio).sample
            faces = mf.decode_faces(m.vae, pred, m.scaling)
        self.counts["network_seconds"] += time.monotonic() - t0
        self.counts["batches"] += 1
        return dict(zip(todo, faces))

    # -- compositing ----------------------------------------------------------------------
    def _write_batch(
        self,
        batch: list[_Item],
        faces: dict[int, np.ndarray],
        comp: Compositor,
        writer: BackgroundWriter,
    ) -> int:
        no_face = 0
        track = self.job.track
        masks = self.ref.masks
        for i, (_, k, image, crop, strength) in enumerate(batch):
            face = faces.get(i)
            if crop is None:
                no_face += 1
                comp.reset()
                writer.write(image)
                continue
            if strength < 1.0:
                self.closer.close(image, track.landmarks[k])
            if face is None:  # silence: the presenter with the mouth closed
                self.counts["silent_frames"] += 1
            else:
                comp.paste(
                    image,
                    face,
                    self.boxes[k],
                    track.landmarks[k],
                    mask=None if masks is None else masks[k],
                    strength=strength,
                )
            writer.write(image)
        return no_face

    def stats(self) -> Stats:
        return {
            **self.counts,
            "device": str(self.loaded.device),
            "dtype": str(self.loaded.models.dtype).removeprefix("torch."),
            "batch_size": self.batch_size,
            "face_parsing": "yes" if self.loaded.parser is not None else "no",
            "load_count": self.engine.load_count,
        }


def _batches(items: Iterator[_Item], size: int, tracker: ProgressTracker) -> Iterator[list[_Item]]:
    while True:
        tracker.check_cancel()
        batch = list(itertools.islice(items, size))
        if not batch:
            return
        yield batch


def _with_crops(
    frames: Iterable[np.ndarray],
    schedule: np.ndarray,
    boxes: np.ndarray,
    usable: np.ndarray,
    strength: np.ndarray,
) -> Iterator[_Item]:
    """(output index, source index, frame, 256x256 crop or None, strength) in output order."""
    try:
        for t, (k, image) in enumerate(zip(schedule.tolist(), frames)):
            crop = mf.face_crop(image, boxes[k]) if usable[k] else None
            yield t, k, image, crop, float(strength[t])
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
