"""MuseTalk 1.5's face side: the v1.5 crop, VAE latents in and out, the face-parsing jaw mask.

Crop (from the cached track's 68 landmarks, iBUG order): the box spans the landmarks' x range;
vertically it ends at the chin (the lowest landmark) and starts as far above the nose-bridge
point 29 as the chin is below it, so point 29 is its vertical centre; v1.5 then extends it
``EXTRA_MARGIN`` px down. The crop is resized to 256x256 with Lanczos (aspect not kept).

Latents: the crop in [-1, 1] and a copy with its lower half blanked (set to -1) are encoded by
the VAE; the *mean* of the posterior is used, times the latent scale. Upstream samples from the
posterior (mean + std x noise), which makes the output random from run to run; its training
used the mean. Taking the mean makes renders deterministic. Channels: 0-3 masked, 4-7 reference.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

SIZE = 256
EXTRA_MARGIN = 10
#: Boxes smaller than this on a side count as no face.
MIN_BOX = 8
#: Parsing classes that make the jaw mask (skin, then mouth, upper and lower lip) and the nose.
SKIN, NOSE, MOUTH, UPPER_LIP, LOWER_LIP = 1, 10, 11, 12, 13


def crop_boxes(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n, 4) int32 boxes (x1, y1, x2, y2) of the v1.5 crop; rows of -1 where unusable."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    out = np.full((len(lm), 4), -1, np.int32)
    ok = np.isfinite(lm).all(axis=(1, 2))
    if not ok.any():
        return out
    pts = np.trunc(lm[ok])  # upstream casts the landmarks to int32
    nose_y = pts[:, 29, 1]
    chin = pts[:, :, 1].max(axis=1)
    x1 = np.clip(pts[:, :, 0].min(axis=1), 0, width)
    x2 = np.clip(pts[:, :, 0].max(axis=1), 0, width)
    y1 = np.clip(2 * nose_y - chin, 0, height)
    y2 = np.clip(chin + EXTRA_MARGIN, 0, height)
    box = np.stack([x1, y1, x2, y2], axis=1).astype(np.int32)
    small = (box[:, 2] - box[:, 0] < MIN_BOX) | (box[:, 3] - box[:, 1] < MIN_BOX)
    box[small] = -1
    out[ok] = box
    return out


def face_crop(image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 256x256 RGB uint8 crop of ``box`` (Lanczos, as upstream)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    crop = image_rgb[y1:y2, x1:x2]
    return cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_LANCZOS4)


def _to_vae(crops: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(device)
    return x.permute(0, 3, 1, 2).to(dtype).div_(255.0)


def reference_latents(
    vae: Any, crops: np.ndarray, scaling: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(B, 8, 32, 32) latents of 256x256 RGB crops: [lower half blanked, whole], posterior mean."""
    with torch.inference_mode():
        x = _to_vae(crops, device, dtype)
        masked = x.clone()
        masked[:, :, SIZE // 2 :] = 0
        both = torch.cat([masked, x]).mul_(2.0).sub_(1.0)  # (x - 0.5) / 0.5
        mean = vae.encode(both).latent_dist.mean * scaling
        n = len(crops)
        return torch.cat([mean[:n], mean[n:]], dim=1)


def decode_faces(vae: Any, latents: torch.Tensor, scaling: float) -> np.ndarray:
    """VAE-decode UNet latents (B, 4, 32, 32) to 256x256 RGB uint8 faces (B, 256, 256, 3)."""
    with torch.inference_mode():
        image = vae.decode(latents / scaling).sample
        image = (image.float() / 2 + 0.5).clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
        faces: np.ndarray = image.permute(0, 2, 3, 1).cpu().numpy()
        return faces


# ----------------------------------------------------------------------------- face parsing


def _cone_kernel() -> np.ndarray:
    """Upstream's 33x33 dilation kernel: rows 10-20 widen 1, 3, ..., 21; rows 21-32 are 21 wide.

    With the anchor at the centre it grows skin up to 16 px upward and at most 6 px down.
    """
    k = np.zeros((33, 33), np.uint8)
    for row in range(10, 21):
        half = row - 10
        k[row, 16 - half : 16 + half + 1] = 1
    k[21:, 6:27] = 1
    return k


def jaw_mask(labels: np.ndarray, cheek: int = 90) -> np.ndarray:
    """Upstream's v1.5 ``jaw`` blend mask from 512x512 parsing labels: uint8 0/255.

    Skin grown downward (the cone kernel), eroded twice with a 35x3 ellipse in the cheek
    columns (0..256-cheek and 256+cheek..511); the nose left out; mouth and lips added.
    """
    skin = (labels == SKIN).astype(np.uint8) * 255
    grown = cv2.dilate(skin, _cone_kernel(), iterations=1)
    eroded = cv2.erode(grown, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (35, 3)), iterations=2)
    out = grown.copy()
    left, right = 256 - cheek, 256 + cheek
    out[:, : left + 1] = eroded[:, : left + 1]
    out[:, right:] = eroded[:, right:]
    out[labels == NOSE] = 0
    out[np.isin(labels, (MOUTH, UPPER_LIP, LOWER_LIP))] = 255
    return out


def parse_square(box: np.ndarray) -> tuple[int, int, int, int]:
    """The square around a crop box that upstream parses: side 2s, s = max(w, h) // 2 x 1.5."""
    x1, y1, x2, y2 = (int(v) for v in box)
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    s = int((max(x2 - x1, y2 - y1) // 2) * 1.5)
    return cx - s, cy - s, cx + s, cy + s


def box_mask(
    parser: Any, image_rgb: np.ndarray, box: np.ndarray, device: torch.device, size: int = 128
) -> np.ndarray:
    """The jaw mask of one frame in the crop box's own coordinates, (size, size) uint8.

    As upstream: parse the square around the box (outside the frame reads black), keep the
    mask inside the box and in the lower half of the square; the blur is left to the
    compositor's feather.
    """
    from .bisenet import INPUT_SIZE, MEAN, STD

    sx0, sy0, sx1, sy1 = parse_square(box)
    side = sx1 - sx0
    h, w = image_rgb.shape[:2]
    square = np.zeros((side, side, 3), np.uint8)
    ix0, iy0, ix1, iy1 = max(sx0, 0), max(sy0, 0), min(sx1, w), min(sy1, h)
    if ix1 > ix0 and iy1 > iy0:
        square[iy0 - sy0 : iy1 - sy0, ix0 - sx0 : ix1 - sx0] = image_rgb[iy0:iy1, ix0:ix1]
    x = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    t = torch.from_numpy(x).to(device).permute(2, 0, 1).float().div_(255.0)
    t = (t - torch.tensor(MEAN, device=device)[:, None, None]) / torch.tensor(STD, device=device)[
        :, None, None
    ]
    with torch.inference_mode():
        labels = parser(t[None])[0].argmax(1)[0].to(torch.uint8).cpu().numpy()
    mask = cv2.resize(jaw_mask(labels), (side, side), interpolation=cv2.INTER_CUBIC)
    mask[: side // 2] = 0  # only the lower half of the square
    x1, y1, x2, y2 = (int(v) for v in box)
    inside = mask[y1 - sy0 : y2 - sy0, x1 - sx0 : x2 - sx0]
    out: np.ndarray = cv2.resize(inside, (size, size), interpolation=cv2.INTER_AREA)
    return out
