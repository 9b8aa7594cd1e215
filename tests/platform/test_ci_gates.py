"""The static checks CI runs (scripts/lint.sh, called by .ci/run) fail on what they guard.

Each test copies the tracked tree to a temporary folder, plants one defect and runs the gate
that must catch it there: a lint error, a type error in the engine, a model change without
its migration. (CI's own run of the gates on the real tree shows they pass when nothing is
wrong.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    root = tmp_path_factory.mktemp("tree")
    for raw in filter(None, listed):
        src = REPO / os.fsdecode(raw)
        if src.is_file():
            dest = root / os.fsdecode(raw)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    if (REPO / ".mypy_cache").is_dir():  # the same sources: mypy reuses what it knows
        shutil.copytree(REPO / ".mypy_cache", root / ".mypy_cache")
    return root


def _gate(tree: Path, which: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "HEYGEM_VAR_DIR": str(tree / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        ["bash", str(tree / "scripts" / "lint.sh"), which],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _plant(tree: Path, relative: str, text: str) -> Path:
    path = tree / relative
    path.write_text(text, encoding="utf-8")
    return path


def test_a_lint_error_fails_the_style_gate(tree):
    probe = _plant(tree, "lipsync/_ci_probe_lint.py", '"""Probe."""\n\nimport os\n')
    try:
        done = _gate(tree, "style")
    finally:
        probe.unlink()
    assert done.returncode != 0
    assert "_ci_probe_lint.py" in done.stdout and "F401" in done.stdout


def test_a_type_error_in_the_engine_fails_the_types_gate(tree):
    probe = _plant(
        tree,
        "lipsync/_ci_probe_types.py",
        '"""Probe."""\n\n\ndef half(x: int) -> str:\n    return x // 2\n',
    )
    try:
        done = _gate(tree, "types")
    finally:
        probe.unlink()
    assert done.returncode != 0
    assert "lipsync/_ci_probe_types.py:5" in done.stdout and "return-value" in done.stdout


def test_a_model_change_without_migration_fails_the_django_gate(tree):
    models = tree / "studio" / "models" / "projects.py"
    original = models.read_text(encoding="utf-8")
    anchor = "    archived = models.BooleanField("
    assert anchor in original
    models.write_text(
        original.replace(anchor, "    ci_probe = models.IntegerField(default=0)\n" + anchor, 1),
        encoding="utf-8",
    )
    try:
        done = _gate(tree, "django")
    finally:
        models.write_text(original, encoding="utf-8")
    assert done.returncode != 0
    assert "Migrations for 'studio'" in done.stdout and "ci_probe" in done.stdout
