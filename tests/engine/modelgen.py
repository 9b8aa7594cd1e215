"""Model files in the exact public formats, made by the tests (no real weights anywhere).

*Meta* checkpoints hold every key with its full-size shape but no data (``torch.save`` of
meta-device tensors writes a few kB): enough for structure checks, which read names and
shapes only. Random-weight checkpoints are real and load into the engines.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch


def wav2lip_state(meta: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    from lipsync.models.wav2lip import Wav2Lip

    if meta:
        with torch.device("meta"):
            return Wav2Lip().state_dict()
    torch.manual_seed(seed)
    return Wav2Lip().state_dict()


def save_wav2lip(path: Path, meta: bool = True, drop: str | None = None) -> Path:
    """A Wav2Lip checkpoint as training writes it (``state_dict`` + ``module.`` prefix)."""
    state = wav2lip_state(meta)
    if drop:
        del state[drop]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, path)
    return path


def unet_config(reduced: bool = False) -> dict:
    from lipsync.models.musetalk import UNET_V15_CONFIG

    cfg = dict(UNET_V15_CONFIG)
    if reduced:
        cfg.update(block_out_channels=[16, 32, 32, 32], norm_num_groups=8, cross_attention_dim=16)
    return cfg


def vae_config(reduced: bool = False) -> dict:
    from lipsync.models.musetalk import VAE_CONFIG

    cfg = dict(VAE_CONFIG)
    if reduced:
        cfg.update(block_out_channels=[16, 16, 32, 32], norm_num_groups=8)
    return cfg


def whisper_config(reduced: bool = False) -> dict:
    from lipsync.models.musetalk import WHISPER_TINY_CONFIG

    cfg = dict(WHISPER_TINY_CONFIG)
    if reduced:
        cfg.update(
            d_model=16,
            encoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_layers=1,
            decoder_attention_heads=2,
            decoder_ffn_dim=64,
            vocab_size=51865,
            max_target_positions=16,
        )
    return cfg


def _old_vae_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The raw sd-vae-ft-mse .bin names of the mid-block attention (query/key/value/...)."""
    new_to_old = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    out = {}
    for key, value in state.items():
        for new, old in new_to_old.items():
            marker = f".attentions.0.{new}."
            if marker in key:
                key = key.replace(marker, f".attentions.0.{old}.")
        out[key] = value
    return out


def write_musetalk(
    root: Path, *, meta: bool = True, reduced: bool = False, seed: int = 0
) -> dict[str, Path]:
    """A MuseTalk 1.5 install under ``root`` in its own ``models/`` layout.

    ``meta``: full-size keys and shapes without data (structure checks only); otherwise random
    weights (use ``reduced`` widths: the full UNet alone is 3.4 GB).
    """
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from lipsync.models import musetalk
    from lipsync.models.musetalk import WHISPER_PREPROCESSOR

    device = "meta" if meta else "cpu"
    torch.manual_seed(seed)
    paths = {}
    d = root / "musetalkV15"
    d.mkdir(parents=True, exist_ok=True)
    ucfg = unet_config(reduced)
    (d / "musetalk.json").write_text(json.dumps(ucfg))
    unet = musetalk.build_unet(ucfg, device)
    torch.save(unet.state_dict(), d / "unet.pth")
    paths["unet"] = d / "unet.pth"
    d = root / "sd-vae"
    d.mkdir(parents=True, exist_ok=True)
    vcfg = vae_config(reduced)
    (d / "config.json").write_text(json.dumps(vcfg))
    vae = musetalk.build_vae(vcfg, device)
    torch.save(_old_vae_names(vae.state_dict()), d / "diffusion_pytorch_model.bin")
    paths["vae"] = d / "diffusion_pytorch_model.bin"
    d = root / "whisper"
    d.mkdir(parents=True, exist_ok=True)
    wcfg = whisper_config(reduced)
    (d / "config.json").write_text(json.dumps(wcfg))
    (d / "preprocessor_config.json").write_text(json.dumps(WHISPER_PREPROCESSOR))
    with torch.device(device):
        whisper = WhisperForConditionalGeneration(WhisperConfig.from_dict(wcfg))
    state = {k: v for k, v in whisper.state_dict().items() if k != "proj_out.weight"}
    torch.save(state, d / "pytorch_model.bin")
    paths["whisper"] = d / "pytorch_model.bin"
    return paths
