"""Device selection. CUDA presence is simulated where this machine has no GPU."""

from __future__ import annotations

import pytest
import torch

from lipsync.device import resolve_device
from lipsync.errors import DeviceUnavailableError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_without_cuda_is_cpu(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_auto_with_cuda_is_first_gpu(two_gpus):
    assert resolve_device("auto") == torch.device("cuda:0")


def test_cpu_is_cpu_even_with_cuda(two_gpus):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_cuda_index(two_gpus):
    assert resolve_device("cuda") == torch.device("cuda:0")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_cuda_index_out_of_range(two_gpus):
    with pytest.raises(DeviceUnavailableError, match=r"cuda:2: only 2 CUDA device"):
        resolve_device("cuda:2")


def test_cuda_asked_but_absent_is_clear_error(no_cuda):
    with pytest.raises(DeviceUnavailableError, match=r"CUDA is not available.*use device 'cpu'"):
        resolve_device("cuda:0")


def test_unknown_device_name(no_cuda):
    with pytest.raises(DeviceUnavailableError, match="unknown device 'gpu'"):
        resolve_device("gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_real_cuda_device_is_usable():
    device = resolve_device("auto")
    assert device.type == "cuda"
    assert torch.ones(2, device=device).sum().item() == 2.0
