"""What a worker reports as its device on the dashboard."""

from __future__ import annotations

import django_rq
import pytest

from rendering.worker import device_label


def test_cpu_device_is_shown_as_is():
    assert device_label("cpu") == "cpu"


def test_gpu_device_is_shown_with_the_card_name():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no GPU on this machine")
    label = device_label("cuda:0")
    assert label == f"cuda:0 ({torch.cuda.get_device_name(0)})"


def test_a_started_worker_publishes_its_device_in_its_redis_hash(use_redis, settings):
    settings.LIPSYNC_DEVICE = "cuda:0"  # ignored by workers of the cpu queue
    worker = django_rq.get_worker("cpu")
    worker.work(burst=True)
    # Burst mode has ended the worker; its hash is kept for a minute after death.
    assert use_redis.client.hget(worker.key, "device") == b"cpu"
