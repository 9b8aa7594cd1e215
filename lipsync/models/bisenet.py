"""BiSeNet face parsing (zllrunning/face-parsing.PyTorch, as MuseTalk uses it), optional.

The module tree mirrors the public model attribute for attribute, so ``79999_iter.pth`` (a
pickled state dict of 191 tensors, 13,300,416 parameters) loads with ``strict=True``. The
ResNet-18 backbone is built bare: upstream first loads ImageNet weights into it and then
overwrites every one of them with the checkpoint, so that file is not needed.

Input (B, 3, 512, 512) RGB scaled to 0..1 and ImageNet-normalised; output 19 class maps of
the same size (labels: 0 background, 1 skin, 2/3 brows, 4/5 eyes, 6 glasses, 7/8 ears,
9 earring, 10 nose, 11 mouth, 12 upper lip, 13 lower lip, 14 neck, 15 necklace, 16 cloth,
17 hair, 18 hat).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from .tensors import check_finite, check_keys, module_shapes, read_tensors

N_CLASSES = 19
PARAMETER_COUNT = 13_300_416
INPUT_SIZE = 512
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, ks: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ks, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = F.relu(self.bn(self.conv(x)))
        return y


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Sequential | None = None
        if cin != cout or stride != 1:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        y: torch.Tensor = F.relu(shortcut + residual)
        return y


def _layer(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))


class Resnet18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        return feat8, feat16, self.layer4(feat16)


class AttentionRefinementModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat: torch.Tensor = self.conv(x)
        atten = torch.sigmoid(self.bn_atten(self.conv_atten(feat.mean((2, 3), keepdim=True))))
        return feat * atten


class ContextPath(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.resnet = Resnet18()
        self.arm16 = AttentionRefinementModule(256, 128)
        self.arm32 = AttentionRefinementModule(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, ks=1, padding=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feat8, feat16, feat32 = self.resnet(x)
        avg = self.conv_avg(feat32.mean((2, 3), keepdim=True))
        feat32_sum = self.arm32(feat32) + F.interpolate(avg, feat32.shape[2:], mode="nearest")
        feat32_up = self.conv_head32(F.interpolate(feat32_sum, feat16.shape[2:], mode="nearest"))
        feat16_sum = self.arm16(feat16) + feat32_up
        feat16_up = self.conv_head16(F.interpolate(feat16_sum, feat8.shape[2:], mode="nearest"))
        return feat8, feat16_up, feat32_up


class FeatureFusionModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convblk = ConvBNReLU(cin, cout, ks=1, padding=0)
        self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, fsp: torch.Tensor, fcp: torch.Tensor) -> torch.Tensor:
        feat: torch.Tensor = self.convblk(torch.cat([fsp, fcp], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(feat.mean((2, 3), keepdim=True)))))
        return feat * atten + feat


class BiSeNetOutput(nn.Module):
    def __init__(self, cin: int, mid: int, n_classes: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.conv_out = nn.Conv2d(mid, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv_out(self.conv(x))
        return y


class BiSeNet(nn.Module):
    """(B, 3, H, W) normalised RGB -> three (B, 19, H, W) class score maps (the first is used)."""

    def __init__(self, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusionModule(256, 256)
        self.conv_out = BiSeNetOutput(256, 256, n_classes)
        self.conv_out16 = BiSeNetOutput(128, 64, n_classes)
        self.conv_out32 = BiSeNetOutput(128, 64, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        size = x.shape[2:]
        feat8, cp8, cp16 = self.cp(x)
        outs = (
            self.conv_out(self.ffm(feat8, cp8)),
            self.conv_out16(cp8),
            self.conv_out32(cp16),
        )
        up = [F.interpolate(o, size, mode="bilinear", align_corners=True) for o in outs]
        return up[0], up[1], up[2]


def check_bisenet(path: str | os.PathLike[str]) -> None:
    with torch.device("meta"):
        expected = module_shapes(BiSeNet())
    got = {k: tuple(v.shape) for k, v in read_tensors(path, "meta", what="checkpoint").items()}
    check_keys(expected, got, path, "BiSeNet face-parsing checkpoint")


def load_bisenet(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> BiSeNet:
    """Build, strictly load and move the face-parsing network (eval mode, fp32)."""
    state = read_tensors(path, what="checkpoint")
    model = BiSeNet()
    check_keys(
        module_shapes(model),
        {k: tuple(v.shape) for k, v in state.items()},
        path,
        "BiSeNet face-parsing checkpoint",
    )
    model.load_state_dict(state, strict=True)
    check_finite(model, path)
    return model.to(device).eval().requires_grad_(False)
