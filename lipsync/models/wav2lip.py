"""A Wav2Lip-compatible network.

The module tree mirrors the public Wav2Lip model attribute for attribute, so that its
``state_dict()`` has exactly the keys and shapes of the public checkpoints (see
``shared/specs/wav2lip.md``) and they load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

#: Size of the square face crop the network sees and produces.
FACE_SIZE = 96
#: Mel bins x mel frames of one audio window.
MEL_BINS = 80
MEL_STEP = 16
#: Parameter count of the public checkpoints (buffers not counted).
PARAMETER_COUNT = 36_320_837

#: A kernel size, stride or padding: one for both axes, or (height, width).
_Size = int | tuple[int, int]


class Conv2d(nn.Module):
    """Conv + BatchNorm (+ input when ``residual``) then ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: _Size,
        stride: _Size,
        padding: _Size,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        y: torch.Tensor = self.act(out)
        return y


class Conv2dTranspose(nn.Module):
    """Transposed conv + BatchNorm then ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: _Size,
        stride: _Size,
        padding: _Size,
        output_padding: int = 0,
    ) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.act(self.conv_block(x))
        return y


def _res(c: int) -> Conv2d:
    return Conv2d(c, c, 3, 1, 1, residual=True)


def _down(cin: int, cout: int, n_res: int) -> nn.Sequential:
    return nn.Sequential(Conv2d(cin, cout, 3, 2, 1), *[_res(cout) for _ in range(n_res)])


def _up(cin: int, cout: int, n_res: int) -> nn.Sequential:
    return nn.Sequential(
        Conv2dTranspose(cin, cout, 3, 2, 1, output_padding=1), *[_res(cout) for _ in range(n_res)]
    )


class Wav2Lip(nn.Module):
    """Generator: (face B×6×96×96, mel B×1×80×16) -> face B×3×96×96 in [0, 1].

    The 6 face channels are [lower-half-masked crop, reference crop], BGR, scaled to 0..1.
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(6, 16, 7, 1, 3)),  # 96
                _down(16, 32, 2),  # 48
                _down(32, 64, 3),  # 24
                _down(64, 128, 2),  # 12
                _down(128, 256, 2),  # 6
                _down(256, 512, 1),  # 3
                nn.Sequential(
                    Conv2d(512, 512, 3, 1, 0),  # 1
                    Conv2d(512, 512, 1, 1, 0),
                ),
            ]
        )
        self.audio_encoder = nn.Sequential(
            Conv2d(1, 32, 3, 1, 1),
            _res(32),
            _res(32),
            Conv2d(32, 64, 3, (3, 1), 1),
            _res(64),
            _res(64),
            Conv2d(64, 128, 3, 3, 1),
            _res(128),
            _res(128),
            Conv2d(128, 256, 3, (3, 2), 1),
            _res(256),
            Conv2d(256, 512, 3, 1, 0),
            Conv2d(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(512, 512, 1, 1, 0)),  # 1
                nn.Sequential(
                    Conv2dTranspose(1024, 512, 3, 1, 0),  # 3
                    _res(512),
                ),
                _up(1024, 512, 2),  # 6
                _up(768, 384, 2),  # 12
                _up(512, 256, 2),  # 24
                _up(320, 128, 2),  # 48
                _up(160, 64, 2),  # 96
            ]
        )
        self.output_block = nn.Sequential(
            Conv2d(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid()
        )

    def forward(self, face: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        x = self.audio_encoder(mel)
        feats = []
        f = face
        for block in self.face_encoder_blocks:
            f = block(f)
            feats.append(f)
        for block in self.face_decoder_blocks:
            x = block(x)
            x = torch.cat((x, feats.pop()), dim=1)
        y: torch.Tensor = self.output_block(x)
        return y
