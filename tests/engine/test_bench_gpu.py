"""bench/gpu.py: runs anywhere; without CUDA it says so and prints the (empty) table."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

GPU = Path(__file__).resolve().parents[2] / "bench" / "gpu.py"


@pytest.fixture(scope="module")
def gpu():
    return runpy.run_path(str(GPU), run_name="gpu_bench")


def test_table_marks_the_goals(gpu):
    Row = gpu["Row"]
    rows = [
        Row("wav2lip", 720, "fp16", "NVENC", 80.0, 24.5, 612.0, 1.2),
        Row("musetalk15", 720, "fp16", "libx264", 9.0, 3.1, 77.0, 6.5),
        Row("musetalk15", 1080, "fp16", "libx264", 9.0, 2.0, 50.0, 6.9),
    ]
    text = gpu["table"](rows)
    assert "| wav2lip | 720p | fp16 | NVENC | 80.0 | 24.5 | 612 | 1.20 | met (>= 20x) |" in text
    assert (
        "| musetalk15 | 720p | fp16 | libx264 | 9.0 | 3.1 | 77 | 6.50 | NOT met (>= 4x) |" in text
    )
    assert text.splitlines()[-1].endswith("| 6.90 |  |")  # goals are for 720p


@pytest.mark.skipif(torch.cuda.is_available(), reason="measures for real on a GPU")
def test_without_cuda_it_skips_cleanly_and_keeps_other_results(gpu, tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nCPU table\n\n## GPU (bench/gpu.py)\n\nold\n")
    assert gpu["main"](["--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "skipped, no CUDA device" in out
    assert "| wav2lip | 720p | - | - | - | - | - | - | pending a GPU |" in out
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nCPU table\n\n## GPU (bench/gpu.py)")
    assert "old" not in text and "GPU figures pending a GPU machine" in text
