"""MuseTalk 1.5's three networks and their strict loading (see docs/ARCHITECTURE.md).

- UNet: a diffusers ``UNet2DConditionModel`` built from ``musetalkV15/musetalk.json`` and
  loaded from ``musetalkV15/unet.pth`` (a bare state dict, diffusers' own names).
- VAE: sd-vae-ft-mse, a diffusers ``AutoencoderKL`` from ``sd-vae/config.json`` and
  ``diffusion_pytorch_model.bin`` (or ``.safetensors``). The .bin keeps the old mid-block
  attention names (query/key/value/proj_attn), renamed here to diffusers' current ones.
- Whisper-tiny's encoder: a transformers ``WhisperEncoder`` from ``whisper/config.json`` and
  ``pytorch_model.bin`` (or ``model.safetensors``), a WhisperForConditionalGeneration file whose
  encoder keys carry ``model.encoder.``; the decoder half is checked and left unused.

Every model is built on the meta device first, its file is read (memory-mapped), compared key
by key and shape by shape (the first difference is named), then loaded with
``load_state_dict(strict=True, assign=True)``: the weights are never allocated twice and a
full-size check costs no memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import InvalidModelError, ModelNotFoundError
from .tensors import Shape, check_finite, check_keys, module_shapes, read_shapes, read_tensors

#: diffusers' UNet2DConditionModel and AutoencoderKL, transformers' WhisperEncoder: torch
#: modules from libraries without usable type information, so typed as Any here.
UNet2DConditionModel = Any
AutoencoderKL = Any
WhisperEncoder = Any

#: The v1.5 UNet configuration (``musetalkV15/musetalk.json``, values of the spec).
UNET_V15_CONFIG: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.6.0.dev0",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}
#: Fields a MuseTalk UNet config must have with exactly these values (the architecture; widths
#: may differ only in reduced test configurations).
_UNET_FIXED = (
    "_class_name",
    "in_channels",
    "out_channels",
    "down_block_types",
    "up_block_types",
    "layers_per_block",
    "flip_sin_to_cos",
    "freq_shift",
)
#: sd-vae-ft-mse's AutoencoderKL configuration (``sd-vae/config.json``).
VAE_CONFIG: dict[str, Any] = {
    "_class_name": "AutoencoderKL",
    "_diffusers_version": "0.4.2",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
#: The VAE's latent scale when its config has none (sd-vae-ft-mse has none).
DEFAULT_SCALING = 0.18215
#: whisper-tiny's config.json fields that matter to the encoder.
WHISPER_TINY_CONFIG: dict[str, Any] = {
    "model_type": "whisper",
    "architectures": ["WhisperForConditionalGeneration"],
    "d_model": 384,
    "encoder_layers": 4,
    "encoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_layers": 4,
    "decoder_attention_heads": 6,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
    "vocab_size": 51865,
    "activation_function": "gelu",
    "scale_embedding": False,
    "pad_token_id": 50257,
    "bos_token_id": 50257,
    "eos_token_id": 50257,
    "decoder_start_token_id": 50258,
}
#: whisper's preprocessor_config.json (the feature extractor's settings).
WHISPER_PREPROCESSOR: dict[str, Any] = {
    "chunk_length": 30,
    "feature_extractor_type": "WhisperFeatureExtractor",
    "feature_size": 80,
    "hop_length": 160,
    "n_fft": 400,
    "n_samples": 480000,
    "nb_max_frames": 3000,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": False,
    "sampling_rate": 16000,
}

UNET_DIR = "musetalkV15"
VAE_DIR = "sd-vae"
WHISPER_DIR = "whisper"


@dataclass(frozen=True)
class MuseTalkPaths:
    """Where the files of one MuseTalk 1.5 install are (any of the weight-file names)."""

    unet: Path
    unet_config: Path
    vae: Path
    vae_config: Path
    whisper: Path
    whisper_config: Path
    whisper_preprocessor: Path


def first_existing(folder: Path, names: tuple[str, ...]) -> Path:
    """The first of ``names`` present in ``folder``, else the first name (for messages)."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return folder / names[0]


#: Accepted weight-file names, the manifest's first (messages name it when none is there).
VAE_WEIGHTS = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")
WHISPER_WEIGHTS = ("pytorch_model.bin", "model.safetensors")


def musetalk_paths(model_dir: str | os.PathLike[str]) -> MuseTalkPaths:
    """The expected file paths under ``model_dir`` (MuseTalk's own ``models/`` layout)."""
    root = Path(model_dir)
    return MuseTalkPaths(
        unet=root / UNET_DIR / "unet.pth",
        unet_config=root / UNET_DIR / "musetalk.json",
        vae=first_existing(root / VAE_DIR, VAE_WEIGHTS),
        vae_config=root / VAE_DIR / "config.json",
        whisper=first_existing(root / WHISPER_DIR, WHISPER_WEIGHTS),
        whisper_config=root / WHISPER_DIR / "config.json",
        whisper_preprocessor=root / WHISPER_DIR / "preprocessor_config.json",
    )


def read_json(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"{path.name}: {what} not found at {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidModelError(f"{path.name}: {what} {path} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidModelError(f"{path.name}: {what} {path} is not a JSON object")
    return data


# ----------------------------------------------------------------------------- UNet


def check_unet_config(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Refuse a config that is not MuseTalk's UNet (e.g. the first, wrong v1.5 json on the hub
    with 32 input and 16 output channels), naming the field."""
    name = Path(path).name
    for key in _UNET_FIXED:
        if config.get(key) != UNET_V15_CONFIG[key]:
            raise InvalidModelError(
                f"{name}: not a MuseTalk 1.5 UNet config: {key} is {config.get(key)!r}, "
                f"expected {UNET_V15_CONFIG[key]!r} ({path})"
            )


def build_unet(
    config: Mapping[str, Any], device: str | torch.device = "meta"
) -> UNet2DConditionModel:
    """The UNet of ``config`` on ``device`` (meta: structure only, no memory)."""
    import diffusers

    cls: Any = diffusers.UNet2DConditionModel
    with torch.device(device):
        return cls.from_config(dict(config))


def unet_shapes(config: Mapping[str, Any]) -> dict[str, Shape]:
    return module_shapes(build_unet(config))


#: The 686 tensors of the real v1.5 ``unet.pth`` (``key (shape)`` lines, from the spec).
UNET_LISTING = Path(__file__).with_name("specs") / "musetalk15_unet_state_dict.txt"


def recorded_unet_shapes() -> dict[str, Shape]:
    """Keys and shapes of the real v1.5 ``unet.pth``, as recorded in :data:`UNET_LISTING`."""
    out: dict[str, Shape] = {}
    for line in UNET_LISTING.read_text(encoding="utf-8").splitlines():
        key, _, shape = line.partition(" ")
        if key == "total_params" or not shape:
            continue
        out[key] = tuple(int(n) for n in shape.strip("()").split(",") if n.strip())
    return out


def is_full_size(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` is the real v1.5 one in every field that sets a shape."""
    keys = ("block_out_channels", "cross_attention_dim", "in_channels", "out_channels")
    return all(config.get(k) == UNET_V15_CONFIG[k] for k in keys)


def check_unet(weights: str | os.PathLike[str], config_path: str | os.PathLike[str]) -> None:
    """Strict structure check of ``unet.pth`` against its config (no weights loaded)."""
    config = read_json(config_path, "MuseTalk UNet config")
    check_unet_config(config, config_path)
    got = read_shapes(weights)
    check_keys(unet_shapes(config), got, weights, "MuseTalk 1.5 UNet checkpoint")
    if is_full_size(config):
        # Also against the recorded listing of the real file: catches a diffusers release
        # that renamed a module, which the check against diffusers' own model cannot.
        check_keys(recorded_unet_shapes(), got, weights, "MuseTalk 1.5 UNet checkpoint")


def load_unet(
    weights: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> UNet2DConditionModel:
    """Build the UNet on the meta device, check and load ``weights`` strictly, move it."""
    config = read_json(config_path, "MuseTalk UNet config")
    check_unet_config(config, config_path)
    model = build_unet(config)
    state = read_tensors(weights, what="MuseTalk UNet checkpoint")
    check_keys(
        module_shapes(model),
        {k: tuple(v.shape) for k, v in state.items()},
        weights,
        "MuseTalk 1.5 UNet checkpoint",
    )
    return _assign(model, state, weights, device, dtype)


def _assign(
    model: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    device: str | torch.device,
    dtype: torch.dtype,
) -> Any:
    meta = str(device) == "meta"
    if not meta:
        state = {k: v.to(device=device, dtype=dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    check_finite(model, path)
    return model.eval().requires_grad_(False)


# ----------------------------------------------------------------------------- VAE

_OLD_ATTENTION = {
    "query": "to_q",
    "key": "to_k",
    "value": "to_v",
    "proj_attn": "to_out.0",
}


def vae_state_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the old mid-block attention keys (query/key/value/proj_attn) to the current ones;
    1x1 convolution weights of the oldest files become linear weights."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if "attentions" in parts and len(parts) >= 2 and parts[-2] in _OLD_ATTENTION:
            key = ".".join([*parts[:-2], _OLD_ATTENTION[parts[-2]], parts[-1]])
            if value.ndim == 4 and value.shape[2:] == (1, 1):
                value = value[:, :, 0, 0]
        out[key] = value
    return out


def check_vae_config(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    name = Path(path).name
    for key in ("in_channels", "out_channels", "latent_channels", "down_block_types"):
        if config.get(key, VAE_CONFIG[key]) != VAE_CONFIG[key]:
            raise InvalidModelError(
                f"{name}: not the sd-vae-ft-mse config: {key} is {config.get(key)!r}, "
                f"expected {VAE_CONFIG[key]!r} ({path})"
            )


def build_vae(config: Mapping[str, Any], device: str | torch.device = "meta") -> AutoencoderKL:
    import diffusers

    cls: Any = diffusers.AutoencoderKL
    with torch.device(device):
        return cls.from_config(dict(config))


def check_vae(weights: str | os.PathLike[str], config_path: str | os.PathLike[str]) -> None:
    config = read_json(config_path, "VAE config")
    check_vae_config(config, config_path)
    got = {
        k: tuple(v.shape)
        for k, v in vae_state_names(read_tensors(weights, "meta", what="VAE weights")).items()
    }
    check_keys(module_shapes(build_vae(config)), got, weights, "sd-vae-ft-mse VAE checkpoint")


def load_vae(
    weights: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> AutoencoderKL:
    config = read_json(config_path, "VAE config")
    check_vae_config(config, config_path)
    model = build_vae(config)
    state = vae_state_names(read_tensors(weights, what="VAE weights"))
    check_keys(
        module_shapes(model),
        {k: tuple(v.shape) for k, v in state.items()},
        weights,
        "sd-vae-ft-mse VAE checkpoint",
    )
    vae: AutoencoderKL = _assign(model, state, weights, device, dtype)
    return vae


def vae_scaling(vae: AutoencoderKL) -> float:
    """The latent scale: the config's ``scaling_factor``, else 0.18215 (diffusers' default)."""
    value = getattr(vae.config, "scaling_factor", None)
    return float(value) if value else DEFAULT_SCALING


# ----------------------------------------------------------------------------- Whisper


def whisper_config(path: str | os.PathLike[str]) -> Any:
    """The transformers ``WhisperConfig`` of ``whisper/config.json`` (checked: a Whisper)."""
    from transformers import WhisperConfig

    data = read_json(path, "Whisper config")
    if data.get("model_type") != "whisper":
        raise InvalidModelError(
            f"{Path(path).name}: not a Whisper config: model_type is "
            f"{data.get('model_type')!r} ({path})"
        )
    return WhisperConfig.from_dict(data)


def build_whisper_encoder(config: Any, device: str | torch.device = "meta") -> WhisperEncoder:
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    with torch.device(device):
        return WhisperEncoder(config)


def _whisper_layout(config: Any) -> tuple[dict[str, Shape], dict[str, Shape]]:
    """(encoder keys and shapes, every other key a Whisper file may hold) on the meta device."""
    from transformers import WhisperForConditionalGeneration

    encoder = module_shapes(build_whisper_encoder(config))
    with torch.device("meta"):
        full = WhisperForConditionalGeneration(config)
    others = {k: s for k, s in module_shapes(full).items() if not k.startswith("model.encoder.")}
    return encoder, {**others, **{k.removeprefix("model."): s for k, s in others.items()}}


def _encoder_part(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Split a Whisper file into (encoder tensors with bare names, the rest)."""
    for prefix in ("model.encoder.", "encoder."):
        if any(k.startswith(prefix) for k in state):
            enc = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
            rest = {k: v for k, v in state.items() if not k.startswith(prefix)}
            return enc, rest
    return dict(state), {}


def _check_whisper(
    state: Mapping[str, torch.Tensor], config: Any, path: str | os.PathLike[str]
) -> dict[str, torch.Tensor]:
    expected, others = _whisper_layout(config)
    enc, rest = _encoder_part(state)
    what = "Whisper checkpoint"
    check_keys(expected, {k: tuple(v.shape) for k, v in enc.items()}, path, what)
    check_keys(
        {},
        {k: tuple(v.shape) for k, v in rest.items()},
        path,
        what,
        allowed_extra=others,
    )
    return enc


def check_whisper(weights: str | os.PathLike[str], config_path: str | os.PathLike[str]) -> None:
    _check_whisper(
        read_tensors(weights, "meta", what="Whisper weights"), whisper_config(config_path), weights
    )


def load_whisper_encoder(
    weights: str | os.PathLike[str],
    config_path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> WhisperEncoder:
    config = whisper_config(config_path)
    model = build_whisper_encoder(config)
    enc = _check_whisper(read_tensors(weights, what="Whisper weights"), config, weights)
    encoder: WhisperEncoder = _assign(model, enc, weights, device, dtype)
    return encoder


def check_preprocessor(path: str | os.PathLike[str]) -> None:
    """The feature extractor settings must be Whisper's 80-bin, 16 kHz, 30 s ones."""
    data = read_json(path, "Whisper preprocessor config")
    for key in ("feature_size", "sampling_rate", "hop_length", "n_fft", "chunk_length"):
        if data.get(key) != WHISPER_PREPROCESSOR[key]:
            raise InvalidModelError(
                f"{Path(path).name}: not Whisper's preprocessor config: {key} is "
                f"{data.get(key)!r}, expected {WHISPER_PREPROCESSOR[key]!r} ({path})"
            )


@dataclass
class MuseTalkModels:
    """The three networks of one MuseTalk 1.5 install, loaded on one device."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    whisper: WhisperEncoder
    preprocessor: dict[str, Any]
    device: torch.device
    dtype: torch.dtype
    paths: MuseTalkPaths

    @property
    def scaling(self) -> float:
        return vae_scaling(self.vae)

    @property
    def audio_dim(self) -> int:
        return int(self.whisper.config.d_model)


def missing_files(paths: MuseTalkPaths) -> list[Path]:
    return [p for p in vars(paths).values() if not Path(p).is_file()]


def load_musetalk(
    model_dir: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> MuseTalkModels:
    """Load UNet, VAE and Whisper encoder from ``model_dir``, strictly; fp16 on CUDA."""
    paths = musetalk_paths(model_dir)
    missing = missing_files(paths)
    if missing:
        raise ModelNotFoundError(
            f"{missing[0].name}: MuseTalk 1.5 file not found ({', '.join(map(str, missing))}); "
            f"see `python -m lipsync models list` for where to get them"
        )
    device = torch.device(device)
    if dtype is None:
        dtype = torch.float16 if device.type == "cuda" else torch.float32
    check_preprocessor(paths.whisper_preprocessor)
    unet = load_unet(paths.unet, paths.unet_config, device, dtype)
    whisper = load_whisper_encoder(paths.whisper, paths.whisper_config, device, dtype)
    cross = int(unet.config.cross_attention_dim)
    if cross != int(whisper.config.d_model):
        raise InvalidModelError(
            f"{paths.unet_config.name}: cross_attention_dim {cross} does not match the Whisper "
            f"encoder's width {whisper.config.d_model} ({paths.whisper_config})"
        )
    vae = load_vae(paths.vae, paths.vae_config, device, dtype)
    preprocessor = read_json(paths.whisper_preprocessor, "Whisper preprocessor config")
    return MuseTalkModels(unet, vae, whisper, preprocessor, device, dtype, paths)
