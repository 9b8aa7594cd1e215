"""bench/load.py at a tiny scale: the whole stack, two users, one batch each of two presenters.

The load script's own checks (every render succeeded, updates in order ending at 100 %, the
websocket's last state equals the database) decide its exit status; this test runs it and
checks the section it writes into a copy of RESULTS.md, leaving the other sections alone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_load_script_at_a_tiny_scale(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nengine table\n\n## GPU (bench/gpu.py)\n\ngpu\n")
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "load.py"),
            "--users",
            "2",
            "--teams",
            "2",
            "--batches",
            "1",
            "--presenters",
            "2",
            "--results",
            str(results),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nengine table\n\n## GPU (bench/gpu.py)\n\ngpu\n")
    load = text[text.index("## Load (bench/load.py)") :]
    assert "2 users in 2 team(s) x 1 batches x 2 presenters = 4 renders" in load
    assert "Result: all checks passed." in load
    assert "| renders succeeded | 4 / 4 |" in load
    assert "| renders with updates out of order | 0 |" in load
    assert "| renders whose last websocket state differs from the database | 0 |" in load
    for page in ("dashboard", "batch page", "presenter list", "media library"):
        assert f"| {page} | " in load
